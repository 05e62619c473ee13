"""Shared steps of the Part 2 suites: the API's sizes, and 4a's run over a list of cases."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import settings, structure
from ...core.engine.context import Feedback, GradingContext, failure_verdict
from ...core.engine.judge import Verdict
from ...core.rubric.spec import Check, case_seed

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of Part 2
INPUT_SIZE = 32 * 32 * 3  # MultiLayerPerceptron(input_size, ...) as the handout builds it
NUM_CLASSES = 10
IMAGE = (3, 32, 32)
# Prepared rows are mean-centred pixels in [0, 255] units; divided by 127.5 they span about
# [-1, 1], the range of the handout's Normalize((0.5,) * 3, (0.5,) * 3).
SCALE = 1 / 127.5


def grade_structure(grading: GradingContext, check: Check, feedback: Feedback,
                    cases: list[structure.Case]) -> Verdict:
    """Builds the student's model for every case in ONE sandboxed child (torch is imported
    once) and judges each case; the check earns the share of cases that pass."""
    rows = int(check.value("rows"))
    rng = np.random.default_rng(case_seed(grading.rubric.seed, check.id, len(cases)))
    images = rng.uniform(-1.0, 1.0, (rows,) + IMAGE).astype(np.float32)
    params = {"cases": [{"name": c.name, "hidden_layers": list(c.hidden)} for c in cases],
              "input_size": INPUT_SIZE, "num_classes": NUM_CLASSES,
              "batch_size": settings.declared_batch_size(grading.submission)}
    run = grading.probe(PROBES, "structure", check.id, inputs={"X": images}, params=params)
    whole = failure_verdict(run, what="MultiLayerPerceptron")
    if whole is not None:
        return whole
    global_hidden = settings.declared_hidden_size(grading.submission)
    problems, passed = [], []
    for case in cases:
        problem, summary = structure.judge_case(run, case, INPUT_SIZE, NUM_CLASSES,
                                                global_hidden)
        (problems if problem else passed).append(problem or summary)
    feedback.record(cases=[list(c.hidden) for c in cases], passed=len(passed))
    lines = [f"{len(passed)} of {len(cases)} hidden_layers lists built as asked."]
    for text in problems:  # a hint shared by several cases is given once
        lines += [line for line in text.split("\n")
                  if not (line.startswith("Hint:") and line in lines)]
    lines += passed
    lines += [n for n in (structure.input_note(run, cases), structure.extras_note(run, cases)) if n]
    return Verdict(len(passed) / len(cases), "\n".join(lines))
