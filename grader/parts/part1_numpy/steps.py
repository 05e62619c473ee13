"""Shared steps of the Part 1 suites: run a probe over cases, judge each case; the training
budget rule of 3b (Budget)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import netmath
from .cases import Case, hidden_cases
from ...core.engine.context import Feedback, GradingContext, conclude, failure_verdict
from ...core.rubric.spec import Check
from ...core.engine.judge import Verdict, fraction_of
from ...core.sandbox.runner import ProbeRun

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


def ms(seconds: float) -> str:
    """'21.3 ms', '1.85 s'."""
    return f"{1000 * seconds:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


@dataclass(frozen=True)
class Budget:
    """A training run's time budget: the rubric's rule applied to the reference's cost."""

    reference_s: float  # the reference's seconds per iteration with the student's settings
    num_iters: int  # iterations the run is asked for
    factor: float  # budget_factor
    startup: float  # budget_startup_seconds
    ceiling: float  # the run's check's wall_seconds

    @property
    def derived(self) -> float:
        """startup + factor x reference seconds per iteration x iterations."""
        return self.startup + self.factor * self.reference_s * self.num_iters

    @property
    def seconds(self) -> float:
        """The run's wall and CPU time budget: the rule, capped by the ceiling."""
        return min(self.derived, self.ceiling)

    def describe(self) -> str:
        """How the budget was set, in the student's terms."""
        rule = (f"{self.startup:g} s + {self.factor:g} x {ms(self.reference_s)} per iteration "
                f"(the reference's time with your settings) x {self.num_iters} iterations")
        if self.derived > self.ceiling:
            return (f"{self.seconds:.0f} s, the rubric's ceiling ({rule} would be "
                    f"{self.derived:.0f} s)")
        return f"{self.seconds:.0f} s = {rule}"

    def details(self) -> dict:
        """The numbers for results.json."""
        return {"budget_seconds": round(self.seconds, 1),
                "reference_ms_per_iteration": round(1000 * self.reference_s, 3),
                "budget_factor": self.factor, "budget_ceiling_seconds": self.ceiling}
