"""Reads the training settings of main.py (or main.ipynb) with ast, never running it.

The course's main.py declares its settings as one dict literal at the top level,
`opt_dict = {'solver': 'Adam', 'tbs': 64, ...}`, then loads its data and trains. The
grader reads the last top-level `opt_dict = {...}` and any later top-level
`opt_dict['key'] = literal`; each value must be a literal (number, string, True/False,
None, a list or tuple of those). Values the grader cannot read without running code
('stats': stats) are left out, and refused when sup_trn needs them (USED). A missing
setting takes the handout's value, with a note.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path

from ...core.submission.declared import parse_source
from ...core.rubric.spec import Check
from ...core.submission.source import where

MODULE, NAME = "main", "opt_dict"
# The handout's values (reference/main.py): used for a setting opt_dict does not declare.
HANDOUT = {"solver": "Adam", "tbs": 64, "vbs": 1000, "num_epochs": 8, "lr": 2e-3,
           "wd": 1e-5, "momentum": 0.9, "lr_sch": [6], "lr_factor": 0.1, "coll_cycle": 10,
           "display_freq": 100, "val_cycle": 1000}
USED = tuple(HANDOUT)
# set by the grader, whatever main.py says
GRADER_KEYS = ("gpu", "gpu_idx", "trn_size", "val_size", "inp_dim", "out_dim")


@dataclass(frozen=True)
class Settings:
    """opt_dict as the grader uses it for 6c (the handout's values filling the gaps)."""

    values: dict  # JSON-able: every readable key of opt_dict, the handout's for USED gaps
    notes: tuple[str, ...] = ()  # settings not declared (the handout's value used), and
    #                              keys left out because they are not plain data

    @property
    def tbs(self) -> int:
        return int(self.values["tbs"])

    @property
    def num_epochs(self) -> int:
        return int(self.values["num_epochs"])

    def describe(self) -> str:
        """"solver='Adam', tbs=64, ..." for the feedback (the keys sup_trn needs)."""
        return ", ".join(f"{k}={self.values[k]!r}" for k in USED)


def _plain(value):
    """value as JSON-able data (tuples become lists); ValueError when it is not plain."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError("not finite")
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 64:
        return [_plain(v) for v in value]
    raise ValueError("not plain data")


def declared(text: str) -> tuple[dict | None, dict, dict]:
    """(opt_dict's readable entries or None when there is no top-level opt_dict literal,
    {key: line}, {key: line of a value that is not plain data})."""
    values, lines, unreadable = None, {}, {}
    for stmt in ast.parse(text).body:
        if not isinstance(stmt, ast.Assign):
            continue
        for target in stmt.targets:
            if isinstance(target, ast.Name) and target.id == NAME:
                if not isinstance(stmt.value, ast.Dict):
                    values, lines, unreadable = None, {}, {}
                    continue
                values, lines, unreadable = {}, {}, {}
                for key, node in zip(stmt.value.keys, stmt.value.values):
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        _take(values, lines, unreadable, key.value, node)
            elif (values is not None and isinstance(target, ast.Subscript)
                  and isinstance(target.value, ast.Name) and target.value.id == NAME
                  and isinstance(target.slice, ast.Constant)
                  and isinstance(target.slice.value, str)):
                _take(values, lines, unreadable, target.slice.value, stmt.value)
    return values, lines, unreadable


def _take(values: dict, lines: dict, unreadable: dict, key: str, node: ast.AST) -> None:
    try:
        values[key] = _plain(ast.literal_eval(node))
        unreadable.pop(key, None)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        values.pop(key, None)
        unreadable[key] = node.lineno
    lines[key] = node.lineno


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check."""
    parsed, name, cells, trouble = parse_source(submission, MODULE, declared)
    if parsed is None:
        return None, trouble
    values, _, unreadable = parsed
    if values is None:
        return None, (f"{name} declares no top-level {NAME} = {{...}}: the grader reads the "
                      "training settings from it without running your code (see the "
                      "handout's main.py)")
    notes = []
    for key in USED:
        if key in unreadable:
            return None, (f"{name} {where(unreadable[key], cells)}: the grader cannot read "
                          f"{NAME}[{key!r}] without running your code: write it as a "
                          "literal (a number, a string, a list of numbers)")
        if key not in values:
            values[key] = HANDOUT[key]
            notes.append(f"{NAME} has no {key!r}: the handout's {HANDOUT[key]!r} is used")
    if unreadable:
        notes.append(f"{NAME} entries left out (not plain data): "
                     + ", ".join(sorted(unreadable)))
    for key in GRADER_KEYS:
        values.pop(key, None)
    if isinstance(values["lr_sch"], int):
        values["lr_sch"] = [values["lr_sch"]]
    limits = {"num_epochs": check.value("max_epochs"), "tbs": check.value("max_batch_size"),
              "vbs": check.value("max_batch_size")}
    for key, top in limits.items():
        if not _whole(values[key]):
            return None, f"{NAME}[{key!r}] should be a positive whole number, got {values[key]!r}"
        if values[key] > top:
            return None, f"{NAME}[{key!r}] = {values[key]} is above the grader's limit of {top}"
    for key in ("coll_cycle", "display_freq", "val_cycle"):
        if not _whole(values[key]):
            return None, f"{NAME}[{key!r}] should be a positive whole number, got {values[key]!r}"
    if not isinstance(values["solver"], str):
        return None, f"{NAME}['solver'] should be a string ('Adam' or 'SGDM'), got {values['solver']!r}"
    if not (_number(values["lr"]) and 0 < values["lr"] < 10):
        return None, f"{NAME}['lr'] should be a number in (0, 10), got {values['lr']!r}"
    for key in ("wd", "momentum", "lr_factor"):
        if not (_number(values[key]) and values[key] >= 0):
            return None, f"{NAME}[{key!r}] should be a number >= 0, got {values[key]!r}"
    if not (isinstance(values["lr_sch"], list)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                    for v in values["lr_sch"])):
        return None, f"{NAME}['lr_sch'] should be a list of epoch numbers, got {values['lr_sch']!r}"
    return Settings(values, tuple(notes)), ""
