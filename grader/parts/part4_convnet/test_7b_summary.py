"""7b: the layers ConvNet()'s forward applies on the grader's digits, measured in the
sandbox with forward hooks (functional F.relu / F.max_pool2d counted alike): their order
and output shapes (7b.1), their learnable parameters (7b.2); the feedback shows the
per-layer summary table (layers.py says exactly what passes)."""
import pytest

from . import layers
from ...core.engine.context import conclude, graded


@pytest.fixture(scope="module")
def summary(grading):
    return layers.run_summary(grading, "7b.1")


@graded("7b.1")
def test_layers_and_shapes(summary, check, rubric, feedback):
    conclude(feedback, layers.judge_shapes(summary, check, rubric.check("7b.2"), feedback))


@graded("7b.2")
def test_parameter_counts(summary, check, rubric, feedback):
    conclude(feedback, layers.judge_parameters(summary, rubric.check("7b.1"), check, feedback))
