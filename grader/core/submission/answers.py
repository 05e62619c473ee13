"""Numeric answers a student states in a plain-data file, and their comparison.

Hand-computed answers (a backpropagation worked by hand, parameter counts and shapes of a
network) are submitted as a Python file of top-level assignments, `v = [4, 0, 11]`,
`shape_conv = (20, 24, 24)`, each a number, a (nested) list or tuple of numbers, or
arithmetic on numbers; `None` marks an answer left blank. The file is read with ast
(declared.py), never run, so a question reads it in the grader's own process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .declared import assignments, parse_source
from .source import where


@dataclass(frozen=True)
class Answers:
    """What an answers file states."""

    file: str  # the file's name, for messages
    values: dict = field(default_factory=dict)  # name -> number, nested list, or None (blank)
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


@dataclass(frozen=True)
class Answer:
    """One asked-for value: its name in the answers file, how the handout calls it, the truth."""

    name: str
    label: str
    expected: object  # a number or a (nested) list of numbers


def read_answers(submission: Path, module: str) -> Answers:
    """The answers `module`.py (or `module`.ipynb) of the submission states."""
    parsed, name, cells, problem = parse_source(
        submission, module, lambda text: assignments(text, allow_none=True)[0],
        missing=(f"{module}.py is missing from your submission: submit the answers file the "
                 "handout gives, with each answer filled in"),
        unparsable=": it must hold Python assignments only, like `v = [4, 0, 11]`")
    if parsed is None:
        return Answers(name, file_problem=problem)
    problems = {key: (f"{name} {where(a.lines[-1], cells)}: the grader reads {key} without "
                      "running your file, so it must be a number or a list of numbers "
                      "(arithmetic on numbers is fine; no names of functions, no imports)")
                for key, a in parsed.items() if not a.readable}
    return Answers(name, {k: a.value for k, a in parsed.items() if a.readable}, problems)


def judge_answers(answers: Answers, asked: list[Answer], rtol: float, atol: float,
                  reveal: bool) -> tuple[dict[str, bool], list[str]]:
    """({name: right?} per asked answer, one line per wrong entry or unusable answer, or
    the file's problem once); entries compared as wrong_entries does."""
    if answers.file_problem:
        return {a.name: False for a in asked}, [answers.file_problem]
    right, lines = {}, []
    for a in asked:
        problem = answers.problem(a.name)
        found = [f"{a.label}: {problem}"] if problem else wrong_entries(
            a.label, answers.stated(a.name), a.expected, rtol, atol, reveal)
        right[a.name] = not found
        lines += found
    return right, lines


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

