"""Question 6b: the CIFAR-10 CNN of seed 003, built from two convolutional blocks and two
dense blocks.

CNN(inp_dim, out_dim): ConvBlock(3, 3, 8) -> ConvBlock(3, 8, 16) -> flatten ->
DenseBlock(16 * 8 * 8, 64) -> DenseBlock(64, out_dim, act_type=None). Every convolution
keeps the height and width of its input (stride 1, 'same' padding); only the 2x2
max-pooling at the end of each conv block halves them: 32x32 -> 16x16 -> 8x8. The output
block has no activation, so the network returns logits.

The grader imports this file without running its top-level code, builds CNN((3, 32, 32),
10) itself, and also builds ConvBlock and DenseBlock on their own.
"""
import torch.nn as nn

CHANNELS = (8, 16)  # output channels of the two conv blocks
KERNEL = 3  # kernel size of every convolution
HIDDEN = 64  # units of the first dense block


class CNN(nn.Module):
    """Two conv blocks, then two dense blocks; forward returns logits (N, out_dim).

    inp_dim: (channels, height, width) of one image, (3, 32, 32) for CIFAR-10 (a plain
    number of channels is read as square 32x32 images); out_dim: number of classes.
    """

    def __init__(self, inp_dim, out_dim):
        super().__init__()
        if isinstance(inp_dim, int):
            inp_dim = (inp_dim, 32, 32)
        channels, height, width = inp_dim

        # Question 6b: two conv blocks, each halving height and width.
        # TODO: self.conv_b_1 and self.conv_b_2, ConvBlocks with KERNEL and CHANNELS.
        # Question 6b: two dense blocks; no activation on the output block.
        # TODO: self.dense_b_1 (flattened conv output -> HIDDEN) and self.dense_b_2
        # (HIDDEN -> out_dim, no activation).
        raise NotImplementedError

    def forward(self, x):
        """x: (N, channels, height, width) images; returns logits (N, out_dim)."""
        x = self.conv_b_1(x)
        x = self.conv_b_2(x)
        # Question 6b: (N, C, H, W) -> (N, C * H * W).
        # TODO: flatten x, one row per image.
        raise NotImplementedError
        x = self.dense_b_1(x)
        x = self.dense_b_2(x)
        return x


class ConvBlock(nn.Module):
    """conv, ReLU, conv, ReLU, 2x2 max-pool: (N, inp_ch, H, W) -> (N, out_ch, H/2, W/2).

    kernel: an odd kernel size; both convolutions keep H x W (stride 1, padding
    (kernel - 1) / 2), and only the max-pooling downsamples.
    """

    def __init__(self, kernel, inp_ch, out_ch):
        super().__init__()
        # Question 6b: 'same' convolutions and a 2x2 max-pool.
        # TODO: self.conv_1, self.relu_1, self.conv_2, self.relu_2, self.max_pool.
        raise NotImplementedError

    def forward(self, x):
        """x: (N, inp_ch, H, W); returns (N, out_ch, H // 2, W // 2)."""
        # Question 6b: the block's forward pass.
        # TODO: conv, ReLU, conv, ReLU, max-pool.
        raise NotImplementedError


class DenseBlock(nn.Module):
    """Linear(inp, out), then a ReLU when act_type == 'relu'; any other act_type (None,
    'linear', ...) gives no activation, as the output block needs."""

    def __init__(self, inp, out, act_type='relu'):
        super().__init__()
        # Question 6b: the linear combiner and its optional activation.
        # TODO: self.fc, and self.relu (a ReLU when act_type == 'relu', else None).
        raise NotImplementedError

    def forward(self, x):
        """x: (N, inp); returns (N, out)."""
        # Question 6b: the block's forward pass.
        # TODO: the linear combiner, then the activation when there is one.
        raise NotImplementedError
