"""The project's own result records; gradescope.py alone turns them into results.json."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# Outcomes of one check. Gradescope knows only passed/failed; the others keep why.
PASSED, FAILED, ERROR, SKIPPED, PENDING = "passed", "failed", "error", "skipped", "pending"


@dataclass(frozen=True)
class CheckResult:
    """The graded outcome of one check (one row of results.json)."""

    check_id: str  # "1a.2"; starts with the question id
    name: str  # what was checked, in the student's terms
    score: float  # points earned
    max_score: float  # points available
    status: str  # PASSED, FAILED, ERROR (grader fault), SKIPPED or PENDING (not reached)
    visibility: str  # Gradescope visibility of the row
    message: str = ""  # feedback for the student: expected, got, hint
    details: Mapping[str, Any] = field(default_factory=dict)  # numbers and curves (JSON-able)
    seconds: float = 0.0  # time spent on the check, seconds
    staff_note: str = ""  # grader traceback for staff (never shown to students)

    @property
    def question(self) -> str:
        """The question id ("1a")."""
        return self.check_id.split(".")[0]


@dataclass(frozen=True)
class RunInfo:
    """What a grading run was: for reproducing it and for the report's header."""

    submission: str  # the graded folder
    rubric_version: str
    seed: int  # base seed of hidden cases
    dataset_kind: str  # "real" (checksums verified), "synthetic" or "none"
    dataset_note: str  # one line saying which data and how it was verified
    public_only: bool  # self-check (public cases only)
    versions: Mapping[str, str]  # python, numpy, grader, ...
    device: str  # "cpu: ...", from the grading machine
    started: str  # ISO time the run started
    sandbox: str = ""  # who student code ran as, and its network (core/sandbox/isolation.py)
    # what torch saw in the sandbox, when a check of the run may use a GPU: torch, cuda,
    # gpu, cudnn ({} when no check of the run asked; the environment probe's values)
    device_details: Mapping[str, Any] = field(default_factory=dict)
    upload_note: str = ""  # when none of the rubric's files was found: what was, and a hint


@dataclass(frozen=True)
class ManualItem:
    """A question graded by hand (a report question)."""

    question: str
    title: str
    points: float


@dataclass(frozen=True)
class GradingRun:
    """Everything a run produced, as it stands (complete or not)."""

    info: RunInfo
    results: tuple[CheckResult, ...]
    manual: tuple[ManualItem, ...]
    seconds: float  # wall time so far
    complete: bool  # False while grading goes on, or when it stopped early
    grader_error: str = ""  # set when the grader itself failed

    @property
    def score(self) -> float:
        """Points earned on automatic checks."""
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> float:
        """Points available on the automatic checks of this run."""
        return sum(r.max_score for r in self.results)


@dataclass(frozen=True)
class RecordedRun:
    """What a results.json says about a run, read back (the batch's gradebook row)."""

    scores: Mapping[str, float]  # check id -> points earned, graded checks only
    checks: tuple[str, ...]  # every check id listed, graded or still pending
    complete: bool  # grading reached the end
    grader_error: str  # "" unless the grader itself failed
    rubric_version: str  # rubric the run was graded with
    seconds: float  # execution time, seconds
