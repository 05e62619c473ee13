"""4b: the grader trains MultiLayerPerceptron(3072, hidden_size, 10) with the student's
train() and declared settings, on its own prepared data, in one sandboxed run on the device
the rubric asks for (CUDA when available), and watches the run (training.py says how).

4b.1 judges the training loop as observed (optimizer steps, gradients cleared, the loss
given scores, the learning rate decayed once per epoch, no steps on val_loader's batches)
and what the grader computes of the model it left (it changed, it outputs scores, it beats
chance on the test images); 4b.2 the test accuracy of the trained model, computed in the
grader from the logits the sandbox returns (test labels never enter a sandbox; the
validation accuracy, the handout's measure, is reported: train() gets the validation
labels through val_loader).
"""
from . import training
from ...core.engine.context import conclude, graded


trained = training.TRAINING.fixture()  # the training run all its checks judge


@graded("4b.1")
def test_training_loop(trained, check, feedback):
    conclude(feedback, training.judge_loop(trained, check, feedback))


@graded("4b.2")
def test_validation_accuracy(trained, check, feedback):
    conclude(feedback, training.judge_accuracy(trained, check, feedback))
