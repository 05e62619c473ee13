"""1a: the forward pass returns the softmax probabilities of the ReLU network (forward.py
judges them against netmath's)."""
from . import forward
from ...core.engine.context import conclude, graded


@graded("1a.1")
def test_toy_probabilities(grading, check, feedback):
    conclude(feedback, forward.judge_toy(grading, check, feedback))


@graded("1a.2")
def test_hidden_probabilities(grading, check, feedback):
    conclude(feedback, forward.judge_hidden(grading, check, feedback))
