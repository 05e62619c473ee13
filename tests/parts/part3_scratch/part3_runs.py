"""In-process runs of Part 3's checks 5a-5c for the tests: the suite functions called with
a grading context of their own, every probe call of a submission served by ONE sandboxed
child (GradingContext.probe_calls), so a mutant costs one child, not six.

How: the suites run once against a context that only records the probe calls they ask
for; the calls then run together in one child; the suites run again against a context
that hands each its own result.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.core.rubric import spec as rubric_mod
from grader.core.engine.context import Feedback, GradingContext, ProbeCall
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


class _Asked(Exception):
    """Stops a suite once it asked for its probe call (the recording pass)."""


class _Recorder(GradingContext):
    def __init__(self, submission: Path):
        super().__init__(submission, None, public_only=False, full=False, rubric=RUBRIC,
                         progress=False)
        self.calls: list[ProbeCall] = []

    def probe(self, probe, function, check_id, **kwargs):
        self.calls.append(ProbeCall(function, dict(kwargs.get("params") or {}),
                                    dict(kwargs.get("inputs") or {})))
        raise _Asked


class _Replayer(GradingContext):
    def __init__(self, submission: Path, runs: list):
        super().__init__(submission, None, public_only=False, full=False, rubric=RUBRIC,
                         progress=False)
        self.runs = list(runs)

    def probe(self, probe, function, check_id, **kwargs):
        return self.runs.pop(0)


def _run_suite(context: GradingContext, check_id: str) -> Feedback:
    feedback = Feedback()
    try:
        SUITES[check_id](context, RUBRIC.check(check_id), feedback)
    except pytest.fail.Exception:
        pass
    return feedback


def grade_checks(submission: Path, check_ids=tuple(SUITES)) -> dict[str, Graded]:
    """The given checks of 5a-5c on a submission folder, all in one sandboxed child."""
    recorder = _Recorder(submission)
    for check_id in check_ids:
        try:
            _run_suite(recorder, check_id)
        except _Asked:
            pass
    assert len(recorder.calls) == len(check_ids), "every suite makes one probe call"
    from grader.parts.part3_scratch.probing import PROBES
    runs = GradingContext(submission, None, public_only=False, full=False, rubric=RUBRIC,
                          progress=False).probe_calls(PROBES, recorder.calls, check_ids[0])
    graded = {}
    for check_id, run in zip(check_ids, runs):
        feedback = _run_suite(_Replayer(submission, [run]), check_id)
        graded[check_id] = Graded(feedback.fraction if feedback.fraction is not None else 0.0,
                                  "\n".join(feedback.lines), feedback.details)
    return graded
