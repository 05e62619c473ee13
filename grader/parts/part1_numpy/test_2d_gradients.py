"""2d: backpropagation, checked against centred numerical gradients (2d.1) and the
reference's (2d.2), both gated on the backward pass's cost, measured once for both checks
(gradients.py says how)."""
import pytest

from . import gradients
from ...core.engine.context import judged


@pytest.fixture(scope="module")
def backprop(grading):
    return gradients.measure_backprop(grading)


test_toy_gradients = judged("2d.1", gradients.judge_toy, on=("grading", "backprop"))
test_hidden_gradients = judged("2d.2", gradients.judge_hidden, on=("grading", "backprop"))
