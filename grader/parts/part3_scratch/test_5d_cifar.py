"""5d: the grader trains the student's network with their SETTINGS and their train() on
its prepared data, within a budget from the same rule as 3b's, and computes the test
accuracy itself from the weights and biases train() leaves (training.py)."""
from . import training
from ...core.engine.context import judged

trained = training.TRAINING.fixture()  # the training run all its checks judge
test_settings_and_learning = judged("5d.1", training.judge_learned, on="trained")
test_test_accuracy = judged("5d.2", training.judge_accuracy, on="trained")
