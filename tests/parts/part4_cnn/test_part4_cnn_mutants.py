"""Part 4's seed-003 catalogue (tests/parts/part4_cnn/mutants_part4_cnn.py): every mutant loses points at
its own question with a message naming the bug; the correct variants keep full marks; a
build_net.py that trains at import is graded without training.

Every check is graded in-process (tests/support/grading.py): the structure mutants on 6b
(one sandboxed torch child each, as the grader makes it), the theory.py mutants on 6a and
6d (numpy children).
"""
from __future__ import annotations

import pytest

from grading import grade
from mutants_part4_cnn import (MUTANTS, POOL_THEN_RELU, PUBLIC_STYLE_BUILD_NET,
                               VARIANT_BUILD_NET, write_variant)

pytest.importorskip("torch")

STRUCTURE = [m for m in MUTANTS if m.loses[0].startswith("6b")]
THEORY = [m for m in MUTANTS if not m.loses[0].startswith("6b")]


@pytest.mark.parametrize("mutant", STRUCTURE, ids=[m.name for m in STRUCTURE])
def test_structure_mutant_loses_6b(mutant, tmp_path):
    graded = grade(mutant.write(tmp_path / "sub"), [c for c in ("6b.1", "6b.2")
                                                    if c == "6b.1" or c in mutant.loses])
    fraction, message = graded["6b.1"].fraction, graded["6b.1"].message
    assert fraction == 0, message
    assert mutant.says in message, message
    if "6b.2" in mutant.loses:
        fraction, blocks = graded["6b.2"].fraction, graded["6b.2"].message
        assert fraction < 1 and mutant.says.split(" (")[0] in blocks, blocks
    if mutant.name == "decoy_blocks_real_stride_four_conv":  # the decoys are named, not counted
        assert "Layers applied, but their result never reaches the output (not counted): " \
            "conv_b_1.conv_1, conv_b_1.conv_2, conv_b_1.max_pool" in message, message
    if mutant.name == "dense_block_crashes_without_activation":
        assert "Hint: a DenseBlock built with act_type other than 'relu' has self.relu = None" \
            in message


@pytest.mark.parametrize("mutant", THEORY, ids=[m.name for m in THEORY])
def test_theory_mutant_loses_only_its_question(mutant, tmp_path):
    tests = grade(mutant.write(tmp_path / "sub"),
                  {c.split(".")[0] for c in mutant.loses} | set(mutant.keeps))
    for check_id in mutant.loses:
        assert tests[check_id].score == 0, tests[check_id].message
    assert mutant.says in tests[mutant.loses[0]].message
    if mutant.name == "formula_with_ceil":  # 6a is all or nothing, and says so
        assert "5 of 6 output sizes right; this check needs all 6 (its points are all or " \
            "nothing)." in tests["6a.1"].message
    for check_id, test in tests.items():
        if check_id.split(".")[0] in mutant.keeps:
            assert test.score == test.max_score, test.message


def test_a_variant_written_unlike_the_reference_keeps_full_marks(tmp_path):
    """nn.Sequential and ModuleList, padding='same', F.relu, F.max_pool2d, nn.Flatten,
    act_type='linear' for the output block, kernels 5 and 3."""
    graded = grade(write_variant(tmp_path / "sub", VARIANT_BUILD_NET), "6b")
    for check_id, result in graded.items():
        assert result.fraction == 1, result.message
    said = {check_id: result.message for check_id, result in graded.items()}
    assert sum(len(result.runs) for result in graded.values()) == 1  # one child for both
    assert "block 1: conv 3->6 at 32x32, conv 6->6 at 32x32, max-pool to 16x16" in said["6b.1"]
    assert "dense: 768 -> 32, 32 -> 10" in said["6b.1"]


def test_relu_after_the_pool_and_direct_calls_keep_full_marks(tmp_path):
    """ConvBlock as conv, torch.relu, conv, max-pool, ReLU: the same function as the
    handout's order, with a layer called directly; 6b.1 and 6b.2 both pass."""
    for result in grade(POOL_THEN_RELU.write(tmp_path / "sub"), "6b").values():
        assert result.fraction == 1, result.message


def test_a_build_net_that_trains_at_import_is_graded_without_training(tmp_path):
    """.mat statistics, a CUDA network and a training loop at import (no __main__ guard):
    6b reads the classes only, trains nothing, and says which lines it did not run."""
    graded = grade(write_variant(tmp_path / "sub", PUBLIC_STYLE_BUILD_NET), "6b.1")["6b.1"]
    fraction, message, seconds = graded.fraction, graded.message, graded.sandbox_seconds
    assert fraction == 1, message
    assert seconds < 60  # nothing trained: 100 epochs at import would take minutes
    assert "build_net.py lines" in message and "not run by the grader" in message
