"""7a: seed 004 task 5.1 by hand: v, y, C, dC/dw(1)_11, dC/dW(2) and the updated W(2),
stated in backprop_answers.py (handcomputed.py)."""
import pytest

from . import handcomputed
from ...core.engine.context import judged


@pytest.fixture(scope="module")
def answers(grading):
    return handcomputed.read(grading.submission)


test_stated_answers = judged("7a.1", handcomputed.judge_stated, on="answers")
test_expected_values = judged("7a.2", handcomputed.judge_revealed, on=("answers", "rubric"))
