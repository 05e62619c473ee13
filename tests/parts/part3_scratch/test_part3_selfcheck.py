"""Part 3's public self-check (selfcheck_files/part3_scratch.py, run by the archive's
selfcheck.py) against the grader: all pass on the reference and fail on the template, as
in the grader; a mutant fails the public check of its own question only, and the
reference's verdicts agree with the grader's side by side (every mutant and variant: slow).
5f.1 and 7a.1 say whether backprop_answers.py answers every entry with a number, never
whether it is right (that would hand out the answers): a wrong number passes here."""
from __future__ import annotations

import shutil

import pytest

from mutants_part3 import MUTANTS, ROOT, VARIANTS
from selfcheck_runs import disagreements, selfcheck

PUBLIC = ["5a.1", "5b.1", "5c.1", "5f.1"]


def _copy(source, dest):
    dest.mkdir()
    for name in ("network_template.py", "backprop_answers.py"):
        shutil.copy(source / name, dest / name)
    return dest


def test_reference_passes_template_fails(tmp_path):
    found = selfcheck(_copy(ROOT / "reference", tmp_path / "ref"), "3")
    assert list(found) == PUBLIC and all(p for p, _ in found.values()), found
    found = selfcheck(_copy(ROOT / "student_template", tmp_path / "tpl"), "3")
    assert not any(p for p, _ in found.values()), found
    assert "not answered yet: q5f_dL_dw1_11" in found["5f.1"][1]


def test_reference_and_template_agree_with_the_grader(tmp_path):
    assert disagreements(_copy(ROOT / "reference", tmp_path / "ref"), "3") == {}
    assert disagreements(_copy(ROOT / "student_template", tmp_path / "tpl"), "3") == {}


def test_a_wrong_answer_is_not_revealed(tmp_path):
    sub = _copy(ROOT / "reference", tmp_path / "sub")
    text = (sub / "backprop_answers.py").read_text()
    (sub / "backprop_answers.py").write_text(text.replace("q5f_dL_dw1_11 = ", "q5f_dL_dw1_11 = 0.5  # "))
    found = selfcheck(sub, "3")
    assert found["5f.1"] == (True, "every answer is filled in (whether it is right is graded "
                                   "on Gradescope)")


@pytest.mark.parametrize("name", ["two_l2", "adam_t_reset_every_epoch", "decay_inverse_time"])
def test_mutant_fails_its_own_public_check(name, tmp_path):
    mutant = next(m for m in MUTANTS if m.name == name)
    sub = mutant.write(tmp_path / "sub")
    shutil.copy(ROOT / "reference" / "backprop_answers.py", sub)
    found = selfcheck(sub, "3")
    assert {c for c, (p, _) in found.items() if not p} == {f"{mutant.loses}.1"}, found


@pytest.mark.slow
@pytest.mark.parametrize("submission", MUTANTS + VARIANTS, ids=lambda m: m.name)
def test_selfcheck_and_grader_agree(submission, tmp_path):
    sub = submission.write(tmp_path / "sub")
    shutil.copy(ROOT / "reference" / "backprop_answers.py", sub)
    assert disagreements(sub, "3") == {}
