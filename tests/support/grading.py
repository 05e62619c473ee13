"""Grading in the test process, the one way the tests grade a submission without the CLI.

`grade(submission, checks)` runs the grader's own suites (grader/parts/*/test_*.py, the
test functions whose __check_id__ is among `checks`) under the grader's own pytest plugin
(grader/core/engine/plugin.ResultsPlugin), in this process, with a GradingContext of its
own: fixtures, conclude(), notes and statuses are exactly the CLI's; only results.json is
not written. The rubric defaults to CPU_RUBRIC: the shipped one with every torch question
on the CPU (the tests run there, and the environment probe, one more torch import, is
skipped).

`batched=True` serves the probe calls of all the selected checks from ONE sandboxed child
per round (GradingContext.probe_calls), not one child per call: the suites run against a
context that stops each check at a call not made yet and records it; the calls recorded
that can share a child (same probe file, params and inputs only, same sandbox rules) are
made together; the suites run again, each check handed the runs of its calls so far, until
a round asks for nothing (a check whose second call waits on its first one's result takes
a second round). It
suits the suites that judge a call's values only: a batched run's wall_seconds is the whole
child's, and the child runs under the limits of the largest budget among its checks.
`fixtures` gives values in place of suite fixtures (e.g. 2d's cost gate as passed).

`context(submission)` is a bare GradingContext for the tests that drive one module's
functions themselves (a training run's own values, a probe call made by hand).
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

import grader.parts
from grader.core.engine.context import GradingContext, ProbeCall
from grader.core.engine.plugin import FEEDBACK_KEY, ResultsPlugin
from grader.core.results.records import ERROR, PENDING, RunInfo
from grader.core.rubric import spec as rubric_mod
from grader.core.sandbox.runner import ProbeRun

PARTS = Path(grader.parts.__file__).parent
# the keyword arguments of a probe call that a batch can carry per call (ProbeCall's)
PER_CALL = {"params", "inputs"}
# pytest's own plugins the suites' run does without: the CLI's (no cache, no terminal, no
# stepwise), and those that only watch (each unraisableexception cleanup collects garbage,
# 0.4 s in a test process; faulthandler would take the outer run's over)
UNUSED_PLUGINS = ("cacheprovider", "terminal", "stepwise", "unraisableexception",
                  "threadexception", "faulthandler", "junitxml", "doctest", "pastebin")


def cpu_rubric(shipped: rubric_mod.Rubric | None = None) -> rubric_mod.Rubric:
    """The rubric (default: the shipped one) with each question whose device is "auto" set
    to "cpu"."""
    shipped = shipped if shipped is not None else rubric_mod.load()
    return replace(shipped, questions=tuple(
        replace(q, device="cpu") if q.device == "auto" else q for q in shipped.questions))


CPU_RUBRIC = cpu_rubric()


def with_question(rubric: rubric_mod.Rubric, question: str, **fields) -> rubric_mod.Rubric:
    """The rubric with some fields of one question changed (e.g. mode="checkpoint")."""
    return replace(rubric, questions=tuple(replace(q, **fields) if q.id == question else q
                                           for q in rubric.questions))


def with_params(rubric: rubric_mod.Rubric, check_id: str, **params) -> rubric_mod.Rubric:
    """The rubric with some params of one check changed (e.g. wall_seconds=15)."""
    def change(check):
        return replace(check, params={**check.params, **params}) if check.id == check_id \
            else check
    return replace(rubric, questions=tuple(
        replace(q, checks=tuple(change(c) for c in q.checks)) for q in rubric.questions))


def context(submission: Path, rubric: rubric_mod.Rubric = CPU_RUBRIC) -> GradingContext:
    """A grading context for one submission folder, on the default data, every check's
    hidden cases included, without progress lines."""
    return GradingContext(submission, None, public_only=False, full=False, rubric=rubric,
                          progress=False)


@dataclass(frozen=True)
class Graded:
    """What one check said, as the grader's plugin recorded it."""

    fraction: float  # the share of its points its verdict earned (0 when none was reached)
    message: str  # what the student reads (the run's notes included, as "Note: ...")
    details: dict  # the numbers and curves the suite recorded (Feedback.details)
    status: str  # passed, failed, skipped or error
    score: float  # points earned
    max_score: float  # points available
    runs: tuple[ProbeRun, ...] = ()  # the sandboxed runs the check made (or was handed)
    notes: tuple[str, ...] = ()  # its runs' notes, a memoised run's too (lines not run...)
    staff_note: str = ""  # the grader's traceback of an error (never shown to students)

    @property
    def passed(self) -> bool:
        """Whether every point was earned (its verdict's share is 1)."""
        return self.fraction >= 1.0

    @property
    def sandbox_seconds(self) -> float:
        """The wall-clock seconds of the check's sandboxed runs."""
        return sum(r.wall_seconds for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        """The largest resident memory of the check's sandboxed runs, MB."""
        return max((r.peak_rss_mb for r in self.runs), default=0.0)


@lru_cache(maxsize=1)
def suites() -> dict[str, Path]:
    """check id -> the suite file of its test function (the grader's own)."""
    found = {}
    for path in sorted(PARTS.glob("*/test_*.py")):
        module = importlib.import_module(f"grader.parts.{path.parent.name}.{path.stem}")
        for value in vars(module).values():
            check_id = getattr(value, "__check_id__", None)
            if isinstance(check_id, str):
                found[check_id] = path
    return found


def check_ids(rubric: rubric_mod.Rubric, checks: str | Iterable[str]) -> tuple[str, ...]:
    """Check ids in the rubric's order, from check ids ("5a.1") and question ids ("5a")."""
    wanted = {checks} if isinstance(checks, str) else set(checks)
    ids = tuple(c.id for c in rubric.checks if c.id in wanted or c.question in wanted)
    unknown = wanted - set(ids) - {c.question for c in rubric.checks if c.id in ids}
    assert not unknown, f"no such check or question in the rubric: {sorted(unknown)}"
    return ids


def grade(submission: Path, checks: str | Iterable[str],
          rubric: rubric_mod.Rubric = CPU_RUBRIC, batched: bool = False,
          fixtures: Mapping[str, Any] | None = None) -> dict[str, Graded]:
    """check id -> Graded, of the given checks or questions on a submission folder, graded
    by their suites under the grader's plugin in this process (batched: each round of the
    checks' probe calls in one sandboxed child). fixtures: values given in place of the
    suites' fixtures of these names (e.g. 2d's `backprop`, its cost gate, as passed). A
    check the grader could not grade (an error, a check left pending) fails the test with
    the grader's note."""
    ids, given = check_ids(rubric, checks), dict(fixtures or {})
    if not batched:
        grading = context(submission, rubric)
        try:
            return _checked(_run(grading, ids, given))
        finally:
            grading.close()
    replayer, batch = _Replayer(submission, rubric), context(submission, rubric)
    try:
        while True:
            replayer.start_round()
            graded = _run(replayer, ids, given)
            if not replayer.asked:
                return _checked(graded)
            replayer.answer(_batched_runs(batch, replayer.asked))
    finally:
        replayer.close()
        batch.close()


def _checked(graded: dict[str, Graded]) -> dict[str, Graded]:
    """graded, once every check in it was graded (else the test fails with the grader's
    note: a grader error, a check left pending)."""
    for check_id, result in graded.items():
        assert result.status not in (ERROR, PENDING), (check_id, result.message,
                                                        result.staff_note)
    return graded


class _Collector:
    """Keeps the selected checks only, and what each check's feedback and runs were."""

    def __init__(self, grading: GradingContext, ids: tuple[str, ...], given: dict):
        self.grading, self.ids, self.given = grading, set(ids), given
        self.feedback: dict = {}
        self.runs: dict[str, tuple[ProbeRun, ...]] = {}
        self.notes: dict[str, tuple[str, ...]] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config, items):
        keep = [i for i in items if getattr(getattr(i, "function", None), "__check_id__",
                                            None) in self.ids]
        drop = [i for i in items if i not in keep]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef, request):
        """A fixture given by the test: its value, the suite's own never run."""
        if fixturedef.argname in self.given:
            value = self.given[fixturedef.argname]
            fixturedef.cached_result = (value, fixturedef.cache_key(request), None)
            return value
        return None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield
        check_id = item.function.__check_id__
        if call.when == "call" or check_id not in self.runs:
            self.feedback[check_id] = item.stash.get(FEEDBACK_KEY, None)
            self.runs[check_id] = tuple(self.grading.probe_runs)
            self.notes[check_id] = tuple(dict.fromkeys(
                n for r in self.grading.probe_runs + self.grading.reused_runs for n in r.notes))


