"""Part 3's own math, settings reader and hand-computed answers, without student code."""
from __future__ import annotations

import numpy as np
import pytest

from grader.core.rubric import spec as rubric
from grader.core.submission.answers import Answers
from grader.parts.part3_scratch import handcomputed, hints, netmath, settings
from grader.parts.part3_scratch.cases import hidden_net_cases, public_net_case

RUBRIC = rubric.load()


def _numerical(weights, biases, X, Y, l2, activation, h=1e-6):
    grads = []
    for group in (weights, biases):
        out = []
        for arr in group:
            g = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + h
                plus = netmath.loss(weights, biases, X, Y, l2, activation)
                arr[idx] = old - h
                minus = netmath.loss(weights, biases, X, Y, l2, activation)
                arr[idx] = old
                g[idx] = (plus - minus) / (2 * h)
            out.append(g)
        grads.append(out)
    return grads


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_gradients_match_numerical_ones(activation):
    case = public_net_case(RUBRIC.check("5a.1"))
    weights, biases = [w.copy() for w in case.weights], [b.copy() for b in case.biases]
    gw, gb = netmath.gradients(weights, biases, case.X, case.Y, case.l2, activation)
    nw, nb = _numerical(weights, biases, case.X, case.Y, case.l2, activation)
    for got, want in zip(gw + gb, nw + nb):
        assert netmath.rel_error(got, want) < 1e-6


def test_activation_is_identified_from_the_forward_pass():
    case = public_net_case(RUBRIC.check("5a.1"))
    for name in netmath.ACTIVATIONS:
        _, Zs, As = netmath.forward(case.weights, case.biases, case.X, name)
        assert netmath.identify_activation(Zs, As) == name
    _, Zs, As = netmath.forward(case.weights, case.biases, case.X, "sigmoid")
    assert netmath.identify_activation(Zs, [a * 2 for a in As]) is None
    _, Zs, As = netmath.forward(case.weights, case.biases, case.X, "relu")
    assert netmath.identify_activation(Zs, As[1:]) == "relu"  # As without the input


def test_adam_first_step_moves_every_entry_by_eta():
    """With bias correction, Adam's first step is eta * g / (|g| + eps): about eta."""
    g = np.array([[0.5, -2.0], [1e-3, -1e-2]])
    out = netmath.Adam().run([np.zeros((2, 2))], [[g]], [0.01], [0], [0])
    assert np.allclose(out[0][0], -0.01 * g / (np.abs(g) + 1e-8))
    variants = [a for _, a in hints.adam_variants(per_epoch=2, layers=2)]
    steps = [[g], [2 * g], [-g]]
    want = netmath.Adam().run([np.zeros((2, 2))], steps, [0.01] * 3, [0], [0, 0, 1])
    for adam in variants:  # every hinted variant takes other steps than the handout's Adam
        got = adam.run([np.zeros((2, 2))], steps, [0.01] * 3, [0], [0, 0, 1])
        assert not all(np.allclose(a[0], b[0], rtol=1e-10, atol=1e-10) for a, b in zip(got, want))


def test_schedule_is_per_epoch_from_zero():
    assert np.allclose(netmath.schedule(0.1, 0.5, 3, 2), 0.1 * np.exp(-0.5 * np.array([0, 0, 1, 1, 2, 2])))


def test_hidden_cases_are_reproducible_and_vary():
    check = RUBRIC.check("5a.2")
    a, b = hidden_net_cases(RUBRIC.seed, check), hidden_net_cases(RUBRIC.seed, check)
    assert [c.seed for c in a] == [c.seed for c in b]
    assert all(np.array_equal(x.X, y.X) for x, y in zip(a, b))
    assert len({len(c.sizes) for c in a}) == len(a)  # depths differ


def _settings_file(tmp_path, body):
    (tmp_path / "network_template.py").write_text(body)
    return settings.read(tmp_path, RUBRIC.check("5d.1"))


def test_settings_are_read_without_running_the_file(tmp_path):
    found, problem = _settings_file(tmp_path, "import sys\nsys.exit(3)\nN = 32 * 32 * 3\n"
                                    "SETTINGS = {'sizes': [N, 50, 10], 'optimizer': 'adam', "
                                    "'eta': 1e-3, 'l2': 0, 'k': 0.1, 'epochs': 5, "
                                    "'mini_batch_size': 32}\n")
    assert problem == "" and found.sizes == (3072, 50, 10) and found.ablation_eta == 0.01
    assert "declares no ablation_eta" in found.notes[0]


