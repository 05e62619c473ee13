"""Part 2's settings: the top-level assignments of ex2_pytorch.py (or .ipynb), read with ast
(grader/core/submission/settings.py), never run. A missing setting takes the handout's
value, with a note."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.rubric.spec import Check
from ...core.submission.settings import (Setting, SettingsRecord, SettingsSpec, declared_values,
                                         is_whole, read_settings)

MODULE = "ex2_pytorch"
SPEC = SettingsSpec(MODULE, (  # defaults: the handout's (the public starter's) values
    Setting("hidden_size", "widths", [50], limit=("max_hidden_layers", "max_width")),
    Setting("num_epochs", "whole", 10, limit="max_epochs"),
    Setting("batch_size", "whole", 200, limit="max_batch_size"),
    Setting("learning_rate", default=1e-3, within="(0, 10)"),
    Setting("learning_rate_decay", default=0.95, within="(0, 1]"),
    Setting("reg", default=0.001, within=">= 0")))  # Adam's weight_decay in the handout
HANDOUT = SPEC.defaults()


@dataclass(frozen=True)
class Settings(SettingsRecord):
    """The training settings the grader uses for 4b, as declared (or the handout's)."""

    hidden_size: tuple[int, ...]  # widths of the hidden layers
    num_epochs: int
    batch_size: int
    learning_rate: float
    learning_rate_decay: float
    reg: float
    notes: tuple[str, ...] = ()  # the handout's values used, settings assigned twice


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check."""
    declared, problem = read_settings(submission, SPEC, check)
    return (Settings.of(declared) if declared else None), problem


def declared_plain(submission: Path) -> dict:
    """Every top-level setting of the submitted file the grader can read ({} when none)."""
    return declared_values(submission, MODULE)


def declared_hidden_size(submission: Path) -> list[int] | None:
    """The file's top-level hidden_size as a list of widths, when it declares one plainly
    (4a uses it to recognise layers built from the global instead of the argument)."""
    hidden = declared_plain(submission).get("hidden_size")
    hidden = [hidden] if is_whole(hidden) else hidden
    return [int(w) for w in hidden] if (isinstance(hidden, list) and hidden
                                        and all(is_whole(w) for w in hidden)) else None


def declared_batch_size(submission: Path) -> int:
    """The file's top-level batch_size when it declares a plain one, else the handout's."""
    value = declared_plain(submission).get("batch_size")
    return int(value) if is_whole(value) and value <= 100_000 else HANDOUT["batch_size"]
