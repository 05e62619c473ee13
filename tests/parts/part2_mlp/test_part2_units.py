"""Part 2's judgements in the grader's process, on plain values (no sandbox, no torch):
settings read with ast, the structure rules of 4a, the training-loop findings of 4b."""
from __future__ import annotations

import json

import numpy as np
import pytest

from grader.core.sandbox.runner import ProbeRun
from grader.parts.part2_mlp import settings, structure, training
from grading import CPU_RUBRIC as RUBRIC
from mutants_part2 import REFERENCE

LOOP = RUBRIC.check("4b.1")


def _write(tmp_path, text, name="ex2_pytorch.py"):
    (tmp_path / name).write_text(text)
    return tmp_path


def test_reference_declares_the_handouts_settings():
    found, problem = settings.read(REFERENCE.parent, LOOP)
    assert problem == ""
    assert found.params() == {"hidden_size": [50], "num_epochs": 10, "batch_size": 200,
                              "learning_rate": 1e-3, "learning_rate_decay": 0.95, "reg": 0.001}
    assert found.notes == ()


def test_settings_are_read_without_running_the_file(tmp_path):
    sub = _write(tmp_path, "import torch\nopen('/nonexistent')\nhidden_size = [100, 50]\n"
                 "width = 64\nhidden_size = [width * 2, width]\nnum_epochs = 2 * 5\n"
                 "batch_size: int = 100\nlearning_rate = 5e-4\nlearning_rate_decay = 0.9\n")
    found, problem = settings.read(sub, LOOP)
    assert problem == ""
    assert found.hidden_size == (128, 64) and found.num_epochs == 10 and found.batch_size == 100
    repeated, default = found.notes  # hidden_size is assigned twice: the last one counts
    assert repeated.startswith("hidden_size is assigned 2 times in ex2_pytorch.py, expected once: "
                               "the grader uses the last one, hidden_size = [128, 64] (line 5), "
                               "not line 3. Hint: keep one assignment of each setting")
    assert default == "ex2_pytorch.py declares no top-level reg: the handout's 0.001 is used"


@pytest.mark.parametrize("line, says", [
    ("hidden_size = list(range(3))", "line 1: the grader cannot read hidden_size"),
    ("hidden_size = [50, 0]", "hidden_size should be a list of positive whole numbers"),
    ("num_epochs = 500", "num_epochs = 500 is above the grader's limit of 50"),
    ("learning_rate_decay = 1.5", "learning_rate_decay should be a number in (0, 1], got 1.5"),
    ("num_epochs = '10'", "num_epochs should be a positive whole number, got '10'"),
    ("num_epochs = 1" + "0" * 400, "line 1: the grader cannot read num_epochs"),  # once a crash
    ("hidden_size = [5000]", "at most 10 layers of at most 4096 units"),
])
def test_bad_settings_are_refused_by_name(tmp_path, line, says):
    found, problem = settings.read(_write(tmp_path, line + "\n"), LOOP)
    assert found is None and says in problem


def test_settings_of_a_notebook(tmp_path):
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": ["%matplotlib inline\n", "hidden_size = [30, 20]\n"]},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": ["num_epochs = 3\n"]}]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    found, _ = settings.read(_write(tmp_path, json.dumps(notebook), "ex2_pytorch.ipynb"), LOOP)
    assert found.hidden_size == (30, 20) and found.num_epochs == 3
    assert not any("assigned" in note for note in found.notes)
    # a quick test in a later cell overrides the settings above it, as when run, and is named
    cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                  "source": ["# quick test\n", "num_epochs = 1\n"]})
    found, _ = settings.read(_write(tmp_path, json.dumps(notebook), "ex2_pytorch.ipynb"), LOOP)
    assert found.num_epochs == 1
    assert ("num_epochs is assigned 2 times in ex2_pytorch.ipynb, expected once: the grader uses "
            "the last one, num_epochs = 1 (cell 3, line 2), not cell 2, line 1.") in found.notes[0]


