"""2d, in the grader's process: backpropagation, judged against centred numerical gradients
of the true loss (2d.1) and netmath's analytic gradients (2d.2), with a hint per wrong
parameter (hints.py) unless the loss itself is wrong: then the student is sent to 1b first.

Both checks are gated on the backward pass's cost, the way 1c.1 checks the forward's:
gradients computed numerically inside loss() are right but are not backpropagation, and
cost two forward passes per parameter. loss(X, y) on a network of 2d.1's backprop_shape
may take at most max_backprop_ratio times loss(X), both timed in the student's sandbox;
loss(X) counts as at least the grader's own forward pass (timed in a sandbox of its own)
and at most max_forward_slowdown times it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import netmath
from .cases import Case, case_seed, hidden_cases, random_network, toy_case
from .hints import gradient_hint
from .loss import loss_problems
from .probing import PROBES, run_cases
from ...core.engine.judge import Feedback, Verdict, failure_verdict, names, rel_error, shaped
from ...core.rubric.spec import Check

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext

NAMES = netmath.PARAM_NAMES
GATE_CHECK = "2d.1"  # the check holding the gate's settings (backprop_shape, ...)
LOSS_CHECK = "1b.1"  # the check whose tolerances say whether the loss is right
FIX_LOSS_FIRST = ("Hint: fix 1b first: the gradients are the derivatives of the loss, so "
                  "hints about them would mislead while the loss is wrong.")


def _network_name(shape) -> str:
    return f"a {shape[1]} x {shape[2]} network"


def _sizes(shape) -> str:
    N, D, H, C = shape
    return f"{N} samples, {D} inputs, {H} hidden units, {C} classes"


def measure_backprop(grading: GradingContext) -> tuple[Verdict | None, dict]:
    """The backward pass's cost against the forward pass's, measured once for both 2d
    checks: (None, details) when it passes the gate, else (the zero verdict, details);
    details go to results.json."""
    check = grading.rubric.check(GATE_CHECK)
    shape = tuple(int(v) for v in check.value("backprop_shape"))
    N, D, H, C = shape
    rng = np.random.RandomState(case_seed(grading.rubric.seed, GATE_CHECK, 100))
    inputs = {**random_network(rng, D, H, C), "X": 10 * rng.randn(N, D),
              "y": rng.randint(0, C, size=N), "reg": np.float64(0.1)}
    repeats = check.value("backprop_repeats")
    run = grading.probe(PROBES, "time_backprop", GATE_CHECK, inputs=inputs,
                        params={"repeats": repeats, "seconds": check.value("backprop_seconds")})
    # The grader's own forward pass on the same network, in a sandbox of its own (as 1c.1)
    reference = grading.probe(Path(netmath.__file__), "time_forward", GATE_CHECK,
                              inputs={k: inputs[k] for k in NAMES + ("X",)},
                              params={"repeats": repeats})
    if reference.failure is not None:
        raise RuntimeError(f"reference timing failed: {reference.failure.line()}")
    limit = float(check.value("max_backprop_ratio"))
    net = _network_name(shape)
    hint = ("Hint: compute the gradients with the chain rule from the forward pass's "
            "intermediate values (backpropagation, question 2c); numerical "
            "gradients are for checking them (ex2_FCnet.py gradcheck), not for loss().")
    if run.failure is not None:
        if run.failure.kind in ("timeout", "cpu"):
            # the sandbox's own words for the call's budget ("did not finish within 2 s",
            # "used more than 2 s of CPU time"): the budget the call had, not the rubric's
            spent = run.failure.message.split(":")[0].replace(" (wall clock)", "")
            return Verdict(0.0, "\n".join([
                f"gradients must come from backpropagation: loss(X, y) on {net} "
                f"({_sizes(shape)}) {spent}, where backpropagation takes a few times as "
                "long as loss(X), milliseconds; numerical gradients inside loss() do not "
                "count.", hint])), {}
        stopped = failure_verdict(run, what=f"loss(X) and loss(X, y, reg) on {net}")
        return stopped, {}
    times = {k: run.values.get(k) for k in ("forward", "backward")}
    if not all(isinstance(v, list) and v and all(isinstance(s, (int, float)) and
                                                0 <= s < float("inf") for s in v)
               for v in times.values()):
        return Verdict(0.0, "the timing of loss(X) and loss(X, y) did not come back as "
                       "numbers: did your code change the grader's timer or its results?"), {}
    forward, backward = min(times["forward"]), min(times["backward"])
    # The forward time the ratio divides by: the student's own loss(X), counted as at least
    # the reference's and at most max_forward_slowdown times it, so that neither a loss(X)
    # that returns at once nor one slowed down on purpose moves the bar.
    ref = max(min(reference.values["seconds"]), 1e-7)
    counted = min(max(forward, ref), float(check.value("max_forward_slowdown")) * ref)
    ratio = backward / counted
    details = {"backprop_ratio": round(ratio, 2), "forward_ms": round(1000 * forward, 4),
               "reference_forward_ms": round(1000 * ref, 4),
               "backward_ms": round(1000 * backward, 4), "max_backprop_ratio": limit}
    if ratio <= limit:
        return None, details
    return Verdict(0.0, "\n".join([
        f"gradients must come from backpropagation: loss(X, y) took {ratio:.0f}x the time of "
        f"loss(X) on {net} (the rubric allows {limit:g}x); numerical gradients inside loss() "
        "do not count.",
        f"loss(X, y): {1000 * backward:.1f} ms, loss(X): {1000 * forward:.2f} ms (best of "
        f"{len(times['backward'])} and {len(times['forward'])} calls; {_sizes(shape)})"
        + ("." if counted == forward else f"; loss(X) counted as {1000 * counted:.2f} ms, at "
           f"least the reference's forward pass ({1000 * ref:.2f} ms) and at most "
           f"{check.value('max_forward_slowdown'):g}x it."),
        hint])), details


def _gate(backprop, feedback: Feedback) -> Verdict | None:
    """The zero verdict of a failed cost gate (its details recorded either way)."""
    verdict, details = backprop
    feedback.record(**details)
    return verdict


def _without_relu_mask(case: Case) -> dict:
    """The gradients a net would get if its backward pass forgot the ReLU mask."""
    p, X, y, reg = case.params, case.X, case.y, case.reg
    n = X.shape[0]
    probs = netmath.probabilities(p, X)
    probs[np.arange(n), y] -= 1
    dz2 = (probs / n) @ p["W2"].T
    return {"W1": X.T @ dz2 + 2 * reg * p["W1"], "b1": dz2.sum(axis=0)}


def _param_errors(run, case: Case, want: dict) -> dict:
    """{name: (rel error or None, problem text)} for each parameter."""
    out = {}
    keys = names(run.values.get(f"{case.name}/grad_keys"))
    no_mask = _without_relu_mask(case)
    for name in NAMES:
        value = run.values.get(f"{case.name}/grad_{name}")
        if value is None:
            out[name] = (None, f"grads has no {name!r} (keys: {', '.join(keys) or 'none'})")
            continue
        got, problem = shaped(value, case.params[name].shape, f"grads[{name!r}]")
        if problem:
            out[name] = (None, problem)
            continue
        err = rel_error(got, want[name])
        hint = gradient_hint(name, got, want[name], case, no_mask.get(name))
        out[name] = (err, hint)
    return out


def _numerical(case: Case, h: float) -> dict:
    """Centred numerical gradients of the true loss at the case's parameters."""
    params = {k: v.copy() for k, v in case.params.items()}
    return {k: netmath.numerical_gradient(
        lambda: netmath.loss(params, case.X, case.y, case.reg), params[k], h) for k in NAMES}


