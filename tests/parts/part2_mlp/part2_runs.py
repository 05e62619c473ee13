"""In-process runs of Part 2's checks for the tests: one sandboxed child per run, as the
grader makes them, without a grading process per submission.

The rubric and the contexts are tests/support/in_process.py's: the shipped rubric with 4b's
device set to "cpu". Training runs are cached per submission folder, so the tests that
judge one run share it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from in_process import CPU_RUBRIC as RUBRIC, context

from grader.core.rubric import spec as rubric_mod
from grader.core.engine.context import Feedback
from grader.core.engine.judge import Verdict
from grader.parts.part2_mlp import structure, training


@dataclass(frozen=True)
class Graded:
    """What one check said, and what its sandboxed run cost."""

    verdict: Verdict
    feedback: Feedback
    sandbox_seconds: float = 0.0
    peak_rss_mb: float = 0.0


def structure_check(submission: Path, check_id: str = "4a.1") -> Graded:
    """4a.1 (the public lists) or 4a.2 (the hidden ones) on a submission folder."""
    grading, check, feedback = context(submission), RUBRIC.check(check_id), Feedback()
    if check_id == "4a.1":
        cases = structure.public_cases(check.value("hidden_layers"))
    else:
        low, high = check.value("width_range")
        cases = structure.hidden_cases(RUBRIC.seed, check_id, check.value("depths"), low, high)
    verdict = structure.grade_structure(grading, check, feedback, cases)
    runs = grading.probe_runs
    return Graded(verdict, feedback, sum(r.wall_seconds for r in runs),
                  max((r.peak_rss_mb for r in runs), default=0.0))


@lru_cache(maxsize=None)
def training_checks(submission: str) -> tuple[Graded, Graded]:
    """(4b.1, 4b.2) of one training run of a submission folder (cached per folder)."""
    trained = training.train_submission(context(Path(submission)))
    loop, acc = Feedback(), Feedback()
    cost = {"sandbox_seconds": trained.run.wall_seconds if trained.run else 0.0,
            "peak_rss_mb": trained.run.peak_rss_mb if trained.run else 0.0}
    return (Graded(training.judge_loop(trained, RUBRIC.check("4b.1"), loop), loop, **cost),
            Graded(training.judge_accuracy(trained, RUBRIC.check("4b.2"), acc), acc, **cost))


def with_training_budget(seconds: float) -> rubric_mod.Rubric:
    """RUBRIC with 4b.2's wall and CPU time budget set to `seconds` on every data kind."""
    def change(check):
        if check.id != "4b.2":
            return check
        return replace(check, params={**check.params, "wall_seconds": seconds,
                                      "cpu_seconds": seconds})
    return replace(RUBRIC, questions=tuple(
        replace(q, checks=tuple(change(c) for c in q.checks)) for q in RUBRIC.questions))


def training_checks_with(rubric: rubric_mod.Rubric, submission: Path) -> tuple[Graded, Graded]:
    """(4b.1, 4b.2) of one training run under another rubric (not cached)."""
    grading = context(submission, rubric)
    trained = training.train_submission(grading)
    loop, acc = Feedback(), Feedback()
    return (Graded(training.judge_loop(trained, rubric.check("4b.1"), loop), loop),
            Graded(training.judge_accuracy(trained, rubric.check("4b.2"), acc), acc))
