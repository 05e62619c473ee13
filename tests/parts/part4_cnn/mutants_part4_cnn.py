"""The catalogue of what Part 4's seed-003 grader catches: mutants of reference/'s
build_net.py and theory.py, one student bug each (ASSIGNMENT.md's list for seed 003 and
issue 12's), and correct variants written unlike the reference, which keep full marks.

A mutant is a small named edit of one reference file (old text -> new text) and the
checks it must lose points on, each at its own question: structure bugs at 6b (6b.1, the
CNN as a whole, already tells each of them apart), the numpy answers at 6a or 6d.
tests/parts/part4_cnn/test_part4_cnn_mutants.py grades every entry.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mutants import apply_edits

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "reference"
FILES = ("build_net.py", "theory.py", "algo_train.py", "main.py")

CONV_2 = "        self.conv_2 = nn.Conv2d(out_ch, out_ch, kernel, stride=1, padding=padding)\n"
FLAT = "        flat = CHANNELS[1] * (height // 4) * (width // 4)\n"
POOL = "        self.max_pool = nn.MaxPool2d(kernel_size=2, stride=2)\n"
DENSE_FORWARD = """        x = self.fc(x)
        if self.relu is not None:
            x = self.relu(x)
        return x
"""


@dataclass(frozen=True)
class Mutant:
    """One characteristic student bug (or, in VARIANTS, a correct rewrite)."""

    name: str
    file: str  # the reference file edited
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in it
    loses: tuple[str, ...]  # check ids that must lose points (none for a variant)
    bug: str  # what a student did
    says: str = ""  # a phrase the feedback of the first check it loses must contain
    keeps: tuple[str, ...] = ()  # questions graded alongside that must keep full marks
    also: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # (file, edits) more

    def text(self) -> str:
        return apply_edits((REFERENCE / self.file).read_text(), self.edits, f"mutant {self.name}, {self.file}")

    def write(self, dest: Path) -> Path:
        """A submission folder: reference/'s seed-003 files with this edit; returns it."""
        dest.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(REFERENCE / name, dest / name)
        (dest / self.file).write_text(self.text())
        for name, edits in self.also:
            (dest / name).write_text(apply_edits((REFERENCE / name).read_text(), edits,
                                                 f"mutant {self.name}, {name}"))
        return dest