@contextmanager
def _no_plugin_autoload():
    """The suites' pytest loads no installed plugin (xdist, timeout...), as the CLI's."""
    before = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = before


def _run(grading: GradingContext, ids: tuple[str, ...], given: dict) -> dict[str, Graded]:
    """The suites of the checks `ids`, run once under the grader's plugin with `grading`."""
    info = RunInfo(str(grading.submission), grading.rubric.version, grading.rubric.seed,
                   "not recorded", "", False, {}, "cpu", "")
    plugin, collector = ResultsPlugin(grading, None, info), _Collector(grading, ids, given)
    files = sorted({str(suites()[c]) for c in ids})
    args = [*files, "-c", str(PARTS / "pytest.ini"), "--rootdir", str(PARTS), "-s",
            *(f"-pno:{name}" for name in UNUSED_PLUGINS)]
    with _no_plugin_autoload():
        code = pytest.main(args, plugins=[plugin, collector])
    assert code in (0, 1), f"the suites' pytest stopped with exit code {int(code)}"
    graded = {}
    for check_id in ids:
        result, feedback = plugin.results[check_id], collector.feedback.get(check_id)
        fraction = feedback.fraction if feedback is not None else None
        graded[check_id] = Graded(fraction if fraction is not None else 0.0, result.message,
                                  dict(feedback.details) if feedback is not None else {},
                                  result.status, result.score, result.max_score,
                                  collector.runs.get(check_id, ()),
                                  collector.notes.get(check_id, ()), result.staff_note)
    return graded


