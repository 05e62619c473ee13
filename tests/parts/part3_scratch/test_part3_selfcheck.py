"""Part 3's public self-check (grader/parts/part3_scratch/selfcheck.py, shipped as
selfcheck_part3.py): all pass on the reference, all fail on the template, and a mutant
fails the check of its own question only."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mutants_part3 import MUTANTS, ROOT

SELFCHECK = ROOT / "grader" / "parts" / "part3_scratch" / "selfcheck.py"


def run(folder):
    """(exit code, {check: passed}) of the self-check copied beside folder's files."""
    shutil.copy(SELFCHECK, folder / "selfcheck_part3.py")
    proc = subprocess.run([sys.executable, str(folder / "selfcheck_part3.py")], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    verdicts = {line.split()[1].rstrip(","): line.startswith("PASS")
                for line in proc.stdout.splitlines() if line.startswith(("PASS", "FAIL"))}
    return proc.returncode, verdicts, proc.stdout


def _copy(source, dest):
    dest.mkdir()
    for name in ("network_template.py", "backprop_answers.py"):
        shutil.copy(source / name, dest / name)
    return dest


def test_reference_passes_template_fails(tmp_path):
    code, verdicts, out = run(_copy(ROOT / "reference", tmp_path / "ref"))
    assert code == 0 and all(verdicts.values()) and len(verdicts) == 4, out
    code, verdicts, out = run(_copy(ROOT / "student_template", tmp_path / "tpl"))
    assert code == 1 and not any(verdicts.values()), out
    assert "not answered yet: q5f_dL_dw1_11" in out


@pytest.mark.parametrize("name", ["two_l2", "adam_t_reset_every_epoch", "decay_inverse_time"])
def test_mutant_fails_its_own_public_check(name, tmp_path):
    mutant = next(m for m in MUTANTS if m.name == name)
    sub = mutant.write(tmp_path / "sub")
    shutil.copy(ROOT / "reference" / "backprop_answers.py", sub)
    code, verdicts, out = run(sub)
    assert code == 1
    assert {k for k, ok in verdicts.items() if not ok} == {f"{mutant.loses}.1"}, out
