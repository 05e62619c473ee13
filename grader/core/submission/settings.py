"""Training settings a submission declares, read with ast (never run) against a part's spec.

A part declares its settings once, as a SettingsSpec: the file, where the settings sit
(top-level names, or the keys of one top-level dict, `SETTINGS = {...}` and later
`SETTINGS["eta"] = ...`), and per setting its kind, the handout's value and its bounds.
read_settings() refuses what the grader cannot use, naming the setting, what was expected
and what was got, and notes what it assumed: the handout's value for a setting left out,
dict entries that are not plain data, and a setting assigned more than once (the last
assignment counts, as when the file runs; the note says where the others are).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from ..rubric.spec import Check, is_whole
from .declared import assignments, is_number, parse_source
from .source import where

REQUIRED, OPTIONAL = object(), object()  # defaults of a setting with no handout value
MAX_LISTED = 5  # other assignments of a setting a note lists
FORMS = {"whole": "a whole number", "number": "a number", "widths": "a list of whole numbers",
         "steps": "a list of epoch numbers", "text": "a string"}  # the kinds, as written


@dataclass(frozen=True)
class Setting:
    """One declared setting: its name, its kind (FORMS), the handout's value, its bounds."""

    name: str
    kind: str = "number"  # whole: >= 1; steps: whole numbers >= 0; widths: whole numbers >= 1
    default: object = REQUIRED  # the handout's value (used, with a note), REQUIRED or OPTIONAL
    limit: str | tuple[str, str] = ""  # the check's upper limit; widths: (layers, width)
    within: str = ""  # numbers: "(0, 10)", "(0, 1]", "[0, 100)", ">= 0" or "> 0"
    choices: tuple[str, ...] = ()  # text: the strings allowed (any when empty)
    ends: tuple[int, int] | tuple = ()  # widths: (inputs, outputs) the list starts and ends with


@dataclass(frozen=True)
class SettingsSpec:
    """Where a part's settings are declared, and what each one must be."""

    module: str  # the file, without .py or .ipynb
    settings: tuple[Setting, ...]
    container: str = ""  # the top-level dict holding them; "" for top-level names
    closed: bool = False  # refuse keys of the dict the spec does not name

    def defaults(self) -> dict:
        """{name: the handout's value} of the settings that have one."""
        return {s.name: s.default for s in self.settings if s.default not in (REQUIRED, OPTIONAL)}


@dataclass(frozen=True)
class Declared:
    """The settings as the grader uses them, and what it assumed to get them."""

    values: dict  # name -> int, float, str or list of ints, in the spec's order
    notes: tuple[str, ...] = ()  # for the feedback: defaults used, entries left out, repeats
    extra: dict = field(default_factory=dict)  # the dict's other plain entries (JSON-able)


class SettingsRecord:
    """A part's frozen dataclass of settings: the spec's names as fields, then `notes`."""

    def params(self) -> dict:
        """The settings as JSON-able probe parameters (every field but notes)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self) if f.name != "notes"}

    def describe(self) -> str:
        """'hidden_size=[50], num_epochs=10, ...' for the feedback."""
        return ", ".join(f"{k}={v}" for k, v in self.params().items())

    @classmethod
    def of(cls, declared: Declared):
        """The record of what read_settings returned (lists become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in declared.values.items()}, notes=declared.notes)


def declared_values(submission: Path, module: str) -> dict:
    """Every plain top-level value of `module`.py (or .ipynb) ({} when none can be read)."""
    parsed = parse_source(submission, module, lambda text: assignments(text, allow_text=True))[0]
    return {k: a.value for k, a in parsed[0].items() if a.readable} if parsed else {}


