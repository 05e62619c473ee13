"""One submission's grading in its own grader process, the unit every batch pool runs.

grade_one(job) -> BatchRow runs `python -m grader grade SUB --out OUT/<student> --quiet` in
a child process with a wall-clock cap, so a crash or hang of one submission never stops the
batch. It is a pure function of its Job (paths and settings; everything it produces lands in
job.out_dir), so it runs wherever the paths are the same: in this machine's thread pool
(local.py) or on a Dask worker over a shared filesystem (dask_pool.py). Both run
grade_in_slot, which claims the machine-wide uid slot the sandbox drops to as root.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from ... import __version__
from ..results import gradescope
from ..rubric import spec as rubric
from ..results import run_files
from ..submission.uploads import Submission
from ..errors import GraderError
from ..sandbox.procs import die_with_parent, kill_tree
from ..sandbox.runner import read_plain
from ..sandbox.uid_slots import claimed_uid
from ..results.records import PENDING, CheckResult, GradingRun, ManualItem, RunInfo, RecordedRun

# Status of one student's grading in the gradebook.
OK, INCOMPLETE, GRADER_ERROR, TIMED_OUT = "ok", "incomplete", "grader error", "timed out"
DEFAULT_TIMEOUT_S = 1200.0  # wall-clock cap of one submission's grading, seconds
RESULTS_CAP = 64 << 20  # the most bytes of a results.json read back
PACKAGE_PARENT = Path(__file__).resolve().parents[3]  # makes `python -m grader` importable
RUBRIC = rubric.load()  # the shipped rubric (grade-all --rubric grades with another)
ABORT = threading.Event()  # set on Ctrl-C: running graders are killed, none start
StopCheck = Callable[[], bool]  # True once the batch is interrupted: stop grading


@functools.lru_cache(maxsize=4)
def rubric_at(path: Path | None = None) -> rubric.Rubric:
    """The rubric file at path (None: the shipped grader/rubric.toml), loaded once."""
    return rubric.load(Path(path).resolve() if path else rubric.RUBRIC_PATH)


@dataclass(frozen=True)
class Job:
    """One submission to grade and where its outputs go."""

    submission: Submission
    out_dir: Path  # OUT/<student>: results.json, report.html, grade.log
    questions: tuple[str, ...] | None  # question ids to grade (None: all)
    data_dir: Path | None  # folder holding cifar-10-batches-py/ (None: synthetic)
    timeout_s: float = DEFAULT_TIMEOUT_S  # wall-clock cap of the whole grading, seconds
    sandbox_user: str | None = None  # uid student code runs as, when the grader is root
    # the rubric file graded with; None: the shipped one of the machine that grades
    rubric_path: Path | None = None
    record: bool = False  # also keep run.json (the halves of a split grading, merged later)

    @property
    def rubric(self) -> rubric.Rubric:
        return rubric_at(self.rubric_path)


@dataclass(frozen=True)
class BatchRow:
    """One student's line of the gradebook."""

    student: str  # folder under OUT holding results.json and report.html
    name: str  # submitters' names (Gradescope metadata), "" when unknown
    email: str  # submitters' emails (Gradescope metadata), "" when unknown
    status: str  # OK, INCOMPLETE, GRADER_ERROR or TIMED_OUT
    scores: Mapping[str, float] = field(default_factory=dict)  # check id -> points, graded only
    seconds: float = 0.0  # grading wall time, seconds (the earlier run's when resumed)
    resumed: bool = False  # skipped: a complete results.json was already there
    note: str = ""  # for staff: what went wrong, what extraction left out
    untouched_template: bool = False  # its graded files are the starter code, unchanged

    @property
    def score(self) -> float:
        """Points earned on the graded checks."""
        return sum(self.scores.values())


