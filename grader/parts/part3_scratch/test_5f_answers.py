"""5f: seed 002 task 1 by hand, on the network the handout defines: dL/dw(1)_11 and the
updated weight, stated in backprop_answers.py (handcomputed.py)."""
import pytest

from . import handcomputed
from ...core.engine.context import conclude, graded


@pytest.fixture(scope="module")
def answers(grading):
    return handcomputed.read(grading.submission)


@graded("5f.1")
def test_stated_answers(answers, check, feedback):
    verdict, right = handcomputed.judge(answers, handcomputed.seed002_answers(),
                                        check.value("rtol"), check.value("atol"), reveal=False)
    feedback.record(right=right)
    conclude(feedback, verdict)


@graded("5f.2")
def test_expected_values(answers, check, rubric, feedback):
    public = rubric.check("5f.1")
    conclude(feedback, handcomputed.reveal(answers, handcomputed.seed002_answers(),
                                           public.value("rtol"), public.value("atol")))
