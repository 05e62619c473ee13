"""Part 2's catalogue (tests/parts/part2_mlp/mutants_part2.py): every mutant (GRADER_ONLY's too) loses
points at its own question with a message naming the bug; every correct variant keeps full
marks.

Grades in-process (tests/support/grading.py): one sandboxed child per check, as the grader
makes them; the 4b mutants share one training run per mutant between 4b.1 and 4b.2, as the
suite's fixture does.
"""
from __future__ import annotations

import pytest

from grading import CPU_RUBRIC, grade, with_params
from mutants_part2 import GRADER_ONLY, MUTANTS, VARIANTS

pytest.importorskip("torch")

STRUCTURE = [m for m in MUTANTS if m.loses[0].startswith("4a")]
TRAINING = [m for m in MUTANTS + GRADER_ONLY if m.loses[0].startswith("4b")]


@pytest.mark.parametrize("mutant", STRUCTURE, ids=[m.name for m in STRUCTURE])
def test_structure_mutant_loses_4a(mutant, tmp_path):
    graded = grade(mutant.write(tmp_path / "sub"), "4a.1")["4a.1"]
    message = graded.message
    assert graded.fraction < 1, message
    assert mutant.says in message, message


@pytest.mark.parametrize("mutant", [pytest.param(m, marks=[pytest.mark.slow] if m.slow else [])
                                     for m in TRAINING], ids=[m.name for m in TRAINING])
def test_training_mutant_loses_4b(mutant, tmp_path):
    graded = grade(mutant.write(tmp_path / "sub"), "4b")
    for check_id in mutant.loses:
        assert graded[check_id].fraction == 0, graded[check_id].message
    first = graded[mutant.loses[0]].message
    assert mutant.says in first, first
    if "4b.2" in mutant.loses:  # the hint of 4b.2 points at the loop's problem
        assert "fix the training loop first (4b.1)" in graded["4b.2"].message


def test_a_model_that_never_learns_is_far_below_the_threshold(tmp_path):
    """Calibration (grader/rubric.toml, 4b.2): a loop whose optimizer never steps stays
    near chance on the test images, at least 10 points under the synthetic threshold."""
    never = next(m for m in MUTANTS if m.name == "never_steps")
    details = grade(never.write(tmp_path / "sub"), "4b")["4b.2"].details
    assert details["dataset_kind"] == "synthetic"
    assert details["judged"] == "test_accuracy"
    assert details["test_accuracy"] <= details["threshold"] - 0.10, details["test_accuracy"]


@pytest.mark.parametrize("variant", [pytest.param(v, marks=[pytest.mark.slow] if v.slow else [])
                                     for v in VARIANTS], ids=[v.name for v in VARIANTS])
def test_correct_variant_keeps_full_marks(variant, tmp_path):
    graded = grade(variant.write(tmp_path / "sub"),
                   ("4a.1", "4b") if "4b.1" in variant.checks else ("4a.1",))
    for check_id, result in graded.items():
        assert result.fraction == 1, (check_id, result.message)
    structure = graded["4a.1"].message
    if variant.name == "flatten_in_training_loop":
        assert "Input: rows of shape (32, 3072)" in structure
    if variant.name == "attributes_and_extras":
        assert "BatchNorm1d, Dropout, LeakyReLU: accepted" in structure


def test_training_past_its_budget_says_how_far_it_got(tmp_path):
    """A train() far slower than the reference's is stopped by 4b.2's budget (here cut to
    15 s), and both checks say so with the batches done."""
    from mutants_part2 import Mutant, STEP

    slow = Mutant("slow_steps", ((STEP, STEP + "            __import__('time').sleep(1.0)\n"),),
                  ("4b.1", "4b.2"), "a second per training step")
    budget = with_params(CPU_RUBRIC, "4b.2", wall_seconds=15, cpu_seconds=15)
    for graded in grade(slow.write(tmp_path / "sub"), "4b", rubric=budget).values():
        assert graded.fraction == 0
        assert "stopped by its time budget of 15 s after" in graded.message
        assert "of 200 training batches" in graded.message
