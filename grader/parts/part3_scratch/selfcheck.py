#!/usr/bin/env python3
"""Self-check of Part 3 (network_template.py): the public checks, run on your code.

    python selfcheck_part3.py            # checks the network_template.py next to this file
    python selfcheck_part3.py FOLDER     # checks FOLDER/network_template.py

It runs the public checks of questions 5a, 5b and 5c on its own small random networks,
each on its own (a crash or an endless loop in one does not stop the others), checks that
backprop_answers.py holds plain numbers (not whether they are right), and prints what was
expected, what your code gave and a hint. Exit code 0 when every check passes, 1
otherwise. Needs Python 3 and numpy only.

It imports network_template.py as it is: keep the data loading and training under
`if __name__ == "__main__":`. The grader itself never runs that block. The hidden checks,
the right values of 5f and 7a, and the CIFAR-10 training (5d, 5e) are graded on
Gradescope only.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import signal
import sys
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TIME_LIMIT_S = 60  # per check, on POSIX systems (signal.alarm)
SEED = 2029  # the self-check's own networks (Gradescope uses other numbers)
ANSWERS = ("q5f_dL_dw1_11", "q5f_w1_11_updated", "q7a_v", "q7a_y", "q7a_C", "q7a_dC_dw1_11",
           "q7a_dC_dW2", "q7a_W2_updated")


class Failed(Exception):
    """A check's finding, in the student's terms."""


def _on_alarm(signum, frame):
    raise TimeoutError(f"took longer than {TIME_LIMIT_S} s")


def load(folder: Path):
    path = folder / "network_template.py"
    if not path.is_file():
        raise Failed(f"{path} not found")
    spec = importlib.util.spec_from_file_location("network_template", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))
    spec.loader.exec_module(module)
    return module


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


def check_l2(module):
    """5a.1: loss, every layer's gradients against numerical ones, an SGD step with L2."""
    rng = np.random.RandomState(SEED)
    sizes, m, l2, h = (5, 6, 4, 3), 7, 0.1, 1e-5
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
            if err >= 1e-5:
                problems.append(f"{key}[{i}]: max relative error {err:.1e} against the numerical "
                                "gradient (needs < 1e-5)")
    if any(p.startswith("gw") or p.startswith("gb") for p in problems):
        problems.append("Hint: gw[i] is the gradient averaged over the m columns plus l2 * W[i]; "
                        "gb[i] has no L2 term; every layer, the first included.")
    before = [np.array(p, dtype=np.float64) for p in net.weights + net.biases]
    given = [0.1 * rng.randn(*p.shape) for p in before]
    L = len(net.weights)
    if len([p for p in inspect.signature(net.update_network).parameters.values()
            if p.default is p.empty]) <= 3:
        net.update_network(given[:L], given[L:], 0.1)
        after = [np.asarray(p, dtype=np.float64) for p in net.weights + net.biases]
        if not all(np.allclose(a, b - 0.1 * g, rtol=1e-9, atol=1e-12)
                   for a, b, g in zip(after, before, given)):
            problems.append("update_network(gw, gb, 0.1) with \"sgd\" did not give W - eta * gw: "
                            "the L2 term is already in gw (backward_pass), add nothing here")
    if problems:
        raise Failed("\n".join(problems))
    return "loss, the gradients of all 3 layers and the SGD step are right"


def observed_run(module, optimizer, eta, k, epochs=3, n=12, batch=3, sizes=(4, 5, 3)):
    """train() with this check's forward and backward passes (the backward one hands out
    its own gradients); every update_network call logged: (before, gradients, after, eta)."""
    rng = np.random.RandomState(SEED + 1)
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