def _wrong_loss(grading: GradingContext, run, case: Case) -> str:
    """'' when the loss the same loss(X, y, reg) call returned is right (1b's judgement),
    else 1b's finding without its hint."""
    found = loss_problems(run, case, grading.rubric.check(LOSS_CHECK))
    return found[0].split("\nHint:")[0] if found else ""


def judge_toy(grading: GradingContext, backprop: tuple[Verdict | None, dict], check: Check,
              feedback: Feedback) -> Verdict:
    """2d.1: each gradient of the toy problem at the check's reg within max_rel_error of
    centred numerical gradients (step h); a share per right parameter."""
    case = toy_case(reg=check.value("reg"))
    limit = check.value("max_rel_error")
    run = run_cases(grading, "loss_grads", check.id, [case])
    stopped = failure_verdict(run, "toy", "loss(X, y, reg) on the toy problem")
    if stopped is not None:
        return stopped
    gate = _gate(backprop, feedback)
    if gate is not None:
        return gate
    errors = _param_errors(run, case, _numerical(case, check.value("step")))
    right = [n for n, (e, _) in errors.items() if e is not None and e < limit]
    feedback.record(rel_errors={n: e for n, (e, _) in errors.items()})
    if len(right) == len(NAMES):
        return Verdict(1.0, "all four gradients match the numerical ones: " + ", ".join(
            f"{n} {errors[n][0]:.1e}" for n in NAMES))
    wrong_loss = _wrong_loss(grading, run, case)
    if wrong_loss:
        return Verdict(len(right) / len(NAMES), "\n".join([
            f"{len(right)} of {len(NAMES)} gradients match the numerical ones, and the loss "
            f"is wrong too (1b): {wrong_loss}", FIX_LOSS_FIRST]))
    lines = []
    for name, (err, note) in errors.items():
        if name in right:
            continue
        head = f"{name}: max relative error {err:.1e} (needs < {limit:.0e})" if err is not None \
            else f"{name}: {note}"
        lines.append(head + (f"\nHint: {note}" if err is not None and note else ""))
    if right:
        lines.append(f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} right.")
    return Verdict(len(right) / len(NAMES), "\n".join(lines))


def judge_hidden(grading: GradingContext, backprop: tuple[Verdict | None, dict],
                 check: Check, feedback: Feedback) -> Verdict:
    """2d.2: the gradients of the check's hidden random networks against netmath's; all
    or nothing."""
    cases = hidden_cases(grading.rubric.seed, check.id, check.value("cases"))
    feedback.record(seeds=[c.seed for c in cases])
    limit = check.value("max_rel_error")
    run = run_cases(grading, "loss_grads", check.id, cases)
    problems = []
    for case in cases:
        stopped = failure_verdict(run, case.name, f"random network {case.name}")
        if stopped is not None:
            problems.append(stopped.message)
            continue
        want = netmath.loss_and_grads(case.params, case.X, case.y, case.reg)[1]
        title = f"random network {case.name} (seed {case.seed}, reg {case.reg:g})"
        found = []
        for name, (err, note) in _param_errors(run, case, want).items():
            if err is None or err >= limit:
                text = f"max relative error {err:.1e}" if err is not None else note
                found.append(f"{title}: {name}: {text}"
                             + (f"\nHint: {note}" if err is not None and note else ""))
        wrong_loss = _wrong_loss(grading, run, case) if found else ""
        if wrong_loss:
            return Verdict(0.0, "\n".join(problems + [
                f"{title}: wrong gradients, and the loss is wrong too (1b): {wrong_loss}",
                FIX_LOSS_FIRST]))
        problems += found
    if problems:
        return Verdict(0.0, "\n".join(problems[:6]))
    gate = _gate(backprop, feedback)
    if gate is not None:
        return gate
    return Verdict(1.0, f"gradients of {len(cases)} random networks match.")
