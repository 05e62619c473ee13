"""The grader's own two-layer network math: expected values for Part 1.

Standalone (numpy only) so a sandbox child timing the reference forward pass can load it
by path; it never runs next to student code. Shapes: X (N, D); y (N,) ints in [0, C);
W1 (D, H); b1 (H,); W2 (H, C); b2 (C,).
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

try:  # in the sandbox: the kit beside this probe, which sandbox_child preloads
    import grader_kit_training as kit
except ImportError:  # imported from the grader package
    from grader.core.sandbox.kits import training as kit

PARAM_NAMES = ("W1", "b1", "W2", "b2")
Params = Mapping[str, np.ndarray]


def probabilities(params: Params, X: np.ndarray) -> np.ndarray:
    """Softmax class probabilities (N, C) of the ReLU network."""
    hidden = np.maximum(0.0, X @ params["W1"] + params["b1"])
    scores = hidden @ params["W2"] + params["b2"]
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray,
                   reg: float) -> tuple[float, dict[str, np.ndarray]]:
    """Mean cross-entropy + reg * (||W1||^2 + ||W2||^2), and its gradients (keyed by name)."""
    n = X.shape[0]
    z2 = X @ params["W1"] + params["b1"]
    a2 = np.maximum(0.0, z2)
    scores = a2 @ params["W2"] + params["b2"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    data_loss = -log_probs[np.arange(n), y].mean()
    reg_loss = reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1.0
    dscores /= n
    da2 = dscores @ params["W2"].T
    dz2 = da2 * (z2 > 0)
    grads = {
        "W2": a2.T @ dscores + 2.0 * reg * params["W2"],
        "b2": dscores.sum(axis=0),
        "W1": X.T @ dz2 + 2.0 * reg * params["W1"],
        "b1": dz2.sum(axis=0),
    }
    return float(data_loss + reg_loss), grads


def loss(params: Params, X: np.ndarray, y: np.ndarray, reg: float) -> float:
    """The regularised loss alone."""
    return loss_and_grads(params, X, y, reg)[0]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float) -> np.ndarray:
    """Centred differences of f() with respect to every entry of x (perturbed in place)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """The handout's error: max |x - y| / max(1e-8, |x| + |y|)."""
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def predict(params: Params, X: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """Predicted labels (N,), in chunks so a float32 dataset is never copied whole."""
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], chunk):
        block = np.asarray(X[start:start + chunk], dtype=np.float64)
        hidden = np.maximum(0.0, block @ params["W1"] + params["b1"])
        out[start:start + chunk] = np.argmax(hidden @ params["W2"] + params["b2"], axis=1)
    return out


def accuracy(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of X whose predicted label equals y."""
    return float(np.mean(predict(params, X) == y))


def time_forward(ctx) -> None:
    """Sandbox probe: best-of-k seconds of this module's forward pass (1c's baseline)."""
    params = {k: ctx.inputs[k] for k in PARAM_NAMES}
    X = ctx.inputs["X"]
    times = []
    for _ in range(int(ctx.params["repeats"])):
        start = ctx.perf_counter()
        probabilities(params, X)
        times.append(ctx.perf_counter() - start)
    ctx.put("seconds", times)


def time_training(ctx) -> None:
    """Sandbox probe: seconds per iteration of the reference's SGD (3b's budget baseline).

    What the reference's train() does each iteration, with the student's declared settings
    on the grader's data files: a minibatch of batch_size rows drawn from the memory-mapped
    training set, loss and gradients, the update, and once per epoch the batch and
    validation accuracy. params: hyperparams, seed, num_classes, num_train (None: every
    row), iters (iterations timed after one untimed warm-up) and seconds (stop earlier
    once this much time was spent, after at least two timed iterations).
    """
    X, y, X_val, y_val = kit.rows_and_validation(ctx)
    hp = ctx.params["hyperparams"]
    H, batch = int(hp["hidden_size"]), int(hp["batch_size"])
    D, C, n = X.shape[1], int(ctx.params["num_classes"]), X.shape[0]
    np.random.seed(int(ctx.params["seed"]))
    std = float(hp.get("std", 1e-4))
    params = {"W1": std * np.random.randn(D, H), "b1": np.zeros(H),
              "W2": std * np.random.randn(H, C), "b2": np.zeros(C)}
    lr, reg = float(hp["learning_rate"]), float(hp["reg"])
    per_epoch = max(n / batch, 1)
    iters, limit = int(ctx.params["iters"]), float(ctx.params["seconds"])
    with np.errstate(all="ignore"):  # settings that diverge cost what they cost
        for it in kit.timed_steps(ctx, iters, limit):  # step 0 is the untimed warm-up
            idx = np.random.choice(n, batch, replace=True)
            X_batch, y_batch = X[idx], y[idx]
            grads = loss_and_grads(params, X_batch, y_batch, reg)[1]
            for name in PARAM_NAMES:
                params[name] -= lr * grads[name]
            if it % per_epoch == 0:
                accuracy(params, X_batch, y_batch)
                accuracy(params, X_val, y_val)
                lr *= float(hp["learning_rate_decay"])
