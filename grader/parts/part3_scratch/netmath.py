"""The grader's own math for Part 3: expected values, in the grader's process (numpy only).

Column-major, as the course template: inputs X (n0, m), one-hot targets Y (c, m);
weights[i] (sizes[i+1], sizes[i]), biases[i] (sizes[i+1], 1). Hidden layers use one
elementwise activation (the student's: identified from their forward pass), the output
layer the softmax. The loss is the mean cross-entropy plus (l2 / 2) * sum of ||W||^2 over
the weight matrices; Adam uses beta1 0.9, beta2 0.999, eps 1e-8 and bias-corrected
moments, t counting update_network calls from 1; the schedule is eta * exp(-k * t), t the
epoch from 0.

Standalone (numpy only) so a sandbox child timing the reference's training can load it
by path (time_training); it never runs next to student code.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

try:  # in the sandbox: the kit beside this probe, which sandbox_child preloads
    import grader_kit_training as kit
except ImportError:  # imported from the grader package
    from grader.core.sandbox.kits import training as kit

Arrays = Sequence[np.ndarray]
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _leaky(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, z, 0.01 * z)


# Hidden activations the grader recognises: name -> (function, derivative)
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "relu": (lambda z: np.maximum(0.0, z), lambda z: (z > 0).astype(np.float64)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "leaky_relu": (_leaky, lambda z: np.where(z > 0, 1.0, 0.01)),
}


def identify_activation(Zs: Arrays, As: Arrays, rtol: float = 1e-6) -> str | None:
    """The name of the ACTIVATIONS entry f with As[i+1] == f(Zs[i]) for every hidden layer
    (Zs[i] (sizes[i+1], m), As[i+1] likewise; As without the input, As[i] == f(Zs[i]), is
    read too); None when none fits ("sigmoid" when there is no hidden layer)."""
    offset = 1 if len(As) > len(Zs) else 0
    pairs = [(np.asarray(z, dtype=np.float64), np.asarray(a, dtype=np.float64))
             for z, a in zip(Zs[:-1], As[offset:offset + len(Zs) - 1])]
    for name, (f, _) in ACTIVATIONS.items():
        if all(z.shape == a.shape and np.allclose(f(z), a, rtol=rtol, atol=1e-9)
               for z, a in pairs):
            return name
    return None


def softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise softmax of Z (c, m)."""
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def forward(weights: Arrays, biases: Arrays, X: np.ndarray, activation: str = "sigmoid"
            ) -> tuple[np.ndarray, list, list]:
    """(output (c, m), Zs, As) of the network, as the template's forward_pass."""
    f = ACTIVATIONS[activation][0]
    a, Zs, As = X, [], [X]
    for i, (W, b) in enumerate(zip(weights, biases)):
        z = W @ a + b
        Zs.append(z)
        a = softmax(z) if i == len(weights) - 1 else f(z)
        As.append(a)
    return a, Zs, As


def cross_entropy(Y: np.ndarray, P: np.ndarray) -> float:
    """Mean cross-entropy of probabilities P (c, m) against one-hot Y (c, m)."""
    return float(-np.sum(Y * np.log(np.clip(P, 1e-300, None))) / P.shape[1])


def l2_penalty(weights: Arrays, l2: float) -> float:
    """(l2 / 2) * sum of ||W||^2 over the weight matrices."""
    return 0.5 * l2 * float(sum(np.sum(np.asarray(W) ** 2) for W in weights))


def loss(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray, l2: float,
         activation: str = "sigmoid") -> float:
    """The regularised loss of the network on (X, Y)."""
    return cross_entropy(Y, forward(weights, biases, X, activation)[0]) + l2_penalty(weights, l2)


def gradients(weights: Arrays, biases: Arrays, X: np.ndarray, Y: np.ndarray, l2: float,
              activation: str = "sigmoid") -> tuple[list, list]:
    """(gw, gb) of the regularised loss, averaged over the m columns (backpropagation)."""
    out, Zs, As = forward(weights, biases, X, activation)
    df = ACTIVATIONS[activation][1]
    delta = (out - Y) / X.shape[1]
    gw, gb = [None] * len(weights), [None] * len(biases)
    for i in range(len(weights) - 1, -1, -1):
        gw[i] = delta @ As[i].T + l2 * weights[i]
        gb[i] = delta.sum(axis=1, keepdims=True)
        if i:
            delta = (weights[i].T @ delta) * df(Zs[i - 1])
    return gw, gb


def rel_error(x: np.ndarray, y: np.ndarray, floor: float = 1e-8) -> float:
    """The handout's error: max |x - y| / max(floor, |x| + |y|)."""
    return float(np.max(np.abs(x - y) / np.maximum(floor, np.abs(x) + np.abs(y))))


# -- Adam -------------------------------------------------------------------------------