def selected_checks(questions: tuple[str, ...] | None, rub: rubric.Rubric | None = None
                    ) -> tuple[rubric.Check, ...]:
    """The rubric's (default: the shipped one's) automatic checks of the selected
    questions, in rubric order."""
    return tuple(c for c in (rub or RUBRIC).checks
                 if questions is None or c.question in questions)


def previous_row(job: Job) -> BatchRow | None:
    """The row of an earlier complete grading of this job's checks, or None (grade it)."""
    recorded = _read_recorded(job.out_dir / "results.json")
    wanted = {c.id for c in selected_checks(job.questions, job.rubric)}
    if recorded is None or not recorded.complete or recorded.grader_error \
            or recorded.rubric_version != job.rubric.version or set(recorded.checks) != wanted:
        return None
    sub = job.submission
    return BatchRow(sub.student, sub.name, sub.email, OK, recorded.scores, recorded.seconds,
                    True, sub.note)


def grade_in_slot(job: Job, should_stop: StopCheck = ABORT.is_set) -> BatchRow:
    """grade_one with a machine-wide slot held: as root, student code runs as the slot's
    own uid for the duration (uid_slots)."""
    try:
        with claimed_uid() as uid:
            return grade_one(replace(job, sandbox_user=uid), should_stop)
    except GraderError as exc:  # the slot folder is not safe: grade nothing as root
        return stopped_row(job, GRADER_ERROR, f"the batch could not grade it: {exc}", 0.0)


