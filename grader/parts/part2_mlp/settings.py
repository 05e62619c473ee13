"""Reads the module-level settings of ex2_pytorch.py (or .ipynb) with ast, never running it.

The handout's script declares its settings as top-level assignments (`hidden_size = [50]`,
`learning_rate = 1e-3`, `input_size = 32 * 32 * 3`). The grader reads the last top-level
assignment of each name it needs; a value may be a number, a list or tuple of numbers,
arithmetic on them, or a name assigned that way before. Anything else (a call, a
comprehension, a value read from a file) is refused with the line, and a missing setting
takes the handout's value, with a note.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.submission.declared import declared, is_number as _number, parse_source
from ...core.rubric.spec import Check
from ...core.submission.source import where

MODULE = "ex2_pytorch"
# The handout's values (the public starter's): used for a setting the file does not declare.
HANDOUT = {"hidden_size": [50], "num_epochs": 10, "batch_size": 200, "learning_rate": 1e-3,
           "learning_rate_decay": 0.95, "reg": 0.001}


@dataclass(frozen=True)
class Settings:
    """The training settings the grader uses for 4b, as declared (or the handout's)."""

    hidden_size: tuple[int, ...]  # widths of the hidden layers
    num_epochs: int
    batch_size: int
    learning_rate: float
    learning_rate_decay: float
    reg: float  # Adam's weight_decay in the handout
    notes: tuple[str, ...] = ()  # settings not declared, so the handout's value was used

    def params(self) -> dict:
        """The settings as JSON-able probe parameters."""
        return {"hidden_size": list(self.hidden_size), "num_epochs": self.num_epochs,
                "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                "learning_rate_decay": self.learning_rate_decay, "reg": self.reg}

    def describe(self) -> str:
        """'hidden_size=[50], num_epochs=10, ...' for the feedback."""
        return ", ".join(f"{k}={v}" for k, v in self.params().items())


def _whole(value) -> bool:
    return _number(value) and value == int(value) and value >= 1


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check."""
    parsed, name, cells, trouble = parse_source(submission, MODULE, declared)
    if parsed is None:
        return None, trouble
    values, lines, unreadable = parsed
    notes, raw = [], {}
    for key, default in HANDOUT.items():
        if key in unreadable:
            return None, (f"{name} {where(unreadable[key], cells)}: the grader cannot read {key} "
                          "without running your code: write it as a number or a list of numbers "
                          "(arithmetic on numbers is fine)")
        if key in values:
            raw[key] = values[key]
        else:
            raw[key] = default
            notes.append(f"{name} declares no top-level {key}: the handout's {default} is used")
    hidden = raw["hidden_size"]
    if _whole(hidden):
        hidden = [hidden]
    if not (isinstance(hidden, list) and hidden and all(_whole(w) for w in hidden)):
        return None, f"hidden_size should be a list of positive whole numbers, got {hidden!r}"
    limits = {"num_epochs": check.value("max_epochs"), "batch_size": check.value("max_batch_size")}
    for key, top in limits.items():
        if not _whole(raw[key]):
            return None, f"{key} should be a positive whole number, got {raw[key]!r}"
        if raw[key] > top:
            return None, f"{key} = {raw[key]} is above the grader's limit of {top}"
    if len(hidden) > check.value("max_hidden_layers") or max(hidden) > check.value("max_width"):
        return None, (f"hidden_size = {hidden} is above the grader's limits: at most "
                      f"{check.value('max_hidden_layers')} layers of at most "
                      f"{check.value('max_width')} units")
    for key in ("learning_rate", "learning_rate_decay", "reg"):
        if not _number(raw[key]):
            return None, f"{key} should be a number, got {raw[key]!r}"
    if not 0 < raw["learning_rate"] < 10:
        return None, f"learning_rate should be in (0, 10), got {raw['learning_rate']}"
    if not 0 < raw["learning_rate_decay"] <= 1:
        return None, f"learning_rate_decay should be in (0, 1], got {raw['learning_rate_decay']}"
    if raw["reg"] < 0:
        return None, f"reg should be >= 0, got {raw['reg']}"
    return Settings(tuple(int(w) for w in hidden), int(raw["num_epochs"]), int(raw["batch_size"]),
                    float(raw["learning_rate"]), float(raw["learning_rate_decay"]),
                    float(raw["reg"]), tuple(notes)), ""


def declared_plain(submission: Path) -> dict:
    """Every top-level setting of the submitted file the grader can read ({} when none)."""
    parsed = parse_source(submission, MODULE, declared)[0]
    return parsed[0] if parsed else {}


def declared_hidden_size(submission: Path) -> list[int] | None:
    """The file's top-level hidden_size as a list of widths, when it declares one plainly
    (4a uses it to recognise layers built from the global instead of the argument)."""
    hidden = declared_plain(submission).get("hidden_size")
    if _whole(hidden):
        return [int(hidden)]
    if isinstance(hidden, list) and hidden and all(_whole(w) for w in hidden):
        return [int(w) for w in hidden]
    return None


def declared_batch_size(submission: Path) -> int:
    """The file's top-level batch_size when it declares a plain one, else the handout's."""
    value = declared_plain(submission).get("batch_size")
    return int(value) if _whole(value) and value <= 100_000 else HANDOUT["batch_size"]