class Adam:
    """One way of taking Adam steps: the handout's, or a variant a hint names.

    correction: "standard" (m / (1 - beta1^t), v / (1 - beta2^t)), "none", "one_minus_beta"
    ((1 - beta) in place of (1 - beta^t)) or "efficient" (the Adam paper's
    eta * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)); eps_inside puts eps
    under the square root; t(step, layer, epoch) is the t used at a step (step from 0).
    A plain class, not a dataclass: a sandbox child loads this module by path.
    """

    def __init__(self, beta1: float = BETA1, beta2: float = BETA2, eps: float = EPS,
                 correction: str = "standard", eps_inside: bool = False,
                 t: Callable[[int, int, int], int] | None = None):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.correction, self.eps_inside = correction, eps_inside
        self.t = t if t is not None else (lambda step, layer, epoch: step + 1)

    def run(self, params: Arrays, grads: Sequence[Arrays], etas: Sequence[float],
            layers: Sequence[int], epochs: Sequence[int]) -> list[list[np.ndarray]]:
        """The parameters after each step. params: every parameter array (the weights,
        then the biases); grads[s]: their gradients at step s; etas[s]: the learning rate
        of step s; layers[j]: the layer of params[j]; epochs[s]: the epoch of step s."""
        theta = [np.array(p, dtype=np.float64) for p in params]
        m = [np.zeros_like(p) for p in theta]
        v = [np.zeros_like(p) for p in theta]
        out = []
        with np.errstate(all="ignore"):
            for s, (g_step, eta) in enumerate(zip(grads, etas)):
                for j, g in enumerate(g_step):
                    g = np.asarray(g, dtype=np.float64)
                    t = self.t(s, layers[j], epochs[s])
                    m[j] = self.beta1 * m[j] + (1 - self.beta1) * g
                    v[j] = self.beta2 * v[j] + (1 - self.beta2) * g * g
                    theta[j] = theta[j] - eta * self._direction(m[j], v[j], t)
                out.append([p.copy() for p in theta])
        return out

    def _direction(self, m: np.ndarray, v: np.ndarray, t: int) -> np.ndarray:
        b1, b2, eps = self.beta1, self.beta2, self.eps
        if self.correction == "efficient":
            return np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
        if self.correction == "standard":
            m, v = m / (1 - b1 ** t), v / (1 - b2 ** t)
        elif self.correction == "one_minus_beta":
            m, v = m / (1 - b1), v / (1 - b2)
        return m / (np.sqrt(v + eps) if self.eps_inside else np.sqrt(v) + eps)


# -- the learning rate schedule ---------------------------------------------------------

def schedule(eta: float, k: float, epochs: int, per_epoch: int) -> np.ndarray:
    """The learning rate of every step: eta * exp(-k * t) in epoch t (from 0)."""
    return np.repeat(eta * np.exp(-k * np.arange(epochs)), per_epoch)


# -- accuracy on the prepared data ------------------------------------------------------

def predict_rows(weights: Arrays, biases: Arrays, rows: np.ndarray, scale: float,
                 activation: str, chunk: int = 2000) -> np.ndarray:
    """Predicted labels (N,) of prepared rows (N, n0) (fed as rows.T * scale), in chunks so
    a float32 dataset is never copied whole."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    for start in range(0, rows.shape[0], chunk):
        X = np.asarray(rows[start:start + chunk], dtype=np.float64).T * scale
        out[start:start + chunk] = np.argmax(forward(weights, biases, X, activation)[0], axis=0)
    return out


def accuracy(weights: Arrays, biases: Arrays, rows: np.ndarray, labels: np.ndarray,
             scale: float, activation: str) -> float:
    """Fraction of prepared rows (N, n0) whose predicted label is their label (N,)."""
    return float(np.mean(predict_rows(weights, biases, rows, scale, activation) == labels))


def time_training(ctx) -> None:
    """Sandbox probe: seconds per iteration of the grader's own training step (5d's budget
    baseline) with the student's declared settings on the grader's data files: a
    minibatch of mini_batch_size columns, forward and backward pass with L2, the update
    (SGD, or Adam with its moments). params: settings, scale, seed, iters (timed after one
    untimed warm-up) and seconds (stop earlier once this much time was spent, after at
    least two timed iterations)."""
    s = ctx.params["settings"]
    X = np.load(ctx.data_files["X_train"], mmap_mode="r", allow_pickle=False)
    y = np.load(ctx.data_files["y_train"], allow_pickle=False)
    sizes, batch = [int(v) for v in s["sizes"]], int(s["mini_batch_size"])
    rng = np.random.RandomState(int(ctx.params["seed"]))
    weights = [np.sqrt(2 / sizes[i]) * rng.randn(sizes[i + 1], sizes[i])
               for i in range(len(sizes) - 1)]
    biases = [np.zeros((n, 1)) for n in sizes[1:]]
    params = weights + biases
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    scale, l2, eta = float(ctx.params["scale"]), float(s["l2"]), float(s["eta"])
    iters, limit = int(ctx.params["iters"]), float(ctx.params["seconds"])
    n = X.shape[0]
    with np.errstate(all="ignore"):
        for it in kit.timed_steps(ctx, iters, limit):  # step 0 is the untimed warm-up
            first = (it * batch) % max(1, n - batch)
            xb = np.asarray(X[first:first + batch], dtype=np.float64).T * scale
            yb = np.zeros((sizes[-1], xb.shape[1]))
            yb[y[first:first + batch], np.arange(xb.shape[1])] = 1.0
            gw, gb = gradients(weights, biases, xb, yb, l2)
            for j, g in enumerate(gw + gb):
                if s["optimizer"] == "adam":
                    m, v = moments[j]
                    m *= BETA1
                    m += (1 - BETA1) * g
                    v *= BETA2
                    v += (1 - BETA2) * g * g
                    params[j] -= eta * (m / (1 - BETA1 ** (it + 1))) / (
                        np.sqrt(v / (1 - BETA2 ** (it + 1))) + EPS)
                else:
                    params[j] -= eta * g