# -- batched: record the calls, make them together, replay them ----------------------------

class _Asked(pytest.skip.Exception):
    """Stops a suite at a probe call not made yet (a recording round): a skip, which no
    suite catches and whose report pytest makes without a traceback."""


@dataclass(frozen=True)
class _Call:
    """A probe call a suite asked for."""

    check_id: str  # the check running when it was asked (a module fixture's: the first)
    index: int  # the how-manyth call of that check
    probe: Path
    function: str
    for_check: str  # the check whose limits the call asked for
    kwargs: dict


def _batch_key(rubric: rubric_mod.Rubric, call: _Call):
    """Calls with equal keys can share a child: the same probe file, nothing but params and
    inputs of their own, and the same sandbox rules of their questions (None: a call that
    cannot share one)."""
    if set(call.kwargs) - PER_CALL:
        return None
    question = rubric.question(rubric.check(call.for_check).question)
    return (call.probe, question.from_scratch, question.top_level, question.device,
            tuple(question.files))


def _batched_runs(batch: GradingContext, asked: list[_Call]
                  ) -> dict[tuple[str, int], ProbeRun]:
    """(check id, index) -> the run of each asked call: the calls of equal _batch_key made
    together in one child, under the limits of their check with the largest budget."""
    def budget(call):
        check = batch.rubric.check(call.for_check)
        return batch.cost_budget(check, batch.rubric.limits_for(check).wall_seconds)

    groups: dict = {}
    for call in asked:
        groups.setdefault(_batch_key(batch.rubric, call), []).append(call)
    runs = {}
    for key, calls in groups.items():
        done = batch.probe_calls(key[0], [
            ProbeCall(c.function, dict(c.kwargs.get("params") or {}),
                      dict(c.kwargs.get("inputs") or {})) for c in calls],
            max(calls, key=budget).for_check)
        runs.update({(c.check_id, c.index): run for c, run in zip(calls, done)})
    return runs


class _Replayer(GradingContext):
    """Hands each check the runs of its calls made so far, and records the next call it
    asks for (stopping it there); a call that cannot share a child is made at once."""

    def __init__(self, submission: Path, rubric: rubric_mod.Rubric):
        super().__init__(submission, None, public_only=False, full=False, rubric=rubric,
                         progress=False)
        self.made: dict[tuple[str, int], ProbeRun] = {}
        self.asked: list[_Call] = []
        self._counts: dict[str, int] = {}

    def start_round(self) -> None:
        """Counts each check's calls from its first again (a new pass of the suites)."""
        self._counts = {}

    def answer(self, runs: dict[tuple[str, int], ProbeRun]) -> None:
        """Keeps the runs of the recorded calls, for the next round."""
        self.made.update(runs)
        self.asked = []

    def probe(self, probe, function, check_id, **kwargs):
        key = (self.current_check, self._counts.get(self.current_check, 0))
        self._counts[key[0]] = key[1] + 1
        if key not in self.made:
            call = _Call(key[0], key[1], Path(probe), function, check_id, kwargs)
            if _batch_key(self.rubric, call) is not None:
                self.asked.append(call)
                raise _Asked("asked for a probe call")
            # a call that cannot share a child is made now, on its own, and kept
            self.made[key] = GradingContext.probe(self, probe, function, check_id, **kwargs)
            return self.made[key]
        self.probe_runs.append(self.made[key])
        return self.made[key]
