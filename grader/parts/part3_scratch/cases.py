"""Inputs of the Part 3 checks: small networks and batches (5a), and the training runs whose
update_network calls are observed (5b, 5c).

Hidden cases are derived, not global: a case's seed comes from the rubric's seed and the
check id (case_seed), so a regrade reproduces them exactly. Only inputs are made here;
expected values come from netmath.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.rubric.spec import case_seed


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """(classes, m) one-hot columns of labels (m,)."""
    Y = np.zeros((classes, len(labels)))
    Y[labels, np.arange(len(labels))] = 1.0
    return Y


def _network(rng: np.random.RandomState, sizes: list[int]) -> tuple[list, list]:
    """Weights at the template's He scale and non-zero biases (so that a regularised bias
    shows)."""
    weights = [np.sqrt(2 / sizes[i]) * rng.randn(sizes[i + 1], sizes[i])
               for i in range(len(sizes) - 1)]
    biases = [0.5 * rng.randn(n, 1) for n in sizes[1:]]
    return weights, biases


@dataclass(frozen=True)
class NetCase:
    """One network and batch of 5a: the arrays a probe gets, and l2 and eta."""

    name: str  # "public" or "hidden0", ...
    sizes: tuple[int, ...]  # neurons per layer
    weights: tuple  # weights[i] (sizes[i+1], sizes[i])
    biases: tuple  # biases[i] (sizes[i+1], 1)
    X: np.ndarray  # (sizes[0], m)
    Y: np.ndarray  # (sizes[-1], m) one-hot
    l2: float
    eta: float  # of the SGD step on given gradients
    step_gw: tuple  # the given gradients of that step, shaped like the weights
    step_gb: tuple  # ... and like the biases
    seed: int | None = None  # the derived seed of a hidden case

    @property
    def m(self) -> int:
        return self.X.shape[1]

    def arrays(self) -> dict[str, np.ndarray]:
        """The case's inputs keyed "name/field", for the sandbox."""
        out = {"X": self.X, "Y": self.Y}
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            out.update({f"W{i}": W, f"b{i}": b, f"step_gw{i}": self.step_gw[i],
                        f"step_gb{i}": self.step_gb[i]})
        return {f"{self.name}/{k}": np.asarray(v) for k, v in out.items()}

    def settings(self) -> dict:
        """The case's JSON-able settings, for the sandbox."""
        return {"name": self.name, "sizes": list(self.sizes), "l2": self.l2, "eta": self.eta}


def net_case(name: str, sizes: list[int], m: int, l2: float, eta: float,
             rng: np.random.RandomState, seed: int | None = None) -> NetCase:
    """A random network, batch and SGD step of the given shape."""
    weights, biases = _network(rng, sizes)
    X = rng.randn(sizes[0], m)
    Y = _one_hot(rng.randint(0, sizes[-1], size=m), sizes[-1])
    step_gw = tuple(0.1 * rng.randn(*W.shape) for W in weights)
    step_gb = tuple(0.1 * rng.randn(*b.shape) for b in biases)
    return NetCase(name, tuple(sizes), tuple(weights), tuple(biases), X, Y, l2, eta,
                   step_gw, step_gb, seed)


def public_net_case(check) -> NetCase:
    """5a's public case: the rubric's sizes, batch, l2 and eta."""
    rng = np.random.RandomState(int(check.value("case_seed")))
    return net_case("public", [int(s) for s in check.value("sizes")], int(check.value("m")),
                    float(check.value("l2")), float(check.value("eta")), rng)


def hidden_net_cases(base: int, check) -> list[NetCase]:
    """5a's hidden cases: 2 to 4 weight layers of random widths, the check's l2 values in
    turn (never the public one first)."""
    cases = []
    l2s = [float(v) for v in check.value("l2s")]
    for index in range(int(check.value("cases"))):
        seed = case_seed(base, check.id, index)
        rng = np.random.RandomState(seed)
        depth = 2 + index % 3
        sizes = [int(rng.randint(3, 8))] + [int(rng.randint(3, 9)) for _ in range(depth - 1)] \
            + [int(rng.randint(2, 6))]
        cases.append(net_case(f"hidden{index}", sizes, int(rng.randint(3, 11)),
                              l2s[index % len(l2s)], float(rng.uniform(0.01, 0.5)), rng, seed))
    return cases


