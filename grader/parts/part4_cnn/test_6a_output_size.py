"""6a: conv_output_size(h_in, kernel, padding, stride) in theory.py against equation (5)
of the handout, floor((h_in + 2p - (k - 1) - 1) / s + 1), computed by the grader
(cnnmath.py); theory.py runs in a sandbox without torch."""
import numpy as np

from .cases import hidden_size_cases
from .output_size import grade_sizes
from ...core.engine.context import conclude, graded


@graded("6a.1")
def test_public_sizes(grading, check, feedback):
    cases = np.array(check.value("given_cases"), dtype=np.int64)
    conclude(feedback, grade_sizes(grading, check, feedback, cases))


@graded("6a.2")
def test_hidden_sizes(grading, check, feedback):
    cases = hidden_size_cases(grading.rubric.seed, check.id, int(check.value("cases")))
    conclude(feedback, grade_sizes(grading, check, feedback, cases))
