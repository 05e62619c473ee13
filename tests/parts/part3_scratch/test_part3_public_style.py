"""A submission in the style of the public solutions of the course template: training and
data loading at the top level (no __main__ guard), train() calling the global `net`, the
constructor without l2, gradients summed over the batch, Adam without bias correction, no
SETTINGS. Graded on 5a-5c (one sandboxed child) and 5d's settings reader: nothing runs at
import, and every check says what the handout's API asks for instead."""
from __future__ import annotations

import textwrap

from grader.core.rubric import spec as rubric
from grader.parts.part3_scratch import settings
from grading import grade

PUBLIC_STYLE = textwrap.dedent('''
    import numpy as np
    import pickle


    class Network(object):
        def __init__(self, sizes, optimizer="sgd"):
            self.weights = [((2 / sizes[i - 1]) ** 0.5) * np.random.randn(sizes[i], sizes[i - 1])
                            for i in range(1, len(sizes))]
            self.biases = [np.zeros((x, 1)) for x in sizes[1:]]
            self.optimizer = optimizer
            if self.optimizer == "adam":
                self.mw = [np.zeros(w.shape) for w in self.weights]
                self.vw = [np.zeros(w.shape) for w in self.weights]
                self.mb = [np.zeros(b.shape) for b in self.biases]
                self.vb = [np.zeros(b.shape) for b in self.biases]

        def train(self, training_data, training_class, val_data, val_class, epochs,
                  mini_batch_size, eta, decay=0.0):
            n = training_data.shape[1]
            for j in range(epochs):
                eta_current = eta * np.exp(-decay * j)
                for k in range(0, n, mini_batch_size):
                    x = training_data[:, k:k + mini_batch_size]
                    y = training_class[:, k:k + mini_batch_size]
                    output, zs, activations = self.forward_pass(x)
                    gw, gb = net.backward_pass(output, y, zs, activations)
                    self.update_network(gw, gb, eta_current)
                print("Epoch {} complete".format(j))

        def update_network(self, gw, gb, eta):
            if self.optimizer == "sgd":
                for i in range(len(self.weights)):
                    self.weights[i] -= eta * gw[i]
                    self.biases[i] -= eta * gb[i]
            elif self.optimizer == "adam":
                for i in range(len(self.weights)):
                    self.mw[i] = 0.9 * self.mw[i] + 0.1 * gw[i]
                    self.vw[i] = 0.999 * self.vw[i] + 0.001 * gw[i] ** 2
                    self.mb[i] = 0.9 * self.mb[i] + 0.1 * gb[i]
                    self.vb[i] = 0.999 * self.vb[i] + 0.001 * gb[i] ** 2
                    self.weights[i] -= eta * self.mw[i] / (np.sqrt(self.vw[i]) + 1e-8)
                    self.biases[i] -= eta * self.mb[i] / (np.sqrt(self.vb[i]) + 1e-8)

        def forward_pass(self, x):
            zs, activations = [], [x]
            for i in range(len(self.weights)):
                z = np.dot(self.weights[i], activations[-1]) + self.biases[i]
                zs.append(z)
                activations.append(softmax(z) if i == len(self.weights) - 1 else sigmoid(z))
            return activations[-1], zs, activations

        def backward_pass(self, output, target, zs, activations):
            delta = output - target
            nabla_w = [np.dot(delta, activations[-2].T)]
            nabla_b = [np.sum(delta, axis=1, keepdims=True)]
            for L in range(2, len(self.weights) + 1):
                delta = np.dot(self.weights[-L + 1].T, delta) * sigmoid(zs[-L]) * (1 - sigmoid(zs[-L]))
                nabla_w.insert(0, np.dot(delta, activations[-L - 1].T))
                nabla_b.insert(0, np.sum(delta, axis=1, keepdims=True))
            return nabla_w, nabla_b


    def softmax(z):
        e = np.exp(z - np.max(z))
        return e / e.sum(axis=0, keepdims=True)


    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))


    def load_data_cifar(train_file, test_file):
        with open(train_file, "rb") as fo:
            return pickle.load(fo, encoding="bytes")


    train_data, train_class, test_data, test_class = load_data_cifar("./data/train_data.pckl",
                                                                     "./data/test_data.pckl")
    net = Network([train_data.shape[0], 100, 100, 10], optimizer="adam")
    net.train(train_data, train_class, test_data, test_class, 20, 64, 0.001, 0.05)
''')


def test_public_style_is_graded_without_running_its_top_level(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "network_template.py").write_text(PUBLIC_STYLE)
    graded = grade(sub, ("5a.1", "5a.2", "5b.1", "5c.1"), batched=True)
    # no l2 in the constructor: 5a says what the handout's constructor is
    assert graded["5a.1"].fraction == 0
    assert 'Network(sizes, optimizer="sgd", l2=0.0)' in graded["5a.1"].message
    # the hidden network with l2 = 0 is judged: no loss(), gradients summed over the batch
    assert "Network has no method loss" in graded["5a.2"].message
    assert "do not sum" in graded["5a.2"].message
    # without L2 the constructor will do: Adam without bias correction is found through
    # the global net, and the decay named freely is right
    assert graded["5b.1"].fraction == 0
    assert "no bias correction" in graded["5b.1"].message
    assert graded["5c.1"].fraction == 1, graded["5c.1"].message
    found, problem = settings.read(sub, rubric.load().check("5d.1"))
    assert found is None and "declares no top-level SETTINGS" in problem
