"""7a: seed 004 task 5.1 by hand: v, y, C, dC/dw(1)_11, dC/dW(2) and the updated W(2),
stated in backprop_answers.py (handcomputed.py)."""
import pytest

from . import handcomputed
from ...core.engine.context import conclude, graded


@pytest.fixture(scope="module")
def answers(grading):
    return handcomputed.read(grading.submission)


@graded("7a.1")
def test_stated_answers(answers, check, feedback):
    verdict, right = handcomputed.judge(answers, handcomputed.seed004_answers(),
                                        check.value("rtol"), check.value("atol"), reveal=False)
    feedback.record(right=right)
    conclude(feedback, verdict)


@graded("7a.2")
def test_expected_values(answers, check, rubric, feedback):
    public = rubric.check("7a.1")
    conclude(feedback, handcomputed.reveal(answers, handcomputed.seed004_answers(),
                                           public.value("rtol"), public.value("atol")))
