"""1b, in the grader's process: the loss loss(X, y, reg) returns, the mean cross-entropy
plus reg * (||W1||^2 + ||W2||^2), against netmath's, with a hint from what a wrong loss
matches instead (numpy only). 2d uses the same judgement to tell a wrong loss first."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import netmath
from .cases import TOY_LOSS, Case, toy_case
from .probing import hidden_of, judge_on_cases
from ...core.engine.judge import Feedback, Verdict, shaped
from ...core.rubric.spec import Check

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext


def _diagnose(got: float, case: Case) -> str:
    """A hint from what the wrong loss matches instead."""
    p, X, y, reg = case.params, case.X, case.y, case.reg
    data = netmath.loss(p, X, y, 0.0)
    penalty = np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)
    guesses = [
        (data, "the L2 term is missing"),
        (data + 0.5 * reg * penalty, "the L2 term has a factor 1/2; the handout's has none"),
        (data + 0.05 * penalty, "reg seems hard-coded to 0.05; use the reg argument"),
        (data * X.shape[0] + reg * penalty, "the cross-entropy is summed, not averaged over N"),
        (data + reg * (penalty + np.sum(p["b1"] ** 2) + np.sum(p["b2"] ** 2)),
         "biases are regularised too; the penalty covers W1 and W2 only"),
    ]
    for value, hint in guesses:
        if abs(value - got) <= 1e-8 * max(1.0, abs(value)):
            return hint
    return "compare -log(probability of the true class), averaged over the batch"


def loss_problems(run, case: Case, check: Check) -> list[str]:
    """[] when the loss the probe recorded for the case is right (within the check's rtol
    and atol), else [what was expected and got, with a hint]."""
    got, problem = shaped(run.values.get(f"{case.name}/loss"), (), "the loss")
    if problem:
        return [problem]
    want = netmath.loss(case.params, case.X, case.y, case.reg)
    if abs(float(got) - want) <= check.value("atol") + check.value("rtol") * abs(want):
        return []
    return [f"expected loss {want:.11f} (reg={case.reg:g}), got {float(got):.11f}\n"
            f"Hint: {_diagnose(float(got), case)}."]


def judge_toy(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """1b.1: the toy network's loss at the check's reg (1.30378789133 at 0.05)."""
    case = toy_case(reg=check.value("reg"))
    assert abs(netmath.loss(case.params, case.X, case.y, case.reg) - TOY_LOSS) < 1e-10
    return judge_on_cases(grading, feedback, check, "loss_grads", [case],
                          lambda run, c: loss_problems(run, c, check), "toy problem")


def judge_hidden(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """1b.2: the losses of the check's hidden random networks, each at its own reg."""
    return judge_on_cases(grading, feedback, check, "loss_grads", hidden_of(grading, check),
                          lambda run, c: loss_problems(run, c, check), "random network")