def grade_one(job: Job, should_stop: StopCheck = ABORT.is_set) -> BatchRow:
    """Grades one submission in a child grader process; returns its row (never raises).

    The child gets job.timeout_s seconds of wall clock; past that, or once should_stop()
    says the batch was interrupted, its process group and every process it started are
    killed. When it leaves no results.json, one is written that says why (timed out, or
    the exit code), so every student has a valid file. Its TMPDIR (the sandbox copies) is
    a fresh folder of this machine, removed afterwards.
    """
    sub = job.submission
    start = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="grade-all-"))
    try:
        os.chmod(scratch, 0o711)  # the sandbox user passes through to its own folder
        return _grade(job, scratch, should_stop, start)
    except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
        return BatchRow(sub.student, sub.name, sub.email, GRADER_ERROR, {},
                        time.monotonic() - start, False,
                        _join(sub.note, f"the batch could not grade it: "
                                        f"{type(exc).__name__}: {exc}"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _grade(job: Job, scratch: Path, should_stop: StopCheck, start: float) -> BatchRow:
    """grade_one's work: run the grader, then read (or write) its results.json."""
    sub = job.submission
    code = _run_grader(job, scratch, should_stop)
    seconds = time.monotonic() - start
    if code is None:
        if should_stop():
            return stopped_row(job, INCOMPLETE, "grading interrupted (Ctrl-C or SIGTERM)",
                               seconds)
        return stopped_row(job, TIMED_OUT, f"grader timed out after {job.timeout_s:g} s "
                                            "(grade-all --timeout)", seconds)
    recorded = _read_recorded(job.out_dir / "results.json")
    if recorded is None:
        return stopped_row(job, GRADER_ERROR, f"grader process ended with exit code {code} "
                                              f"and no results.json; see {sub.student}/grade.log",
                           seconds)
    if recorded.grader_error or code != 0:
        status = GRADER_ERROR
        note = (f"grader error: {recorded.grader_error or f'exit code {code}'}; "
                f"see {sub.student}/grade.log")
    else:
        status, note = (OK, "") if recorded.complete else (INCOMPLETE, "grading did not finish")
    return BatchRow(sub.student, sub.name, sub.email, status, recorded.scores, seconds, False,
                    _join(sub.note, note))


def stopped_row(job: Job, status: str, note: str, seconds: float) -> BatchRow:
    """The row of a grading that did not end by itself (timed out, interrupted, its worker
    lost, never started). A partial results.json it left says why it stops there; without
    one, a stand-in is written (every check pending), so every student has a valid file."""
    sub = job.submission
    results = job.out_dir / "results.json"
    recorded = _read_recorded(results)
    if recorded is None:
        job.out_dir.mkdir(parents=True, exist_ok=True)
        write_stand_in(job, note, seconds)
        recorded = _read_recorded(results)
    else:
        content = json.loads(read_plain(results, RESULTS_CAP))
        gradescope.write_json(results, gradescope.mark_stopped(content, note))
    scores = recorded.scores if recorded is not None else {}
    return BatchRow(sub.student, sub.name, sub.email, status, scores, seconds, False,
                    _join(sub.note, note))


def _run_grader(job: Job, scratch: Path, should_stop: StopCheck) -> int | None:
    """Runs `python -m grader grade` for the job; its exit code, None when stopped."""
    job.out_dir.mkdir(parents=True, exist_ok=True)
    (job.out_dir / "results.json").unlink(missing_ok=True)  # never mistake an old one
    cmd = [sys.executable, "-m", "grader", "grade", str(job.submission.path),
           "--out", str(job.out_dir), "--quiet", "--jobs", "1"]  # the batch runs side by side
    if job.questions:
        cmd += ["--questions", ",".join(job.questions)]
    if job.data_dir is not None:
        cmd += ["--data-dir", str(job.data_dir)]
    if job.rubric_path is not None:
        cmd += ["--rubric", str(job.rubric_path)]
    if job.record:
        cmd.append("--record")
    path = os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "TMPDIR": str(scratch),
           "GRADER_PRIVATE_PATHS": os.pathsep.join(private_folders(job))}
    if job.sandbox_user is not None:
        env["GRADER_SANDBOX_USER"] = job.sandbox_user
    with open(job.out_dir / "grade.log", "wb") as log:
        # die_with_parent: a grader whose pool thread or Dask worker dies dies with it
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=die_with_parent)
        deadline = time.monotonic() + job.timeout_s
        while True:
            try:
                return proc.wait(timeout=max(0.01, min(0.5, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline or should_stop():
                    kill_tree(proc.pid)
                    proc.wait()
                    return None


def private_folders(job: Job) -> list[str]:
    """Folders of the batch a sandbox child must never read (grader/core/sandbox/isolation.py
    hides them): the batch folder the submission came from, the folder it is graded from
    (an extracted zip's), and the batch's output folder with every student's results."""
    sub = job.submission
    folders = {sub.source.parent, sub.path.parent, job.out_dir.parent}
    if sub.path.parent != sub.source.parent:
        folders.add(sub.path)
    return sorted(str(Path(f).resolve()) for f in folders)


def write_stand_in(job: Job, reason: str, seconds: float) -> None:
    """Writes results.json, report.html and run.json for a grading that left none: every
    selected check pending, and the reason as the grader error."""
    rub = job.rubric
    message = f"Not graded: {reason}."
    results = tuple(CheckResult(c.id, c.name, 0.0, c.points, PENDING, c.visibility, message)
                    for c in selected_checks(job.questions, rub))
    manual = tuple(ManualItem(q.id, q.title, q.points) for q in rub.manual
                   if job.questions is None or q.id in job.questions)
    info = RunInfo(str(job.submission.path), rub.version, rub.seed, "not used",
                   "No data used: the grading did not run to the end.", False,
                   {"python": platform.python_version(), "grader": __version__},
                   f"CPU ({platform.machine()}, {os.cpu_count()} cores); no GPU used",
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))
    run = GradingRun(info, results, manual, seconds, False, reason)
    run_files.write(run, rub, job.out_dir, record=True)


def _read_recorded(path: Path) -> RecordedRun | None:
    """The RecordedRun of a results.json, or None when missing or unreadable (read without
    following links or blocking, size-capped: never trust what a grading left)."""
    try:
        return gradescope.read_recorded(json.loads(read_plain(path, RESULTS_CAP)))
    except (OSError, ValueError, TypeError):
        return None


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