def read_settings(submission: Path, spec: SettingsSpec, check: Check
                  ) -> tuple[Declared | None, str]:
    """(the settings, '') or (None, what is wrong and how to fix it); limits from `check`."""
    parsed, file, cells, problem = parse_source(
        submission, spec.module, lambda text: assignments(text, spec.container, allow_text=True))
    if parsed is None:
        return None, problem
    found, whole, box = *parsed, spec.container
    if box and whole is None:
        return None, (f"{file} declares no top-level {box} = {{...}}: the grader reads the "
                      "training settings from it without running your code (see the "
                      f"handout's {spec.module}.py)")
    if box and not isinstance(whole.value, dict):
        return None, f"{file} {where(whole.lines[-1], cells)}: " + (
            f"{box} should be a dict, got {type(whole.value).__name__}" if whole.readable else
            f"the grader cannot read {box} without running your code: write it as a literal "
            "dict of numbers, strings and lists of numbers (arithmetic on numbers is fine)")
    named = [s.name for s in spec.settings]
    missing = [s.name for s in spec.settings if s.default is REQUIRED and s.name not in found]
    unknown = [k for k in found if k not in named] if spec.closed else []
    if missing or unknown:
        optional = [s.name for s in spec.settings if s.default is OPTIONAL]
        return None, (f"{box}: " + "; ".join(
            [f"{what} {', '.join(keys)}" for what, keys in (("missing", missing),
                                                             ("unknown", unknown)) if keys])
            + f" (keys: {', '.join(k for k in named if k not in optional)}"
            + (f"; optional {', '.join(optional)}" if optional else "") + ")")
    values = {}
    notes = [_repeated(box, "", whole.lines, file, cells)] if box and len(whole.lines) > 1 else []
    for s in spec.settings:
        label, got = (f"{box}[{s.name!r}]" if box else s.name), found.get(s.name)
        if got is None and s.default is not OPTIONAL:
            values[s.name] = list(s.default) if isinstance(s.default, list) else s.default
            notes.append(f"{box} has no {s.name!r}: the handout's {s.default!r} is used" if box
                         else f"{file} declares no top-level {s.name}: the handout's "
                              f"{s.default!r} is used")
        elif got is not None and not got.readable:
            return None, (f"{file} {where(got.lines[-1], cells)}: the grader cannot read "
                          f"{label} without running your code: write it as {FORMS[s.kind]}"
                          + ("" if s.kind == "text" else " (arithmetic on numbers is fine)"))
        elif got is not None:
            values[s.name], problem = _checked(s, got.value, label, check)
            if problem:
                return None, problem
            if len(got.lines) > 1:
                notes.append(_repeated(label, f" = {values[s.name]!r}", got.lines, file, cells))
    others = {k: a for k, a in found.items() if box and k not in named}
    left_out = sorted(k for k, a in others.items() if not a.readable)
    if left_out:
        notes.append(f"{box} entries left out (not plain data): {', '.join(left_out)}")
    return Declared(values, tuple(notes), {k: a.value for k, a in others.items() if a.readable}), ""


def _repeated(label: str, shown: str, lines: tuple, file: str, cells: tuple) -> str:
    """The note on a setting assigned more than once: which assignment counts, where the
    others are, and what to do."""
    others = "; ".join(where(line, cells) for line in lines[:-1][:MAX_LISTED]) + (
        f" and {len(lines) - 1 - MAX_LISTED} more" if len(lines) - 1 > MAX_LISTED else "")
    return (f"{label} is assigned {len(lines)} times in {file}, expected once: the grader uses "
            f"the last one{f', {label}{shown}' if shown else ''} ({where(lines[-1], cells)}), "
            f"not {others}. Hint: keep one assignment of each setting: a later one, such as a "
            "quick test in a later cell, overrides those above it")


def _inside(value, within: str) -> bool:
    """Whether a number is in an interval "(0, 1]" or meets a bound ">= 0" ("": any)."""
    if within[:1] in ("(", "["):
        low, high = (float(x) for x in within[1:-1].split(","))
        return ((low <= value) if within[0] == "[" else (low < value)) and (
            (value <= high) if within[-1] == "]" else (value < high))
    op, bound = within.split() if within else (">", "-inf")
    return value >= float(bound) if op == ">=" else value > float(bound)


def _checked(s: Setting, value, label: str, check: Check) -> tuple[object, str]:
    """(the value as the grader uses it, '') or (None, what is wrong with it)."""
    if s.kind == "text":
        if isinstance(value, str) and (not s.choices or value in s.choices):
            return value, ""
        wanted = " or ".join(f'"{c}"' for c in s.choices) or "a string"
        return None, f"{label} should be {wanted}, got {value!r}"
    if s.kind == "number":
        if is_number(value) and _inside(value, s.within):
            return float(value), ""
        words = "" if not s.within else f" in {s.within}" if s.within[0] in "([" else f" {s.within}"
        return None, f"{label} should be a number{words}, got {value!r}"
    if s.kind == "whole":
        if not is_whole(value):
            return None, f"{label} should be a positive whole number, got {value!r}"
        if s.limit and value > check.value(s.limit):
            return None, f"{label} = {value} is above the grader's limit of {check.value(s.limit)}"
        return int(value), ""
    least = 0 if s.kind == "steps" else 1
    listed = [value] if is_whole(value, least) else value
    if not (isinstance(listed, list) and all(is_whole(v, least) for v in listed)
            and len(listed) >= least + bool(s.ends)):  # widths: at least one (two with ends)
        wanted = "epoch numbers" if s.kind == "steps" else "positive whole numbers"
        return None, f"{label} should be a list of {wanted}, got {listed!r}"
    if s.ends and (listed[0], listed[-1]) != tuple(s.ends):
        return None, (f"{label} should start with {s.ends[0]} (the inputs) and end with "
                      f"{s.ends[1]} (the classes); got {listed}")
    if s.limit:
        layers, width = (check.value(name) for name in s.limit)
        if len(listed) - bool(s.ends) > layers or max(listed[1:-1] if s.ends else listed,
                                                      default=1) > width:
            words = ("weight layers", "neurons") if s.ends else ("layers", "units")
            return None, (f"{label} = {listed} is above the grader's limits: at most {layers} "
                          f"{words[0]} of at most {width} {words[1]}")
    return [int(v) for v in listed], ""
