"""1a, in the grader's process: the probabilities loss(X) returns on the toy network and on
hidden random networks, against netmath's (numpy only)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import netmath
from .cases import TOY_PROBS, Case, toy_case
from .probing import hidden_of, judge_on_cases
from ...core.engine.judge import Feedback, Verdict, compare, shaped
from ...core.rubric.spec import Check

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext


def _judge_probs(check: Check):
    def judge_one(run, case: Case) -> list[str]:
        shape = (case.X.shape[0], case.params["W2"].shape[1])
        got, problem = shaped(run.values.get(f"{case.name}/probs"), shape, "loss(X)")
        if problem:
            return [problem]
        problem = compare(got, netmath.probabilities(case.params, case.X), check.value("rtol"),
                          check.value("atol"), "probabilities")
        if problem and abs(got.sum(axis=1) - 1).max() > 1e-6:
            problem += "\nHint: rows do not sum to 1; loss(X) must return softmax " \
                       "probabilities, not raw scores."
        elif problem:
            problem += "\nHint: check the ReLU (max(0, z), not on the output) and that " \
                       "biases are added."
        return [problem] if problem else []
    return judge_one


def judge_toy(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """1a.1: the toy network's probabilities (N, C) = (5, 3)."""
    case = toy_case()
    assert abs(netmath.probabilities(case.params, case.X) - TOY_PROBS).max() < 1e-7, \
        "grader toy values drifted"
    return judge_on_cases(grading, feedback, check, "forward", [case], _judge_probs(check),
                          "toy problem")


def judge_hidden(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """1a.2: the probabilities of the check's hidden random networks."""
    return judge_on_cases(grading, feedback, check, "forward", hidden_of(grading, check),
                          _judge_probs(check), "random network")
