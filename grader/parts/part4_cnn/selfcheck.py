"""Part 4's public checks of the CIFAR-10 CNN in the students' self-check, concluded by the
grader's own probes and judges as the suites conclude them: 6a.1 (output_size.py) and 6d.1
(bias_gradients.py) against the results of the grader's math recorded when the handout is
built (selfcheck_data.py), 6b.1 (structure.py) on the CNN traced."""
from __future__ import annotations

import numpy as np

from . import bias_gradients, figure, output_size, structure


def public_sizes(grading, check, feedback):
    return output_size.grade_sizes(grading, check, feedback,
                                   np.array(check.value("given_cases"), dtype=np.int64))


def cnn_structure(grading, check, feedback):
    return structure.judge_structure(structure.trace_6b(grading), check, feedback)


def figure_network(grading, check, feedback):
    return bias_gradients.grade_networks(grading, check, feedback, [figure.figure_network()],
                                         "the figure's network")


RUBRIC_ALSO = ("6b.2",)  # trace_6b traces 6b.2's blocks in the same call: its rubric values
CHECKS = {"6a.1": public_sizes, "6b.1": cnn_structure, "6d.1": figure_network}