@pytest.mark.parametrize("body, says", [
    ("SETTINGS = dict(sizes=[3072, 10])\n", "cannot read SETTINGS without running"),
    ("X = 1\n", "declares no top-level SETTINGS"),
    ("SETTINGS = {'sizes': [3072, 10], 'optimizer': 'adam'}\n",
     "SETTINGS: missing eta, l2, k, epochs, mini_batch_size (keys: sizes, optimizer, eta, l2, k, "
     "epochs, mini_batch_size; optional ablation_eta)"),
    ("SETTINGS = {'sizes': [784, 10], 'optimizer': 'adam', 'eta': 1, 'l2': 0, 'k': 0, "
     "'epochs': 1, 'mini_batch_size': 1}\n", "should start with 3072"),
    ("SETTINGS = {'sizes': [3072, 10], 'optimizer': 'rmsprop', 'eta': 1, 'l2': 0, 'k': 0, "
     "'epochs': 1, 'mini_batch_size': 1}\n", "should be \"sgd\" or \"adam\""),
    ("SETTINGS = {[1]: 2}\n", "line 1: the grader cannot read SETTINGS"),  # once a crash
    ("SETTINGS = {'sizes': [3072, 10], 'optimizer': 'sgd', 'eta': 1, 'l2': 0, 'k': 0, "
     "'epochs': 1, 'mini_batch_size': open('b').read()}\n",
     "line 1: the grader cannot read SETTINGS['mini_batch_size'] without running your code"),
])
def test_bad_settings_are_refused_with_the_fix(tmp_path, body, says):
    found, problem = _settings_file(tmp_path, body)
    assert found is None and says in problem, problem


def test_hand_computed_truths():
    assert [a.expected for a in handcomputed.seed004_answers()] == [
        [4.0, 0.0, 11.0], 18.0, 225.0, -30.0, [120.0, 0.0, 330.0], [-7.0, 3.0, -14.5]]
    grad, updated = (a.expected for a in handcomputed.seed002_answers())
    assert grad == pytest.approx(0.0097853356, rel=1e-8)
    assert updated == pytest.approx(0.1 - 0.1 * grad, rel=1e-12)


def test_answers_one_line_per_wrong_entry_and_reveal_after_due_date():
    asked = handcomputed.seed004_answers()
    stated = Answers("backprop_answers.py", values={
        "q7a_v": [4, 0, 11], "q7a_y": 18, "q7a_C": 225, "q7a_dC_dw1_11": 30,
        "q7a_dC_dW2": [120, 1, 331], "q7a_W2_updated": None})
    check = RUBRIC.check("7a.1")
    verdict, right = handcomputed.judge(stated, asked, check.value("rtol"), check.value("atol"),
                                        reveal=False)
    assert verdict.fraction == pytest.approx(3 / 6)
    lines = verdict.message.splitlines()
    assert "dC/dw(1)_11: got 30, which is not right" in lines
    assert "dC/dW(2)[1]: got 1, which is not right" in lines
    assert "dC/dW(2)[2]: got 331, which is not right" in lines
    assert not any("expected -30" in line for line in lines)
    revealed = handcomputed.reveal(stated, asked, check.value("rtol"), check.value("atol"))
    # 0 points either way; marked failed while an answer is wrong
    assert revealed.fraction == 0 and "dC/dw(1)_11: got 30, expected -30" in revealed.message


def test_seed002_answer_to_four_significant_digits_passes():
    check = RUBRIC.check("5f.1")
    asked = handcomputed.seed002_answers()
    four = Answers("backprop_answers.py", values={"q5f_dL_dw1_11": 0.009785,
                                                  "q5f_w1_11_updated": 0.09902})
    assert handcomputed.judge(four, asked, check.value("rtol"), check.value("atol"), False)[0].passed
    two = Answers("backprop_answers.py", values={"q5f_dL_dw1_11": 0.0098,
                                                 "q5f_w1_11_updated": 0.099})
    assert handcomputed.judge(two, asked, check.value("rtol"), check.value("atol"), False)[0].fraction == 0
