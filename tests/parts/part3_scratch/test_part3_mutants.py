"""Part 3's catalogue (tests/parts/part3_scratch/mutants_part3.py): every mutant loses points at its own
question, with feedback naming the bug, and keeps full marks at the other cheap questions
(5a-5c); every correct variant keeps full marks on every check of 5a-5c.

Grades in-process (tests/support/grading.py), batched: all of a submission's probe calls in
one sandboxed child.
"""
from __future__ import annotations

import pytest

from grading import grade
from mutants_part3 import MUTANTS, VARIANTS

CHEAP = ("5a", "5b", "5c")  # the questions graded here, each with a public and a hidden check


def grade_checks(submission):
    return grade(submission, CHEAP, batched=True)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_loses_its_own_question_only(mutant, tmp_path):
    graded = grade_checks(mutant.write(tmp_path / "sub"))
    for check_id, result in graded.items():
        if check_id.startswith(mutant.loses + "."):
            assert result.fraction < 1, (check_id, result.message)
        else:
            assert result.fraction == 1, (check_id, result.message)
    assert mutant.says in graded[f"{mutant.loses}.1"].message, graded[f"{mutant.loses}.1"].message


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_correct_variant_keeps_full_marks(variant, tmp_path):
    graded = grade_checks(variant.write(tmp_path / "sub"))
    assert sorted(graded) == [f"{q}.{i}" for q in CHEAP for i in (1, 2)]
    for check_id, result in graded.items():
        assert result.fraction == 1, (check_id, result.message)
    if variant.name == "update_with_required_t":
        assert "update_network needs more arguments than (gw, gb, eta) (t)" \
            in graded["5a.1"].message
