"""Part 3's settings: the dict SETTINGS of network_template.py (or .ipynb), read with ast
(grader/core/submission/settings.py), never run: SETTINGS = {"sizes": [3072, 100, 10],
"optimizer": "adam", ...}."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ...core.rubric.spec import Check
from ...core.submission.settings import (OPTIONAL, Declared, Setting, SettingsRecord,
                                         SettingsSpec, read_settings)

MODULE, NAME = "network_template", "SETTINGS"
INPUT_SIZE, NUM_CLASSES = 32 * 32 * 3, 10
OPTIMIZERS = ("sgd", "adam")
# The learning rate of the other optimizer in 5e's Adam-vs-SGD run, when not declared.
ABLATION_ETA = {"sgd": 0.01, "adam": 1e-3}
SPEC = SettingsSpec(MODULE, container=NAME, settings=(
    Setting("sizes", "widths", limit=("max_layers", "max_width"), ends=(INPUT_SIZE, NUM_CLASSES)),
    Setting("optimizer", "text", choices=OPTIMIZERS),
    Setting("eta", within="(0, 10)"),
    Setting("l2", within="[0, 100)"),
    Setting("k", within="[0, 100)"),
    Setting("epochs", "whole", limit="max_epochs"),
    Setting("mini_batch_size", "whole", limit="max_mini_batch_size"),
    Setting("ablation_eta", default=OPTIONAL, within="(0, 10)")))


@dataclass(frozen=True)
class Settings(SettingsRecord):
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
        params = replace(self, **changes).params()
        del params["ablation_eta"]
        return {"name": name, **params, "rows": rows}

    def describe(self) -> str:
        """'sizes=[3072, 100, 10], optimizer=adam, ...' for the feedback."""
        return (f"sizes={list(self.sizes)}, optimizer={self.optimizer}, eta={self.eta:g}, "
                f"l2={self.l2:g}, k={self.k:g}, epochs={self.epochs}, "
                f"mini_batch_size={self.mini_batch_size}")


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check."""
    declared, problem = read_settings(submission, SPEC, check)
    if declared is None or "ablation_eta" in declared.values:
        return (Settings.of(declared) if declared else None), problem
    other = "adam" if declared.values["optimizer"] == "sgd" else "sgd"
    return Settings.of(Declared({**declared.values, "ablation_eta": ABLATION_ETA[other]},
                                declared.notes + (f"{NAME} declares no ablation_eta: the {other} "
                                                  f"run of 5e uses {ABLATION_ETA[other]:g}",))), ""
