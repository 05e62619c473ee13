"""Reads the training settings of convnet_mnist.py (or .ipynb) with ast, never running it.

The handout's file declares num_epochs, batch_size and learning_rate as top-level
assignments (grader/core/submission/declared.py says what a plain value is). A setting the file does
not declare takes the handout's value, with a note; one the grader cannot read without
running code is refused with its line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.submission.declared import declared, is_number, parse_source
from ...core.rubric.spec import Check
from ...core.submission.source import where

MODULE = "convnet_mnist"
# The handout's values (the template's): used for a setting the file does not declare.
HANDOUT = {"num_epochs": 5, "batch_size": 64, "learning_rate": 1e-3}


@dataclass(frozen=True)
class Settings:
    """The training settings the grader uses for 7d, as declared (or the handout's)."""

    num_epochs: int
    batch_size: int
    learning_rate: float
    notes: tuple[str, ...] = ()  # settings not declared, so the handout's value was used

    def params(self) -> dict:
        """The settings as JSON-able probe parameters."""
        return {"num_epochs": self.num_epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate}

    def describe(self) -> str:
        """'num_epochs=5, batch_size=64, learning_rate=0.001' for the feedback."""
        return ", ".join(f"{k}={v}" for k, v in self.params().items())


def _whole(value) -> bool:
    return is_number(value) and value == int(value) and value >= 1


def declared_settings(submission: Path) -> dict:
    """Every plain top-level setting of the submitted file ({} when none can be read)."""
    parsed = parse_source(submission, MODULE, declared)[0]
    return parsed[0] if parsed else {}


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check
    (max_epochs, max_batch_size)."""
    parsed, name, cells, trouble = parse_source(submission, MODULE, declared)
    if parsed is None:
        return None, trouble
    values, _, unreadable = parsed
    raw, notes = {}, []
    for key, default in HANDOUT.items():
        if key in unreadable:
            return None, (f"{name} {where(unreadable[key], cells)}: the grader cannot read {key} "
                          "without running your code: write it as a number (arithmetic on "
                          "numbers is fine)")
        if key in values:
            raw[key] = values[key]
        else:
            raw[key] = default
            notes.append(f"{name} declares no top-level {key}: the handout's {default} is used")
    for key, top in (("num_epochs", check.value("max_epochs")),
                     ("batch_size", check.value("max_batch_size"))):
        if not _whole(raw[key]):
            return None, f"{key} should be a positive whole number, got {raw[key]!r}"
        if raw[key] > top:
            return None, f"{key} = {raw[key]} is above the grader's limit of {top}"
    if not (is_number(raw["learning_rate"]) and 0 < raw["learning_rate"] < 10):
        return None, f"learning_rate should be a number in (0, 10), got {raw['learning_rate']!r}"
    return Settings(int(raw["num_epochs"]), int(raw["batch_size"]),
                    float(raw["learning_rate"]), tuple(notes)), ""
