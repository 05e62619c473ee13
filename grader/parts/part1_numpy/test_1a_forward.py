"""1a: the forward pass returns the softmax probabilities of the ReLU network."""
from .cases import TOY_PROBS, toy_case
from ...core.engine.context import graded
from ...core.engine.judge import compare, shaped
from .steps import expected_probs, grade_cases, grade_hidden


def _judge_probs(check):
    def judge_one(run, case):
        shape = (case.X.shape[0], case.params["W2"].shape[1])
        got, problem = shaped(run.values.get(f"{case.name}/probs"), shape, "loss(X)")
        if problem:
            return [problem]
        problem = compare(got, expected_probs(case), check.value("rtol"), check.value("atol"),
                          "probabilities")
        if problem and abs(got.sum(axis=1) - 1).max() > 1e-6:
            problem += "\nHint: rows do not sum to 1; loss(X) must return softmax " \
                       "probabilities, not raw scores."
        elif problem:
            problem += "\nHint: check the ReLU (max(0, z), not on the output) and that " \
                       "biases are added."
        return [problem] if problem else []
    return judge_one


@graded("1a.1")
def test_toy_probabilities(grading, check, feedback):
    case = toy_case()
    assert abs(expected_probs(case) - TOY_PROBS).max() < 1e-7, "grader toy values drifted"
    grade_cases(grading, feedback, check, "forward", [case], _judge_probs(check), "toy problem")


@graded("1a.2")
def test_hidden_probabilities(grading, check, feedback):
    grade_hidden(grading, feedback, check, "forward", _judge_probs(check))
