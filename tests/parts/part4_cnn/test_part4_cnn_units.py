"""Part 4 (seed 003)'s grader-side pieces on plain values: the grader's own math (6a's
formula against torch's convolution and pooling, 6d's gradients against autograd, both
computed by torch in a separate process: no test process imports torch), the hidden
cases, opt_dict read with ast, and the structure rules of 6b on hand-made traces."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.core.rubric import spec as rubric
from grader.core.sandbox.runner import ProbeRun
from grader.parts.part4_cnn import cases, cnnmath, settings, structure

ROOT = Path(__file__).resolve().parents[3]
RUBRIC = rubric.load()
LEARN = RUBRIC.check("6c.1")
GRID = [[h, k, p, s] for h in (5, 8, 13, 32) for k in (1, 2, 3, 5) for p in (0, 1, 2)
        for s in (1, 2, 3) if p <= k // 2 + 1 and h + 2 * p >= k]

TORCH_SIDE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import torch
    request = json.loads(sys.stdin.read())
    sizes = []
    for h, k, p, s in request["grid"]:
        x = torch.zeros(1, 1, h, h + 3)
        conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p)(x).shape[-2]
        pool = torch.nn.functional.max_pool2d(x, k, stride=s, padding=p).shape[-2] \\
            if p <= k // 2 else None
        sizes.append([conv, pool])
    grads = []
    for net in request["networks"]:
        v = {k: torch.tensor(val, dtype=torch.float64, requires_grad=k in ("b1", "b2"))
             for k, val in net.items()}
        y = v["W2"] @ torch.relu(v["W1"] @ v["x"] + v["b1"]) + v["b2"]
        torch.sum((v["t"] - y) ** 2).backward()
        grads.append([v["b1"].grad.tolist(), v["b2"].grad.tolist()])
    print(json.dumps({"sizes": sizes, "grads": grads}))
""")


