"""7d in checkpoint mode (the rubric's `mode = "checkpoint"` at 7d): the submitted state dict
is read by the grader as bytes only and loaded in a sandboxed child with
torch.load(weights_only=True); a short run of the student's train() must learn. The file
checks run by default; the whole path (a trained checkpoint, a pickle that would run a
command, a state dict of another network) is slow: -m slow runs it."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from grading import CPU_RUBRIC as RUBRIC, context, grade, with_question
from mutants_part4_convnet import MUTANTS
from grader.parts.part4_convnet import training

ROOT = Path(__file__).resolve().parents[3]
CHECK = RUBRIC.check("7d.1")
NAME = str(CHECK.value("checkpoint"))


def test_the_checkpoint_file_is_read_as_bytes_with_its_limits(tmp_path):
    blob, problem = training.read_checkpoint(tmp_path, NAME, 16)
    assert blob is None and f"{NAME} is missing from your submission" in problem
    (tmp_path / "elsewhere").write_bytes(b"x")
    (tmp_path / NAME).symlink_to(tmp_path / "elsewhere")
    assert "not a regular file" in training.read_checkpoint(tmp_path, NAME, 16)[1]
    (tmp_path / NAME).unlink()
    (tmp_path / NAME).write_bytes(b"\0" * (2 * 2 ** 20))
    assert "over the 1 MB cap" in training.read_checkpoint(tmp_path, NAME, 1)[1]
    assert training.read_checkpoint(tmp_path, NAME, 16)[0] == b"\0" * (2 * 2 ** 20)


def _grade(submission: Path):
    """7d.1 in checkpoint mode: what it said."""
    return grade(submission, "7d.1", rubric=with_question(RUBRIC, "7d", mode="checkpoint"))["7d.1"]


TRAIN_AND_SAVE = """
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[1])
import convnet_mnist as m
torch.manual_seed(0)
torch.set_num_threads(1)
X, y = (torch.from_numpy(np.load(f)) for f in sys.argv[3:5])
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64,
                                     shuffle=True)
model = m.ConvNet()
m.train(model, loader, torch.device("cpu"), 5, 1e-3)
torch.save(model.state_dict(), sys.argv[2])
"""


def _submission(tmp_path: Path, source: Path = ROOT / "reference") -> Path:
    sub = tmp_path / "sub"
    sub.mkdir()
    for name in ("convnet_mnist.py", "convnet_answers.py"):
        (sub / name).write_text((source / name).read_text())
    return sub


# slow: a training run to make the checkpoint (about 10 s) and three sandboxed children
@pytest.mark.slow
def test_checkpoint_mode_end_to_end(tmp_path):
    pytest.importorskip("torch")
    sub = _submission(tmp_path)
    data = context(sub).data("7d")
    proc = subprocess.run([sys.executable, "-c", TRAIN_AND_SAVE, str(sub), str(sub / NAME),
                           str(data.files["X_train"]), str(data.files["y_train"])],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    graded = _grade(sub)
    assert graded.passed, graded.message
    assert graded.message.startswith("Mode: checkpoint") and "Short run of your train()" in \
        graded.message
    assert graded.details["test_accuracy"] >= graded.details["threshold"]

    # a state dict of another network (10 maps) does not fit the student's ConvNet
    ten = next(m for m in MUTANTS if m.name == "ten_maps")
    other = ten.write(tmp_path / "ten")
    (other / NAME).write_bytes((sub / NAME).read_bytes())
    graded = _grade(other)
    assert not graded.passed and "does not fit your ConvNet()" in graded.message

    # a pickle that would run a command is refused by weights_only, never run
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (sub / NAME).write_bytes(pickle.dumps({"conv.weight": Payload()}))
    graded = _grade(sub)
    assert not graded.passed and "could not be loaded with torch.load(weights_only=True)" \
        in graded.message
    assert not marker.exists()


SAVE_UNTRAINED = """
import sys, torch
sys.path.insert(0, sys.argv[1])
import convnet_mnist as m
torch.save(m.ConvNet().state_dict(), sys.argv[2])
"""


# slow: a short training run and two sandboxed children (about 20 s here)
@pytest.mark.slow
def test_an_untrained_checkpoint_is_not_paid_through_the_progress_run(tmp_path):
    """Issue 19: in checkpoint mode the checkpoint's logits come from a child that never
    ran train(). A train() that trains well past its short run and leaves the model in a
    module global, for a ConvNet() whose forward answers with it, would pay an untrained
    checkpoint if both ran in one child; here the untrained checkpoint is judged as it is."""
    pytest.importorskip("torch")
    sub = _submission(tmp_path)
    path = sub / "convnet_mnist.py"
    text = path.read_text()
    for old, new in (
            ("    def forward(self, x):\n",
             "    def forward(self, x):\n"
             "        if TRAINED and TRAINED[0] is not self:\n"
             "            return TRAINED[0](x)\n"),
            ("    for epoch in range(num_epochs):\n", "    for epoch in range(5):\n"),
            ("    return history\n", "    TRAINED.append(model)\n    return history\n"),
            ("class ConvNet(nn.Module):", "TRAINED = []\n\n\nclass ConvNet(nn.Module):")):
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-c", SAVE_UNTRAINED, str(sub), str(sub / NAME)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    graded = _grade(sub)
    assert not graded.passed, graded.message
    assert graded.details["test_accuracy"] < 0.5, graded.details
    assert "Short run of your train()" in graded.message and "test accuracy" in graded.message
