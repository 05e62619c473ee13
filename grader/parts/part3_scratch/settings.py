"""Reads the SETTINGS dict of network_template.py (or .ipynb) with ast, never running it.

The handout's file declares the settings of the student's best network as one top-level
dict of plain values: SETTINGS = {"sizes": [3072, 100, 10], "optimizer": "adam", ...}.
Values may be numbers, strings, lists of numbers, arithmetic on numbers (32 * 32 * 3), or
names assigned that way before; anything else (a call, a value read from a file) is
refused with its line, so the grader never runs the file to learn them.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from pathlib import Path

from ...core.submission.declared import (evaluate as plain_value, is_number as _number,
                                         parse_source)
from ...core.rubric.spec import Check
from ...core.submission.source import where

MODULE, NAME = "network_template", "SETTINGS"
INPUT_SIZE, NUM_CLASSES = 32 * 32 * 3, 10
OPTIMIZERS = ("sgd", "adam")
# The learning rate of the other optimizer in 5e's Adam-vs-SGD run, when not declared.
ABLATION_ETA = {"sgd": 0.01, "adam": 1e-3}


@dataclass(frozen=True)
class Settings:
    """The student's declared training settings (task 6)."""

    sizes: tuple[int, ...]  # neurons per layer, 3072 first, 10 last
    optimizer: str  # "sgd" or "adam"
    eta: float
    l2: float
    k: float
    epochs: int
    mini_batch_size: int
    ablation_eta: float  # the other optimizer's learning rate (5e)
    notes: tuple[str, ...] = ()  # what was assumed, for the feedback

    def run(self, name: str, rows: int, **changes) -> dict:
        """One training run's JSON-able parameters for probes.train_runs."""
        s = replace(self, **changes)
        return {"name": name, "sizes": list(s.sizes), "optimizer": s.optimizer, "eta": s.eta,
                "l2": s.l2, "k": s.k, "epochs": s.epochs, "mini_batch_size": s.mini_batch_size,
                "rows": rows}

    def describe(self) -> str:
        """'sizes=[3072, 100, 10], optimizer=adam, ...' for the feedback."""
        return (f"sizes={list(self.sizes)}, optimizer={self.optimizer}, eta={self.eta:g}, "
                f"l2={self.l2:g}, k={self.k:g}, epochs={self.epochs}, "
                f"mini_batch_size={self.mini_batch_size}")


def _whole(value) -> bool:
    return _number(value) and value == int(value) and value >= 1


def evaluate(node: ast.AST, known: dict):
    """The value of a plain settings expression (strings and dicts too); ValueError else."""
    return plain_value(node, known, allow_text=True)


def declared(text: str) -> tuple[dict | None, int | None, str]:
    """(the last top-level SETTINGS dict, its line, '') or (None, line, why not)."""
    known, found, line, problem = {}, None, None, f"declares no top-level {NAME} = {{...}}"
    for stmt in ast.parse(text).body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            continue
        target = stmt.targets[0].id
        try:
            value = evaluate(stmt.value, known)
        except (ValueError, RecursionError):
            known.pop(target, None)
            if target == NAME:
                found, line, problem = None, stmt.lineno, (
                    f"the grader cannot read {NAME} without running your code: write it as a "
                    "dict of numbers, strings and lists of numbers")
            continue
        known[target] = value
        if target == NAME:
            found, line, problem = value, stmt.lineno, ""
    if found is not None and not isinstance(found, dict):
        return None, line, f"{NAME} should be a dict, got {type(found).__name__}"
    return found, line, problem


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check."""
    parsed, name, cells, trouble = parse_source(submission, MODULE, declared)
    if parsed is None:
        return None, trouble
    raw, line, problem = parsed
    if raw is None:
        return None, f"{name}" + (f" {where(line, cells)}" if line else "") + f": {problem}"
    required = ("sizes", "optimizer", "eta", "l2", "k", "epochs", "mini_batch_size")
    missing = [key for key in required if key not in raw]
    if missing:
        return None, (f"{NAME} lacks {', '.join(missing)} (keys: {', '.join(required)}, and "
                      "ablation_eta)")
    sizes = raw["sizes"]
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_whole(s) for s in sizes)):
        return None, f"{NAME}['sizes'] should be a list of positive whole numbers, got {sizes!r}"
    if sizes[0] != INPUT_SIZE or sizes[-1] != NUM_CLASSES:
        return None, (f"{NAME}['sizes'] should start with {INPUT_SIZE} (the inputs) and end with "
                      f"{NUM_CLASSES} (the classes); got {sizes}")
    if len(sizes) - 1 > check.value("max_layers") or max(sizes[1:-1] or [1]) > check.value("max_width"):
        return None, (f"{NAME}['sizes'] = {sizes} is above the grader's limits: at most "
                      f"{check.value('max_layers')} weight layers of at most "
                      f"{check.value('max_width')} neurons")
    if raw["optimizer"] not in OPTIMIZERS:
        return None, f"{NAME}['optimizer'] should be \"sgd\" or \"adam\", got {raw['optimizer']!r}"
    for key, top in (("epochs", check.value("max_epochs")),
                     ("mini_batch_size", check.value("max_mini_batch_size"))):
        if not _whole(raw[key]):
            return None, f"{NAME}[{key!r}] should be a positive whole number, got {raw[key]!r}"
        if raw[key] > top:
            return None, f"{NAME}[{key!r}] = {raw[key]} is above the grader's limit of {top}"
    notes = []
    other = "adam" if raw["optimizer"] == "sgd" else "sgd"
    if "ablation_eta" not in raw:
        raw["ablation_eta"] = ABLATION_ETA[other]
        notes.append(f"{NAME} declares no ablation_eta: the {other} run of 5e uses "
                     f"{ABLATION_ETA[other]:g}")
    for key in ("eta", "ablation_eta"):
        if not (_number(raw[key]) and 0 < raw[key] < 10):
            return None, f"{NAME}[{key!r}] should be a number in (0, 10), got {raw[key]!r}"
    for key in ("l2", "k"):
        if not (_number(raw[key]) and 0 <= raw[key] < 100):
            return None, f"{NAME}[{key!r}] should be a number in [0, 100), got {raw[key]!r}"
    return Settings(tuple(int(s) for s in sizes), raw["optimizer"], float(raw["eta"]),
                    float(raw["l2"]), float(raw["k"]), int(raw["epochs"]),
                    int(raw["mini_batch_size"]), float(raw["ablation_eta"]), tuple(notes)), ""
