"""5f and 7a, in the grader's process: the hand-computed answers of backprop_answers.py,
read with ast (grader/core/submission/answers.py, never run), against the exact values.

5f is seed 002's task 1 on the network the handout defines (its figure's weights are not
in the seed): two sigmoid layers, x = [0.5, 0.5, 0.1], target [0.9, 0.1], loss
L = 1/2 sum (y_i - t_i)^2, eta 0.1; the student gives dL/dw(1)_11 and the updated weight.
7a is seed 004's task 5.1 (ReLU hidden layer, linear output, C = ||y - t||^2, alpha 0.05).
Both are computed here from the networks' numbers, not typed in.

Each answer is judged entry by entry (grader/core/submission/answers.py): the public check says
which entries are wrong, the after-due-date check names the expected values.
"""
from __future__ import annotations

import numpy as np

from ...core.submission.answers import Answer, Answers, judge_answers, read_answers
from ...core.engine.judge import Feedback, Verdict
from ...core.rubric.spec import Check, Rubric

MODULE = "backprop_answers"


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# 5f: the handout's network. w1[j][k]: input j -> hidden neuron k; w2[j][k]: hidden j ->
# output k; b1[k], b2[k]: the biases of hidden neuron k and output k.
SEED002 = {"x": [0.5, 0.5, 0.1], "target": [0.9, 0.1], "eta": 0.1,
           "w1": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], "b1": [0.1, 0.2],
           "w2": [[0.7, 0.8], [0.9, 0.1]], "b2": [0.1, 0.2]}


def seed002_answers() -> list[Answer]:
    """dL/dw(1)_11 and the updated w(1)_11 of the handout's sigmoid network."""
    n = {k: np.asarray(v, dtype=np.float64) for k, v in SEED002.items()}
    h = _sigmoid(n["x"] @ n["w1"] + n["b1"])
    y = _sigmoid(h @ n["w2"] + n["b2"])
    delta2 = (y - n["target"]) * y * (1 - y)
    delta1 = (n["w2"] @ delta2) * h * (1 - h)
    grad = float(n["x"][0] * delta1[0])
    return [Answer("q5f_dL_dw1_11", "dL/dw(1)_11", grad),
            Answer("q5f_w1_11_updated", "updated w(1)_11", float(n["w1"][0, 0] - n["eta"] * grad))]


# 7a: seed 004 task 5.1
SEED004 = {"W1": [[2, 1], [1, -2], [1, 5]], "W2": [[-1, 3, 2]], "x": [1, 2], "target": [3],
           "alpha": 0.05}


def seed004_answers() -> list[Answer]:
    """v, y, C, dC/dw(1)_11, dC/dW(2) and the updated W(2) of seed 004's network."""
    n = {k: np.asarray(v, dtype=np.float64) for k, v in SEED004.items()}
    z = n["W1"] @ n["x"]
    v = np.maximum(0.0, z)
    y = n["W2"] @ v
    C = float(np.sum((y - n["target"]) ** 2))
    dy = 2 * (y - n["target"])  # (1,)
    dW2 = np.outer(dy, v)  # (1, 3)
    dv = n["W2"].T @ dy  # (3,)
    dz = dv * (z >= 0)  # the task's sigma'(0) = 1
    dW1 = np.outer(dz, n["x"])  # (3, 2)
    return [Answer("q7a_v", "v", v.tolist()), Answer("q7a_y", "y_predicted", float(y[0])),
            Answer("q7a_C", "C", C), Answer("q7a_dC_dw1_11", "dC/dw(1)_11", float(dW1[0, 0])),
            Answer("q7a_dC_dW2", "dC/dW(2)", dW2[0].tolist()),
            Answer("q7a_W2_updated", "W(2) updated", (n["W2"][0] - n["alpha"] * dW2[0]).tolist())]


def read(submission) -> Answers:
    """What backprop_answers.py (or .ipynb) states."""
    return read_answers(submission, MODULE)


def judge(answers: Answers, asked: list[Answer], rtol: float, atol: float,
          reveal: bool) -> tuple[Verdict, dict]:
    """(a share per right answer, one line per wrong entry; {name: right?})."""
    right, lines = judge_answers(answers, asked, rtol, atol, reveal)
    good = [a.label for a in asked if right[a.name]]
    head = f"{len(good)} of {len(asked)} answers right" + (f" ({', '.join(good)})" if good else "")
    return Verdict(len(good) / len(asked), "\n".join([head + "."] + lines)), right


def reveal(answers: Answers, asked: list[Answer], rtol: float, atol: float) -> Verdict:
    """The after-due-date check (0 points): the expected value of every wrong entry."""
    verdict, _ = judge(answers, asked, rtol, atol, reveal=True)
    intro = ("Informational, after the due date (0 points; the points are the public "
             "check's): the expected values of the entries that were not right.")
    # passes exactly when every answer is right, so the results page agrees with the public check
    return Verdict(1.0 if verdict.passed else 0.0, intro + "\n" + verdict.message)


ASKED = {"5f": seed002_answers, "7a": seed004_answers}  # question -> the answers it asks for


def judge_stated(answers: Answers, check: Check, feedback: Feedback) -> Verdict:
    """5f.1, 7a.1: the question's answers, the wrong entries named without their values;
    records which are right."""
    verdict, right = judge(answers, ASKED[check.question](), check.value("rtol"),
                           check.value("atol"), reveal=False)
    feedback.record(right=right)
    return verdict


def judge_revealed(answers: Answers, rubric: Rubric, check: Check, feedback: Feedback) -> Verdict:
    """5f.2, 7a.2: the expected values of the wrong entries, judged with the tolerances of
    the question's public check (<question>.1)."""
    public = rubric.check(f"{check.question}.1")
    return reveal(answers, ASKED[check.question](), public.value("rtol"), public.value("atol"))