MUTANTS = (
    Mutant("stride_two_conv", "build_net.py", (
        (CONV_2, CONV_2.replace("stride=1", "stride=2")),
        (FLAT, FLAT.replace("// 4", "// 16"))), ("6b.1",),
        "the second convolution of each block has stride 2 (the flattened size adjusted)",
        says="conv 2 of block 1 (conv_b_1.conv_2) maps 32x32 to 16x16 (stride 2): keep "
             "stride 1 and leave downsampling to MaxPool2d"),
    Mutant("no_padding", "build_net.py", (("padding = (kernel - 1) // 2", "padding = 0"),),
           ("6b.1",), "convolutions without padding (the dense block's size left as is)",
           says="conv 1 of block 1 (conv_b_1.conv_1) maps 32x32 to 30x30 (kernel 3, padding 0): "
                "pad by (kernel - 1) / 2 = 1"),
    Mutant("average_pooling", "build_net.py", ((POOL, POOL.replace("MaxPool2d", "AvgPool2d")),),
           ("6b.1",), "average pooling instead of max-pooling",
           says="is average pooling (avg_pool2d), mapping 32x32 to 16x16: only max-pooling "
                "may downsample"),
    Mutant("third_conv_block", "build_net.py", (
        ("        self.conv_b_2 = ConvBlock(KERNEL, CHANNELS[0], CHANNELS[1])\n",
         "        self.conv_b_2 = ConvBlock(KERNEL, CHANNELS[0], CHANNELS[1])\n"
         "        self.conv_b_3 = ConvBlock(KERNEL, CHANNELS[1], CHANNELS[1])\n"),
        ("        x = self.conv_b_2(x)\n", "        x = self.conv_b_2(x)\n        x = self.conv_b_3(x)\n"),
        (FLAT, FLAT.replace("// 4", "// 8"))), ("6b.1",), "a third conv block",
        says="3 conv blocks (convolutions ending in a max-pool); the handout's CNN has exactly 2"),
    Mutant("relu_on_output", "build_net.py", (
        ("DenseBlock(HIDDEN, out_dim, act_type=None)", "DenseBlock(HIDDEN, out_dim)"),),
        ("6b.1",), "a ReLU on the output dense block",
        says="forward puts a ReLU after the output block's Linear layer"),
    Mutant("dense_block_crashes_without_activation", "build_net.py", (
        (DENSE_FORWARD, "        return self.relu(self.fc(x))\n"),), ("6b.1",),
        "DenseBlock calls self.relu even when act_type is not 'relu' (it is None then)",
        says="is not callable [build_net.py:94]\n"),
    # issue 19: the ReLUs defined but never called, and the handout's blocks run as decoys
    Mutant("conv_relus_never_called", "build_net.py", ((
        "        x = self.relu_1(self.conv_1(x))\n        x = self.relu_2(self.conv_2(x))\n",
        "        x = self.conv_1(x)\n        x = self.conv_2(x)\n"),), ("6b.1", "6b.2"),
        "ConvBlock defines its ReLUs in __init__ but never calls them",
        says="conv 1 of block 1 (conv_b_1.conv_1) is not followed by a ReLU"),
    Mutant("decoy_blocks_real_stride_four_conv", "build_net.py", ((
        "        x = self.conv_b_1(x)\n        x = self.conv_b_2(x)\n"
        "        # Question 6b: (N, C, H, W) -> (N, C * H * W).\n"
        "        x = x.reshape(x.shape[0], -1)\n        x = self.dense_b_1(x)\n"
        "        x = self.dense_b_2(x)\n        return x\n",
        "        import torch\n        import torch.nn.functional as F\n"
        "        decoy = self.dense_b_2(self.dense_b_1(self.conv_b_2(self.conv_b_1(x))"
        ".reshape(x.shape[0], -1)))\n"
        "        w = self.conv_b_1.conv_1.weight\n"
        "        real = torch.relu(torch.conv2d(x, w, stride=4))\n"
        "        out = F.linear(real.reshape(x.shape[0], -1)[:, :64], self.dense_b_2.fc.weight,"
        " self.dense_b_2.fc.bias)\n"
        "        return out + 0 * decoy\n"),), ("6b.1",),
        "the handout's blocks run as decoys (added times 0); the output is a stride-4 "
        "torch.conv2d and one Linear",
        says="conv 1 of block 1 (a direct torch call in forward) maps 32x32 to 8x8 (stride 4)"),
    Mutant("bias_gradients_without_the_2", "theory.py", (
        ("dL_db2 = -2.0 * (t - y)", "dL_db2 = -(t - y)"),), ("6d.1", "6d.2"),
        "dL/dy = -(t - y): the factor 2 of the square dropped", keeps=("6a",),
        says="off by a factor of 2: the derivative of"),
    Mutant("formula_without_floor", "theory.py", (
        ("(kernel - 1) - 1) // stride + 1", "(kernel - 1) - 1) / stride + 1"),), ("6a.1", "6a.2"),
        "equation (5) without the floor", keeps=("6d",),
        says="round the division down"),
    Mutant("formula_with_ceil", "theory.py", (
        ("    return (h_in + 2 * padding - (kernel - 1) - 1) // stride + 1\n",
         "    import math\n    return math.ceil((h_in + 2 * padding - (kernel - 1) - 1) / stride) + 1\n"),),
        ("6a.1", "6a.2"), "the division rounded up (math.ceil): 5 of the 6 public cases right",
        keeps=("6d",), says="the division is rounded up (ceil); equation (5) rounds it down"),
)

