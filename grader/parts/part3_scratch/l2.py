"""5a, in the grader's process: the regularised loss, the gradients of every layer and an
SGD step with L2, judged from what the l2_cases probe returned (numpy only).

The numerical gradients are those of the true regularised loss of the student's own
network: the probe returns forward_pass's output with each weight and bias entry moved by
+-h, the grader takes the mean cross-entropy of each and adds the L2 term itself, so any
hidden activation (sigmoid, ReLU, tanh, ...) is checked as the student wrote it.
loss(output, Y) may guard its log against log(0) (GUARDS: log(P + eps) and the like): the
cross-entropy it then computes is accepted when the L2 term is exactly right.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import hints, netmath
from .cases import NetCase
from ...core.engine.judge import shaped
from ...core.sandbox.runner import ProbeRun


# Numerical guards a loss() may put in its log: log(P + eps), log(clip(P, eps, 1 - eps)) or
# log(max(P, eps)), for these eps (the course template adds 1e-9; numpy's float64 epsilon,
# Keras' 1e-7 and others are common). Each changes the loss of a confident network (a
# probability of the true class near eps) by up to a few 1e-4; L2 bugs change it by tenths.
GUARDS = (1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16,
          float(np.finfo(np.float64).eps), 1e-20, 1e-30, 1e-100)


def guarded_cross_entropies(Y: np.ndarray, P: np.ndarray) -> list[float]:
    """The mean cross-entropy of probabilities P (c, m) against one-hot Y (c, m) as a loss
    with a numerical guard computes it, one value per guard form and eps in GUARDS."""
    values = []
    with np.errstate(all="ignore"):
        for eps in GUARDS:
            for guarded in (P + eps, np.clip(P, eps, 1.0 - eps), np.maximum(P, eps)):
                values.append(float(-np.sum(Y * np.log(guarded)) / P.shape[1]))
    return [v for v in values if np.isfinite(v)]


def guarded(got: float, Y: np.ndarray, P: np.ndarray, l2_term: float, rtol: float) -> bool:
    """Whether got is the right regularised loss but for a numerical guard in the log
    (the L2 term l2_term exactly right)."""
    return any(abs(got - (data + l2_term)) <= rtol * max(1.0, abs(data + l2_term))
               for data in guarded_cross_entropies(Y, P))


@dataclass(frozen=True)
class Part:
    """One judged part of a case: what it is, and the problem found ('' when right)."""

    name: str  # "loss", "layer 1", "SGD step with L2"
    problem: str


def numerical_gradients(run: ProbeRun, case: NetCase, h: float
                        ) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """Centred numerical gradients (gw, gb) of the regularised loss from the perturbed
    outputs the probe returned; None when they are missing or not finite."""
    gw, gb = [], []
    for key, group, out in (("W", case.weights, gw), ("b", case.biases, gb)):
        for i, arr in enumerate(group):
            plus = run.values.get(f"{case.name}/plus_{key}{i}")
            minus = run.values.get(f"{case.name}/minus_{key}{i}")
            if plus is None or minus is None:
                return None
            plus, minus = np.asarray(plus, dtype=np.float64), np.asarray(minus, dtype=np.float64)
            if plus.shape != (arr.size,) + case.Y.shape or minus.shape != plus.shape \
                    or not (np.all(np.isfinite(plus)) and np.all(np.isfinite(minus))):
                return None
            diff = np.array([netmath.cross_entropy(case.Y, p) - netmath.cross_entropy(case.Y, q)
                             for p, q in zip(plus, minus)]) / (2 * h)
            grad = diff.reshape(arr.shape)
            out.append(grad + case.l2 * arr if key == "W" else grad)
    return gw, gb


def judge_case(run: ProbeRun, case: NetCase, h: float, max_rel_error: float,
               loss_rtol: float, step_rtol: float) -> list[Part]:
    """The parts of one case: the loss, each layer's gradients, the SGD step."""
    name, C, m = case.name, case.sizes[-1], case.m
    output, problem = shaped(run.values.get(f"{name}/output"), (C, m), "forward_pass's output")
    if problem:
        return [Part("forward_pass", problem)]
    if not np.allclose(output.sum(axis=0), 1.0, atol=1e-6) or np.any(output < 0):
        return [Part("forward_pass", "forward_pass's output columns are not probabilities "
                     "(each column must sum to 1)\nHint: the output layer is the softmax over "
                     "each column (axis 0).")]
    parts = []
    data = netmath.cross_entropy(case.Y, output)
    penalty_w = float(sum(np.sum(W ** 2) for W in case.weights))
    penalty_b = float(sum(np.sum(b ** 2) for b in case.biases))
    want = data + 0.5 * case.l2 * penalty_w
    failed = run.case_failure(f"{name}:loss")
    got, problem = (None, "loss(output, Y): " + failed.line()) if failed else \
        shaped(run.values.get(f"{name}/loss"), (), "loss(output, Y)")
    if not problem and abs(float(got) - want) > loss_rtol * max(1.0, abs(want)) and \
            not guarded(float(got), case.Y, output, 0.5 * case.l2 * penalty_w, loss_rtol):
        problem = (f"loss(output, Y) = {float(got):.10g}, expected {want:.10g} (the mean "
                   f"cross-entropy of your output {data:.10g} plus (l2 / 2) * sum ||W||^2 with "
                   f"l2 = {case.l2:g})\nHint: "
                   + hints.l2_loss_hint(float(got), data, penalty_w, penalty_b, case.l2, m,
                                     guarded_cross_entropies(case.Y, output)) + ".")
    parts.append(Part("loss", problem))
    numeric = numerical_gradients(run, case, h)
    if numeric is None:
        return parts + [Part("gradients", "forward_pass with a parameter moved by a small step "
                             "gave no usable output (NaN, or a different shape)")]
    gws, gbs, layer_parts = [], [], []
    for i in range(len(case.weights)):
        problems = []
        for key, shape, true, store in (("gw", case.weights[i].shape, numeric[0][i], gws),
                                        ("gb", case.biases[i].shape, numeric[1][i], gbs)):
            value, problem = shaped(run.values.get(f"{name}/{key}{i}"), shape, f"{key}[{i}]")
            store.append(value if value is not None else np.zeros(shape))
            if problem:
                problems.append(problem)
                continue
            err = netmath.rel_error(value, true)
            if err >= max_rel_error:
                problems.append(f"{key}[{i}]: max relative error {err:.1e} against the "
                                f"numerical gradient (needs < {max_rel_error:.0e})")
        layer_parts.append(Part(f"layer {i + 1}", "; ".join(problems)))
    if any(p.problem for p in layer_parts):
        hint = hints.l2_gradient_hint(gws, gbs, numeric[0], numeric[1], case.weights,
                                      case.biases, case.l2, m)
        if hint:
            first = next(p for p in layer_parts if p.problem)
            layer_parts[layer_parts.index(first)] = Part(first.name, first.problem
                                                         + f"\nHint: {hint}.")
    parts += layer_parts
    parts.append(_judge_step(run, case, step_rtol))
    return [p for p in parts if p is not None]


