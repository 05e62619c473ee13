"""6c: the grader trains CNN((3, 32, 32), 10) with the student's sup_trn and main.py's
opt_dict, on its own prepared data, in one sandboxed run on the device the rubric asks
for (CUDA when available), and watches it (training.py says how).

6c.1 judges that it trains (the optimizer steps, the loss falls); 6c.2 the test accuracy
of the trained CNN, computed in the grader from the logits the sandbox returns (the test
labels never enter the sandbox; the validation accuracy is reported, not graded).
"""
from . import training
from ...core.engine.context import judged

trained = training.TRAINING.fixture()  # the training run all its checks judge
test_training_learns = judged("6c.1", training.judge_learning, on="trained")
test_test_accuracy = judged("6c.2", training.judge_accuracy, on="trained")
