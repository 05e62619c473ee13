"""Part 4's MNIST ConvNet judgements without a sandbox: 7b's layer roles, shapes, counts
and hints from recorded rows; 7c's answers file; the declared training settings; the
reference and the template agree outside their marked blocks."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from grader.core.rubric import spec as rubric_mod
from grader.core.engine.context import Feedback
from grader.core.sandbox.runner import ProbeRun
from grader.parts.part4_convnet import layers, settings, stated, training

ROOT = Path(__file__).resolve().parents[3]
RUBRIC = rubric_mod.load()
SHAPES, PARAMS, TRAIN = RUBRIC.check("7b.1"), RUBRIC.check("7b.2"), RUBRIC.check("7d.1")
CONV = {"in": 1, "out": 20, "kernel": [5, 5], "stride": [1, 1], "padding": [0, 0]}
POOL = {"kernel": [2, 2], "stride": [2, 2]}
REFERENCE_ROWS = [["Conv2d", "conv", 520, [20, 24, 24], CONV], ["ReLU", "relu1", 0, [20, 24, 24], {}],
                  ["MaxPool2d", "pool", 0, [20, 12, 12], POOL],
                  ["Linear", "fc1", 288100, [100], {"in": 2880, "out": 100}],
                  ["ReLU", "relu2", 0, [100], {}], ["Linear", "fc2", 1010, [10], {"in": 100, "out": 10}]]


def summary(rows, total=None, unused=()) -> layers.Summary:
    found = tuple(layers._layer(r) for r in rows)
    return layers.Summary(None, found, sum(l.params for l in found) if total is None else total,
                          tuple(unused))


def judge(rows, **kwargs):
    s = summary(rows, **kwargs)
    return (layers.judge_shapes(s, SHAPES, PARAMS, Feedback()),
            layers.judge_parameters(s, SHAPES, PARAMS, Feedback()))


def test_the_handouts_layers_pass_both_checks():
    shapes, params = judge(REFERENCE_ROWS)
    assert shapes.passed and params.passed, shapes.message + params.message
    assert "289,630" in params.message


def test_functional_layers_flatten_dropout_and_a_final_softmax_count_alike():
    rows = [REFERENCE_ROWS[0], ["relu", "", 0, [20, 24, 24], {}],
            ["max_pool2d", "", 0, [20, 12, 12], POOL], ["Flatten", "flat", 0, [2880], {}],
            REFERENCE_ROWS[3], ["relu", "", 0, [100], {}], ["Dropout", "drop", 0, [100], {}],
            REFERENCE_ROWS[5], ["log_softmax", "", 0, [10], {}]]
    shapes, params = judge(rows)
    assert shapes.passed and params.passed, shapes.message + params.message
    assert " -  F.log_softmax" in shapes.message and " 2  F.relu" in shapes.message


def test_a_wrong_activation_is_named_at_its_layer():
    rows = [*REFERENCE_ROWS[:4], ["Sigmoid", "relu2", 0, [100], {}], REFERENCE_ROWS[5]]
    shapes, params = judge(rows)
    assert not shapes.passed and params.passed
    assert "layer 5 is relu2 (Sigmoid); the handout's layer 5 is a ReLU" in shapes.message


@pytest.mark.parametrize("change, says", [
    ({"padding": [2, 2]}, "padding [2, 2]: the handout's convolution has none"),
    ({"stride": [2, 2]}, "stride 2: the handout asks for stride 1"),
])
def test_conv_settings_are_named_when_the_shape_is_wrong(change, says):
    conv = ["Conv2d", "conv", 520, [20, 28, 28], {**CONV, **change}]
    shapes, _ = judge([conv, *REFERENCE_ROWS[1:]])
    assert "layer 1, conv (Conv2d), outputs (20, 28, 28), expected (20, 24, 24)" in shapes.message
    assert says in shapes.message


def test_average_pooling_and_missing_or_extra_layers():
    avg = [*REFERENCE_ROWS[:2], ["AvgPool2d", "pool", 0, [20, 12, 12], POOL], *REFERENCE_ROWS[3:]]
    assert "layer 3 is pool (AvgPool2d)" in judge(avg)[0].message
    short, params = judge(REFERENCE_ROWS[:5])
    assert "applies 5 layers" in short.message and "add the missing layers" in short.message
    assert not params.passed and "not 6" in params.message
    extra, _ = judge([*REFERENCE_ROWS, ["ReLU", "relu3", 0, [10], {}]])
    assert "applies 7 layers" in extra.message and "remove the extra layers" in extra.message


def test_a_module_the_forward_never_uses_costs_7b2_only():
    shapes, params = judge(REFERENCE_ROWS, total=289630 + 1010,
                           unused=[("spare", "Linear", 1010)])
    assert shapes.passed and not params.passed
    assert "modules whose result never reaches your forward's output hold some (spare " \
        "(Linear, 1,010 parameters))" in params.message


def _answers(tmp_path, **changes) -> Path:
    text = (ROOT / "reference" / "convnet_answers.py").read_text()
    for name, value in changes.items():
        text = re.sub(rf"^{name} = .*$", f"{name} = {value}", text, flags=re.M)
    (tmp_path / "convnet_answers.py").write_text(text)
    return tmp_path


def test_stated_answers_of_the_reference_are_right_and_a_batch_dimension_is_accepted(tmp_path):
    answers = stated.read(_answers(tmp_path, conv_shape="[1, 20, 24, 24]", fc2_shape="(-1, 10)",
                                   fc1_shape="100"))
    for judge_ in (stated.judge_parameters, stated.judge_shapes):
        verdict = judge_(answers, SHAPES, PARAMS, reveal=False)
        assert verdict.passed, verdict.message


def test_wrong_blank_and_unreadable_answers_each_get_a_line(tmp_path):
    answers = stated.read(_answers(tmp_path, pool_params="None", relu1_params="len([1])",
                                   fc2_params="1000"))
    hidden = stated.judge_parameters(answers, SHAPES, PARAMS, reveal=False)
    assert hidden.fraction == pytest.approx(4 / 7)
    assert "pool_params: not answered" in hidden.message
    assert "relu1_params: convnet_answers.py line" in hidden.message
    assert "fc2_params: got 1000, which is not right" in hidden.message
    assert "1010" not in hidden.message  # not revealed before the due date
    shown = stated.judge_parameters(answers, SHAPES, PARAMS, reveal=True)
    assert "fc2_params: got 1000, expected 1010" in shown.message


def test_a_missing_answers_file_costs_7c_with_what_to_submit(tmp_path):
    verdict = stated.judge_shapes(stated.read(tmp_path), SHAPES, PARAMS, reveal=False)
    assert verdict.fraction == 0 and "convnet_answers.py is missing" in verdict.message


def test_answers_in_a_notebook_are_read(tmp_path):
    source = (ROOT / "reference" / "convnet_answers.py").read_text()
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": source}
    (tmp_path / "convnet_answers.ipynb").write_text(json.dumps(
        {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert stated.judge_shapes(stated.read(tmp_path), SHAPES, PARAMS, reveal=False).passed


def _model(tmp_path, text) -> Path:
    (tmp_path / "convnet_mnist.py").write_text(text)
    return tmp_path


def test_settings_are_read_without_running_the_file(tmp_path):
    found, problem = settings.read(ROOT / "reference", TRAIN)
    assert problem == "" and found.params() == {"num_epochs": 5, "batch_size": 64,
                                                 "learning_rate": 1e-3}
    bare, _ = settings.read(_model(tmp_path, "import torch\nnum_epochs = 2 * 3\n"), TRAIN)
    assert bare.num_epochs == 6 and bare.batch_size == 64 and len(bare.notes) == 2
    _, problem = settings.read(_model(tmp_path, "batch_size = int('64')\n"), TRAIN)
    assert "cannot read batch_size without running your code" in problem
    _, problem = settings.read(_model(tmp_path, "num_epochs = 1000\n"), TRAIN)
    assert "above the grader's limit of 30" in problem


def test_the_template_differs_from_the_reference_only_in_marked_blocks():
    """Every line of the reference missing from the template sits where the template
    says TODO, and the template's stubs raise NotImplementedError."""
    reference = (ROOT / "reference" / "convnet_mnist.py").read_text().splitlines()
    template = (ROOT / "student_template" / "convnet_mnist.py").read_text()
    assert template.count("raise NotImplementedError") == 3 and template.count("# TODO") == 3
    kept = set(template.splitlines())
    missing = [line for line in reference if line not in kept]
    assert 0 < len(missing) <= 20, missing
    answers = (ROOT / "student_template" / "convnet_answers.py").read_text()
    assert answers.count("= None") == 13


