"""1b: the loss is the mean cross-entropy plus reg * (||W1||^2 + ||W2||^2) (loss.py judges
it against netmath's, with a hint from what a wrong loss matches)."""
from . import loss
from ...core.engine.context import conclude, graded


@graded("1b.1")
def test_toy_loss(grading, check, feedback):
    conclude(feedback, loss.judge_toy(grading, check, feedback))


@graded("1b.2")
def test_hidden_loss(grading, check, feedback):
    conclude(feedback, loss.judge_hidden(grading, check, feedback))