@pytest.fixture(scope="module")
def torch_answers():
    """torch's output sizes of GRID and autograd's bias gradients of every network the
    suites use, computed in one separate process."""
    pytest.importorskip("torch")
    networks = [cases.figure_network()] + cases.hidden_networks(RUBRIC.seed, "6d.2", 4) \
        + cases.hidden_networks(7, "6d.2", 12)
    request = {"grid": GRID, "networks": [
        {k: np.asarray(getattr(n, k)).tolist() for k in ("x", "W1", "b1", "W2", "b2", "t")}
        for n in networks]}
    proc = subprocess.run([sys.executable, "-c", TORCH_SIDE], input=json.dumps(request),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return networks, json.loads(proc.stdout)


def test_the_formula_is_torchs_output_size(torch_answers):
    """6a's expected values: equation (5) gives what nn.Conv2d and max-pooling give."""
    _, answers = torch_answers
    for (h, k, p, s), (conv, pool) in zip(GRID, answers["sizes"]):
        want = cnnmath.conv_output_size(h, k, p, s)
        assert conv == want, (h, k, p, s)
        assert pool is None or pool == want, (h, k, p, s)
    assert np.array_equal(cnnmath.conv_output_sizes(np.array(GRID)),
                          [cnnmath.conv_output_size(*row) for row in GRID])


def test_the_bias_gradients_are_autograds(torch_answers):
    """6d's expected values against autograd, on the figure and on hidden networks."""
    networks, answers = torch_answers
    for net, (db1, db2) in zip(networks, answers["grads"]):
        got1, got2 = cnnmath.bias_gradients(*net.args())
        assert np.allclose(got1, db1, rtol=1e-12, atol=1e-12), net.name
        assert np.allclose(got2, db2, rtol=1e-12, atol=1e-12), net.name


def test_the_figures_numbers_are_fixed():
    """The public instance, which the handout lets students check by hand: one hidden unit
    off (its bias gradient 0), L = ||t - y||^2 with y = (2.85, 1.175)."""
    net = cases.figure_network()
    db1, db2 = cnnmath.bias_gradients(*net.args())
    assert np.allclose(db2, [3.7, 1.35]) and np.allclose(db1, [4.375, 0.0])
    assert cnnmath.loss(*net.args()) == pytest.approx(1.85 ** 2 + 0.675 ** 2)


def test_hidden_cases_are_derived_and_make_the_floor_matter():
    first = cases.hidden_size_cases(RUBRIC.seed, "6a.2", 12)
    assert np.array_equal(first, cases.hidden_size_cases(RUBRIC.seed, "6a.2", 12))
    assert not np.array_equal(first, cases.hidden_size_cases(RUBRIC.seed + 1, "6a.2", 12))
    h, k, p, s = first.T
    assert np.all((h + 2 * p - k)[:6] % s[:6] != 0)  # the floor changes these answers
    assert np.all(cnnmath.conv_output_sizes(first) >= 1)
    for net in cases.hidden_networks(RUBRIC.seed, "6d.2", 4):
        z1 = net.W1 @ net.x + net.b1
        assert np.all(np.abs(z1) > cases.MIN_MARGIN) and (z1 < 0).any() and (z1 > 0).any()


# -- opt_dict, read with ast ----------------------------------------------------------------

COURSE_STYLE = textwrap.dedent("""
    import scipy.io as sio
    from torch.utils.data import DataLoader
    from data_feed import DataFeed
    from build_net import CNN
    from algo_train import sup_trn
    opt_dict = {
        'tag': 'cifar_cnn', 'trn_root': 'training.mat', 'inp_dim': (3, 32, 32), 'out_dim': 10,
        'gpu': True, 'gpu_idx': 0, 'solver': 'SGDM', 'tbs': 128, 'vbs': 500, 'num_epochs': 5,
        'lr': 1e-2, 'wd': 1e-5, 'momentum': 0.9, 'lr_sch': [3], 'lr_factor': 0.1,
        'coll_cycle': 10, 'display_freq': 10, 'val_cycle': 30,
    }
    stats = sio.loadmat(opt_dict['stats_file'])
    opt_dict['stats'] = stats
    opt_dict['num_epochs'] = 4
    trn_feed = DataFeed(root=opt_dict['trn_root'], trf=True, stats=opt_dict['stats'])
    net, trn_info = sup_trn(CNN(opt_dict['inp_dim'], 10), None, None, opt_dict)
""")


def test_reference_opt_dict_is_the_handouts():
    found, problem = settings.read(ROOT / "reference", LEARN)
    assert problem == "" and found.notes == ()
    assert {k: found.values[k] for k in settings.USED} == settings.HANDOUT


def test_the_course_style_main_is_read_without_running_it(tmp_path):
    """The course's main.py loads .mat files and trains at import: opt_dict is read as
    data, later literal assignments count, and what is not data is left out with a note;
    the keys the grader sets (gpu, trn_size, ...) are dropped."""
    (tmp_path / "main.py").write_text(COURSE_STYLE)
    found, problem = settings.read(tmp_path, LEARN)
    assert problem == ""
    assert found.values["solver"] == "SGDM" and found.values["tbs"] == 128
    assert found.values["num_epochs"] == 4 and found.values["lr_sch"] == [3]
    assert "gpu" not in found.values and "inp_dim" not in found.values
    assert found.values["trn_root"] == "training.mat"  # extra keys reach sup_trn
    repeated, left_out = found.notes
    assert repeated.startswith("opt_dict['num_epochs'] is assigned 2 times in main.py, expected "
                               "once: the grader uses the last one, opt_dict['num_epochs'] = 4 "
                               "(line 15), not line 9. Hint: keep one assignment of each setting")
    assert left_out == "opt_dict entries left out (not plain data): stats"


@pytest.mark.parametrize("text, says", [
    ("x = 1\n", "declares no top-level opt_dict"),
    ("opt_dict = dict(tbs=64)\n", "line 1: the grader cannot read opt_dict without running your "
                                  "code: write it as a literal dict"),
    ("opt_dict = [64]\n", "main.py line 1: opt_dict should be a dict, got list"),
    ("n = '5'\nopt_dict = {'num_epochs': int(n)}\n",
     "line 2: the grader cannot read opt_dict['num_epochs']"),
    ("opt_dict = {'num_epochs': 1" + "0" * 400 + "}\n",  # once a crash
     "line 1: the grader cannot read opt_dict['num_epochs']"),
    ("opt_dict = {'num_epochs': 500}\n", "opt_dict['num_epochs'] = 500 is above the grader's limit of 50"),
    ("opt_dict = {'lr': -1}\n", "opt_dict['lr'] should be a number in (0, 10)"),
    ("opt_dict = {'tbs': 0}\n", "opt_dict['tbs'] should be a positive whole number"),
])
def test_bad_opt_dicts_are_refused_by_name(tmp_path, text, says):
    (tmp_path / "main.py").write_text(text)
    found, problem = settings.read(tmp_path, LEARN)
    assert found is None and says in problem, problem


def test_opt_dict_is_read_as_every_part_reads_its_settings(tmp_path):
    """Drift fixed: a whole float counts as a whole number (32.0), and names assigned before
    and arithmetic are read as in the other parts' settings."""
    (tmp_path / "main.py").write_text("n = 4\nopt_dict = {'num_epochs': n, 'tbs': 32.0, "
                                      "'lr_sch': [n // 2], 'vbs': 2 * 250}\n")
    found, problem = settings.read(tmp_path, LEARN)
    assert problem == "" and found.values["num_epochs"] == 4 and found.values["vbs"] == 500
    assert found.values["tbs"] == 32 and type(found.values["tbs"]) is int
    assert found.values["lr_sch"] == [2]


def test_missing_settings_take_the_handouts_values_with_a_note(tmp_path):
    (tmp_path / "main.py").write_text("opt_dict = {'tbs': 32}\n")
    found, _ = settings.read(tmp_path, LEARN)
    assert found.values["tbs"] == 32 and found.values["num_epochs"] == settings.HANDOUT["num_epochs"]
    assert "opt_dict has no 'num_epochs': the handout's 8 is used" in found.notes


def test_opt_dict_of_a_notebook(tmp_path):
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": ["%matplotlib inline\n", "opt_dict = {'tbs': 16, 'num_epochs': 2}\n"]}]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "main.ipynb").write_text(json.dumps(notebook))
    found, _ = settings.read(tmp_path, LEARN)
    assert found.tbs == 16 and found.num_epochs == 2


# -- 6b's rules on hand-made traces ---------------------------------------------------------

def _conv(module, c_in, c_out, hw_in, hw_out, k=3, s=1, p=1):
    return ["conv", "conv2d", module, [8, c_in, *hw_in], [8, c_out, *hw_out], [k, k], [s, s], [p, p]]


def _pool(module, c, hw_in, hw_out, kind="maxpool", name="max_pool2d"):
    return [kind, name, module, [8, c, *hw_in], [8, c, *hw_out], 2, 2, 0]


def _linear(module, n_in, n_out):
    return ["linear", "linear", module, [8, n_in], [8, n_out], [], 1, 0]


def _cnn_trace(**changes):
    events = [_conv("conv_b_1.conv_1", 3, 8, (32, 32), (32, 32)),
              _conv("conv_b_1.conv_2", 8, 8, (32, 32), (32, 32)),
              _pool("conv_b_1.max_pool", 8, (32, 32), (16, 16)),
              _conv("conv_b_2.conv_1", 8, 16, (16, 16), (16, 16)),
              _conv("conv_b_2.conv_2", 16, 16, (16, 16), (16, 16)),
              _pool("conv_b_2.max_pool", 16, (16, 16), (8, 8)),
              _linear("dense_b_1.fc", 1024, 64), _linear("dense_b_2.fc", 64, 10)]
    for index, event in changes.items():
        events[int(index[1:])] = event
    return _with_relus(events)


def _relu(module, shape):
    return ["relu", "relu", module, list(shape), list(shape), [], 1, 0]


def _with_relus(events):
    """The trace with a ReLU after every convolution (as ConvBlock applies them)."""
    out = []
    for event in events:
        out.append(event)
        if event[0] == "conv":
            out.append(_relu(event[2].replace("conv_", "relu_"), event[4]))
    return out


def _judge(events, output=None, last=None):
    rng = np.random.default_rng(0)
    last = rng.standard_normal((8, 10)) if last is None else last
    run = ProbeRun(values={"events": events, "output": last if output is None else output,
                           "last_linear": last}, failure=None)
    return structure.judge_cnn(run, 8, 10)


def test_the_reference_shaped_trace_passes():
    problems, summary = _judge(_cnn_trace())
    assert problems == []
    assert summary.startswith("block 1: conv 3->8 at 32x32, conv 8->8 at 32x32, max-pool to 16x16")


def test_a_stride_two_convolution_is_named_with_its_shapes():
    problems, _ = _judge(_cnn_trace(e1=_conv("conv_b_1.conv_2", 8, 8, (32, 32), (16, 16), s=2),
                                    e2=_pool("conv_b_1.max_pool", 8, (16, 16), (8, 8))))
    assert problems[0] == ("conv 2 of block 1 (conv_b_1.conv_2) maps 32x32 to 16x16 (stride 2): "
                           "keep stride 1 and leave downsampling to MaxPool2d.")


def test_a_convolution_without_its_relu_is_named_and_one_after_the_pool_is_accepted():
    trace = _cnn_trace()
    del trace[3]  # conv_b_1.conv_2's ReLU
    problems, _ = _judge(trace)
    assert problems == ["conv 2 of block 1 (conv_b_1.conv_2) is not followed by a ReLU: "
                        "ConvBlock is conv, ReLU, conv, ReLU, 2x2 max-pool (a ReLU defined in "
                        "__init__ must also be called in forward)."]
    trace.insert(4, _relu("conv_b_1.relu_2", [8, 8, 16, 16]))  # after the pool: commutes
    assert _judge(trace)[0] == []
    direct = [e if e[0] != "relu" else ["activation", "torch.leaky_relu",
                                        "a direct torch call in forward", *e[3:]]
              for e in _cnn_trace()]
    assert _judge(direct)[0] == []  # another activation, called directly, counts as its ReLU


def test_downsampling_by_slicing_between_layers_is_named():
    trace = _cnn_trace()
    for i in (0, 1):  # block 1 run on x[:, :, ::2, ::2]: 16x16 -> 8x8, the blocks look right
        trace[2 * i] = _conv(f"conv_b_1.conv_{i + 1}", 3 if i == 0 else 8, 8, (16, 16), (16, 16))
    trace[4] = _pool("conv_b_1.max_pool", 8, (16, 16), (8, 8))
    problems, _ = _judge(trace)
    assert problems[0] == ("between the input and conv2d (conv_b_1.conv_1) something changes "
                           "H x W from 32x32 to 16x16 (slicing, a resize or a reshape outside "
                           "the layers): only the blocks' max-pools may downsample.")


def test_layers_off_the_path_are_named_only_with_a_problem():
    note = "applied, but their result never reaches the output (not counted): conv_b_1.conv_1"
    rng = np.random.default_rng(0)
    last = rng.standard_normal((8, 10))
    run = ProbeRun(values={"events": _cnn_trace(), "output": last, "last_linear": last,
                           "path_notes": [note]}, failure=None)
    assert structure.judge_cnn(run, 8, 10)[0] == []
    run = ProbeRun(values={"events": [], "output": last, "path_notes": ["no autograd graph"]},
                   failure=None)
    problems = structure.judge_cnn(run, 8, 10)[0]
    assert problems[0].startswith("forward's output carries no autograd graph")


def test_log_softmax_is_accepted_and_a_relu_on_the_logits_is_not():
    last = np.random.default_rng(1).standard_normal((8, 10))
    shifted = last - last.max(axis=1, keepdims=True)
    assert _judge(_cnn_trace(), shifted - np.log(np.exp(shifted).sum(1, keepdims=True)), last)[0] == []
    problems, _ = _judge(_cnn_trace(), np.maximum(last, 0), last)
    assert "a ReLU after the output block's Linear layer" in problems[0]


# -- 6c's judgements on made-up runs (no sandbox) -----------------------------------------

class _Data:
    """A stand-in for the prepared data: synthetic kind, 20 validation and test labels."""

    kind = "synthetic"

    def load(self, name):
        return np.arange(20) % 10


def _trained(values=None, failure=None, progress=None, changed=True):
    """A made-up training run; its logits (val_logits, test_logits) go to the evaluation
    run, as the child that never runs sup_trn returns them, with the initial weights
    (equal to the trained ones unless `changed`)."""
    from grader.core.sandbox.runner import Failure
    from grader.parts.part4_cnn import training
    found, _ = settings.read(ROOT / "reference", LEARN)
    values = dict(values or {})
    logits = {k: values.pop(k) for k in ("val_logits", "test_logits") if k in values}
    weight = np.ones((2, 3), dtype=np.float32)
    run = ProbeRun(values={**values, "state/fc.weight": weight},
                   failure=failure and Failure(*failure))
    evaluation = ProbeRun(values={**logits, "initial/fc.weight": weight - changed},
                          failure=None)
    return training, training.Trained(RUBRIC, found, "", run, _Data(), "cpu", progress,
                                      evaluation=evaluation)


def _logits(right: int) -> np.ndarray:
    """(20, 10) logits whose argmax is the label on the first `right` rows."""
    labels = np.arange(20) % 10
    predicted = np.where(np.arange(20) < right, labels, (labels + 1) % 10)
    return np.eye(10)[predicted]


def test_a_run_that_learns_and_reaches_the_threshold_passes():
    training, trained = _trained({"losses": np.linspace(2.3, 1.0, 40), "steps": 40,
                                  "val_logits": _logits(10), "test_logits": _logits(5)})
    from grader.core.engine.context import Feedback
    learned = training.judge_learning(trained, LEARN, Feedback())
    assert learned.fraction == 1 and "sup_trn trained: 40 optimizer steps" in learned.message
    feedback = Feedback()
    verdict = training.judge_accuracy(trained, RUBRIC.check("6c.2"), feedback)
    assert verdict.fraction == 1  # 5 of 20 = 25%: the synthetic threshold, reached counts
    assert "test accuracy 25.0% (needs >= 25.0%; judged: the grader's test images" in verdict.message
    assert "validation accuracy 50.0% (reported, not graded" in verdict.message
    assert feedback.details["val_accuracy"] == 0.5


def test_weights_left_as_built_earn_nothing_whatever_the_observers_saw():
    """Issue 19: steps and a falling loss seen in the training child (a decoy's) and test
    logits that would pass earn nothing when the weights sup_trn left are the initial ones."""
    from grader.core.engine.context import Feedback
    training, trained = _trained({"losses": np.linspace(2.3, 0.1, 40), "steps": 40,
                                  "val_logits": _logits(20), "test_logits": _logits(20)},
                                 changed=False)
    for check_id, judge in (("6c.1", training.judge_learning), ("6c.2", training.judge_accuracy)):
        verdict = judge(trained, RUBRIC.check(check_id), Feedback())
        assert verdict.fraction == 0, verdict.message
        assert "left the network's weights as they were built (none of the 1 entries" in \
            verdict.message


def test_a_run_at_chance_on_the_test_images_does_not_learn():
    """6c.1: the grader's test accuracy of the weights left must beat chance by
    min_acc_above_chance (20% here); 4 of 20 right is 20%."""
    from grader.core.engine.context import Feedback
    training, trained = _trained({"losses": np.linspace(2.3, 1.0, 40), "steps": 40,
                                  "val_logits": _logits(20), "test_logits": _logits(4)})
    verdict = training.judge_learning(trained, LEARN, Feedback())
    assert verdict.fraction == 0 and "test accuracy of the weights it left 20.0% (more than " \
        "20% needed" in verdict.message


def test_a_run_that_never_steps_or_needs_a_gpu_is_told_why():
    from grader.core.engine.context import Feedback
    training, trained = _trained({"losses": np.full(40, 2.3), "steps": 0})
    verdict = training.judge_learning(trained, LEARN, Feedback())
    assert verdict.fraction == 0 and "the optimizer never stepped" in verdict.message
    training, trained = _trained(failure=(
        "exception", "RuntimeError: Found no NVIDIA driver on your system", "algo_train.py:50"))
    verdict = training.judge_accuracy(trained, RUBRIC.check("6c.2"), Feedback())
    assert "call .cuda() only when opt_dict['gpu'] is True" in verdict.message


def test_a_run_stopped_by_its_budget_says_how_far_it_got():
    from grader.core.engine.context import Feedback
    training, trained = _trained(failure=("timeout", "took too long"), progress=(120, 504))
    verdict = training.judge_learning(trained, LEARN, Feedback())
    assert "stopped by its time budget of 300 s after 120 of 504 training batches" in verdict.message


def test_a_short_run_that_did_not_learn_says_so_before_the_training_step():
    """Issue 23: opt_dict making an eighth of the handout's steps (num_epochs 1 for 8) and
    a loss that did not fall: the hint first says the run was short; with the handout's
    num_epochs it names the training step alone."""
    from dataclasses import replace

    from grader.core.engine.context import Feedback
    values = {"losses": np.full(40, 2.3), "steps": 40, "val_logits": _logits(20),
              "test_logits": _logits(20)}
    training, trained = _trained(dict(values))
    short = replace(trained, settings=replace(trained.settings, values={
        **trained.settings.values, "num_epochs": 1}))
    hint = training.judge_learning(short, LEARN, Feedback()).message.split("Hint: ")[1]
    assert hint.startswith("the run was short: num_epochs = 1 and tbs = 64 make 8 times fewer "
                           "optimizer steps than the handout's 8 and 64"), hint
    assert "Otherwise: check the training step (zero_grad, forward, loss" in hint
    verdict = training.judge_learning(trained, LEARN, Feedback())
    assert "Hint: check the training step (zero_grad, forward, loss" in verdict.message
