"""Reads the student's declared 3b hyperparameters from hyperparams.py, without running it.

The file must assign a literal dict to BEST_HYPERPARAMS; it is parsed with ast and
ast.literal_eval, so nothing in it executes.
"""
from __future__ import annotations

import ast
import math
from pathlib import Path

from ...core.rubric.spec import Check
from .staticcheck import read_source

FILENAME = "hyperparams.py"
NAME = "BEST_HYPERPARAMS"
INTS = ("hidden_size", "num_iters", "batch_size")
FLOATS = ("learning_rate", "learning_rate_decay", "reg")
OPTIONAL = ("std",)


def read(submission: Path, check: Check) -> tuple[dict | None, str]:
    """(hyperparameters, '') or (None, what is wrong and how to fix it)."""
    source = read_source(submission, FILENAME)
    if source is None:
        return None, f"{FILENAME} not found: submit it with {NAME} = {{...}} (see the handout)"
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return None, f"{FILENAME} does not parse: {exc.msg} (line {exc.lineno})"
    nodes = [n.value for n in tree.body if isinstance(n, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == NAME for t in n.targets)]
    if not nodes:
        return None, f"{FILENAME} assigns no {NAME}"
    try:
        raw = ast.literal_eval(nodes[-1])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None, (f"{NAME} must be a literal dict of numbers (no names, calls or "
                      "arithmetic): the grader reads it without running your code")
    if not isinstance(raw, dict):
        return None, f"{NAME} should be a dict, got {type(raw).__name__}"
    return _validate(raw, check)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _validate(raw: dict, check: Check) -> tuple[dict | None, str]:
    missing = [k for k in INTS + FLOATS if k not in raw]
    unknown = [str(k) for k in raw if k not in INTS + FLOATS + OPTIONAL]
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else [])
        return None, f"{NAME}: {'; '.join(parts)} (keys: {', '.join(INTS + FLOATS)}; optional std)"
    hp: dict = {}
    for key in INTS:
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) \
                or value != int(value) or value < 1:
            return None, f"{NAME}[{key!r}] should be a positive whole number, got {value!r}"
        hp[key] = int(value)
    for key in FLOATS + tuple(k for k in OPTIONAL if k in raw):
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            return None, f"{NAME}[{key!r}] should be a finite number, got {value!r}"
        hp[key] = float(value)
    bounds = {"hidden_size": check.value("max_hidden_size"),
              "num_iters": check.value("max_num_iters"),
              "batch_size": check.value("max_batch_size")}
    for key, top in bounds.items():
        if hp[key] > top:
            return None, f"{NAME}[{key!r}] = {hp[key]} is above the grader's limit of {top}"
    if not 0 < hp["learning_rate"] < 10:
        return None, f"learning_rate should be in (0, 10), got {hp['learning_rate']}"
    if not 0 < hp["learning_rate_decay"] <= 1:
        return None, f"learning_rate_decay should be in (0, 1], got {hp['learning_rate_decay']}"
    if hp["reg"] < 0 or hp.get("std", 1.0) <= 0:
        return None, "reg must be >= 0 and std > 0"
    return hp, ""
