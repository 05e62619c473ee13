"""What the suites share: the grading context, the @graded decorator and Feedback.

A suite is a pytest file that declares one test per rubric check, each concluding with a
judge of its part, judge(grading, check, feedback) -> Verdict:

    test_toy_probabilities = judged("1a.1", forward.judge_toy)

or, where a check needs more than one call, a small test function:

    @graded("4a.1")
    def test_public_lists(grading, check, feedback):
        cases = structure.public_cases(check.value("hidden_layers"))
        conclude(feedback, structure.grade_structure(grading, check, feedback, cases))

`graded` only names the check; its points, visibility and parameters come from the rubric
of the run, which the plugin hands to every test through the `rubric` and `check`
fixtures (so a run, or a test of the grader, can grade with a changed rubric). `conclude`
records the message and the share of points earned, and fails the test when points were
lost.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import number

from ..rubric import budgets
from ..rubric import spec as rubric_mod
from .judge import Feedback, Verdict, failure_verdict  # noqa: F401 - the suites' names
from ..sandbox.probe_run import ProbeCall, ProbeRun, calls_request, part_of
from ..sandbox.runner import run_probe
from ..sandbox.template import Template
from ..sandbox.child import CALLS  # the function name of a multi-call request

ENVIRONMENT_PROBE = Path(__file__).parents[1] / "sandbox" / "environment_probe.py"
MIN_CALL_S = 2.0  # under a deadline, a call is not started with less time than this
BUDGET_OVER_COST = 8.0  # a check's budget over what correct code usually takes


class OutOfTime(Exception):
    """The grading's deadline left no time for a check; args[0]: the question whose
    call the deadline cut short (or the one that was running)."""

    def message(self) -> str:
        return (f"Not graded: the grading time ran out while {self.args[0]} was running "
                "(a call that did not finish took the time the later checks needed).")


def graded(check_id: str) -> Callable:
    """Decorates a test as the rubric check `check_id` (its points and visibility are the
    run's rubric's, read when the check runs)."""

    def decorate(func: Callable) -> Callable:
        func = number(check_id)(func)
        func.__check_id__ = check_id
        return pytest.mark.check(check_id)(func)

    return decorate


def conclude(feedback: Feedback, verdict: Verdict) -> None:
    """Records a verdict; fails the test (with its message) unless every point was earned.
    A check the rubric marks `partial` earns the verdict's share of its points."""
    feedback.say(verdict.message)
    feedback.fraction = verdict.fraction
    if not verdict.passed:
        pytest.fail("\n".join(feedback.lines), pytrace=False)


def judged(check_id: str, judge: Callable, on: str | tuple[str, ...] = "grading") -> Callable:
    """The test of the rubric check `check_id` (marked as `graded` marks it) that concludes
    with judge(*on's fixtures, check, feedback): its parameters, the fixtures pytest hands
    it, are the names in `on` (one or a tuple), then check and feedback.

        test_training_loop = judged("4b.1", training.judge_loop, on="trained")
    """
    names = (on,) if isinstance(on, str) else tuple(on)
    signature = inspect.Signature([inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                   for name in (*names, "check", "feedback")])

    def test(*args, **kwargs):
        fixtures = list(signature.bind(*args, **kwargs).arguments.values())
        conclude(fixtures[-1], judge(*fixtures))

    test.__signature__ = signature  # pytest reads the fixture names from it
    test.__name__ = test.__qualname__ = "test_" + check_id.replace(".", "_")
    test.__doc__ = judge.__doc__
    return graded(check_id)(test)


def gpu_driver_present() -> bool:
    """Whether this machine has an NVIDIA driver (the only way torch sees CUDA on Linux):
    its /proc entry or a /dev/nvidia* node. $GRADER_PROBE_DEVICE=1 says yes regardless."""
    if os.environ.get("GRADER_PROBE_DEVICE") == "1":
        return True
    return Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia*"))


