"""Numeric answers a student states in a plain-data file, and their comparison.

Hand-computed answers (a backpropagation worked by hand, parameter counts and shapes of a
network) are submitted as a Python file of top-level assignments, `v = [4, 0, 11]`,
`shape_conv = (20, 24, 24)`, each a number, a (nested) list or tuple of numbers, or
arithmetic on numbers; `None` marks an answer left blank. The file is read with ast
(grader/core/submission/declared.py), never run, so a question reads it in the grader's own process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .declared import declared, read_source
from .source import SourceError, where


@dataclass(frozen=True)
class Answers:
    """What an answers file states."""

    file: str  # the file's name, for messages
    values: dict = field(default_factory=dict)  # name -> number, nested list, or None (blank)
    lines: dict = field(default_factory=dict)  # name -> where it is assigned ("line 4")
    problems: dict = field(default_factory=dict)  # name -> why its value is not plain data
    file_problem: str = ""  # the whole file unreadable (missing, does not parse), else ''

    def stated(self, name: str):
        """The value stated for `name` (None when blank, absent or unreadable)."""
        return self.values.get(name)

    def problem(self, name: str) -> str:
        """'' when `name` holds a plain value (or None); else what is wrong, for the student."""
        if self.file_problem:
            return self.file_problem
        if name in self.problems:
            return self.problems[name]
        if name not in self.values:
            return f"{self.file} assigns no {name}: add `{name} = ...` at top level"
        return ""


def read_answers(submission: Path, module: str) -> Answers:
    """The answers `module`.py (or `module`.ipynb) of the submission states."""
    try:
        found = read_source(submission, module)
    except SourceError as exc:
        return Answers(f"{module}.ipynb", file_problem=f"{module}.ipynb does not open: {exc}")
    if found is None:
        return Answers(f"{module}.py", file_problem=(
            f"{module}.py is missing from your submission: submit the answers file the handout "
            "gives, with each answer filled in"))
    text, name, cells = found
    try:
        values, lines, unreadable = declared(text, allow_none=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        return Answers(name, file_problem=(
            f"{name} does not parse" + (f" ({where(line, cells)})" if line else "")
            + ": it must hold Python assignments only, like `v = [4, 0, 11]`"))
    problems = {key: (f"{name} {where(line, cells)}: the grader reads {key} without running "
                      "your file, so it must be a number or a list of numbers (arithmetic on "
                      "numbers is fine; no names of functions, no imports)")
                for key, line in unreadable.items()}
    return Answers(name, values, {k: where(v, cells) for k, v in lines.items()}, problems)


def _numbers(value) -> np.ndarray | None:
    """A stated value as a float array, or None when some entry is not a number."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if array.dtype == object or not np.all(np.isfinite(array)):
        return None
    return array


def _show(x) -> str:
    return f"{float(x):.6g}"


def wrong_entries(label: str, got, expected, rtol: float = 1e-6, atol: float = 1e-9,
                  reveal: bool = False) -> list[str]:
    """One line per wrong entry of a stated answer ([] when all are right).

    label: how the student knows the answer ("dC/dW(2)"); got: the stated value (a number, a
    nested list, or None when left blank); expected: a number or array of the true shape.
    An entry is right within atol + rtol * |expected|. reveal: name the expected values
    (after the due date) or only say which entries are wrong (before it).
    """
    truth = np.asarray(expected, dtype=np.float64)
    shape = ("a number" if truth.ndim == 0 else
             f"{truth.size} number{'s' if truth.size != 1 else ''}, shaped {list(truth.shape)}")
    if got is None:
        return [f"{label}: not answered (still None); expected {shape}"]
    stated = _numbers(got)
    if stated is None:
        return [f"{label}: {str(got)[:80]} is not {shape}"]
    if stated.shape != truth.shape:
        if stated.size == truth.size and (truth.ndim <= 1 or stated.ndim <= 1):
            stated = stated.reshape(truth.shape)  # a row written as a column, or flat
        else:
            return [f"{label}: expected {shape}, got shape {list(stated.shape)}"
                    + (f" ({truth.tolist()})" if reveal else "")]
    wrong = np.abs(stated - truth) > atol + rtol * np.abs(truth)
    lines = []
    for index in zip(*np.nonzero(wrong)) if truth.ndim else ([()] if wrong else []):
        at = "" if truth.ndim == 0 else "[" + ", ".join(str(int(i)) for i in index) + "]"
        lines.append(f"{label}{at}: got {_show(stated[index])}"
                     + (f", expected {_show(truth[index])}" if reveal else ", which is not right"))
    return lines

