"""Part 4 (seed 003) end to end: grade submission folders with the CLI, as course staff
would, on the default (synthetic) data.

The reference is graded once (module fixture) on 6a-6d, and the tests of it read that
run: full marks, what the feedback says, what results.json records, what 6c's training
cost. The template scores zero with a reason per check. The course's sup_trn, which
prints torch.cuda.current_device() with no GPU check, trains on a machine without a GPU.
Calibration (a sup_trn that never steps stays far below the threshold) and checkpoint mode
train for minutes: marked slow (`-m slow`).
"""
from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from grader.core.rubric import spec as rubric
from rubric_copies import checkpoint_mode
from mutants_part4_cnn import (COURSE_CUDA_PRINT, HOSTILE_TRAINING, NEVER_STEPS,
                               ONE_EPOCH_MAIN, REFERENCE, ROOT)
from test_e2e_part1 import by_id, grade

pytest.importorskip("torch")

PART4 = "6a,6b,6c,6d"
IDS = ["6a.1", "6a.2", "6b.1", "6b.2", "6c.1", "6c.2", "6d.1", "6d.2"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    return by_id(grade(REFERENCE, out, PART4))


def test_reference_full_marks(reference):
    assert sorted(reference) == IDS
    lost = {k: t["output"] for k, t in reference.items() if t["score"] != t["max_score"]}
    assert not lost


def test_reference_feedback_names_the_layers_and_the_training(reference):
    text = reference["6b.1"]["output"]
    assert "block 1: conv 3-\\>8 at 32x32, conv 8-\\>8 at 32x32, max-pool to 16x16" in text
    assert "dense: 1024 -\\> 64, 64 -\\> 10" in text and "Logits out" in text
    assert "4 of 4 blocks built" in reference["6b.2"]["output"]
    assert "6 of 6 output sizes right" in reference["6a.1"]["output"]
    assert len(reference["6d.2"]["extra_data"]["seeds"]) == 4
    learn = reference["6c.1"]
    assert "sup_trn trained: 504 optimizer steps" in learn["output"]
    assert "main.py lines" in learn["output"]  # the __main__ block, not run
    assert learn["extra_data"]["steps"] == learn["extra_data"]["batches"] == 8 * 63


def test_reference_trains_within_budget_and_clears_the_threshold_with_margin(reference):
    extra = reference["6c.2"]["extra_data"]
    assert extra["dataset_kind"] == "synthetic" and extra["device"] == "cpu"
    assert extra["test_accuracy"] >= extra["threshold"] + 0.10  # calibration margin
    assert "synthetic CIFAR-format data" in reference["6c.2"]["output"]
    budget = rubric.load().check("6c.2").value("wall_seconds", "synthetic")
    assert reference["6c.1"]["extra_data"]["sandbox_seconds"] < budget / 2
    # torch imported once for 6b; twice for 6c: the training child, then the child that
    # evaluates the weights it left without running sup_trn
    assert reference["6b.1"]["extra_data"]["sandbox_calls"] == 1
    assert reference["6c.1"]["extra_data"]["sandbox_calls"] == 2
    assert reference["6b.2"]["extra_data"]["sandbox_calls"] == 0  # 6b.1's child served it
    for check_id in ("6a.1", "6d.1"):  # theory.py's checks never import torch
        assert reference[check_id]["extra_data"]["sandbox_peak_rss_mb"] < 300


def test_template_scores_zero_with_a_reason(tmp_path):
    tests = by_id(grade(ROOT / "student_template", tmp_path, PART4))
    assert {k: t["score"] for k, t in tests.items()} == dict.fromkeys(IDS, 0.0)
    for check_id in ("6a.1", "6b.1", "6b.2", "6c.1", "6d.1"):
        assert "not implemented yet" in tests[check_id]["output"], tests[check_id]["output"]
        assert "still a stub" in tests[check_id]["output"]


def test_the_courses_cuda_print_trains_without_a_gpu(tmp_path):
    """torch.cuda.current_device() returns 0 in the sandbox when training on the CPU."""
    sub = COURSE_CUDA_PRINT.write(tmp_path / "sub")
    main = (sub / "main.py").read_text()
    (sub / "main.py").write_text(main.replace(*ONE_EPOCH_MAIN))
    tests = by_id(grade(sub, tmp_path / "out", "6c"))
    output = tests["6c.1"]["output"]
    assert "the training run:" not in output and "current_device" not in output, output
    assert "63 optimizer steps" in output and tests["6c.1"]["extra_data"]["steps"] == 63


@pytest.mark.slow  # a full training run (about a minute of one core)
def test_a_sup_trn_that_never_steps_is_far_below_the_threshold(tmp_path):
    """Calibration (grader/rubric.toml, 6c.2): with no optimizer step the CNN stays near
    chance, at least 10 points under the synthetic threshold; 6c.1 names the bug."""
    tests = by_id(grade(NEVER_STEPS.write(tmp_path / "sub"), tmp_path / "out", "6c"))
    assert tests["6c.1"]["score"] == 0 and NEVER_STEPS.says in tests["6c.1"]["output"]
    extra = tests["6c.2"]["extra_data"]
    assert tests["6c.2"]["score"] == 0
    assert extra["test_accuracy"] <= extra["threshold"] - 0.10, extra


@pytest.mark.slow  # trains the reference for a checkpoint, then a progress run
def test_checkpoint_mode_grades_the_submitted_state_dict(tmp_path):
    """6c with mode = "checkpoint" (a rubric copy): the reference's state dict, trained by
    a separate process as main.py would, earns full marks; a pickle that would run code is
    refused, not run."""
    data = tmp_path / "sub"
    shutil.copytree(REFERENCE, data)
    script = (
        "import sys, numpy as np, torch\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from build_net import CNN\nfrom algo_train import sup_trn\nimport main\n"
        "from grader.core.rubric import spec as rubric\nfrom grader.data import prepare\n"
        "d = prepare.load(None, dict(rubric.load().datasets))\n"
        "def imgs(X, s):\n"
        "    X = np.asarray(X, dtype=np.float32).reshape(-1, 32, 32, 3) * s\n"
        "    return torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))\n"
        "X = np.asarray(d.load('X_train'))\n"
        "s = (1 / X.reshape(-1, 3).std(axis=0)).astype(np.float32)\n"
        "y = torch.from_numpy(np.asarray(d.load('y_train')).astype(np.int64))\n"
        "torch.manual_seed(0); torch.set_num_threads(1)\n"
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(imgs(X, s), y),"
        " batch_size=64, shuffle=True)\n"
        "opt = dict(main.opt_dict, gpu=False, trn_size=len(y), val_size=0)\n"
        "net, _ = sup_trn(CNN((3, 32, 32), 10), loader, [], opt)\n"
        "torch.save(net.state_dict(), sys.argv[2])\n")
    proc = subprocess.run([sys.executable, "-c", script, str(data), str(data / "cnn.ckpt")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    copy = tmp_path / "rubric.toml"
    copy.write_text(checkpoint_mode("6c"))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(data), "--out", str(out),
                           "--quiet", "--questions", "6c", "--rubric", str(copy)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tests = {t["number"]: t for t in json.loads((out / "results.json").read_text())["tests"]}
    for check_id in ("6c.1", "6c.2"):
        assert tests[check_id]["score"] == tests[check_id]["max_score"], tests[check_id]["output"]
    assert "Mode: checkpoint" in tests["6c.2"]["output"]
    # a pickle that would run a command is refused by torch.load(weights_only=True)
    class Payload:
        def __reduce__(self):
            return (print, ("PWNED",))

    (data / "cnn.ckpt").write_bytes(pickle.dumps({"state_dict": Payload()}))
    shutil.rmtree(out)
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(data), "--out", str(out),
                           "--quiet", "--questions", "6c", "--rubric", str(copy)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    tests = {t["number"]: t for t in json.loads((out / "results.json").read_text())["tests"]}
    assert tests["6c.2"]["score"] == 0
    assert "could not be loaded with torch.load(weights_only=True)" in tests["6c.2"]["output"]


def _graded_6c(submission):
    """The training run of 6c, and 6c.1 and 6c.2's verdicts and feedback, judged
    in-process on the CPU (the run's own values are read below)."""
    from grader.core.engine.context import Feedback
    from grader.parts.part4_cnn import training
    from grading import CPU_RUBRIC, context
    trained = training.train_submission(context(submission, CPU_RUBRIC))
    out = {}
    for check_id, judge in (("6c.1", training.judge_learning), ("6c.2", training.judge_accuracy)):
        feedback = Feedback()
        out[check_id] = (judge(trained, CPU_RUBRIC.check(check_id), feedback), feedback)
    return trained, out


# the finding's scalar fake by default (about 15 s: a run of decoy steps and an evaluation)
@pytest.mark.parametrize("mutant", [pytest.param(m, marks=() if i == 0 else pytest.mark.slow)
                                    for i, m in enumerate(HOSTILE_TRAINING)],
                         ids=[m.name for m in HOSTILE_TRAINING])
def test_a_sup_trn_that_never_trains_earns_nothing(mutant, tmp_path, monkeypatch):
    """Issue 19: 6c's points need the grader's own evidence, computed from a child that
    never ran sup_trn and never saw a label: the weights changed, and the test accuracy.
    A decoy loss falling under the observed F.cross_entropy, with optimizer steps, or a
    forward answering from the prepared test labels, earns nothing. No child is handed
    the test labels (nor, beyond the training child, any label)."""
    from grader.core.engine.context import GradingContext
    calls, probe = [], GradingContext.probe

    def recorded(self, probe_file, function, check_id, **kwargs):
        calls.append((function, kwargs))
        return probe(self, probe_file, function, check_id, **kwargs)

    monkeypatch.setattr(GradingContext, "probe", recorded)
    trained, graded = _graded_6c(mutant.write(tmp_path / "sub"))
    y_test = np.asarray(trained.data.load("y_test"))
    assert [f for f, _ in calls] == ["train_cnn", "evaluate_state"]
    for function, kwargs in calls:
        files = kwargs.get("data_files") or {}
        assert "y_test" not in files and "X_test" not in files, (function, files)
        assert function == "train_cnn" or not {"y_train", "y_val"} & set(files), files
        for name, value in (kwargs.get("inputs") or {}).items():
            assert not (np.shape(value) == y_test.shape and np.array_equal(value, y_test)), name
    for check_id in ("6c.1", "6c.2"):
        verdict, _ = graded[check_id]
        assert verdict.fraction == 0, (check_id, verdict.message)
    assert mutant.says in graded["6c.2"][0].message, graded["6c.2"][0].message
    if mutant.name.startswith("fakes"):  # the observers saw steps and a falling loss
        assert trained.run.values["steps"] > 100
        assert mutant.says in graded["6c.1"][0].message, graded["6c.1"][0].message
    assert "y_test" not in str(trained.run.values) and trained.evaluation is not None


STASHING = (
    ("build_net.py", (
        ("class CNN(nn.Module):", "TRAINED = []  # the net sup_trn trained, kept for later\n\n\n"
                                  "class CNN(nn.Module):"),
        ('''        """x: (N, channels, height, width) images; returns logits (N, out_dim)."""
''', '''        """x: (N, channels, height, width) images; returns logits (N, out_dim)."""
        if TRAINED and TRAINED[0] is not self:
            return TRAINED[0](x)
'''))),
    ("algo_train.py", (
        ("    for epoch in range(opt_dict['num_epochs']):\n", "    for epoch in range(8):\n"),
        ("    itr_last = opt_dict['num_epochs'] *", "    itr_last = 8 *"))),
)
SAVE_UNTRAINED = """
import sys, torch
sys.path.insert(0, sys.argv[1])
from build_net import CNN
torch.save(CNN((3, 32, 32), 10).state_dict(), sys.argv[2])
"""


@pytest.mark.slow  # a progress run of 8 epochs (about 30 s) and two more children
def test_an_untrained_checkpoint_is_not_paid_through_the_progress_run(tmp_path):
    """Issue 19: in checkpoint mode the checkpoint's logits come from a child that never
    ran sup_trn. A sup_trn that trains its short run to full length and keeps the net in a
    module global, for a CNN whose forward answers with it, would have paid an untrained
    cnn.ckpt when both ran in one child; here the checkpoint is judged as it is."""
    from grading import CPU_RUBRIC, grade as grade_in_process, with_question
    from mutants import apply_edits

    sub = tmp_path / "sub"
    shutil.copytree(REFERENCE, sub)
    for name, edits in STASHING:
        (sub / name).write_text(apply_edits((sub / name).read_text(), edits, name))
    (sub / "algo_train.py").write_text((sub / "algo_train.py").read_text().replace(
        "    return [net, trn_info]", "    import build_net\n    build_net.TRAINED.append(net)\n"
                                      "    return [net, trn_info]"))
    assert "build_net.TRAINED.append(net)" in (sub / "algo_train.py").read_text()
    proc = subprocess.run([sys.executable, "-c", SAVE_UNTRAINED, str(sub), str(sub / "cnn.ckpt")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    graded = grade_in_process(sub, "6c", rubric=with_question(CPU_RUBRIC, "6c",
                                                              mode="checkpoint"))
    learned, verdict = graded["6c.1"], graded["6c.2"]
    assert learned.fraction == 1, learned.message  # the short run did learn
    assert verdict.fraction == 0, verdict.message
    assert verdict.details["test_accuracy"] < 0.2, verdict.details
    assert "your checkpoint cnn.ckpt" in verdict.message
