"""Judging the SGD steps a student's train() took, from what the probe observed.

The probe logs, for every call of self.loss(X_batch, y=y_batch, reg=reg) inside train(),
the parameters before the call, the gradients it returned and the rows of the batch. From
consecutive parameter snapshots the grader recovers each step's learning rate,
lr_t = -<delta, g> / <g, g>, and checks it against learning_rate * decay^epoch.

This module needs numpy only and holds no solution: the students' self-check
(grader/parts/part1_numpy/selfcheck.py) ships it and judges its 3a.2 with the same rules.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepLog:
    """What train() did, as observed: T logged loss calls."""

    before: np.ndarray  # (T, P) all parameters, flattened, before each call
    grads: np.ndarray  # (T, P) gradients each call returned, flattened
    final: np.ndarray  # (P,) parameters after train()
    batch_sizes: np.ndarray  # (T,) rows in each batch
    batch_rows: np.ndarray  # (sum of batch_sizes,) row index in X of each batch row, -1 unknown


@dataclass(frozen=True)
class Settings:
    """The train() arguments of one case."""

    num_train: int
    batch_size: int
    num_iters: int
    learning_rate: float
    learning_rate_decay: float


def step_rates(log: StepLog) -> tuple[np.ndarray, float]:
    """(learning rate of each real update step, worst relative residual of θ - lr g)."""
    after = np.vstack([log.before[1:], log.final[None]])
    rates, worst = [], 0.0
    for before, nxt, g in zip(log.before, after, log.grads):
        delta = nxt - before
        gg = float(g @ g)
        if gg == 0.0 or not np.any(delta):
            continue  # a loss call that was not followed by an update
        lr = -float(delta @ g) / gg
        residual = float(np.linalg.norm(delta + lr * g) / max(np.linalg.norm(delta), 1e-300))
        rates.append(lr)
        worst = max(worst, residual)
    return np.array(rates), worst


def judge_steps(log: StepLog, s: Settings, min_coverage: float, lr_rtol: float,
                pred_ok: bool | None) -> list[tuple[str, str]]:
    """(part, problem or '') for: update rule, learning rate, decay, batch size,
    minibatches drawn from the whole set, predict()."""
    parts = []
    rates, residual = step_rates(log)
    ok_rule = len(rates) > 0 and residual < 1e-6
    parts.append(("update", "" if ok_rule else (
        "no parameter update observed after the loss calls" if not len(rates) else
        f"the update is not params -= learning_rate * grads (residual {residual:.1e})")))
    lr0 = rates[0] if len(rates) else float("nan")
    lr_ok = len(rates) > 0 and abs(lr0 - s.learning_rate) <= lr_rtol * s.learning_rate
    parts.append(("learning rate", "" if lr_ok else
                  f"first step used learning rate {lr0:.6g}, expected {s.learning_rate:g}"))
    parts.append(("decay", _decay_problem(rates, s, lr_rtol) if lr_ok else
                  "cannot check the decay before the learning rate is honoured"))
    sizes = set(int(v) for v in log.batch_sizes)
    parts.append(("batch size", "" if sizes == {s.batch_size} else
                  f"batches of {sorted(sizes)} rows, expected {s.batch_size}"))
    seen = np.unique(log.batch_rows[log.batch_rows >= 0])
    coverage = len(seen) / s.num_train
    parts.append(("sampling", "" if coverage >= min_coverage else
                  f"minibatches used only {len(seen)} of the {s.num_train} training rows "
                  f"in {s.num_iters} iterations: draw them at random from the whole set"))
    if pred_ok is not None:
        parts.append(("predict", "" if pred_ok else
                      "predict(X) differs from the argmax of the network's scores"))
    return parts


def _decay_problem(rates: np.ndarray, s: Settings, rtol: float) -> str:
    per_epoch = max(s.num_train / s.batch_size, 1)
    log_decay = math.log(s.learning_rate_decay)
    for t, lr in enumerate(rates):
        if lr <= 0:
            return f"step {t} used learning rate {lr:.3g}"
        k = math.log(lr / s.learning_rate) / log_decay
        power = abs(k - round(k)) < 1e-3 or abs(lr - s.learning_rate * s.learning_rate_decay ** round(k)) <= rtol * lr
        lo, hi = math.floor(t / per_epoch) - 1, math.ceil(t / per_epoch) + 1
        if not power or not lo <= round(k) <= hi:
            epochs = t / per_epoch
            return (f"step {t} (epoch {epochs:.1f}) used learning rate {lr:.6g}; expected "
                    f"{s.learning_rate:g} * {s.learning_rate_decay:g}^{math.floor(epochs)} = "
                    f"{s.learning_rate * s.learning_rate_decay ** math.floor(epochs):.6g}: "
                    "multiply the learning rate by the decay once per epoch")
    return ""


def predictions_match(pred: np.ndarray | None, expected: np.ndarray) -> bool:
    """Whether predict() gave the expected labels (N,): the argmax of the final network's
    scores, which the caller computes."""
    if pred is None or pred.shape != expected.shape or not np.all(np.isfinite(pred)):
        return False
    return bool(np.array_equal(pred.astype(np.int64), expected.astype(np.int64)))
