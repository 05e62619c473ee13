"""Part 3 (seed 002): a fully connected network from scratch, with L2 regularisation, the
Adam optimizer and exponential learning rate decay.

Data is column-major, as in the course template: inputs X (n0, m), one example per
column; one-hot targets Y (c, m). weights[i] is (sizes[i+1], sizes[i]) and biases[i]
(sizes[i+1], 1). Hidden layers use the sigmoid, the output layer the softmax, the loss is
the mean cross-entropy plus (l2 / 2) * sum of ||W||^2 over the weight matrices.

Run `python network_template.py [none|other_optimizer|no_l2|no_schedule]` for task 6: your settings
(SETTINGS), or one of its ablations.
"""
import pickle
import sys

import numpy as np

# Task 6: the settings of your best network. The grader reads this dict without running
# the file, so keep it plain: numbers, strings and lists of numbers.
#   sizes            neurons per layer, input (3072) first, classes (10) last
#   optimizer        "adam" or "sgd"
#   eta              the starting learning rate of that optimizer
#   l2               the L2 strength (0 for none)
#   k                the decay rate of eta_t = eta * exp(-k * t), t the epoch from 0
#   ablation_eta     the learning rate of the other optimizer, for the Adam-vs-SGD run
SETTINGS = {
    "sizes": [3072, 128, 10],
    "optimizer": "adam",
    "eta": 1e-3,
    "l2": 1e-3,
    "k": 0.05,
    "epochs": 10,
    "mini_batch_size": 64,
    "ablation_eta": 0.05,
}

# Task 6's ablations: each switches one feature of SETTINGS off (or to the other optimizer).
ABLATIONS = ("none", "other_optimizer", "no_l2", "no_schedule")


class Network(object):
    def __init__(self, sizes, optimizer="sgd", l2=0.0):
        """sizes: neurons per layer; optimizer: "sgd" or "adam"; l2: the L2 strength."""
        # He initialisation; weights[i] (sizes[i+1], sizes[i]), biases[i] (sizes[i+1], 1)
        self.weights = [((2 / sizes[i - 1]) ** 0.5) * np.random.randn(sizes[i], sizes[i - 1])
                        for i in range(1, len(sizes))]
        self.biases = [np.zeros((x, 1)) for x in sizes[1:]]
        self.optimizer = optimizer
        self.l2 = l2
        if self.optimizer == "adam":
            self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-8
            self.t = 0  # Adam steps taken so far
            self.m_w = [np.zeros(w.shape) for w in self.weights]
            self.v_w = [np.zeros(w.shape) for w in self.weights]
            self.m_b = [np.zeros(b.shape) for b in self.biases]
            self.v_b = [np.zeros(b.shape) for b in self.biases]

    def train(self, training_data, training_class, val_data, val_class, epochs,
              mini_batch_size, eta, k=0.0, verbose=False):
        """Minibatch training; eta_t = eta * exp(-k * t) in epoch t (from 0).

        training_data (n0, n), training_class (c, n) one-hot; likewise the validation
        data. Returns {"loss": mean training loss per epoch, "val_loss", "val_accuracy"}.
        """
        n = training_data.shape[1]
        history = {"loss": [], "val_loss": [], "val_accuracy": []}
        for j in range(epochs):
            eta_current = eta * np.exp(-k * j)
            loss_sum, batches = 0.0, 0
            for start in range(0, n, mini_batch_size):
                x = training_data[:, start:start + mini_batch_size]
                y = training_class[:, start:start + mini_batch_size]
                output, Zs, As = self.forward_pass(x)
                gw, gb = self.backward_pass(output, y, Zs, As)
                self.update_network(gw, gb, eta_current)
                loss_sum += self.loss(output, y)
                batches += 1
            val_loss, val_accuracy = self.eval_network(val_data, val_class)
            history["loss"].append(loss_sum / batches)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
            if verbose:
                print(f"epoch {j}: eta {eta_current:.3g}, loss {loss_sum / batches:.4f}, "
                      f"validation loss {val_loss:.4f}, accuracy {val_accuracy:.4f}")
        return history

    def eval_network(self, validation_data, validation_class):
        """(mean cross-entropy, accuracy) on data (n0, m) with one-hot classes (c, m)."""
        output, _, _ = self.forward_pass(validation_data)
        accuracy = np.mean(np.argmax(output, axis=0) == np.argmax(validation_class, axis=0))
        return cross_entropy(validation_class, output), float(accuracy)

    def loss(self, output, target):
        """Mean cross-entropy of output (c, m) against one-hot target (c, m), plus
        (l2 / 2) * sum of ||W||^2 over the weight matrices (biases not regularised)."""
        penalty = sum(np.sum(w ** 2) for w in self.weights)
        return cross_entropy(target, output) + 0.5 * self.l2 * penalty

    def update_network(self, gw, gb, eta):
        """One step of the optimizer. gw, gb: gradients shaped like weights, biases."""
        if self.optimizer == "sgd":
            for i in range(len(self.weights)):
                self.weights[i] -= eta * gw[i]
                self.biases[i] -= eta * gb[i]
        elif self.optimizer == "adam":
            self.t += 1
            b1, b2, eps = self.beta1, self.beta2, self.epsilon
            for i in range(len(self.weights)):
                self.m_w[i] = b1 * self.m_w[i] + (1 - b1) * gw[i]
                self.v_w[i] = b2 * self.v_w[i] + (1 - b2) * gw[i] ** 2
                self.m_b[i] = b1 * self.m_b[i] + (1 - b1) * gb[i]
                self.v_b[i] = b2 * self.v_b[i] + (1 - b2) * gb[i] ** 2
                m_w = self.m_w[i] / (1 - b1 ** self.t)
                v_w = self.v_w[i] / (1 - b2 ** self.t)
                m_b = self.m_b[i] / (1 - b1 ** self.t)
                v_b = self.v_b[i] / (1 - b2 ** self.t)
                self.weights[i] -= eta * m_w / (np.sqrt(v_w) + eps)
                self.biases[i] -= eta * m_b / (np.sqrt(v_b) + eps)
        else:
            raise ValueError("Unknown optimizer:" + self.optimizer)

    def forward_pass(self, input):
        """input (n0, m) -> (output (c, m) softmax probabilities, Zs, As): Zs[i] the
        pre-activation of layer i+1, As[i] the activation entering layer i+1 (As[0] the
        input, As[-1] the output)."""
        activation = input
        Zs, As = [], [activation]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = np.dot(w, activation) + b
            Zs.append(z)
            activation = softmax(z) if i == len(self.weights) - 1 else sigmoid(z)
            As.append(activation)
        return activation, Zs, As

    def backward_pass(self, output, target, Zs, As):
        """Gradients (gw, gb) of the regularised loss, averaged over the m columns."""
        m = target.shape[1]
        delta = softmax_dLdZ(output, target) / m
        gw, gb = [None] * len(self.weights), [None] * len(self.biases)
        for i in range(len(self.weights) - 1, -1, -1):
            gw[i] = np.dot(delta, As[i].T) + self.l2 * self.weights[i]
            gb[i] = np.sum(delta, axis=1, keepdims=True)
            if i > 0:
                delta = np.dot(self.weights[i].T, delta) * sigmoid_prime(Zs[i - 1])
        return gw, gb


