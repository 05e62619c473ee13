"""Issue 19: every accuracy that is judged is the test images', and their labels never
enter a sandbox. The training runs of 3b, 4b and 4c (both modes where a question has two)
are started with a recording stand-in for the sandbox, which runs nothing: each call's
data files are the training and validation arrays only, and no input or parameter holds
the test labels (the test images go in, as inputs, with no labels)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.core.engine import context as grading_mod
from grader.core.rubric import spec as rubric_mod
from grader.core.engine.context import Feedback, GradingContext
from grader.core.sandbox.runner import ProbeRun
from grader.data import prepare
from grader.parts.part1_numpy import training as part1_training
from grader.parts.part2_mlp import depths, training
from grading import context
from mutants import ROOT
from rubric_copies import checkpoint_mode

SHIPPED = rubric_mod.load()
ALLOWED = {"X_train", "y_train", "X_val", "y_val"}


@pytest.fixture(scope="module")
def data():
    return prepare.load(None, dict(SHIPPED.datasets))


@pytest.fixture
def calls(monkeypatch):
    """Every call the grader makes to the sandbox: (function, its keyword arguments)."""
    made = []

    def record(probe, function, **kwargs):
        if function != "environment":  # what torch sees (on a machine with a GPU driver)
            made.append((function, kwargs))
        return ProbeRun({"seconds_per_iteration": 0.01}, None)

    monkeypatch.setattr(grading_mod, "run_probe", record)
    return made


def _grading(tmp_path: Path, question: str, mode: str) -> GradingContext:
    """A grading of the reference with the shipped rubric, or a copy that sets
    `question` to checkpoint mode."""
    rubric = SHIPPED
    if mode == "checkpoint":
        path = tmp_path / "rubric.toml"
        path.write_text(checkpoint_mode(question))
        rubric = rubric_mod.load(path)
    return context(_submission(tmp_path), rubric)


def _submission(tmp_path: Path) -> Path:
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "reference", sub, ignore=shutil.ignore_patterns("__pycache__"))
    (sub / "model.ckpt").write_bytes(b"not read here: the stand-in runs nothing")
    return sub


def _assert_no_test_labels(calls, data):
    labels = np.asarray(data.load("y_test"))
    assert calls
    for function, kwargs in calls:
        files = dict(kwargs.get("data_files") or {})
        assert set(files) <= ALLOWED, (function, files)
        assert str(data.files["y_test"]) not in files.values(), function
        for name, value in dict(kwargs.get("inputs") or {}).items():
            assert "y_test" not in name, (function, name)
            arr = np.asarray(value)
            assert not (arr.shape == labels.shape and np.array_equal(arr, labels)), (function, name)
        assert "y_test" not in json.dumps(kwargs.get("params") or {}, default=str), function


@pytest.mark.parametrize("mode", ["retrain", "checkpoint"])
def test_3b_training_runs_never_get_the_test_labels(mode, calls, data, tmp_path):
    grading = _grading(tmp_path, "3b", mode)
    trained = part1_training.train_submission(grading)
    assert trained.mode == mode
    assert [f for f, _ in calls] == ["time_training", "train_cifar"]
    _assert_no_test_labels(calls, data)


@pytest.mark.parametrize("mode", ["retrain", "checkpoint"])
def test_4b_and_4c_runs_never_get_the_test_labels(mode, calls, data, tmp_path):
    grading = _grading(tmp_path, "4b", mode)
    rubric = grading.rubric
    trained = training.train_submission(grading)
    assert trained.mode == mode
    depths.run_sweep(grading, rubric.check("4c.1"), Feedback())
    functions = [f for f, _ in calls]
    # checkpoint mode: the state dict is evaluated in a child of its own, not the one
    # that ran the student's train()
    assert functions == (["train_mlp", "depth_sweep"] if mode == "retrain" else
                         ["train_mlp", "evaluate_checkpoint", "depth_sweep"])
    for function, kwargs in calls:
        assert "X_test" in kwargs["inputs"], function  # images, judged by their logits
    _assert_no_test_labels(calls, data)
