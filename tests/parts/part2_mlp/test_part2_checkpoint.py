"""4b graded from a checkpoint (the rubric's `mode = "checkpoint"` on question 4b).

The grader runs with a copy of rubric.toml whose one mode line at 4b is changed
(`grade --rubric FILE`). The reference's checkpoint is the state dict its train() saves
(`checkpoint=...`, as the driver does), made by a separate process on the grader's
prepared synthetic rows (tests/parts/part2_mlp/make_mlp_checkpoint.py), so neither the grader nor this test
process imports torch. The checkpoint's bytes reach one sandboxed child only, which loads
them with torch.load(weights_only=True): a corrupt file, a state dict of other widths and a
pickle that would run a command cost 4b.2 with a clear message, and the pickle never runs.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.core.results import gradescope
from grader.core.rubric import spec as rubric_mod
from grader.core.engine.context import Feedback, ProbeCall
from grader.data import prepare
from grader.parts.part2_mlp import training
from grader.parts.part2_mlp.probing import PROBES, SCALE
from grader.parts.part2_mlp import settings as settings_mod
from grading import context, grade
from mutants_part2 import ROOT
from rubric_copies import checkpoint_mode, with_setting

pytest.importorskip("torch")

SHIPPED = rubric_mod.load()
CKPT = SHIPPED.check("4b.2").value("checkpoint")


def checkpoint_rubric_text() -> str:
    # the tests run on the CPU (no environment probe, one torch import fewer)
    return with_setting(checkpoint_mode("4b"), "4b", 'device = "auto"', 'device = "cpu"')


@pytest.fixture(scope="module")
def rubric_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rubric") / "rubric.toml"
    path.write_text(checkpoint_rubric_text())
    assert rubric_mod.load(path).question("4b").mode == "checkpoint"
    return path


@pytest.fixture(scope="module")
def data():
    return prepare.load(None, dict(SHIPPED.datasets))


@pytest.fixture(scope="module")
def reference_ckpt(tmp_path_factory, data) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    files = [str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")]
    subprocess.run([sys.executable, str(ROOT / "tests" / "parts" / "part2_mlp" / "make_mlp_checkpoint.py"),
                    str(ROOT / "reference"), *files, str(out)], check=True, timeout=300,
                   capture_output=True)
    return out


def _submission(tmp_path: Path, ckpt: Path | bytes | None) -> Path:
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "reference", sub)
    if isinstance(ckpt, Path):
        shutil.copy(ckpt, sub / CKPT)
    elif ckpt is not None:
        (sub / CKPT).write_bytes(ckpt)
    return sub


def test_reference_checkpoint_earns_full_marks(rubric_file, reference_ckpt, tmp_path):
    sub = _submission(tmp_path, reference_ckpt)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(sub), "--out", str(out),
                           "--quiet", "--questions", "4b", "--rubric", str(rubric_file)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    tests = {t["number"]: t for t in results["tests"]}
    for cid in ("4b.1", "4b.2"):
        assert tests[cid]["score"] == tests[cid]["max_score"], tests[cid]["output"]
        assert "Mode: checkpoint" in tests[cid]["output"]
        assert tests[cid]["extra_data"]["mode"] == "checkpoint"
    assert "progress run" in tests["4b.1"]["output"]
    assert "your checkpoint model.ckpt" in tests["4b.2"]["output"]
    assert tests["4b.2"]["extra_data"]["test_accuracy"] > 0.5
    assert tests["4b.2"]["extra_data"]["judged"] == "test_accuracy"
    # the progress run and the evaluation: two children (no train() ran in the second)
    assert tests["4b.1"]["extra_data"]["sandbox_calls"] == 2


# A hostile train(): it keeps the trained weights on the class, and load_state_dict loads
# those instead of the submitted ones. In the child that ran train() an untrained
# model.ckpt would be judged as trained; the checkpoint's child never runs train().
KEEPS_TRAINED = (
    ("    return history\n",
     "    MultiLayerPerceptron.kept = {k: v.detach().clone() for k, v in model.state_dict().items()}\n"
     "    return history\n"),
    ("    def forward(self, x):\n",
     "    def load_state_dict(self, state_dict, *args, **kwargs):\n"
     "        kept = getattr(type(self), 'kept', None)\n"
     "        return super().load_state_dict(kept if kept is not None else state_dict, *args, **kwargs)\n\n"
     "    def forward(self, x):\n"),
)


def test_untrained_checkpoint_earns_nothing_from_the_progress_run(rubric_file, tmp_path):
    """An untrained model.ckpt with a train() that swaps in its own weights at loading:
    the progress run learns (4b.1), the checkpoint is judged in a child of its own, at
    chance (4b.2: 0)."""
    from mutants import apply_edits

    sub = _submission(tmp_path, None)
    path = sub / "ex2_pytorch.py"
    path.write_text(apply_edits(path.read_text(), KEEPS_TRAINED, "the reference"))
    subprocess.run([sys.executable, "-c",
                    "import sys, torch; sys.path.insert(0, sys.argv[1]); import ex2_pytorch as m; "
                    "torch.manual_seed(0); torch.save(m.MultiLayerPerceptron(3072, m.hidden_size, 10)"
                    ".state_dict(), sys.argv[2])", str(sub), str(sub / CKPT)],
                   check=True, timeout=300, capture_output=True)
    graded = grade(sub, "4b", rubric=rubric_mod.load(rubric_file))
    loop, acc = graded["4b.1"], graded["4b.2"]
    assert loop.passed, loop.message
    assert acc.fraction == 0, acc.message
    assert acc.details["test_accuracy"] < 0.2, acc.message
    assert "your checkpoint model.ckpt" in acc.message and "test accuracy" in acc.message


def _evil_pickle(marker: Path) -> bytes:
    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    return pickle.dumps({"layers.0.weight": Evil()}, protocol=2)


def test_broken_checkpoints_never_run_and_are_named(data, reference_ckpt, tmp_path):
    """Corrupt bytes, a pickle that would run a command, a pickled object that is no state
    dict, and the reference's state dict for other declared widths: loaded in ONE
    sandboxed child, each refused with what was wrong; the command never ran."""
    marker = tmp_path / "pwned"
    os.chmod(tmp_path, 0o777)  # so that even an unprivileged child could have made it
    declared, _ = settings_mod.read(ROOT / "reference", SHIPPED.check("4b.1"))
    blobs = {"corrupt": b"PK\x03\x04 not a torch file at all" * 10,
             "evil": _evil_pickle(marker),
             "object": pickle.dumps(declared, protocol=2),
             "widths": reference_ckpt.read_bytes()}
    x_test = np.asarray(data.load("X_test"))[:50]
    calls = [ProbeCall("evaluate_checkpoint",
                       {"checkpoint": name, **({"settings": {**declared.params(),
                                                              "hidden_size": [7]}}
                                               if name == "widths" else {})},
                       {"checkpoint": np.frombuffer(blob, dtype=np.uint8), "X_test": x_test})
             for name, blob in blobs.items()]
    runs = context(ROOT / "reference", SHIPPED).probe_calls(PROBES, calls, "4b.1", params={
        "settings": declared.params(), "scale": SCALE, "num_classes": 10}, kind=data.kind,
        data_files={"X_val": str(data.files["X_val"])})
    failures = {name: run.failure for name, run in zip(blobs, runs)}
    assert all(f is not None for f in failures.values()), failures
    for name in ("corrupt", "evil", "object"):
        assert "could not be loaded with torch.load(weights_only=True)" in \
            failures[name].message, failures[name]
    assert "does not fit MultiLayerPerceptron(3072, [7], 10)" in failures["widths"].message
    assert "size mismatch" in failures["widths"].message
    assert not marker.exists()


def test_checkpoint_file_problems_are_said_without_reading_it(tmp_path):
    """Missing, a link, over the cap: found by the grader from the file's metadata."""
    sub = tmp_path / "sub"
    sub.mkdir()
    blob, problem = training.read_checkpoint(sub, CKPT, 64)
    assert blob is None and "model.ckpt is not found" in problem and "state dict" in problem
    (tmp_path / "elsewhere").write_bytes(b"x")
    (sub / CKPT).symlink_to(tmp_path / "elsewhere")
    assert "not a regular file" in training.read_checkpoint(sub, CKPT, 64)[1]
    (sub / CKPT).unlink()
    (sub / CKPT).write_bytes(b"x" * (2 ** 20 + 1))
    assert "over the 1 MB cap" in training.read_checkpoint(sub, CKPT, 1)[1]
    assert training.read_checkpoint(sub, CKPT, 2)[0] == b"x" * (2 ** 20 + 1)
    outside = tmp_path / "outside"  # a folder on the way that links out of the submission
    outside.mkdir()
    (outside / CKPT).write_bytes(b"secret")
    (sub / "saved").symlink_to(outside)
    assert "not inside your submission" in training.read_checkpoint(sub, f"saved/{CKPT}", 64)[1]


