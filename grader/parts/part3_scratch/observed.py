"""5b and 5c, in the grader's process: the update_network calls of an observed train() run
(probes.train_observed), judged with numpy only.

5b replays Adam from the first call's parameters with the gradients and learning rates
train() passed, step after step, and compares every step's result; 5c measures the
learning rate of every SGD step from the step itself (the change of the parameters over
the gradient), so a schedule applied inside update_network counts as well as one in
train().
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import hints, netmath
from .cases import TrainCase
from ...core.engine.judge import Verdict
from ...core.sandbox.runner import ProbeRun


@dataclass(frozen=True)
class Log:
    """The logged update_network calls: T steps, P parameter arrays (weights, then biases)."""

    before: list  # before[j] (T,) + shape of parameter j
    after: list  # likewise, after each call
    grads: list  # grads[j] (T,) + shape: the gradient of parameter j passed at each call
    etas: np.ndarray  # (T,) the eta argument (NaN when not given)

    @property
    def steps(self) -> int:
        return len(self.etas)

    def grads_at(self, step: int) -> list[np.ndarray]:
        return [g[step] for g in self.grads]


def read_log(run: ProbeRun, case: TrainCase) -> tuple[Log | None, str]:
    """(the log, '') or (None, what is wrong)."""
    name, L = case.name, len(case.weights)
    calls = int(run.values.get(f"{name}/calls", 0) or 0)
    shapes = [W.shape for W in case.weights] + [b.shape for b in case.biases]
    try:
        before = [np.asarray(run.values[f"{name}/before{j}"], dtype=np.float64) for j in range(2 * L)]
        after = [np.asarray(run.values[f"{name}/after{j}"], dtype=np.float64) for j in range(2 * L)]
        grads = [np.asarray(run.values[f"{name}/{k}{i}"], dtype=np.float64)
                 for k in ("gw", "gb") for i in range(L)]
        etas = np.asarray(run.values[f"{name}/eta"], dtype=np.float64)
    except (KeyError, ValueError, TypeError):
        return None, "the update_network calls could not be read back"
    for j, shape in enumerate(shapes):
        for what, arr in (("the parameters", before[j]), ("the gradients", grads[j])):
            if arr.shape[1:] != shape:
                return None, (f"{what} at update_network have shape {arr.shape[1:]}, expected "
                              f"{shape} (parameter {j})")
    if calls < case.steps:
        return None, (f"train() called update_network {calls} times; {case.epochs} epochs of "
                      f"{case.X.shape[1]} columns in minibatches of {case.mini_batch_size} "
                      f"make {case.steps}")
    return Log(before, after, grads, etas), ""


def _matches(got: list, want: list, rtol: float, atol: float) -> bool:
    return all(np.allclose(g, w, rtol=rtol, atol=atol) for g, w in zip(got, want))


def judge_adam(run: ProbeRun, case: TrainCase, rtol: float, atol: float) -> list[str]:
    """[] when every Adam step of the run matches the grader's, else what differs."""
    log, problem = read_log(run, case)
    if log is None:
        return [problem]
    T, L = case.steps, len(case.weights)
    etas = np.where(np.isfinite(log.etas[:T]), log.etas[:T], case.eta)
    grads = [log.grads_at(s) for s in range(T)]
    layers = [j % L for j in range(2 * L)]
    epochs = [s // case.per_epoch for s in range(T)]
    start = [b[0] for b in log.before]
    got = [[a[s] for a in log.after] for s in range(T)]
    if not all(np.all(np.isfinite(p)) for p in got[-1]):
        return [f"the parameters became NaN or inf during the {T} Adam steps\nHint: a "
                "division by zero in the bias correction? t must be 1 at the first step "
                "(increment it before correcting)."]
    def first_bad(adam):
        want = adam.run(start, grads, etas, layers, epochs)
        for s in range(T):
            if not _matches(got[s], want[s], rtol, atol):
                return s, want[s]
        return None, None

    bad, want = first_bad(netmath.Adam())
    if bad is None:
        return []
    if first_bad(netmath.Adam(correction="efficient"))[0] is None:
        return []  # the Adam paper's equivalent form (epsilon scaled): accepted
    worst = max(range(2 * L), key=lambda j: float(np.max(np.abs(got[bad][j] - want[j]))))
    what = f"W{worst}" if worst < L else f"b{worst - L}"
    diff = float(np.max(np.abs(got[bad][worst] - want[worst])))
    lines = [f"step {bad + 1} of {T} (epoch {epochs[bad] + 1}): {what} differs from the "
             f"grader's Adam by up to {diff:.3g} (tolerance {atol:g})"]
    if bad and any(bad == e * case.per_epoch for e in range(1, case.epochs)):
        lines[0] += "; the steps before it matched"
    unchanged = all(np.array_equal(log.after[j][:T], log.before[j][:T]) for j in range(L, 2 * L))
    if unchanged and any(np.any(g) for g in log.grads[L:]):
        lines.append("Hint: the biases never changed: Adam updates the biases too, with their "
                     "own moments.")
        return lines
    for text, adam in hints.adam_variants(case.per_epoch, L):
        if first_bad(adam)[0] is None:
            lines.append(f"Hint: {text}.")
            return lines
    lines.append("Hint: m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2, t += 1, "
                 "W -= eta * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps), per "
                 "parameter array, weights and biases alike.")
    return lines


def step_learning_rates(log: Log, steps: int) -> tuple[np.ndarray, float]:
    """(the learning rate of each SGD step, measured as -(after - before) . g / |g|^2 over
    every parameter, the largest relative residual of a step not proportional to g)."""
    rates, residual = np.zeros(steps), 0.0
    for s in range(steps):
        g = np.concatenate([x[s].ravel() for x in log.grads])
        d = np.concatenate([a[s].ravel() - b[s].ravel() for a, b in zip(log.after, log.before)])
        norm = float(g @ g)
        rates[s] = -float(d @ g) / norm if norm else np.nan
        if norm:
            residual = max(residual, float(np.linalg.norm(d + rates[s] * g)
                                           / max(np.linalg.norm(d), 1e-300)))
    return rates, residual


def judge_schedule(run: ProbeRun, case: TrainCase, rtol: float) -> list[str]:
    """[] when every SGD step used eta * exp(-k * epoch), else what differs."""
    log, problem = read_log(run, case)
    if log is None:
        return [problem]
    T = case.steps
    rates, residual = step_learning_rates(log, T)
    if residual > 1e-6:
        return ["with optimizer \"sgd\", update_network did not move the parameters along "
                "the gradient (W -= eta_t * gw), so its learning rate could not be measured"]
    steps = np.arange(T)
    epochs = steps // case.per_epoch
    want = case.eta * np.exp(-case.k * epochs)
    if np.allclose(rates, want, rtol=rtol, atol=0):
        return []
    bad = int(np.argmax(~np.isclose(rates, want, rtol=rtol, atol=0)))
    lines = [f"step {bad + 1} (epoch {epochs[bad]} counted from 0) used learning rate "
             f"{rates[bad]:.6g}; eta * exp(-k * t) with eta = {case.eta:g}, k = {case.k:g}, "
             f"t = {epochs[bad]} is {want[bad]:.6g}",
             "first step of each epoch: " + ", ".join(
                 f"{rates[e * case.per_epoch]:.4g}" for e in range(case.epochs))
             + " (expected " + ", ".join(f"{want[e * case.per_epoch]:.4g}"
                                         for e in range(case.epochs)) + ")"]
    for text, values in hints.schedule_variants(case.eta, case.k, epochs, steps, case.per_epoch):
        if np.allclose(rates, values, rtol=rtol, atol=0):
            lines.append(f"Hint: {text}.")
            break
    return lines


def verdict_of(case_problems: dict[str, list[str]], label: str) -> Verdict:
    """All cases right: 1; else the share of cases right, with the problems."""
    total = len(case_problems)
    bad = {k: v for k, v in case_problems.items() if v}
    if not bad:
        return Verdict(1.0, f"{total} of {total} {label}{'s' if total > 1 else ''} right.")
    lines = [f"{total - len(bad)} of {total} {label}s right." if total > 1 else ""]
    for name, problems in bad.items():
        lines.append((f"{name}: " if total > 1 else "") + "\n".join(problems))
    return Verdict((total - len(bad)) / total, "\n".join(l for l in lines if l))
