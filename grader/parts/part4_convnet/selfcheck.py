"""The public checks of the MNIST ConvNet in the students' self-check: the grader's own
summary probe and layers.py's judges (7b.1, 7b.2), as test_7b_summary.py concludes them."""
from __future__ import annotations

from . import layers


def shapes(grading, check, feedback):
    return layers.judge_shapes(layers.run_summary(grading, "7b.1"), check,
                               grading.rubric.check("7b.2"), feedback)


def parameters(grading, check, feedback):
    return layers.judge_parameters(layers.run_summary(grading, "7b.1"),
                                   grading.rubric.check("7b.1"), check, feedback)


CHECKS = {"7b.1": shapes, "7b.2": parameters}