def softmax(Z):
    """Column-wise softmax of Z (c, m)."""
    expZ = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    return expZ / expZ.sum(axis=0, keepdims=True)


def softmax_dLdZ(output, target):
    """Gradient of the cross-entropy with respect to the softmax's input, per example."""
    return output - target


def cross_entropy(y_true, y_pred, epsilon=1e-12):
    """Mean cross-entropy of predictions (c, m) against one-hot targets (c, m)."""
    y_pred = np.clip(y_pred, epsilon, 1.0 - epsilon)
    return -np.sum(y_true * np.log(y_pred)) / y_pred.shape[1]


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def unpickle(file):
    with open(file, "rb") as fo:
        return pickle.load(fo, encoding="bytes")


def load_data_cifar(train_file, test_file):
    """(train data (3072, n), one-hot classes (10, n), test data, test classes), in [0, 1]."""
    train_dict = unpickle(train_file)
    test_dict = unpickle(test_file)
    train_data = np.array(train_dict["data"]) / 255.0
    train_class = np.array(train_dict["labels"])
    train_class_one_hot = np.zeros((train_data.shape[0], 10))
    train_class_one_hot[np.arange(train_class.shape[0]), train_class] = 1.0
    test_data = np.array(test_dict["data"]) / 255.0
    test_class = np.array(test_dict["labels"])
    test_class_one_hot = np.zeros((test_class.shape[0], 10))
    test_class_one_hot[np.arange(test_class.shape[0]), test_class] = 1.0
    return (train_data.transpose(), train_class_one_hot.transpose(), test_data.transpose(),
            test_class_one_hot.transpose())


def settings_for(ablation):
    """SETTINGS with one of task 6's ablations applied."""
    s = dict(SETTINGS)
    if ablation == "other_optimizer":  # Adam <-> SGD, with its own learning rate
        s["optimizer"] = "sgd" if s["optimizer"] == "adam" else "adam"
        s["eta"] = s["ablation_eta"]
    elif ablation == "no_l2":
        s["l2"] = 0.0
    elif ablation == "no_schedule":
        s["k"] = 0.0
    return s


if __name__ == "__main__":
    ablation = sys.argv[1] if len(sys.argv) > 1 else "none"
    if ablation not in ABLATIONS:
        sys.exit(f"usage: python network_template.py [{'|'.join(ABLATIONS)}]")
    s = settings_for(ablation)
    train_file = "./data/train_data.pckl"
    test_file = "./data/test_data.pckl"
    train_data, train_class, test_data, test_class = load_data_cifar(train_file, test_file)
    val_pct = 0.1
    val_size = int(train_data.shape[1] * val_pct)
    val_data, val_class = train_data[..., :val_size], train_class[..., :val_size]
    train_data, train_class = train_data[..., val_size:], train_class[..., val_size:]
    net = Network(s["sizes"], optimizer=s["optimizer"], l2=s["l2"])
    net.train(train_data, train_class, val_data, val_class, s["epochs"],
              s["mini_batch_size"], s["eta"], k=s["k"], verbose=True)
    print("test (loss, accuracy):", net.eval_network(test_data, test_class))
