"""Question 4: a multi-layer perceptron in PyTorch, trained on CIFAR-10.

`python ex2_pytorch.py` trains MultiLayerPerceptron(input_size, hidden_size, num_classes)
on the handout's split of CIFAR-10 (49,000 training images, the next 1,000 for
validation), keeps the weights of the epoch with the best validation accuracy in
model.ckpt, and tests them once on the first 1,000 test images.

The grader imports this file without running its top-level code: it reads the settings
below as plain assignments, builds MultiLayerPerceptron itself and calls train() and
evaluate() with its own data loaders and device. Everything that downloads, trains or
tests stays under `if __name__ == "__main__":`.
"""
import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms

# --------------------------------------------------------------------------------------
# Settings. The grader reads them without running the file: keep each a number, a list
# of numbers, or arithmetic on numbers.
# --------------------------------------------------------------------------------------
input_size = 32 * 32 * 3
hidden_size = [50]
num_classes = 10
num_epochs = 10
batch_size = 200
learning_rate = 1e-3
learning_rate_decay = 0.95
reg = 0.001
num_training = 49000
num_validation = 1000


def weights_init(m):
    """Initialises an nn.Linear as the handout does: weights N(0, 1e-3), biases 0.

    Used as model.apply(weights_init); other modules are left as they are.
    """
    if isinstance(m, nn.Linear):
        m.weight.data.normal_(0.0, 1e-3)
        m.bias.data.fill_(0.0)


def update_lr(optimizer, lr):
    """Sets the learning rate of every parameter group of `optimizer` to `lr`."""
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr


class MultiLayerPerceptron(nn.Module):
    """input_size -> hidden_layers[0] -> ... -> hidden_layers[-1] -> num_classes.

    One nn.Linear per arrow, a ReLU between consecutive Linear layers and none after the
    last. input_size: features of one image (3072); hidden_layers: list of widths, every
    one used, in order; num_classes: number of outputs (10).
    """

    def __init__(self, input_size, hidden_layers, num_classes):
        super().__init__()
        layers = []  # nn.Sequential(*layers) below registers them, in this order

        # TODO (question 4a): append the layers to `layers`, in order: an nn.Linear from
        # input_size to hidden_layers[0], then one from each width of hidden_layers to the
        # next, then one from hidden_layers[-1] to num_classes, with an nn.ReLU() between
        # consecutive Linear layers and none after the last. Use every width of
        # hidden_layers (the argument, not the global hidden_size), however many there are.
        raise NotImplementedError("question 4a: the layers of MultiLayerPerceptron")

        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        """x: (N, 3, 32, 32) images or (N, input_size) rows; returns logits (N, num_classes).

        No softmax at the end: nn.CrossEntropyLoss applies log-softmax itself.
        """
        # TODO (question 4a): flatten each image of x to one row of input_size values, pass
        # the rows through self.layers and return the scores (N, num_classes) as they come
        # out of the last Linear layer: no softmax.
        raise NotImplementedError("question 4a: MultiLayerPerceptron.forward")


def evaluate(model, loader, device):
    """Accuracy of `model` on `loader`: the fraction, in [0, 1], of images whose highest
    logit is their label.

    loader: iterable of (images (B, 3, 32, 32), labels (B,) int64); device: where the model
    is. The model is evaluated in eval mode and left in the mode it had.
    """
    was_training = model.training
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            correct += (predicted == labels).sum().item()
            total += labels.size(0)
    model.train(was_training)
    return correct / max(total, 1)


def train(model, train_loader, val_loader, device, num_epochs, learning_rate,
          learning_rate_decay, reg, checkpoint=None, verbose=False):
    """Trains `model` in place with Adam (weight_decay=reg) on nn.CrossEntropyLoss.

    train_loader, val_loader: iterables of (images (B, 3, 32, 32) float32, labels (B,)
    int64), as torch DataLoaders give them; device: where the model is and where each batch
    goes. The learning rate starts at learning_rate and is multiplied by
    learning_rate_decay after every epoch. checkpoint: a file name, or None; when given,
    the model's state_dict is saved there whenever the validation accuracy improves.
    Returns {"loss_history": loss of every step, "val_acc_history": validation accuracy
    after every epoch}.
    """
    model.train()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=reg)
    lr = learning_rate
    history = {"loss_history": [], "val_acc_history": []}
    for epoch in range(num_epochs):
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)

            # TODO (question 4b): one training step on the batch: clear the gradients the
            # previous step left, compute the model's scores for `images` and their loss
            # against `labels` with `criterion` (into a variable named loss), backpropagate,
            # and let the optimizer update the weights.
            raise NotImplementedError("question 4b: the training step in train()")

            history["loss_history"].append(loss.item())

        # TODO (question 4b): decay the learning rate once per epoch: multiply lr by
        # learning_rate_decay and give the optimizer the new value (update_lr).
        raise NotImplementedError("question 4b: the learning rate decay in train()")

        val_acc = evaluate(model, val_loader, device)
        if checkpoint is not None and val_acc >= max(history["val_acc_history"], default=0.0):
            torch.save(model.state_dict(), checkpoint)
        history["val_acc_history"].append(val_acc)
        if verbose:
            print(f"epoch {epoch + 1}/{num_epochs}: loss {history['loss_history'][-1]:.4f}, "
                  f"validation accuracy {100 * val_acc:.1f}%")
    return history


if __name__ == "__main__":
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"Using device: {device}")

    # The handout's data: pixels scaled to [-1, 1], 49,000 training images, the next 1,000
    # for validation, the test set for one final measurement.
    norm_transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ])
    cifar_dataset = torchvision.datasets.CIFAR10(root="datasets/", train=True,
                                                 transform=norm_transform, download=True)
    test_dataset = torchvision.datasets.CIFAR10(root="datasets/", train=False,
                                                transform=norm_transform)
    train_dataset = torch.utils.data.Subset(cifar_dataset, range(num_training))
    val_dataset = torch.utils.data.Subset(
        cifar_dataset, range(num_training, num_training + num_validation))
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=batch_size,
                                               shuffle=True)
    val_loader = torch.utils.data.DataLoader(val_dataset, batch_size=batch_size,
                                             shuffle=False)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=batch_size,
                                              shuffle=False)

    model = MultiLayerPerceptron(input_size, hidden_size, num_classes).to(device)
    model.apply(weights_init)
    history = train(model, train_loader, val_loader, device, num_epochs, learning_rate,
                    learning_rate_decay, reg, checkpoint="model.ckpt", verbose=True)
    print(f"best validation accuracy: {100 * max(history['val_acc_history']):.1f}%")

    # Test the best model once.
    model.load_state_dict(torch.load("model.ckpt", map_location=device, weights_only=True))
    first_rows = torch.utils.data.Subset(test_dataset, range(1000))
    test_acc = evaluate(model, torch.utils.data.DataLoader(first_rows, batch_size=batch_size),
                        device)
    print(f"Accuracy of the network on the 1000 test images: {100 * test_acc:.1f}%")