def _judge_step(run: ProbeRun, case: NetCase, rtol: float) -> Part | None:
    """update_network(gw, gb, eta) with SGD and l2 > 0: W - eta * gw, b - eta * gb exactly
    (the L2 term is in gw already). None when update_network needs more arguments than
    (gw, gb, eta): the step is then not judged."""
    name = case.name
    if run.values.get(f"{name}/step_skipped"):
        return None
    failed = run.case_failure(f"{name}:step")
    if failed:
        return Part("SGD step with L2", "update_network(gw, gb, eta): " + failed.line())
    L = len(case.weights)
    before = list(case.weights) + list(case.biases)
    given = list(case.step_gw) + list(case.step_gb)
    after = []
    for j, (start, g) in enumerate(zip(before, given)):
        key = f"step_W{j}" if j < L else f"step_b{j - L}"
        value, problem = shaped(run.values.get(f"{name}/{key}"), start.shape,
                                "the parameters after update_network")
        if problem:
            return Part("SGD step with L2", problem)
        after.append(value)
    want = [p - case.eta * g for p, g in zip(before, given)]
    if all(np.allclose(a, w, rtol=rtol, atol=1e-12) for a, w in zip(after, want)):
        return Part("SGD step with L2", "")
    return Part("SGD step with L2", (
        f"update_network(gw, gb, eta={case.eta:g}) with optimizer \"sgd\" and l2 = {case.l2:g} "
        "did not give W - eta * gw, b - eta * gb\nHint: "
        + hints.step_hint(after, before, case.step_gw, L, case.l2, case.eta) + "."))
