"""Shared steps of the Part 1 suites: run a probe over cases, judge each case."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import netmath
from .cases import Case, hidden_cases
from ...core.grading import Feedback, GradingContext, conclude, failure_verdict
from ...core.rubric import Check
from ...core.judge import Verdict, fraction_of
from ...core.sandbox import ProbeRun

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of Part 1

DIVERGED = ("training diverged: lower the learning rate, and check that gradients are "
            "averaged over the batch (2d)")


def inputs_of(cases: Sequence[Case]) -> dict[str, np.ndarray]:
    """The arrays of several cases, for one probe call."""
    merged: dict[str, np.ndarray] = {}
    for case in cases:
        merged.update(case.arrays())
    return merged


def run_cases(grading: GradingContext, function: str, check_id: str,
              cases: Sequence[Case]) -> ProbeRun:
    """Runs a Part 1 probe on the cases."""
    return grading.probe(PROBES, function, check_id, inputs=inputs_of(cases),
                         params={"cases": [c.name for c in cases]})


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


def grade_cases(grading: GradingContext, feedback: Feedback, check: Check, function: str,
                cases: Sequence[Case], judge_one: Callable[[ProbeRun, Case], list[str]],
                label: str) -> None:
    """Runs a Part 1 probe on the cases and concludes the check on all of them."""
    seeds = [c.seed for c in cases if c.seed is not None]
    if seeds:
        feedback.record(seeds=seeds)
    run = run_cases(grading, function, check.id, cases)
    conclude(feedback, judge_cases(run, cases, judge_one, label))


def grade_hidden(grading: GradingContext, feedback: Feedback, check: Check, function: str,
                 judge_one: Callable[[ProbeRun, Case], list[str]]) -> None:
    """grade_cases on the check's hidden random networks (count from the rubric)."""
    cases = hidden_cases(grading.rubric.seed, check.id, check.value("cases"))
    grade_cases(grading, feedback, check, function, cases, judge_one, "random network")


def expected_probs(case: Case) -> np.ndarray:
    """The grader's probabilities for a case."""
    return netmath.probabilities(case.params, case.X)
