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
from ...core.engine.context import judged

trained = training.TRAINING.fixture()  # the training run all its checks judge
test_training_loop = judged("4b.1", training.judge_loop, on="trained")
test_validation_accuracy = judged("4b.2", training.judge_accuracy, on="trained")
