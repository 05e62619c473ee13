"""What a probe call gives back, as plain data: no sandbox, no pytest (numpy only), so
the students' self-check, which calls probes in its own process, returns the same records.

Failure says why student code gave no result; ProbeRun is one call's outcome; ProbeCall
one call of several served by one child (child.CALLS), and calls_request / part_of turn
such a batch into one request and its one run back into a run per call.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from .child import SEPARATOR  # between a call's prefix and its own keys


@dataclass(frozen=True)
class Failure:
    """Why student code gave no result, in the student's terms."""

    kind: str  # exception, todo, missing, syntax, import, exit, timeout, cpu, memory, ...
    message: str  # one line: what happened
    where: str = ""  # "two_layernet.py:57", the student's own frame, when known
    detail: str = ""  # the student's frames of the traceback, or other context

    def line(self) -> str:
        """The message with its location, for feedback."""
        return f"{self.message} [{self.where}]" if self.where else self.message


@dataclass(frozen=True)
class ProbeRun:
    """The outcome of one sandboxed call."""

    values: Mapping[str, Any]  # key -> np.ndarray or JSON scalar the probe recorded
    failure: Failure | None  # the call as a whole failed (import error, timeout, ...)
    case_failures: Mapping[str, Failure] = field(default_factory=dict)  # per-case failures
    output: str = ""  # the child's stdout and stderr, head and tail kept
    wall_seconds: float = 0.0  # elapsed time of the child, seconds
    cpu_seconds: float = 0.0  # user + system CPU time of the child, seconds
    peak_rss_mb: float = 0.0  # peak resident memory of the child, MiB
    notes: tuple[str, ...] = ()  # files of the submission not copied, and why
    progress: tuple[int, int] | None = None  # the last (done, total) the probe reported
    stuck_importing: str = ""  # the module whose import the call's time limit cut short
    stuck_in: str = ""  # "module:qualname" of the student function a timed-out call was in

    def case_failure(self, case: str) -> Failure | None:
        """The failure of one case: the call's own failure, else the case's."""
        return self.failure or self.case_failures.get(case)


@dataclass(frozen=True)
class ProbeCall:
    """One call of a probe function, for GradingContext.probe_calls."""

    function: str  # the probe function's name
    params: Mapping[str, Any] = field(default_factory=dict)  # JSON-able, over the shared ones
    inputs: Mapping[str, np.ndarray] = field(default_factory=dict)  # its own arrays


def calls_request(calls: list[ProbeCall], params: Mapping[str, Any] | None
                  ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(inputs, params) of ONE request serving several calls: each call's inputs under its
    prefix (its index), the shared params with the list of calls (child._run_calls)."""
    inputs = {f"{i}{SEPARATOR}{k}": v for i, c in enumerate(calls) for k, v in c.inputs.items()}
    shared = {**dict(params or {}), "calls": [
        {"function": c.function, "prefix": str(i), "params": dict(c.params)}
        for i, c in enumerate(calls)]}
    return inputs, shared


def part_of(run: ProbeRun, prefix: str) -> ProbeRun:
    """The ProbeRun of one call of a multi-call run (its values and failures, unprefixed)."""
    head = prefix + SEPARATOR
    values = {k[len(head):]: v for k, v in run.values.items() if k.startswith(head)}
    cases = {k[len(head):]: f for k, f in run.case_failures.items()
             if k.startswith(head) and k != head}
    return replace(run, values=values, case_failures=cases,
                   failure=run.failure or run.case_failures.get(head))