VARIANT_BUILD_NET = '''"""A correct CNN written unlike the reference: nn.Sequential blocks, padding='same',
functional ReLU and max-pooling (max_pool2d imported by name), a flatten module, and
inp_dim taken as channels or (channels, height, width)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import max_pool2d


class ConvBlock(nn.Module):
    def __init__(self, kernel, inp_ch, out_ch):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(inp_ch, out_ch, kernel, padding='same'),
                                    nn.Conv2d(out_ch, out_ch, kernel, padding='same')])

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        return max_pool2d(x, 2)


class DenseBlock(nn.Module):
    def __init__(self, inp, out, act_type='relu'):
        super().__init__()
        self.layer = nn.Sequential(nn.Linear(inp, out), nn.ReLU()) if act_type == 'relu' \\
            else nn.Sequential(nn.Linear(inp, out))

    def forward(self, x):
        return self.layer(x)


class CNN(nn.Module):
    def __init__(self, inp_dim, out_dim):
        super().__init__()
        channels = inp_dim if isinstance(inp_dim, int) else inp_dim[0]
        self.features = nn.Sequential(ConvBlock(5, channels, 6), ConvBlock(3, 6, 12),
                                      nn.Flatten())
        self.classifier = nn.Sequential(DenseBlock(12 * 8 * 8, 32),
                                        DenseBlock(32, out_dim, act_type='linear'))

    def forward(self, x):
        return self.classifier(self.features(x))
'''

PUBLIC_STYLE_BUILD_NET = '''"""build_net.py as public solutions hand it in: the blocks, then a quick test that builds
the network and trains it at import (no __main__ guard)."""
import scipy.io as sio
import torch
import torch.nn as nn

stats = sio.loadmat('image_stats.mat')


class ConvBlock(nn.Module):
    def __init__(self, kernel, inp_ch, out_ch):
        super().__init__()
        self.conv_1 = nn.Conv2d(inp_ch, out_ch, kernel, padding=kernel // 2)
        self.relu_1 = nn.ReLU()
        self.conv_2 = nn.Conv2d(out_ch, out_ch, kernel, padding=kernel // 2)
        self.relu_2 = nn.ReLU()
        self.max_pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        return self.max_pool(self.relu_2(self.conv_2(self.relu_1(self.conv_1(x)))))


class DenseBlock(nn.Module):
    def __init__(self, inp, out, act_type='relu'):
        super().__init__()
        self.fc = nn.Linear(inp, out)
        self.relu = nn.ReLU() if act_type == 'relu' else None

    def forward(self, x):
        x = self.fc(x)
        return self.relu(x) if self.relu is not None else x


class CNN(nn.Module):
    def __init__(self, inp_dim, out_dim):
        super().__init__()
        self.conv_b_1 = ConvBlock(3, inp_dim[0], 8)
        self.conv_b_2 = ConvBlock(3, 8, 16)
        self.dense_b_1 = DenseBlock(16 * 8 * 8, 32)
        self.dense_b_2 = DenseBlock(32, out_dim, act_type='linear')

    def forward(self, x):
        x = self.conv_b_2(self.conv_b_1(x))
        return self.dense_b_2(self.dense_b_1(x.view(x.size(0), -1)))


net = CNN((3, 32, 32), 10).cuda()
opt = torch.optim.Adam(net.parameters())
for epoch in range(100):
    x = torch.randn(4096, 3, 32, 32).cuda()
    loss = net(x).sum()
    loss.backward()
    opt.step()
torch.save(net.state_dict(), 'net.pth')
'''


