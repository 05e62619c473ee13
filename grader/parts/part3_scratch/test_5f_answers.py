"""5f: seed 002 task 1 by hand, on the network the handout defines: dL/dw(1)_11 and the
updated weight, stated in backprop_answers.py (handcomputed.py)."""
import pytest

from . import handcomputed
from ...core.engine.context import judged


@pytest.fixture(scope="module")
def answers(grading):
    return handcomputed.read(grading.submission)


test_stated_answers = judged("5f.1", handcomputed.judge_stated, on="answers")
test_expected_values = judged("5f.2", handcomputed.judge_revealed, on=("answers", "rubric"))
