"""Reads the SETTINGS dict of network_template.py (or .ipynb) with ast, never running it.

The handout's file declares the settings of the student's best network as one top-level
dict of plain values: SETTINGS = {"sizes": [3072, 100, 10], "optimizer": "adam", ...}.
Values may be numbers, strings, lists of numbers, arithmetic on numbers (32 * 32 * 3), or
names assigned that way before; anything else (a call, a value read from a file) is
refused with its line, so the grader never runs the file to learn them.
"""
from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass, replace
from pathlib import Path

from ...core.rubric import Check
from ...core.source import SourceError, notebook_source, where

MODULE, NAME = "network_template", "SETTINGS"
MAX_SOURCE = 1 << 20  # bytes of the file read at most
INPUT_SIZE, NUM_CLASSES = 32 * 32 * 3, 10
OPTIMIZERS = ("sgd", "adam")
# The learning rate of the other optimizer in 5e's Adam-vs-SGD run, when not declared.
ABLATION_ETA = {"sgd": 0.01, "adam": 1e-3}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}


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


def _source(submission: Path) -> tuple[str, str, tuple] | None:
    """(text, file name, notebook cells) of network_template.py, else of the notebook."""
    for suffix in (".py", ".ipynb"):
        path = Path(submission) / (MODULE + suffix)
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as fh:
                raw = fh.read(MAX_SOURCE)
            if suffix == ".py":
                return raw.decode("utf-8", errors="replace"), path.name, ()
            text, cells = notebook_source(raw)
            return text, path.name, cells
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value) -> bool:
    return _number(value) and value == int(value) and value >= 1


def evaluate(node: ast.AST, known: dict):
    """The value of a plain settings expression; ValueError for anything else."""
    if isinstance(node, ast.Constant) and (_number(node.value) or isinstance(node.value, str)):
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = evaluate(node.operand, known)
        if _number(value):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = evaluate(node.left, known), evaluate(node.right, known)
        if _number(left) and _number(right):
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
                raise ValueError("exponent too large")
            try:
                result = _OPS[type(node.op)](left, right)
            except (ZeroDivisionError, OverflowError) as exc:
                raise ValueError(str(exc)) from None
            if _number(result):
                return result
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= 64:
        return [evaluate(e, known) for e in node.elts]
    if isinstance(node, ast.Dict) and len(node.keys) <= 64 and None not in node.keys:
        return {evaluate(k, known): evaluate(v, known) for k, v in zip(node.keys, node.values)}
    raise ValueError("not a plain value")


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
    found = _source(submission)
    if found is None:
        return None, f"{MODULE}.py not found: submit it under the handout's name"
    text, name, cells = found
    try:
        raw, line, problem = declared(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, SourceError) as exc:
        at = getattr(exc, "lineno", None)
        return None, f"{name} does not parse" + (f" ({where(at, cells)})" if at else "")
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
