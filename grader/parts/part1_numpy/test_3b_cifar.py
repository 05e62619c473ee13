"""3b: the student's train() with the declared hyperparameters, judged as the rubric's mode
for 3b says (retrain, or the submitted checkpoint and a short progress run), within the
budget rule of 3b.2; accuracies are computed by the grader on test images whose labels
never enter a sandbox (training.py says how)."""
from . import training
from ...core.engine.context import judged

trained = training.TRAINING.fixture()  # the training run all its checks judge
test_hyperparams_and_history = judged("3b.1", training.judge_learned, on="trained")
test_validation_accuracy = judged("3b.2", training.judge_accuracy, on=("grading", "trained"))
