"""Part 3's public checks for the students' self-check (run by selfcheck.py): 5a.1, 5b.1 and 5c.1 on the student's Network with
the rubric's sizes and settings, on the self-check's own random networks (the grader uses
other numbers), and whether backprop_answers.py answers every question of 5f and 7a with
plain numbers (whether they are right is graded on Gradescope). Needs numpy only.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from selfcheck import Stop as Failed

from ...core.submission import answers

SEED = 2029  # the self-check's own networks (Gradescope uses other numbers)
TITLES = {"5f.1": "backprop_answers.py answers dL/dw(1)_11 and the updated w(1)_11 with "
                  "numbers (their values are graded on Gradescope)",
          "7a.1": "backprop_answers.py answers v, y, C, dC/dw(1)_11, dC/dW(2) and the updated "
                  "W(2) with numbers (their values are graded on Gradescope)"}


def make(module, sizes, optimizer, l2, rng):
    """The student's Network with this check's weights and non-zero biases; the module's
    global `net` made this network (the template's train() calls it)."""
    net = module.Network(list(sizes), optimizer=optimizer, l2=l2)
    for i in range(len(sizes) - 1):
        net.weights[i] = np.sqrt(2 / sizes[i]) * rng.randn(sizes[i + 1], sizes[i])
        net.biases[i] = 0.5 * rng.randn(sizes[i + 1], 1)
    module.net = net
    return net


def one_hot(labels, classes):
    """(classes, m) one-hot columns."""
    return np.eye(classes)[:, labels]


def mean_ce(Y, P):
    return float(-np.sum(Y * np.log(np.clip(P, 1e-300, None))) / P.shape[1])


def check_l2(run):
    """5a.1: loss, every layer's gradients against numerical ones, an SGD step with L2."""
    rng, module, v = np.random.RandomState(SEED), run.module(), run.values
    sizes, m, l2, h, eta = v["sizes"], v["m"], v["l2"], v["step"], v["eta"]
    net = make(module, sizes, "sgd", l2, rng)
    X, Y = rng.randn(sizes[0], m), one_hot(rng.randint(0, sizes[-1], m), sizes[-1])
    output, Zs, As = net.forward_pass(X)
    penalty = 0.5 * l2 * sum(float(np.sum(w ** 2)) for w in net.weights)
    problems = []
    want = mean_ce(Y, output) + penalty
    got = float(net.loss(output, Y))
    if abs(got - want) > 1e-8 * max(1.0, abs(want)):
        problems.append(f"loss(output, Y) = {got:.10g}, expected {want:.10g}: the mean "
                        f"cross-entropy plus (l2 / 2) * sum ||W||^2 (biases not included)")
    gw, gb = net.backward_pass(output, Y, Zs, As)
    for key, group, grads in (("gw", net.weights, gw), ("gb", net.biases, gb)):
        for i, arr in enumerate(group):
            numeric = np.zeros(arr.shape)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + h
                plus = mean_ce(Y, net.forward_pass(X)[0])
                arr[idx] = old - h
                minus = mean_ce(Y, net.forward_pass(X)[0])
                arr[idx] = old
                numeric[idx] = (plus - minus) / (2 * h) + (l2 * old if key == "gw" else 0.0)
            mine = np.asarray(grads[i], dtype=np.float64).reshape(arr.shape)
            err = float(np.max(np.abs(mine - numeric) / np.maximum(1e-8, np.abs(mine) + np.abs(numeric))))
            if err >= v["max_rel_error"]:
                problems.append(f"{key}[{i}]: max relative error {err:.1e} against the numerical "
                                f"gradient (needs < {v['max_rel_error']:g})")
    if any(p.startswith("gw") or p.startswith("gb") for p in problems):
        problems.append("Hint: gw[i] is the gradient averaged over the m columns plus l2 * W[i]; "
                        "gb[i] has no L2 term; every layer, the first included.")
    before = [np.array(p, dtype=np.float64) for p in net.weights + net.biases]
    given = [0.1 * rng.randn(*p.shape) for p in before]
    L = len(net.weights)
    if len([p for p in inspect.signature(net.update_network).parameters.values()
            if p.default is p.empty]) <= 3:
        net.update_network(given[:L], given[L:], eta)
        after = [np.asarray(p, dtype=np.float64) for p in net.weights + net.biases]
        if not all(np.allclose(a, b - eta * g, rtol=1e-9, atol=1e-12)
                   for a, b, g in zip(after, before, given)):
            problems.append("update_network(gw, gb, 0.1) with \"sgd\" did not give W - eta * gw: "
                            "the L2 term is already in gw (backward_pass), add nothing here")
    if problems:
        raise Failed("\n".join(problems))
    return True, (f"loss, the gradients of all {L} layers and the SGD step are right")


def observed_run(run, optimizer):
    """train() with this check's forward and backward passes (the backward one hands out
    its own gradients); every update_network call logged: (before, gradients, after, eta)."""
    v, module, rng = run.values, run.module(), np.random.RandomState(SEED + 1)
    sizes, n, batch, epochs, eta, k = (v[key] for key in ("sizes", "n", "mini_batch_size",
                                                          "epochs", "eta", "k"))
    net = make(module, sizes, optimizer, 0.0, rng)
    steps = epochs * (n // batch)
    grads = [[rng.choice([-1.0, 1.0], p.shape) * 10.0 ** rng.uniform(-6, 0, p.shape)
              for p in net.weights + net.biases] for _ in range(steps)]
    L, count, log = len(net.weights), [0], []

    def forward(x, *args, **kwargs):
        a, Zs, As = np.asarray(x, dtype=np.float64), [], [x]
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            Zs += [w @ a + b]
            e = np.exp(Zs[-1] - Zs[-1].max(0))
            a = e / e.sum(0) if i == L - 1 else 1 / (1 + np.exp(-Zs[-1]))
            As += [a]
        return a, Zs, As

    def backward(*args, **kwargs):
        g = grads[count[0] % steps]
        count[0] += 1
        return [x.copy() for x in g[:L]], [x.copy() for x in g[L:]]

    update = net.update_network

    def spy(*args, **kwargs):
        before = [np.array(p, dtype=np.float64) for p in net.weights + net.biases]
        given = [np.array(x, dtype=np.float64) for x in list(args[0]) + list(args[1])]
        result = update(*args, **kwargs)
        log.append((before, given, [np.array(p, dtype=np.float64) for p in net.weights + net.biases],
                    float(args[2]) if len(args) > 2 else float(kwargs.get("eta", eta))))
        return result

    net.forward_pass, net.backward_pass, net.update_network = forward, backward, spy
    net.loss = lambda output, target, *a, **kw: mean_ce(target, output)
    X, Y = rng.randn(sizes[0], n), one_hot(rng.randint(0, sizes[-1], n), sizes[-1])
    names = list(inspect.signature(net.train).parameters)
    extra = {"k": k} if "k" in names else {}
    args = [X, Y, X[:, :4], Y[:, :4], epochs, batch, eta] + ([] if extra or len(names) <= 7 else [k])
    net.train(*args, **extra)
    if len(log) < steps:
        raise Failed(f"train() called update_network {len(log)} times; {epochs} epochs of {n} "
                     f"columns in minibatches of {batch} make {steps}")
    return log[:steps], n // batch


def adam_steps(start, log, t_of):
    theta = [p.copy() for p in start]
    m = [np.zeros_like(p) for p in theta]
    v = [np.zeros_like(p) for p in theta]
    out = []
    for s, (_, grads, _, eta) in enumerate(log):
        t = t_of(s)
        for j, g in enumerate(grads):
            m[j] = 0.9 * m[j] + 0.1 * g
            v[j] = 0.999 * v[j] + 0.001 * g * g
            theta[j] = theta[j] - eta * (m[j] / (1 - 0.9 ** t)) / (np.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8)
        out.append([p.copy() for p in theta])
    return out


def check_adam(run):
    """5b.1: Adam in train(), every step to the rubric's tolerance."""
    log, per_epoch = observed_run(run, "adam")
    rtol, atol = run.values["rtol"], run.values["atol"]
    start = log[0][0]
    for name, t_of in (("", lambda s: s + 1), ("t restarts at every epoch",
                                               lambda s: s % per_epoch + 1),
                       ("t is never incremented (or (1 - beta) replaces (1 - beta^t))",
                        lambda s: 1)):
        want = adam_steps(start, log, t_of)
        bad = next((s for s in range(len(log)) if not all(
            np.allclose(a, w, rtol=rtol, atol=atol) for a, w in zip(log[s][2], want[s]))), None)
        if not name and bad is None:
            return True, f"all {len(log)} Adam steps match"
        if not name:
            first = bad
        elif bad is None:
            raise Failed(f"step {first + 1} of {len(log)} differs from Adam's\nHint: {name}.")
    raise Failed(f"step {first + 1} of {len(log)} differs from Adam's (beta1 0.9, beta2 0.999, "
                 "eps 1e-8, m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t), t counting "
                 "the calls from 1, eps outside the square root, weights and biases alike)")


def check_decay(run):
    """5c.1: every SGD step of train(eta, k) uses eta * exp(-k * epoch)."""
    log, per_epoch = observed_run(run, "sgd")
    eta, k = run.values["eta"], run.values["k"]
    for s, (before, grads, after, _) in enumerate(log):
        g = np.concatenate([x.ravel() for x in grads])
        d = np.concatenate([a.ravel() - b.ravel() for a, b in zip(after, before)])
        rate, want = -float(d @ g) / float(g @ g), eta * np.exp(-k * (s // per_epoch))
        if not np.isclose(rate, want, rtol=run.values["lr_rtol"], atol=0):
            raise Failed(f"step {s + 1} (epoch {s // per_epoch} from 0) used learning rate "
                         f"{rate:.6g}; eta * exp(-k * t) is {want:.6g}\nHint: set the rate once "
                         "per epoch, t the epoch counted from 0, exponential (not eta / (1 + k t)).")
    return True, f"all {len(log)} steps use eta * exp(-k * epoch)"


def check_answers(run):
    """5f.1, 7a.1: every answer of the question stated as plain data and none left None, as
    the grader's reader (grader/core/submission/answers.py) reads the file."""
    stated = answers.read_answers(run.folder, Path(run.check["files"][0]).stem)
    names = run.data["answers"][run.check["question"]]
    problems = list(dict.fromkeys(stated.problem(n) for n in names if stated.problem(n)))
    blank = [n for n in names if not stated.problem(n) and stated.stated(n) is None]
    if problems or blank:
        raise Failed("\n".join(problems + ([f"not answered yet: {', '.join(blank)}"]
                                           if blank else [])))
    return True, "every answer is filled in (whether it is right is graded on Gradescope)"


CHECKS = {"5a.1": check_l2, "5b.1": check_adam, "5c.1": check_decay, "5f.1": check_answers,
          "7a.1": check_answers}