class _Data:
    """A PreparedData stand-in: labels only (the grader's side of 7d)."""

    def __init__(self, kind, labels):
        self.kind, self.labels = kind, np.asarray(labels)

    def load(self, name):
        assert name == "y_test"
        return self.labels


def _trained(kind, correct, steps=315, losses=(2.3, 0.5, 0.2, 0.1), changed=True,
             epochs=5):
    """A made-up training run (the weights it left: state/) and its evaluation in the
    child that never runs train() (the test logits, the initial weights: initial/)."""
    labels = np.arange(100) % 10
    guess = np.where(np.arange(100) < correct, labels, (labels + 1) % 10)
    weight = np.ones((3, 2), dtype=np.float32)
    run = ProbeRun(values={"state/fc2.weight": weight, "steps": steps,
                           "losses": np.array(losses)}, failure=None)
    evaluation = ProbeRun(values={"test_logits": np.eye(10)[guess],
                                  "initial/fc2.weight": weight - changed}, failure=None)
    return training.Trained(RUBRIC, settings.Settings(epochs, 64, 1e-3), "", run,
                            _Data(kind, labels), evaluation=evaluation)


@pytest.mark.parametrize("kind, correct, passed", [
    ("real", 97, True), ("real", 96, False), ("subset", 92, True), ("subset", 91, False)])
