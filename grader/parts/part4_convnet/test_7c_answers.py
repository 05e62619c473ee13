"""7c: the learnable parameters (7c.1) and output shapes (7c.2) the student states for each
layer in convnet_answers.py, read with ast (never run), against the handout's ConvNet;
one line per wrong entry, the right values named only when the check's result is shown
after the due date (stated.py says what the file holds)."""
import pytest

from . import stated
from ...core.engine.context import conclude, graded


@pytest.fixture(scope="module")
def answers(grading):
    return stated.read(grading.submission)


@graded("7c.1")
def test_stated_parameters(answers, check, rubric, feedback):
    conclude(feedback, stated.judge_parameters(answers, rubric.check("7b.1"),
                                               rubric.check("7b.2"), reveal=not check.public))


@graded("7c.2")
def test_stated_shapes(answers, check, rubric, feedback):
    conclude(feedback, stated.judge_shapes(answers, rubric.check("7b.1"), rubric.check("7b.2"),
                                           reveal=not check.public))