@pytest.mark.slow  # about 15 s: the one-child loader test above covers the refusal itself
def test_missing_or_malicious_checkpoint_costs_the_accuracy_check_only(rubric_file, tmp_path):
    """The whole checkpoint-mode path in one child: the progress run passes 4b.1; a
    pickle that would run a command costs 4b.2 with the loader's refusal, never runs."""
    marker = tmp_path / "pwned"
    os.chmod(tmp_path, 0o777)
    rubric = rubric_mod.load(rubric_file)
    sub = _submission(tmp_path, _evil_pickle(marker))
    trained = training.train_submission(context(sub, rubric))
    loop = training.judge_loop(trained, rubric.check("4b.1"), Feedback())
    acc = training.judge_accuracy(trained, rubric.check("4b.2"), Feedback())
    assert loop.passed, loop.message
    assert acc.fraction == 0
    assert "Mode: checkpoint" in acc.message and "weights_only=True" in acc.message
    assert "torch.save(model.state_dict()" in acc.message
    assert not marker.exists()
    (sub / CKPT).unlink()
    missing = training.Trained(rubric, trained.settings, "", trained.run, trained.data,
                               mode="checkpoint", checkpoint_problem=training.read_checkpoint(
                                   sub, CKPT, 64)[1])
    verdict = training.judge_accuracy(missing, rubric.check("4b.2"), Feedback())
    assert verdict.fraction == 0 and "model.ckpt is not found in your submission" in verdict.message