def test_7d_judges_the_accuracy_against_the_threshold_of_the_datas_kind(kind, correct, passed):
    feedback = Feedback()
    verdict = training.judge(_trained(kind, correct), TRAIN, feedback)
    assert verdict.passed is passed, verdict.message
    assert feedback.details["test_accuracy"] == pytest.approx(correct / 100)
    name = "real MNIST (100 test digits)" if kind == "real" else "5,000-digit subset of real MNIST"
    assert name in verdict.message


def test_7d_names_an_optimizer_that_never_steps():
    verdict = training.judge(_trained("subset", 10, steps=0, losses=(2.3, 2.3, 2.3, 2.3)),
                             TRAIN, Feedback())
    assert not verdict.passed and "optimizer.step() was never called" in verdict.message


def test_7d_a_short_run_is_named_before_the_training_step():
    """Issue 23: a failed run on settings making a fifth of the handout's steps (a later
    cell's num_epochs = 1) says the run was short before blaming zero_grad/backward/step;
    the handout's num_epochs gets the training-step hint alone."""
    short = training.judge(_trained("real", 81, epochs=1), TRAIN, Feedback())
    assert not short.passed
    hint = short.message.split("Hint: ")[1]
    assert hint.startswith("the run was short: num_epochs = 1 and batch_size = 64 make 5 times "
                           "fewer optimizer steps than the handout's 5 and 64"), hint
    assert hint.index("the run was short") < hint.index("check the training step")
    full = training.judge(_trained("real", 81), TRAIN, Feedback())
    assert "the run was short" not in full.message
    assert "Hint: the loss went from 2.300" in full.message


def test_7d_weights_left_as_built_earn_nothing_even_at_full_accuracy():
    """Issue 19: the grader's own evidence, the weights changed, is needed; test logits
    that are all right (a forward that found the labels somewhere) and observed steps do
    not make up for weights train() never changed."""
    feedback = Feedback()
    verdict = training.judge(_trained("subset", 100, changed=False), TRAIN, feedback)
    assert not verdict.passed and feedback.details["weights_changed"] == 0
    assert "0 of 1 entries of the state dict changed in training" in verdict.message
    assert "left the ConvNet's weights as they were built" in verdict.message


def test_7d_weights_that_do_not_fit_a_fresh_convnet_are_named():
    """The evaluation child could not load what train() left (a layer added in train()):
    no points, and the feedback says where it failed."""
    from dataclasses import replace

    from grader.core.sandbox.runner import Failure
    trained = _trained("subset", 95)
    failed = replace(trained.evaluation, failure=Failure(
        "api", "the weights train() left do not fit a new ConvNet(): Unexpected key(s) in "
        "state_dict: \"extra.weight\""))
    verdict = training.judge(replace(trained, evaluation=failed), TRAIN, Feedback())
    assert not verdict.passed
    assert "the weights train() left, loaded into a fresh ConvNet() to be evaluated: the " \
        "weights train() left do not fit a new ConvNet()" in verdict.message, verdict.message