@dataclass(frozen=True)
class TrainCase:
    """One observed run of the student's train() (5b, 5c): the network, the data, the
    settings, and the gradients the grader's backward_pass hands out, step after step."""

    name: str
    sizes: tuple[int, ...]
    optimizer: str  # "adam" or "sgd"
    weights: tuple
    biases: tuple
    X: np.ndarray  # (sizes[0], n) training data
    Y: np.ndarray  # (sizes[-1], n)
    epochs: int
    mini_batch_size: int  # divides n: every epoch has the same number of steps
    eta: float
    k: float
    grads: tuple  # grads[s] = (gw list, gb list) handed out at step s
    seed: int | None = None

    @property
    def per_epoch(self) -> int:
        """Steps per epoch."""
        return self.X.shape[1] // self.mini_batch_size

    @property
    def steps(self) -> int:
        return self.epochs * self.per_epoch

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"X": self.X, "Y": self.Y}
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            out.update({f"W{i}": W, f"b{i}": b})
        for s, (gw, gb) in enumerate(self.grads):
            for i in range(len(gw)):
                out[f"gw{s}_{i}"], out[f"gb{s}_{i}"] = gw[i], gb[i]
        return {f"{self.name}/{k}": np.asarray(v) for k, v in out.items()}

    def settings(self) -> dict:
        return {"name": self.name, "sizes": list(self.sizes), "optimizer": self.optimizer,
                "epochs": self.epochs, "mini_batch_size": self.mini_batch_size,
                "eta": self.eta, "k": self.k, "steps": self.steps}


def _scaled_gradient(rng: np.random.RandomState, shape: tuple) -> np.ndarray:
    """Gradient entries of random sign whose sizes span 1e-6 to 1: a wrong epsilon, or an
    epsilon inside the square root, shows on the small ones."""
    return rng.choice([-1.0, 1.0], size=shape) * 10.0 ** rng.uniform(-6, 0, size=shape)


def train_case(name: str, sizes: list[int], optimizer: str, n: int, mini_batch_size: int,
               epochs: int, eta: float, k: float, rng: np.random.RandomState,
               seed: int | None = None) -> TrainCase:
    """A random network, data and the gradients of every step of the run."""
    weights, biases = _network(rng, sizes)
    X = rng.randn(sizes[0], n)
    Y = _one_hot(rng.randint(0, sizes[-1], size=n), sizes[-1])
    steps = epochs * (n // mini_batch_size)
    grads = tuple(([_scaled_gradient(rng, W.shape) for W in weights],
                   [_scaled_gradient(rng, b.shape) for b in biases]) for _ in range(steps))
    return TrainCase(name, tuple(sizes), optimizer, tuple(weights), tuple(biases), X, Y,
                     epochs, mini_batch_size, eta, k, grads, seed)


def public_train_case(check, optimizer: str, k: float | None = None) -> TrainCase:
    """The check's public run: sizes, n, mini_batch_size, epochs, eta and k from the rubric."""
    rng = np.random.RandomState(int(check.value("case_seed")))
    return train_case("public", [int(s) for s in check.value("sizes")], optimizer,
                      int(check.value("n")), int(check.value("mini_batch_size")),
                      int(check.value("epochs")), float(check.value("eta")),
                      float(check.value("k")) if k is None else k, rng)


def hidden_train_case(base: int, check, optimizer: str, index: int = 0,
                      k: float | None = None) -> TrainCase:
    """A hidden run: random sizes (2 or 3 weight layers), batch, epochs, eta and k."""
    seed = case_seed(base, check.id, index)
    rng = np.random.RandomState(seed)
    depth = 2 + index % 2
    sizes = [int(rng.randint(3, 7))] + [int(rng.randint(3, 7)) for _ in range(depth - 1)] \
        + [int(rng.randint(2, 5))]
    batch = int(rng.randint(2, 6))
    per_epoch = int(rng.randint(2, 5))
    eta = float(10 ** rng.uniform(-3, -1))
    decay = float(rng.uniform(0.1, 0.6)) if k is None else k
    return train_case(f"hidden{index}", sizes, optimizer, batch * per_epoch, batch,
                      int(rng.randint(3, 6)), eta, decay, rng, seed)
