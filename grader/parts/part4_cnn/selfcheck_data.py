"""The calls of the grader's own math (cnnmath.py) that Part 4's public CNN judges make, for
the students' self-check (grader/core/handout/recorded.py): 6a.1's sizes of the rubric's
cases and, for its hint, the wrong versions of the equation on every subset of them (the
rows a student got wrong); 6d.1's bias gradients of the handout's figure. Never shipped:
only the results are."""
from __future__ import annotations

from itertools import combinations

import numpy as np

from .figure import figure_network


def recorded(rubric) -> dict:
    """{solution module: [(function, args)]} of the public judges."""
    cases = np.array(rubric.check("6a.1").value("given_cases"), dtype=np.int64)
    subsets = [list(rows) for n in range(1, len(cases) + 1)
               for rows in combinations(range(len(cases)), n)]
    return {"cnnmath": [("conv_output_sizes", (cases,)),
                        ("bias_gradients", figure_network().args())]
            + [("size_variants", (cases[rows],)) for rows in subsets]}
