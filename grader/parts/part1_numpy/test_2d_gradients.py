"""2d: backpropagation, checked against centred numerical gradients (2d.1) and the
reference's (2d.2), both gated on the backward pass's cost, measured once for both checks
(gradients.py says how)."""
import pytest

from . import gradients
from ...core.engine.context import conclude, graded


@pytest.fixture(scope="module")
def backprop(grading):
    return gradients.measure_backprop(grading)


@graded("2d.1")
def test_toy_gradients(grading, check, feedback, backprop):
    conclude(feedback, gradients.judge_toy(grading, check, feedback, backprop))


@graded("2d.2")
def test_hidden_gradients(grading, check, feedback, backprop):
    conclude(feedback, gradients.judge_hidden(grading, check, feedback, backprop))
