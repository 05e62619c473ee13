"""Where Part 1's probes are, and one probe call over cases (toy or hidden networks),
judged case by case: what the judge modules share."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .cases import Case, hidden_cases
from ...core.engine.judge import Feedback, Verdict, failure_verdict, fraction_of
from ...core.rubric.spec import Check
from ...core.sandbox.probe_run import ProbeRun

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of Part 1

DIVERGED = ("training diverged: lower the learning rate, and check that gradients are "
            "averaged over the batch (2d)")


def run_cases(grading: GradingContext, function: str, check_id: str,
              cases: Sequence[Case]) -> ProbeRun:
    """Runs a Part 1 probe on the cases, in one sandboxed child."""
    inputs: dict[str, np.ndarray] = {}
    for case in cases:
        inputs.update(case.arrays())
    return grading.probe(PROBES, function, check_id, inputs=inputs,
                         params={"cases": [c.name for c in cases]})


def hidden_of(grading: GradingContext, check: Check) -> list[Case]:
    """The check's hidden random networks (how many: the rubric's `cases`)."""
    return hidden_cases(grading.rubric.seed, check.id, check.value("cases"))


def judge_cases(run: ProbeRun, cases: Sequence[Case],
                judge_one: Callable[[ProbeRun, Case], list[str]], label: str) -> Verdict:
    """Judges each case; all-or-nothing unless some cases pass (then a share)."""
    whole = failure_verdict(run)
    if whole is not None:
        return whole
    problems: list[str] = []
    failed = 0
    for case in cases:
        stopped = failure_verdict(run, case.name)
        found = [stopped.message] if stopped else judge_one(run, case)
        if found:
            failed += 1
            title = label if case.name == "toy" else f"{label} {case.name}"
            seed = f" (seed {case.seed})" if case.seed is not None else ""
            problems.append(f"{title}{seed}: " + found[0])
    if not problems:
        return Verdict(1.0, f"{len(cases)} of {len(cases)} {label}s correct.")
    return Verdict(fraction_of(problems, len(cases)) if len(cases) > 1 else 0.0,
                   "\n".join([f"{len(cases) - failed} of {len(cases)} {label}s correct."]
                             + problems))


def judge_on_cases(grading: GradingContext, feedback: Feedback, check: Check, function: str,
                   cases: Sequence[Case], judge_one: Callable[[ProbeRun, Case], list[str]],
                   label: str) -> Verdict:
    """Runs a Part 1 probe on the cases (their seeds recorded) and judges them all."""
    seeds = [c.seed for c in cases if c.seed is not None]
    if seeds:
        feedback.record(seeds=seeds)
    return judge_cases(run_cases(grading, function, check.id, cases), cases, judge_one, label)
