"""In-process runs of Part 3's checks for the tests: each check's suite function called
with a grading context of its own (one sandboxed child per check, as the grader makes
them), without a grading process per submission."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.core import rubric as rubric_mod
from grader.core.grading import Feedback, GradingContext
from grader.parts.part3_scratch import test_5a_l2, test_5b_adam, test_5c_decay

RUBRIC = rubric_mod.load()
SUITES = {"5a.1": test_5a_l2.test_public_network, "5a.2": test_5a_l2.test_hidden_networks,
          "5b.1": test_5b_adam.test_public_adam_run, "5b.2": test_5b_adam.test_hidden_adam_runs,
          "5c.1": test_5c_decay.test_public_schedule, "5c.2": test_5c_decay.test_hidden_schedule}


@dataclass(frozen=True)
class Graded:
    """What one check said."""

    fraction: float  # share of its points earned
    message: str
    details: dict


def context(submission: Path) -> GradingContext:
    """A grading context for one submission folder, on the default (synthetic) data."""
    return GradingContext(submission, None, public_only=False, full=False, rubric=RUBRIC,
                          progress=False)


def grade(submission: Path, check_id: str) -> Graded:
    """One check of 5a-5c on a submission folder."""
    feedback = Feedback()
    try:
        SUITES[check_id](context(submission), RUBRIC.check(check_id), feedback)
    except pytest.fail.Exception:
        pass
    return Graded(feedback.fraction if feedback.fraction is not None else 0.0,
                  "\n".join(feedback.lines), feedback.details)


def grade_questions(submission: Path, questions) -> dict[str, Graded]:
    """Every check of the given questions (among 5a-5c)."""
    return {cid: grade(submission, cid) for cid in SUITES if cid.split(".")[0] in questions}
