"""The wall-clock budget of a sandboxed call, from one rule scaled from the reference's cost.

    budget = min(ceiling, max(floor_seconds, factor x reference cost) x slowness)

- ceiling: the check's `wall_seconds` in the rubric (per dataset kind), as before;
- reference cost: the seconds the reference's calls of that check took in the sandbox,
  recorded in grader/reference_costs.json by bench/reference_costs.py (child start-up and
  imports included, so a torch check's cost holds its `import torch`);
- slowness: how much slower this machine is than the one that recorded the costs, from a
  fixed numpy workload timed here once per grading (machine_seconds); never below 1;
- factor and floor_seconds: the rubric's [budgets] table.

A training run whose judging check holds a budget rule (budget_factor, ...) gets its own
budget instead (Budget below, from the reference's step timed on the same data just before;
grader/core/engine/training.py); a check with no recorded cost keeps its ceiling. So a call
the reference finishes in 0.2 s waits 15 s at most, not the flat 60 s it once did, and one
hanging function costs a grading seconds per check, not minutes.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

COSTS_PATH = Path(__file__).resolve().parents[2] / "reference_costs.json"


def machine_seconds(repeats: int = 3) -> float:
    """Seconds of a fixed single-threaded numpy workload (elementwise work on 2 M floats),
    best of `repeats`: about 0.05 s on a recent core."""
    x0 = np.linspace(0.0, 1.0, 2_000_000)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        x = x0.copy()
        for _ in range(8):
            x = np.sqrt(x * 1.0001 + 0.5)
        float(x.sum())
        best = min(best, time.perf_counter() - start)
    return best


@dataclass(frozen=True)
class ReferenceCosts:
    """The reference's sandbox seconds per check, and the workload's time where recorded."""

    machine_seconds: float  # machine_seconds() on the recording machine
    checks: Mapping[str, float] = field(default_factory=dict)  # check id -> seconds

    @classmethod
    def load(cls, path: Path = COSTS_PATH) -> "ReferenceCosts":
        """The recorded costs; none (every check keeps its ceiling) when the file is
        missing or malformed."""
        try:
            raw = json.loads(Path(path).read_text())
            return cls(float(raw["machine_seconds"]),
                       {str(k): float(v) for k, v in raw["checks"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(0.0, {})


def call_budget(ceiling: float, cost: float | None, factor: float, floor_seconds: float,
                slowness: float = 1.0) -> float:
    """The rule above: the ceiling when there is no cost or no factor."""
    if cost is None or factor <= 0:
        return ceiling
    return min(ceiling, max(floor_seconds, factor * cost) * max(1.0, slowness))


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

    def pace(self, done: int, spent: float) -> tuple[float, float]:
        """(seconds per iteration of a run that did `done` in `spent` s, times the
        reference's)."""
        per = spent / done
        return per, per / max(self.reference_s, 1e-9)

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
