"""6c: the grader trains CNN((3, 32, 32), 10) with the student's sup_trn and main.py's
opt_dict, on its own prepared data, in one sandboxed run on the device the rubric asks
for (CUDA when available), and watches it (training.py says how).

6c.1 judges that it trains (the optimizer steps, the loss falls); 6c.2 the test accuracy
of the trained CNN, computed in the grader from the logits the sandbox returns (the test
labels never enter the sandbox; the validation accuracy is reported, not graded).
"""
from . import training
from ...core.engine.context import conclude, graded


trained = training.TRAINING.fixture()  # the training run all its checks judge


@graded("6c.1")
def test_training_learns(trained, check, feedback):
    conclude(feedback, training.judge_learning(trained, check, feedback))


@graded("6c.2")
def test_test_accuracy(trained, check, feedback):
    conclude(feedback, training.judge_accuracy(trained, check, feedback))