def write_variant(dest: Path, build_net: str) -> Path:
    """A submission folder with reference/'s files and this build_net.py."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(REFERENCE / name, dest / name)
    (dest / "build_net.py").write_text(build_net)
    return dest

# A correct ConvBlock written otherwise (issue 19): the first ReLU a direct torch.relu
# call, the second after the max-pool (ReLU and max-pooling commute: the same function).
POOL_THEN_RELU = Mutant("pool_then_relu_direct_calls", "build_net.py", ((
    "        x = self.relu_1(self.conv_1(x))\n        x = self.relu_2(self.conv_2(x))\n"
    "        return self.max_pool(x)\n",
    "        import torch\n        x = torch.relu(self.conv_1(x))\n"
    "        return self.relu_2(self.max_pool(self.conv_2(x)))\n"),), (),
    "torch.relu called directly; conv -> max-pool -> ReLU at the end of each block")

# 6c: training code (graded by a training run each: tests/parts/part4_cnn/test_part4_cnn_e2e.py)
NEVER_STEPS = Mutant("never_steps", "algo_train.py", (("            opt.step()\n", ""),),
                     ("6c.1", "6c.2"), "opt.step() never called",
                     says="the optimizer never stepped")
# The course's own sup_trn prints torch.cuda.current_device() before anything else, with no
# GPU check, and moves batches with .cuda() only when opt_dict['gpu']: the grader must
# train it on a machine without a GPU (one short epoch is enough to show it runs).
COURSE_CUDA_PRINT = Mutant("course_cuda_print", "algo_train.py", (
    ("    if gpu:\n        print('Training on GPU ' + str(torch.cuda.current_device()))\n",
     "    print('Pre-training on GPU ' + str(torch.cuda.current_device()))\n"),), (),
    "the course's unconditional print of torch.cuda.current_device()")
ONE_EPOCH_MAIN = ("    'num_epochs': 8,\n", "    'num_epochs': 1,\n")


# Hostile sup_trns (issue 19): none trains the net it is given; each must lose 6c.1 and
# 6c.2 on the grader's own evidence (the weights left as built, the test accuracy of a
# fresh CNN loaded with them), whatever the training child's observers saw.
SOLVER = """    scheduler = optimizer.lr_scheduler.MultiStepLR(opt, milestones=opt_dict['lr_sch'],
                                                   gamma=opt_dict['lr_factor'])
"""
PREPARED = str(ROOT / ".cache" / "grader" / "prepared" / "*" / "y_test.npy")
CNN_FORWARD = '''        """x: (N, channels, height, width) images; returns logits (N, out_dim)."""
'''
HOSTILE_TRAINING = (
    # finding 7: a scalar's loss driven down through the observed F.cross_entropy, with
    # optimizer steps on it; the net never touched
    Mutant("fakes_a_falling_loss_on_a_scalar", "algo_train.py", ((SOLVER, SOLVER + """\
    fake = torch.zeros(1, 10, requires_grad=True)
    decoy = optimizer.SGD([fake], lr=0.5)
    for epoch in range(opt_dict['num_epochs']):
        for X, label in trn_loader:
            decoy.zero_grad()
            loss = nn.functional.cross_entropy(fake, torch.zeros(1, dtype=torch.long))
            loss.backward()
            decoy.step()
    return [net, {}]
"""),), ("6c.1", "6c.2"), "never trains; a decoy tensor's loss falls and its optimizer steps",
           says="left the network's weights as they were built"),
    # finding 1: the prepared y_test.npy answered in order by the forward, no training
    Mutant("answers_from_y_test_never_trains", "build_net.py", ((
        CNN_FORWARD, CNN_FORWARD + """
        import glob, os, numpy as np
        if not hasattr(self, "answers"):
            self.answers, self.seen = None, 0
            for path in sorted(glob.glob(PREPARED)):
                try:
                    self.answers = np.load(path)
                    break
                except OSError:
                    pass
        if self.answers is not None and not self.training and len(x) <= 500:
            start = self.seen % len(self.answers)
            self.seen += len(x)
            labels = self.answers[start:start + len(x)]
            if len(labels) == len(x):
                return torch.eye(10)[torch.from_numpy(labels.astype(np.int64))] + 0 * x.sum()
""".replace("PREPARED", repr(PREPARED))),), ("6c.1", "6c.2"),
           "never trains; the forward answers from the prepared y_test.npy",
           says="left the network's weights as they were built",
           also=(("algo_train.py", ((SOLVER, SOLVER + "    return [net, {}]\n"),)),)),
)