def check_adam(module):
    """5b.1: Adam in train(), 3 epochs of 4 steps, every step to 1e-10."""
    log, per_epoch = observed_run(module, "adam", 0.01, 0.0)
    start = log[0][0]
    for name, t_of in (("", lambda s: s + 1), ("t restarts at every epoch",
                                               lambda s: s % per_epoch + 1),
                       ("t is never incremented (or (1 - beta) replaces (1 - beta^t))",
                        lambda s: 1)):
        want = adam_steps(start, log, t_of)
        bad = next((s for s in range(len(log)) if not all(
            np.allclose(a, w, rtol=1e-10, atol=1e-10) for a, w in zip(log[s][2], want[s]))), None)
        if not name and bad is None:
            return f"all {len(log)} Adam steps match"
        if not name:
            first = bad
        elif bad is None:
            raise Failed(f"step {first + 1} of {len(log)} differs from Adam's\nHint: {name}.")
    raise Failed(f"step {first + 1} of {len(log)} differs from Adam's (beta1 0.9, beta2 0.999, "
                 "eps 1e-8, m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t), t counting "
                 "the calls from 1, eps outside the square root, weights and biases alike)")


def check_decay(module):
    """5c.1: every SGD step of train(eta=0.1, k=0.5) uses eta * exp(-k * epoch)."""
    log, per_epoch = observed_run(module, "sgd", 0.1, 0.5, epochs=4, batch=4)
    for s, (before, grads, after, _) in enumerate(log):
        g = np.concatenate([x.ravel() for x in grads])
        d = np.concatenate([a.ravel() - b.ravel() for a, b in zip(after, before)])
        rate, want = -float(d @ g) / float(g @ g), 0.1 * np.exp(-0.5 * (s // per_epoch))
        if not np.isclose(rate, want, rtol=1e-6, atol=0):
            raise Failed(f"step {s + 1} (epoch {s // per_epoch} from 0) used learning rate "
                         f"{rate:.6g}; eta * exp(-k * t) is {want:.6g}\nHint: set the rate once "
                         "per epoch, t the epoch counted from 0, exponential (not eta / (1 + k t)).")
    return f"all {len(log)} steps use eta * exp(-k * epoch)"


def check_answers(folder: Path):
    """backprop_answers.py: every answer a plain number or list of numbers, none left None."""
    path = folder / "backprop_answers.py"
    if not path.is_file():
        raise Failed(f"{path.name} not found")
    values = {}
    for stmt in ast.parse(path.read_text()).body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name):
            try:
                values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                values[stmt.targets[0].id] = "unreadable"
    blank = [n for n in ANSWERS if values.get(n) is None]
    odd = [n for n in ANSWERS if values.get(n) == "unreadable"]
    if blank or odd:
        raise Failed("\n".join(([f"not answered yet: {', '.join(blank)}"] if blank else []) + (
            [f"not plain numbers (the grader reads them without running the file): "
             f"{', '.join(odd)}"] if odd else [])))
    return "every answer is filled in (whether it is right is graded on Gradescope)"


CHECKS = (("5a.1", "L2: loss, gradients of every layer, SGD step", check_l2),
          ("5b.1", "Adam in train()", check_adam),
          ("5c.1", "exponential decay in train()", check_decay))


def guarded(func, *args):
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(TIME_LIMIT_S)
    try:
        return True, func(*args)
    except Failed as exc:
        return False, str(exc)
    except NotImplementedError:
        return False, "not implemented yet (NotImplementedError)"
    except BaseException as exc:  # noqa: BLE001 - student code may raise anything
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if f.filename.endswith("network_template.py")]
        where = f" [network_template.py:{frames[-1].lineno}]" if frames else ""
        return False, f"{type(exc).__name__}: {exc}{where}"
    finally:
        if alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", default=str(HERE))
    folder = Path(parser.parse_args(argv).folder).resolve()
    loaded, module = guarded(load, folder)
    results = []
    for cid, title, func in CHECKS:
        results.append((cid, title) + (guarded(func, module) if loaded else (False, module)))
    results.append(("5f.1, 7a.1", "backprop_answers.py filled in", *guarded(check_answers, folder)))
    for cid, title, ok, text in results:
        print(f"{'PASS' if ok else 'FAIL'}  {cid}  {title}")
        print("      " + str(text).replace("\n", "\n      "))
    print("Graded on Gradescope only: the hidden networks and runs of 5a-5c, the values of "
          "5f and 7a, and the CIFAR-10 training of 5d and 5e.")
    return 0 if all(ok for _, _, ok, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
