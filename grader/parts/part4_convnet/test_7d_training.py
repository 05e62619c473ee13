"""7d: the grader trains ConvNet() with the student's train() and declared settings on its
own MNIST digits (real MNIST when verified, else a 5,000-digit subset of real MNIST), in one
sandboxed run on the device the rubric asks for (CUDA when available); the test accuracy is
computed in the grader from the logits the sandbox returns (test labels never enter it)."""
from . import training
from ...core.engine.context import judged

trained = training.TRAINING.fixture()  # the training run all its checks judge
test_test_accuracy = judged("7d.1", training.judge, on="trained")
