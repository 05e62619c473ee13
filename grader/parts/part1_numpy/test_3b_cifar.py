"""3b: the student's train() with the declared hyperparameters, judged as the rubric's mode
for 3b says (retrain, or the submitted checkpoint and a short progress run), within the
budget rule of 3b.2; accuracies are computed by the grader on test images whose labels
never enter a sandbox (training.py says how)."""
from . import training
from ...core.engine.context import conclude, graded


trained = training.TRAINING.fixture()  # the training run all its checks judge


@graded("3b.1")
def test_hyperparams_and_history(trained, check, feedback):
    conclude(feedback, training.judge_learned(trained, check, feedback))


@graded("3b.2")
def test_validation_accuracy(grading, trained, check, feedback):
    conclude(feedback, training.judge_accuracy(grading, trained, check, feedback))
