"""Expected values of Part 4's public CNN cases for the students' self-check, computed with
the grader's own math when the handout is built (grader/core/handout/public_checks.py):
6a.1's output sizes and 6d.1's figure with its bias gradients. Never shipped itself."""
from __future__ import annotations

from . import cnnmath
from .cases import figure_network


def public_data(rubric) -> dict:
    """The sizes of 6a.1's given cases, the figure's network and its two bias gradients."""
    figure = figure_network()
    return {"sizes": cnnmath.conv_output_sizes(rubric.check("6a.1").value("given_cases")),
            "figure": {k: getattr(figure, k) for k in ("x", "W1", "b1", "W2", "b2", "t")},
            "bias_gradients": list(cnnmath.bias_gradients(*figure.args()))}
