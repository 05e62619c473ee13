"""5d: the grader trains the student's network with their SETTINGS and their train() on
its prepared data, within a budget from the same rule as 3b's, and computes the test
accuracy itself from the weights and biases train() leaves (training.py)."""
from . import training
from ...core.engine.context import conclude, graded


trained = training.TRAINING.fixture()  # the training run all its checks judge


@graded("5d.1")
def test_settings_and_learning(trained, check, feedback):
    conclude(feedback, training.judge_learned(trained, check, feedback))


@graded("5d.2")
def test_test_accuracy(trained, check, feedback):
    conclude(feedback, training.judge_accuracy(trained, check, feedback))
