"""pytest plugin: turns test outcomes into CheckResults and writes results.json as it goes.

It hands every suite the run's rubric (`rubric` and `check` fixtures) and scores each check
from it: points, visibility, and whether a share of the points may be earned (`partial`,
the share a suite's `conclude` recorded). Every collected check is written as "pending"
first and replaced when graded, so a grader killed midway leaves a valid results.json
naming what was and was not graded. Failures, errors and skips are all graded outcomes
with a message; nothing is dropped.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from ..results import gradescope
from ..sandbox import isolation
from ..errors import GraderError, SandboxError
from ..results import run_files
from .context import Feedback, GradingContext, OutOfTime
from ..rubric.spec import DATASET_TITLES, Check, Rubric
from ..results.records import (ERROR, FAILED, PASSED, PENDING, SKIPPED, CheckResult, GradingRun,
                               ManualItem, RunInfo)

FEEDBACK_KEY = pytest.StashKey[Feedback]()
EXPIRY_MARGIN_S = 10.0  # after the deadline, the timer's own write-and-exit
GRADER_FAULT = "Grader error on this check, contact course staff (your other checks are unaffected)."


def _check_of(item: pytest.Item):
    func = getattr(item, "function", None)
    return getattr(func, "__check_id__", None), func


class ResultsPlugin:
    """Collects outcomes into CheckResults; writes results.json after every check."""

    name = "grader-results"

    def __init__(self, context: GradingContext, out_dir: Path | None, info: RunInfo,
                 questions: set[str] | None = None,
                 on_result: Callable[[CheckResult], None] | None = None,
                 record: bool = False, expiry_margin: float = EXPIRY_MARGIN_S,
                 record_only: bool = False):
        self.context = context
        self.record = record  # also write run.json, the full record (grade-all merges it)
        self.record_only = record_only  # a lane: run.json alone (its grader writes the rest)
        self.out_dir = out_dir
        self.info = info
        self.questions = questions
        self.on_result = on_result
        self.results: dict[str, CheckResult] = {}
        self.order: list[str] = []
        self.started = time.monotonic()
        self.complete = False
        self.grader_error = ""
        self.sandbox_problem = ""  # why no sandboxed child can start here, if none can
        self._began: dict[str, float] = {}
        self._lock = threading.RLock()  # the deadline's timer writes too
        if context.deadline is not None:
            threading.Thread(target=self._expire, args=(context.deadline + expiry_margin,),
                             name="grading-deadline", daemon=True).start()

    # -- the run as records -------------------------------------------------------------
    def expect(self, check_ids: list[str]) -> None:
        """Lists these checks, in this order, as pending: a grader stopped before it
        reaches one leaves it saying so."""
        for cid in check_ids:
            check = self.context.rubric.check(cid)
            self.order.append(cid)
            self.results[cid] = CheckResult(
                cid, check.name, 0.0, check.points, PENDING, check.visibility,
                "Not graded: the grader stopped before reaching this check.")

    def settle(self, result: CheckResult) -> None:
        """Keeps a graded check's result and writes results.json at once."""
        with self._lock:
            self.results[result.check_id] = result
            self.write()
        if self.on_result is not None:
            self.on_result(result)

    def run(self) -> GradingRun:
        """The grading run as it stands."""
        manual = tuple(ManualItem(q.id, q.title, q.points) for q in self.context.rubric.manual
                       if self.questions is None or q.id in self.questions)
        if self.context.public_only:
            manual = ()
        return GradingRun(self.info, tuple(self.results[c] for c in self.order), manual,
                          time.monotonic() - self.started, self.complete, self.grader_error)

    def write(self) -> None:
        """Writes results.json (atomically) and report.html, and run.json when recording,
        when an output folder was given."""
        if self.out_dir is not None:
            with self._lock:
                run_files.write(self.run(), self.context.rubric, self.out_dir, self.record,
                                self.record_only)

    def _expire(self, at: float) -> None:
        """At the grading's hard deadline (a little after the sandbox's), if grading still
        goes on: every check not graded yet says so, results.json is written complete, and
        the process ends (its sandboxed children die with it), before the platform stops
        the container without reading anything."""
        time.sleep(max(0.0, at - time.monotonic()))
        with self._lock:
            question = self.context.ran_out_in or self._running_question()
            message = OutOfTime(question).message()
            for cid in self.order:
                if self.results[cid].status == PENDING:
                    r = self.results[cid]
                    self.results[cid] = CheckResult(cid, r.name, 0.0, r.max_score, FAILED,
                                                    r.visibility, message)
            self.complete = True
            self.write()
        sys.stderr.write(f"grader: the deadline passed while {question} was running; "
                         "results.json written\n")
        sys.stderr.flush()
        os._exit(0)

    def _running_question(self) -> str:
        cid = self.context.current_check
        return self.context.rubric.check(cid).question if cid else "the grader"

    # -- pytest hooks -------------------------------------------------------------------
    @pytest.fixture(scope="session")
    def grading(self) -> GradingContext:
        """The grading context of this run."""
        return self.context

    @pytest.fixture(scope="session")
    def rubric(self) -> Rubric:
        """The rubric this run grades with."""
        return self.context.rubric

    @pytest.fixture
    def check(self, request: pytest.FixtureRequest) -> Check:
        """The rubric check the current test grades (its @graded id)."""
        return self.context.rubric.check(request.function.__check_id__)

    @pytest.fixture
    def feedback(self, request: pytest.FixtureRequest) -> Feedback:
        """Feedback lines and details of the current check."""
        fb = Feedback()
        request.node.stash[FEEDBACK_KEY] = fb
        return fb

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list) -> None:
        """Keeps the selected checks (questions, public only) and marks them pending."""
        keep, drop = [], []
        for item in items:
            cid, _ = _check_of(item)
            check = self.context.rubric.check(cid) if cid else None
            chosen = check is not None and (
                self.questions is None or check.question in self.questions) and (
                not self.context.public_only or check.public)
            (keep if chosen else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = sorted(keep, key=lambda it: _rubric_index(self.context, _check_of(it)[0]))
        self.expect([_check_of(item)[0] for item in items])
        self.context.checks_to_come = list(self.order)
        try:  # a sandbox that cannot start is the grader's fault for the whole run
            isolation.resolve()
        except Exception as exc:  # noqa: BLE001 - whatever stops it, no check can run
            self.sandbox_problem = str(exc)
            self.grader_error = ("student code cannot be run in the sandbox on this "
                                 f"machine: {exc}")
        self.write()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A suite that cannot even be collected is a grader fault: say so, loudly."""
        if report.failed:
            self.grader_error = f"a test suite failed to load ({report.nodeid})"
            sys.stderr.write(f"grader: cannot collect {report.nodeid}:\n{report.longreprtext}\n")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Starts the check's clock and clears a partial score left by an earlier run. In
        the quick self-check (no --full), a check of a question that trains on a dataset
        is skipped here, before its fixtures train anything."""
        cid, func = _check_of(item)
        self._began[cid] = time.monotonic()
        if cid in self.context.checks_to_come:
            self.context.checks_to_come.remove(cid)
        self.context.current_check = cid
        if self.sandbox_problem:
            raise SandboxError(f"no check was graded: {self.sandbox_problem}")
        if self.context.deadline is not None and time.monotonic() >= self.context.deadline:
            raise OutOfTime(self.context.ran_out_in or self._running_question())
        self.context.probe_runs.clear()
        self.context.reused_runs.clear()
        question = self.context.rubric.question(self.context.rubric.check(cid).question)
        if self.context.public_only and not self.context.full and question.dataset:
            title = DATASET_TITLES.get(question.dataset, question.dataset)
            pytest.skip(f"the {title} training of {question.id} is left out of the quick "
                        "self-check; add --full to run it")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        """Turns the report of the phase that decides a check into its CheckResult."""
        outcome = yield
        report = outcome.get_result()
        cid, func = _check_of(item)
        if cid is None:
            return
        decisive = report.when == "call" or (report.when == "setup" and not report.passed)
        if not decisive:
            return
        check = self.context.rubric.check(cid)
        fb = item.stash.get(FEEDBACK_KEY, Feedback())
        seconds = time.monotonic() - self._began.get(cid, time.monotonic())
        status, score, message, staff = _judge_outcome(report, call, check, fb)
        runs = self.context.probe_runs
        notes = list(dict.fromkeys(n for r in runs + self.context.reused_runs for n in r.notes))
        if notes and status in (PASSED, FAILED):  # e.g. a symlink or an oversized file
            message = "\n".join(([message] if message else []) + [f"Note: {n}" for n in notes])
        cost = {"sandbox_calls": len(runs),
                "sandbox_seconds": round(sum(r.wall_seconds for r in runs), 3),
                "sandbox_peak_rss_mb": round(max((r.peak_rss_mb for r in runs), default=0.0), 1)}
        self.settle(CheckResult(cid, check.name, score, check.points, status, check.visibility,
                                message, gradescope.plain_data({**fb.details, **cost}),
                                seconds, staff))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Marks the run complete and writes the final results.json."""
        self.complete = not self.grader_error and all(
            r.status != PENDING for r in self.results.values())
        self.write()


def _rubric_index(context: GradingContext, cid: str) -> int:
    return [c.id for c in context.rubric.checks].index(cid)


def _share(check: Check, fb: Feedback, passed: bool) -> float:
    """The points a concluded check earned: all or nothing, or (partial) its share."""
    if not check.partial or fb.fraction is None:
        return check.points if passed else 0.0
    return round(check.points * min(max(float(fb.fraction), 0.0), 1.0), 4)


def _judge_outcome(report: pytest.TestReport, call: pytest.CallInfo, check: Check,
                   fb: Feedback) -> tuple[str, float, str, str]:
    """(status, score, message, staff note) of a finished check."""
    points = check.points
    message = "\n".join(fb.lines)
    if report.passed:
        score = _share(check, fb, True)
        return (PASSED if score >= points else FAILED), score, message, ""
    if report.skipped:
        reason = call.excinfo.value.msg if call.excinfo is not None else "skipped"
        return SKIPPED, 0.0, f"Not graded in this run: {reason}", ""
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, OutOfTime):
        return FAILED, 0.0, exc.message(), ""
    if isinstance(exc, pytest.fail.Exception) and report.when == "call":
        return FAILED, _share(check, fb, False), exc.msg or message, ""
    staff = "".join(traceback.format_exception(exc)) if exc is not None else report.longreprtext
    # students see the cause's first clause; the staff note keeps all of it (paths, errno)
    cause = f"\nCause: {gradescope.public_reason(str(exc))}" if isinstance(exc, GraderError) \
        else ""
    return ERROR, 0.0, GRADER_FAULT + cause, staff[-4000:]


def device_line(context: GradingContext, questions: set[str] | None = None
                ) -> tuple[str, dict[str, Any]]:
    """(the report's device line, details) of a run of these questions (None: all). The
    sandbox is asked what torch sees only when a selected question has device = "auto"."""
    import platform

    cpu = f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    wanted = [q for q in context.rubric.questions if q.device == "auto" and q.checks
              and (questions is None or q.id in questions)]
    if not wanted:
        return f"{cpu}; no check of this run uses a GPU", {}
    info = context.device_info()
    details = {k: info.get(k) for k in ("torch", "cuda", "cuda_available", "gpu", "cudnn",
                                        "error") if info.get(k) not in (None, "")}
    if info.get("error"):
        return f"{cpu} (torch unavailable in the sandbox: {info['error']})", details
    if info.get("cuda_available"):
        return (f"CUDA: {info.get('gpu') or 'GPU'} (torch {info.get('torch')}, "
                f"CUDA {info.get('cuda') or '?'})"), details
    return f"{cpu} (torch {info.get('torch')}; no GPU visible)", details


def run_info(context: GradingContext, dataset_kind: str, dataset_note: str,
             questions: set[str] | None = None) -> RunInfo:
    """The RunInfo of a run on this machine (of these questions; None: all)."""
    import platform

    import numpy as np

    from ... import __version__
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "pytest": pytest.__version__, "grader": __version__}
    try:
        sandbox = isolation.describe(isolation.resolve())
    except Exception as exc:  # noqa: BLE001 - every check reports it as a grader error
        sandbox = f"cannot be isolated: {exc}"
    device, details = device_line(context, questions)
    from ..submission.uploads import upload_note
    return RunInfo(str(context.submission), context.rubric.version, context.rubric.seed,
                   dataset_kind, dataset_note, context.public_only, versions, device,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"), sandbox,
                   details, upload_note(context.submission,
                                        context.rubric.submission_files))
