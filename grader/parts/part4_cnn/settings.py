"""Part 4's CNN settings: the dict opt_dict of main.py (or main.ipynb), read with ast
(grader/core/submission/settings.py), never run. The course's main.py declares
`opt_dict = {'solver': 'Adam', 'tbs': 64, ...}` and may set `opt_dict['key'] = ...` later,
then loads its data and trains. Entries the grader cannot read ('stats': stats) are left
out, with a note, and refused when sup_trn needs them (SPEC); a missing setting takes the
handout's value, with a note; entries the spec does not name reach sup_trn as declared."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.rubric.spec import Check
from ...core.submission.settings import Setting, SettingsSpec, read_settings

MODULE, NAME = "main", "opt_dict"
SPEC = SettingsSpec(MODULE, container=NAME, settings=(  # defaults: reference/main.py's
    Setting("solver", "text", "Adam"),  # 'Adam' or 'SGDM', as the student's sup_trn reads it
    Setting("tbs", "whole", 64, limit="max_batch_size"),
    Setting("vbs", "whole", 1000, limit="max_batch_size"),
    Setting("num_epochs", "whole", 8, limit="max_epochs"),
    Setting("lr", default=2e-3, within="(0, 10)"),
    Setting("wd", default=1e-5, within=">= 0"),
    Setting("momentum", default=0.9, within=">= 0"),
    Setting("lr_sch", "steps", [6]),
    Setting("lr_factor", default=0.1, within=">= 0"),
    Setting("coll_cycle", "whole", 10),
    Setting("display_freq", "whole", 100),
    Setting("val_cycle", "whole", 1000)))
HANDOUT = SPEC.defaults()
USED = tuple(HANDOUT)
# set by the grader, whatever main.py says
GRADER_KEYS = ("gpu", "gpu_idx", "trn_size", "val_size", "inp_dim", "out_dim")


@dataclass(frozen=True)
class Settings:
    """opt_dict as the grader uses it for 6c (the handout's values filling the gaps)."""

    values: dict  # JSON-able: every readable key of opt_dict, the handout's for USED gaps
    notes: tuple[str, ...] = ()  # the handout's values used, entries left out (not plain
    #                              data), settings assigned twice

    @property
    def tbs(self) -> int:
        return int(self.values["tbs"])

    @property
    def num_epochs(self) -> int:
        return int(self.values["num_epochs"])

    def describe(self) -> str:
        """"solver='Adam', tbs=64, ..." for the feedback (the keys sup_trn needs)."""
        return ", ".join(f"{k}={self.values[k]!r}" for k in USED)


def read(submission: Path, check: Check) -> tuple[Settings | None, str]:
    """(settings, '') or (None, what is wrong and how to fix it); bounds from the check."""
    declared, problem = read_settings(submission, SPEC, check)
    if declared is None:
        return None, problem
    extra = {k: v for k, v in declared.extra.items() if k not in GRADER_KEYS}
    return Settings({**extra, **declared.values}, declared.notes), ""