def installed_version(package: str) -> str:
    """The installed version of a distribution, read from its metadata (never imported)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


class GradingContext:
    """One grading run's settings, shared by every suite through the `grading` fixture."""

    def __init__(self, submission: Path, data_dir: Path | None, public_only: bool,
                 full: bool, rubric: rubric_mod.Rubric | None = None, progress: bool = True,
                 deadline: float | None = None):
        self.submission = Path(submission).resolve()
        # time.monotonic() by which every sandboxed call must have ended (grade --deadline)
        self.deadline = deadline
        self.checks_to_come: list[str] = []  # checks not started yet (the plugin keeps it)
        self.current_check = ""  # the check running now
        self.ran_out_in = ""  # the question whose call the deadline cut short
        self._costs: budgets.ReferenceCosts | None = None  # the reference's, when needed
        self._slowness = 1.0  # this machine against the one that recorded those costs
        self.data_dir = data_dir
        self.public_only = public_only  # self-check: public checks only
        self.full = full  # self-check: also train on CIFAR-10
        self.rubric = rubric if rubric is not None else rubric_mod.load()
        self.progress = progress
        self._data: dict = {}  # dataset name -> its PreparedData
        self.probe_runs: list[ProbeRun] = []  # sandboxed calls of the current check
        self._memo: dict[str, ProbeRun] = {}  # call key -> its run, within this grading
        self.reused_runs: list[ProbeRun] = []  # memoised runs the current check used again
        # module -> (the wall-clock budget its import outlasted, seconds; why it is not
        # imported again within such a budget)
        self.hung_imports: dict[str, tuple[float, str]] = {}
        # "module:qualname" of a student function a call's time ran out in -> (that call's
        # wall-clock budget, why it is not run again within such a budget)
        self.hung_functions: dict[str, tuple[float, str]] = {}
        self._device_info: dict[str, Any] | None = None
        # the process the calls of torch probes are forked from (grader/core/sandbox/
        # template.py), started by the first such call, ended by close()
        self.template = Template()

    def close(self) -> None:
        """Ends what the grading started and still holds (the template process)."""
        self.template.stop()

    def device_info(self) -> dict[str, Any]:
        """What torch sees inside the sandbox (grader/core/sandbox/environment_probe.py), probed
        once per run: torch, cuda, cuda_available, gpu, cudnn; "error" when torch could
        not be imported there. The grader's own process never imports torch."""
        if self._device_info is None and not gpu_driver_present():
            # no NVIDIA driver: torch cannot see a GPU, so its import (6-10 s) is not paid
            self._device_info = {"torch": installed_version("torch"), "cuda_available": False,
                                 "gpu_count": 0, "probe": "skipped: no NVIDIA driver here"}
        if self._device_info is None:
            limits = self.rubric.limits.replace(
                wall_seconds=max(self.rubric.limits.wall_seconds, 120),
                cpu_seconds=max(self.rubric.limits.cpu_seconds, 120),
                memory_mb=max(self.rubric.limits.memory_mb, 2560))
            with tempfile.TemporaryDirectory(prefix="grader-env-") as empty:
                run = run_probe(ENVIRONMENT_PROBE, "environment", submission=Path(empty),
                                limits=limits, template=self.template)
            info = {k: v for k, v in run.values.items() if not isinstance(v, np.ndarray)}
            if run.failure is not None:
                info["error"] = run.failure.message
            self._device_info = info
        return self._device_info

    def device_for(self, question: str) -> str:
        """"cuda" for a question whose rubric `device` is "auto" when the sandbox sees a GPU,
        else "cpu" (the device's probes receive as params["device"])."""
        if self.rubric.question(question).device != "auto":
            return "cpu"
        return "cuda" if self.device_info().get("cuda_available") else "cpu"

    def data(self, which: str | None = None):
        """The prepared data of a dataset ("cifar10", "mnist") or of a question (its rubric
        `dataset`), prepared once per run; no argument: CIFAR-10 (real if verified, else
        synthetic). MNIST is real if verified, else a real 5,000-digit subset."""
        name = which or rubric_mod.DATASETS[0]
        if name not in rubric_mod.DATASETS:
            name = self.rubric.question(name).dataset
            if not name:
                raise rubric_mod.RubricError(f"question {which} has no dataset in the rubric")
        if name not in self._data:
            from ...data import prepare
            self._data[name] = prepare.load(self.data_dir, dict(self.rubric.datasets), name)
        return self._data[name]

    @property
    def checkpoint_files(self) -> tuple[str, ...]:
        """Files of the submission the grader reads itself (checkpoints): student code
        never needs them, so sandbox copies leave them out (and they do not count
        towards the copy's size cap)."""
        return tuple(str(c.params["checkpoint"]) for c in self.rubric.checks
                     if c.params.get("checkpoint"))

    def probe(self, probe: str | Path, function: str, check_id: str, *,
              kind: str | None = None, seconds: float | None = None,
              **kwargs: Any) -> ProbeRun:
        """Runs a probe under the check's sandbox limits (kind picks per-dataset budgets);
        `seconds`, when given, is the call's wall and CPU time budget, never above the
        check's own limits (which are then its ceilings)."""
        check = self.rubric.check(check_id)
        limits = self.rubric.limits_for(check, kind)
        if seconds is None:
            seconds = self.cost_budget(check, limits.wall_seconds)
        limits = limits.replace(wall_seconds=min(limits.wall_seconds, seconds),
                                cpu_seconds=min(limits.cpu_seconds, seconds))
        share = self.time_share(check_id, limits.wall_seconds)
        cut = share < limits.wall_seconds
        if cut:
            limits = limits.replace(wall_seconds=share, cpu_seconds=min(limits.cpu_seconds,
                                                                        share))
        question = self.rubric.question(check.question)
        if question.from_scratch:  # the child refuses torch & co. in the student's calls
            kwargs["params"] = {**dict(kwargs.get("params") or {}), "from_scratch": True}
        kwargs.setdefault("skip_top_level", question.top_level == "skip")
        # lines not run are noted for the files the question reads only
        kwargs.setdefault("noted", tuple(Path(f).stem for f in question.files))
        if question.device == "auto":
            kwargs["params"] = {**dict(kwargs.get("params") or {}),
                                "device": self.device_for(check.question)}
        key = _call_key(probe, function, limits, kwargs)
        if key in self._memo:  # the same call on the same inputs, e.g. the toy in 1b and 2d
            self.reused_runs.append(self._memo[key])
            return self._memo[key]
        if self.progress and "on_progress" not in kwargs:
            kwargs["on_progress"] = _progress_printer(check_id)
        # a module whose import, or a function whose call, outlasted a budget at least
        # this call's fails at once
        run = run_probe(probe, function, submission=self.submission, limits=limits,
                        skip=self.checkpoint_files,
                        hung_imports=_within(self.hung_imports, limits.wall_seconds),
                        hung_functions=_within(self.hung_functions, limits.wall_seconds),
                        template=self.template, **kwargs)
        if cut and run.failure is not None and run.failure.kind in ("timeout", "cpu",
                                                                    "hung_import"):
            self.ran_out_in = self.ran_out_in or check.question
        if run.stuck_in:  # it ran, so any earlier record of it had a smaller budget
            qualname = run.stuck_in.split(":")[1]
            self.hung_functions[run.stuck_in] = (limits.wall_seconds, (
                f"{qualname}() is not run again: it did not finish within "
                f"{limits.wall_seconds:g} s in check {check_id}"))
        if run.stuck_importing:
            self.hung_imports[run.stuck_importing] = (limits.wall_seconds, (
                f"{run.stuck_importing}.py is not imported again: its import did not finish "
                f"within {limits.wall_seconds:g} s in check {check_id}"))
        self.probe_runs.append(run)
        self._memo[key] = run
        if self.progress:
            sys.stderr.write("\n" if getattr(_progress_printer, "active", False) else "")
            _progress_printer.active = False
        return run

    def cost_budget(self, check: rubric_mod.Check, ceiling: float) -> float:
        """The budget of a call of `check` from the reference's recorded cost
        (grader/core/rubric/budgets.py): for a question that trains on no dataset (those that do
        have budgets of their own), the rubric's [budgets] rule over the largest recorded
        cost of the question's checks (a call made for one check may be paid in another's
        slot); the ceiling when the rule is off or nothing was recorded."""
        question = self.rubric.question(check.question)
        rule = self.rubric.budgets
        if question.dataset or rule.factor <= 0:
            return ceiling
        if self._costs is None:
            self._costs = budgets.ReferenceCosts.load()
            recorded = self._costs.machine_seconds
            self._slowness = budgets.machine_seconds() / recorded if recorded > 0 else 1.0
        paid = [self._costs.checks.get(c.id, 0.0) for c in question.checks]
        cost = max(paid) if any(paid) else None
        return budgets.call_budget(ceiling, cost, rule.factor, rule.floor_seconds,
                                   self._slowness)

    def time_share(self, check_id: str, budget: float) -> float:
        """The wall-clock seconds a call of check_id may take under the grading's deadline:
        its budget, or less when the time left must also cover the checks still to come
        (shared in proportion to their own budgets); raises OutOfTime when nothing is
        left. Without a deadline: the budget."""
        if self.deadline is None:
            return budget
        left = self.deadline - time.monotonic()
        if left < MIN_CALL_S:
            raise OutOfTime(self.ran_out_in or self.rubric.check(check_id).question)
        to_come = sum(self._budget(c) for c in self.checks_to_come if c != check_id)
        fair = left * budget / (budget + to_come)  # in proportion to the budgets
        # ... or all but what the checks to come usually need (a budget is about 8 times
        # the reference's cost): a correct slow check loses nothing while time allows
        spare = left - to_come / BUDGET_OVER_COST
        return max(MIN_CALL_S, min(budget, left, max(fair, spare)))

    def _budget(self, check_id: str) -> float:
        """A check's wall-clock budget, on the dataset kind already prepared (else the
        synthetic one): its weight when the deadline's time is shared."""
        check = self.rubric.check(check_id)
        name = self.rubric.question(check.question).dataset
        kind = self._data[name].kind if name in self._data else "synthetic"
        try:
            return float(self.rubric.limits_for(check, kind).wall_seconds)
        except (KeyError, ValueError, rubric_mod.RubricError):
            return float(self.rubric.limits.wall_seconds)

    def probe_calls(self, probe: Path, calls: list[ProbeCall], check_id: str, *,
                    params: Mapping[str, Any] | None = None, **kwargs: Any
                    ) -> list[ProbeRun]:
        """Runs several probe calls in ONE sandboxed child, under the check's limits (the
        whole batch shares them): what is paid once per child (importing torch, the
        student's module) is paid once. Returns one ProbeRun per call, in order; a call
        that fails stops only itself."""
        inputs, shared = calls_request(calls, params)
        run = self.probe(probe, CALLS, check_id, inputs=inputs, params=shared, **kwargs)
        return [part_of(run, str(i)) for i in range(len(calls))]


