"""Where Part 3's probes are, and one probe call over cases: what its judge modules and
suites share."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ...core.engine.context import GradingContext
from ...core.sandbox.runner import ProbeRun

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of Part 3


def run_cases(grading: GradingContext, function: str, check_id: str, cases: Sequence,
              **params) -> ProbeRun:
    """Runs a Part 3 probe on cases (NetCase or TrainCase) in one sandboxed child."""
    inputs: dict[str, np.ndarray] = {}
    for case in cases:
        inputs.update(case.arrays())
    return grading.probe(PROBES, function, check_id, inputs=inputs,
                         params={"cases": [c.settings() for c in cases], **params})
