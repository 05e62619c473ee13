"""Grading in the test process: a GradingContext on the default data, and the shipped
rubric with every torch question on the CPU (the tests run there, and the environment
probe, one more torch import, is skipped)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from grader.core.engine.context import GradingContext
from grader.core.rubric import spec as rubric_mod


def cpu_rubric() -> rubric_mod.Rubric:
    """The shipped rubric with each question whose device is "auto" set to "cpu"."""
    shipped = rubric_mod.load()
    return replace(shipped, questions=tuple(
        replace(q, device="cpu") if q.device == "auto" else q for q in shipped.questions))


CPU_RUBRIC = cpu_rubric()


def context(submission: Path, rubric: rubric_mod.Rubric = CPU_RUBRIC) -> GradingContext:
    """A grading context for one submission folder, on the default data, every check's
    hidden cases included, without progress lines."""
    return GradingContext(submission, None, public_only=False, full=False, rubric=rubric,
                          progress=False)