def _within(remembered: Mapping[str, tuple[float, str]], budget: float) -> dict[str, str]:
    """name -> why, of the modules or functions that outlasted a budget of at least
    `budget` earlier in the grading: not tried again within it."""
    return {name: why for name, (spent, why) in remembered.items() if spent >= budget}


def _call_key(probe: str | Path, function: str, limits: Any, kwargs: dict) -> str:
    """A digest of everything that defines a sandboxed call (its inputs' bytes included)."""
    digest = hashlib.sha256(f"{probe}|{function}|{limits}".encode())
    for name, value in sorted((kwargs.get("inputs") or {}).items()):
        arr = np.ascontiguousarray(value)
        digest.update(f"{name}|{arr.dtype}|{arr.shape}".encode())
        digest.update(arr.tobytes())
    extra = {k: kwargs.get(k) for k in ("params", "data_files", "skip_top_level")}
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _progress_printer(check_id: str) -> Callable[[int, int], None]:
    """Prints a one-line progress bar for long sandboxed work (training)."""
    tty = sys.stderr.isatty()
    last = [-1]

    def show(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if not tty and pct // 10 == last[0] // 10:
            return
        last[0] = pct
        bar = "#" * (pct // 5) + "." * (20 - pct // 5)
        sys.stderr.write(("\r" if tty else "") + f"  {check_id} [{bar}] {done}/{total} "
                         f"iterations ({pct}%)" + ("" if tty else "\n"))
        sys.stderr.flush()
        _progress_printer.active = tty

    return show
