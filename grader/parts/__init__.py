"""The assignment's parts, one package each, holding everything that part knows.

A part's folder holds its suites (`test_<question>_*.py`, one test per rubric check), the
probes that run next to student code in the sandbox (`probes.py`), the grader's own math
for its expected values, its cases and hints, and the files its students' archive ships.
The core (grader/core/) names no question: it finds the parts here.

A part's `__init__.py` may declare:
    PUBLIC_MODULES: the files of its folder the students' archive ships, as the grader's
                  package has them (its public checks `selfcheck.py`, the probes and judges
                  they run; no solution; the bundle reads this literal as data and audits
                  the files).
"""
from __future__ import annotations

from pathlib import Path

PARTS_DIR = Path(__file__).resolve().parent


def part_names() -> list[str]:
    """The parts' package names (folders holding an __init__.py), sorted."""
    return sorted(p.name for p in PARTS_DIR.iterdir()
                  if p.is_dir() and (p / "__init__.py").is_file())

