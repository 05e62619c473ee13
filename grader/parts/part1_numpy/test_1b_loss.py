"""1b: the loss is the mean cross-entropy plus reg * (||W1||^2 + ||W2||^2)."""
import numpy as np

from . import netmath
from .cases import TOY_LOSS, toy_case
from ...core.engine.context import graded
from ...core.engine.judge import shaped
from .steps import grade_cases, grade_hidden


def _diagnose(got, case):
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


def _judge_loss(check):
    def judge_one(run, case):
        got, problem = shaped(run.values.get(f"{case.name}/loss"), (), "the loss")
        if problem:
            return [problem]
        want = netmath.loss(case.params, case.X, case.y, case.reg)
        if abs(float(got) - want) <= check.value("atol") + check.value("rtol") * abs(want):
            return []
        return [f"expected loss {want:.11f} (reg={case.reg:g}), got {float(got):.11f}\n"
                f"Hint: {_diagnose(float(got), case)}."]
    return judge_one


@graded("1b.1")
def test_toy_loss(grading, check, feedback):
    case = toy_case(reg=check.value("reg"))
    assert abs(netmath.loss(case.params, case.X, case.y, case.reg) - TOY_LOSS) < 1e-10
    grade_cases(grading, feedback, check, "loss_grads", [case], _judge_loss(check), "toy problem")


@graded("1b.2")
def test_hidden_loss(grading, check, feedback):
    grade_hidden(grading, feedback, check, "loss_grads", _judge_loss(check))
