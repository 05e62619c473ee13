"""Part 4's ConvNet settings: num_epochs, batch_size and learning_rate, top-level
assignments of convnet_mnist.py (or .ipynb), read with ast, never run
(grader/core/submission/settings.py). A missing setting takes the handout's value, with a
note."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.rubric.spec import Check
from ...core.submission.settings import (Setting, SettingsRecord, SettingsSpec, declared_values,
                                         is_whole as _whole, read_settings)

MODULE = "convnet_mnist"
SPEC = SettingsSpec(MODULE, (  # defaults: the handout's (the template's) values
    Setting("num_epochs", "whole", 5, limit="max_epochs"),
    Setting("batch_size", "whole", 64, limit="max_batch_size"),
    Setting("learning_rate", default=1e-3, within="(0, 10)")))


@dataclass(frozen=True)
class Settings(SettingsRecord):
    """The training settings the grader uses for 7d, as declared (or the handout's)."""

    num_epochs: int
    batch_size: int
    learning_rate: float
    notes: tuple[str, ...] = ()  # the handout's values used, settings assigned twice


def declared_settings(submission: Path) -> dict:
    """Every plain top-level setting of the submitted file ({} when none can be read)."""
    return declared_values(submission, MODULE)


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check
    (max_epochs, max_batch_size)."""
    declared, problem = read_settings(submission, SPEC, check)
    return (Settings.of(declared) if declared else None), problem
