"""Question 7 (task 5.3): a convolutional network that recognises handwritten digits (MNIST).

`python convnet_mnist.py` trains ConvNet on the MNIST training set (downloaded by
torchvision into datasets/), tests it on the 10,000 test digits and prints the model
summary of question 7c: every layer's output shape and number of learnable parameters.
The same code works as the cells of the handout's notebook (convnet_mnist.ipynb).

The grader imports this file without running its top-level code: it reads the settings
below as plain assignments, builds ConvNet() itself and calls train() with its own data
loader and device (a GPU when it has one); the test accuracy is computed by the grader.
Everything that downloads, trains or tests stays under `if __name__ == "__main__":`.
"""
import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms

# --------------------------------------------------------------------------------------
# Settings. The grader reads them without running the file: keep each a number, or
# arithmetic on numbers.
# --------------------------------------------------------------------------------------
num_epochs = 5
batch_size = 64
learning_rate = 1e-3


class ConvNet(nn.Module):
    """1 x 28 x 28 grayscale digits -> scores (logits) of the 10 classes.

    conv 5x5, stride 1, 20 maps -> ReLU -> max-pool 2x2, stride 2 -> flatten ->
    fully connected 100 -> ReLU -> fully connected 10 (no softmax: nn.CrossEntropyLoss
    applies log-softmax itself).
    """

    def __init__(self):
        super().__init__()
        # TODO (question 7b): create the layers, in the order forward() applies them: a
        # convolution with 1 input channel, 20 output feature maps, a 5x5 kernel and
        # stride 1; a ReLU; a 2x2 max-pooling with stride 2; a fully connected layer from
        # the flattened pooling output to 100 units; a ReLU; a fully connected layer from
        # 100 units to the 10 classes.
        raise NotImplementedError("question 7b: the layers of ConvNet")

    def forward(self, x):
        """x: (N, 1, 28, 28) images; returns logits (N, 10)."""
        # TODO (question 7b): apply the convolution, the ReLU and the pooling, flatten
        # each image's feature maps to one row, then the fully connected layers with a
        # ReLU between them; return the scores of the last layer as they come out (no
        # softmax).
        raise NotImplementedError("question 7b: ConvNet.forward")


def evaluate(model, loader, device):
    """Accuracy of `model` on `loader`: the fraction, in [0, 1], of digits whose highest
    logit is their label.

    loader: iterable of (images (B, 1, 28, 28) float32 in [0, 1], labels (B,) int64);
    device: where the model is. Evaluated in eval mode; the model's mode is restored.
    """
    was_training = model.training
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            total += labels.size(0)
    model.train(was_training)
    return correct / max(total, 1)


def train(model, train_loader, device, num_epochs, learning_rate, verbose=False):
    """Trains `model` in place with Adam on nn.CrossEntropyLoss for num_epochs epochs.

    train_loader: iterable of (images (B, 1, 28, 28) float32 in [0, 1], labels (B,) int64),
    as a torch DataLoader over torchvision's MNIST with transforms.ToTensor() gives them;
    device: where the model is and where each batch goes. Returns {"loss_history": the
    loss of every step}.
    """
    model.train()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = {"loss_history": []}
    for epoch in range(num_epochs):
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)

            # TODO (question 7d): one training step on the batch: clear the gradients the
            # previous step left, compute the model's scores for `images` and their loss
            # against `labels` with `criterion` (into a variable named loss), backpropagate,
            # and let the optimizer update the weights.
            raise NotImplementedError("question 7d: the training step in train()")

            history["loss_history"].append(loss.item())
        if verbose:
            print(f"epoch {epoch + 1}/{num_epochs}: loss {history['loss_history'][-1]:.4f}")
    return history


def summary(model, input_shape=(1, 1, 28, 28)):
    """Prints each layer's output shape and learnable parameters, as question 7c asks
    (forward hooks on the layers; compare with your answers in convnet_answers.py)."""
    rows = []
    hooks = [m.register_forward_hook(
        lambda m, args, out: rows.append((type(m).__name__, tuple(out.shape[1:]),
                                          sum(p.numel() for p in m.parameters()))))
        for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(torch.zeros(input_shape))
    for hook in hooks:
        hook.remove()
    for i, (name, shape, params) in enumerate(rows, 1):
        print(f"{i}. {name:<10} output {str(shape):<14} parameters {params:,}")
    print(f"total parameters: {sum(p.numel() for p in model.parameters()):,}")


if __name__ == "__main__":
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"Using device: {device}")
    to_tensor = transforms.ToTensor()  # pixels 0-255 -> floats in [0, 1], shape (1, 28, 28)
    train_set = torchvision.datasets.MNIST(root="datasets/", train=True, transform=to_tensor,
                                           download=True)
    test_set = torchvision.datasets.MNIST(root="datasets/", train=False, transform=to_tensor)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=batch_size)

    model = ConvNet().to(device)
    train(model, train_loader, device, num_epochs, learning_rate, verbose=True)
    print(f"Accuracy of the network on the 10000 test images: "
          f"{100 * evaluate(model, test_loader, device):.2f}%")
    summary(model.cpu())
