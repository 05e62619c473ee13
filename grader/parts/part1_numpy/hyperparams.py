"""Part 1's settings for 3b: the dict BEST_HYPERPARAMS of hyperparams.py, read with ast
(grader/core/submission/settings.py), never run."""
from __future__ import annotations

from pathlib import Path

from ...core.rubric.spec import Check
from ...core.submission.settings import OPTIONAL, Setting, SettingsSpec, read_settings

SPEC = SettingsSpec("hyperparams", container="BEST_HYPERPARAMS", closed=True, settings=(
    Setting("hidden_size", "whole", limit="max_hidden_size"),
    Setting("num_iters", "whole", limit="max_num_iters"),
    Setting("batch_size", "whole", limit="max_batch_size"),
    Setting("learning_rate", within="(0, 10)"),
    Setting("learning_rate_decay", within="(0, 1]"),
    Setting("reg", within=">= 0"),
    Setting("std", default=OPTIONAL, within="> 0")))  # the scale of the initial weights


class Hyperparams(dict):
    """name -> int or float, as declared, with `notes`: what the reader noticed (a setting
    assigned more than once, and which assignment counts)."""

    notes: tuple[str, ...] = ()


def read(submission: Path, check: Check) -> tuple[Hyperparams | None, str]:
    """(the hyperparameters, '') or (None, what is wrong and how to fix it); bounds from
    the check."""
    declared, problem = read_settings(submission, SPEC, check)
    if declared is None:
        return None, problem
    found = Hyperparams(declared.values)
    found.notes = tuple(declared.notes)
    return found, ""