@pytest.mark.parametrize("hidden, applied, says", [
    ((100, 50), [(3072, 100), (100, 10)], "the width 50 is never used"),
    ((50,), [(3072, 50), (50, 50), (50, 10)], "1 Linear layer more than hidden_layers=[50]"),
    ((100, 50), [(3072, 100), (100, 50)], "has 50 outputs, not num_classes=10"),
    ((100, 50), [(3072, 64), (64, 10)], "it uses the width 64, which hidden_layers=[100, 50] "
                                        "does not hold, and never uses the widths 100, 50"),
    ((100, 50), [(3072, 50), (50, 100), (100, 10)], "the widths are used out of order"),
    ((50,), [], "forward applied no nn.Linear layer"),
])
def test_first_difference_names_it(hidden, applied, says):
    case = structure.Case("c", hidden)
    expected = structure.expected_chain(3072, hidden, 10)
    assert says in structure.first_difference(case, applied, expected, 10)


def test_affine_tells_nonlinearities_from_scaling():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(32, 20))
    assert structure.affine(z, z)  # nothing between
    assert structure.affine(z, 3 * z - 1)  # BatchNorm in eval mode, Dropout in eval mode
    for nonlinear in (np.maximum(z, 0), np.where(z > 0, z, 0.01 * z), np.tanh(z)):
        assert not structure.affine(z, nonlinear)


def test_output_rules():
    rng = np.random.default_rng(1)
    last = rng.normal(size=(8, 10))
    probs = np.exp(last) / np.exp(last).sum(axis=1, keepdims=True)
    assert structure.output_problem(last, last) == ""
    assert structure.output_problem(np.log(probs), last) == ""  # log-softmax: scores
    assert "probabilities" in structure.output_problem(probs, last)
    assert "a ReLU after the last Linear layer" in structure.output_problem(np.maximum(last, 0), last)
    assert "not the last Linear layer's output" in structure.output_problem(np.tanh(last), last)


def _run(**values):
    base = {"steps": 40, "loss_calls": 40, "zero_grads": 40, "accumulated": 0, "judged": 39,
            "prob_inputs": 0, "losses": np.linspace(2.3, 1.0, 40),
            "step_lrs": np.repeat(0.01 * 0.5 ** np.arange(4), 10),
            "epoch_first_step": np.arange(0, 40, 10), "epoch_steps": np.full(4, 10)}
    return ProbeRun({**base, **values}, None)


def test_a_correct_loop_has_no_findings():
    problems, seen = training.loop_findings(_run(), 0.01, 0.5, 1e-6)
    assert problems == [] and any("multiplied by 0.5 once per epoch" in s for s in seen)


@pytest.mark.parametrize("values, says", [
    ({"steps": 0, "step_lrs": np.zeros(0)}, "optimizer.step() was never called"),
    ({"accumulated": 39, "zero_grads": 0}, "the gradients were never cleared"),
    ({"prob_inputs": 40}, "the loss was given probabilities"),
    ({"loss_calls": 0}, "no loss was computed with nn.CrossEntropyLoss"),
    ({"losses": np.array([2.3, np.nan])}, "NaN or inf at training step 2"),
    ({"step_lrs": np.full(40, 0.01)}, "stayed at 0.01 for all 4 epochs"),
    ({"step_lrs": 0.01 * 0.5 ** np.arange(40)}, "changed within an epoch"),
    ({"step_lrs": np.full(40, 0.1)}, "not the declared learning_rate = 0.01"),
    ({"step_lrs": np.repeat(0.01 * 0.9 ** np.arange(4), 10)}, "should be 0.01, 0.005"),
])
def test_each_loop_problem_is_named(values, says):
    problems, _ = training.loop_findings(_run(**values), 0.01, 0.5, 1e-6)
    assert any(says in p for p in problems), problems
