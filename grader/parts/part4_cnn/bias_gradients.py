"""6d, in the grader's process: bias_gradients(x, W1, b1, W2, b2, t) on the figure's
network and hidden ones, run in one sandboxed child without torch, against cnnmath's
(dL/db1, dL/db2), with a hint for a factor of 2 or a flipped sign."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import cnnmath
from .figure import Network
from .probing import PROBES, same_failure
from ...core.engine.judge import Feedback, Verdict, compare, failure_verdict, shaped
from ...core.rubric.spec import Check

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext


def _gradient_hint(got: np.ndarray, want: np.ndarray) -> str:
    if np.allclose(got * 2, want, rtol=1e-6, atol=1e-9):
        return ("Hint: off by a factor of 2: the derivative of ||t - y||^2 with respect to y "
                "is -2 (t - y).")
    if np.allclose(-got, want, rtol=1e-6, atol=1e-9):
        return "Hint: the sign is flipped: dL/dy = -2 (t - y) = 2 (y - t)."
    return ""


def judge_network(run, case: Network, check: Check) -> str:
    """'' when both gradients of one instance match, else the first difference and a
    hint."""
    stopped = failure_verdict(run, case.name)
    if stopped is not None:
        return stopped.message.splitlines()[0]
    want1, want2 = cnnmath.bias_gradients(*case.args())
    rtol, atol = check.value("rtol"), check.value("atol")
    found = {}
    for key, want, what in (("db2", want2, "dL/db2"), ("db1", want1, "dL/db1")):
        got, problem = shaped(run.values.get(f"{case.name}/{key}"), want.shape, what)
        if problem:
            return problem
        found[key] = (got, want, compare(got, want, rtol, atol, what))
    for key in ("db2", "db1"):
        got, want, problem = found[key]
        if problem:
            hint = _gradient_hint(got, want)
            if key == "db1" and not found["db2"][2] and not hint:
                hint = ("Hint: dL/db2 is right; dL/db1 = (W2^T dL/db2) times the ReLU's "
                        "derivative, 1 where z1 = W1 x + b1 > 0 and 0 elsewhere.")
            return problem + ("\n" + hint if hint else "")
    return ""


def grade_networks(grading: GradingContext, check: Check, feedback: Feedback,
                   networks: list[Network], label: str) -> Verdict:
    """6d: bias_gradients on every instance, in one sandboxed child, against cnnmath's;
    the share of instances right."""
    inputs: dict[str, np.ndarray] = {}
    for case in networks:
        inputs.update(case.arrays())
    run = grading.probe(PROBES, "bias_grads", check.id, inputs=inputs,
                        params={"cases": [c.name for c in networks]})
    whole = failure_verdict(run, what="bias_gradients") or \
        same_failure(run, [c.name for c in networks], "bias_gradients")
    if whole is not None:
        return whole
    problems = []
    for case in networks:
        problem = judge_network(run, case, check)
        if problem:
            seed = f", seed {case.seed}" if case.seed is not None else ""
            title = label if len(networks) == 1 else f"{label} {case.name}"
            problems.append(f"{title} ({case.sizes()}{seed}): {problem}")
    right = len(networks) - len(problems)
    feedback.record(passed=right, seeds=[c.seed for c in networks if c.seed is not None])
    head = f"{right} of {len(networks)} networks: both bias gradients right."
    return Verdict(right / len(networks), "\n".join([head] + problems))
