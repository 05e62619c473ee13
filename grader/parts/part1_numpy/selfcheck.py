#!/usr/bin/env python3
"""Self-check of Part 1 (the numpy two-layer network): the public checks, run on your code.

    python selfcheck.py            # checks the two_layernet.py next to this file
    python selfcheck.py FOLDER     # checks FOLDER/two_layernet.py

It runs the public checks of questions 1a, 1b, 1c, 2d and 3a, each on its own (a crash or
an endless loop in one of them does not stop the others), and prints for each what was
expected, what your code gave and a hint. Exit code 0 when every check passes, 1
otherwise. Needs Python 3 and numpy; staticcheck.py (the 1c loop finder) and sgd.py (the
3a.2 step judge), the grader's own, sit beside it.

The expected numbers are the ones the handout publishes (ex2_FCnet.py), so this file holds
no solution. Hidden checks (random networks, other shapes, other SGD settings), the timing
of your forward pass against the reference (1c.1) and the CIFAR-10 retraining (3b) are
graded on Gradescope only.
"""
from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import textwrap
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODULE = "two_layernet"
CLASS = "TwoLayerNet"
NAMES = ("W1", "b1", "W2", "b2")

# The toy problem's correct outputs, as the handout publishes them (ex2_FCnet.py):
# loss(X) of the toy network, and its loss at reg=0.05.
TOY_PROBS = ((0.36446210, 0.22911264, 0.40642526),
             (0.47590629, 0.17217039, 0.35192332),
             (0.43035767, 0.26164229, 0.30800004),
             (0.41583127, 0.29832280, 0.28584593),
             (0.36328815, 0.32279939, 0.31391246))
TOY_LOSS = 1.30378789133
TOY_LABELS = (0, 1, 2, 2, 1)

# Each public check: its Gradescope id, its name and its settings (the course rubric's).
TITLES = {
    "1a.1": "toy problem: probabilities match the handout's",
    "1b.1": "toy problem: loss with reg=0.05 is 1.30378789133",
    "1c.2": "no Python loop over samples in loss()",
    "2d.1": "toy problem (reg=0.05): every gradient within 1e-8 of the numerical gradient",
    "3a.1": "toy training (lr 0.1, reg 5e-6, 100 iterations): final loss <= 0.02",
    "3a.2": "SGD honours the learning rate, its decay and the batch size; predict() is argmax",
}
SETTINGS = {
    "1a.1": {"rtol": 1e-6, "atol": 1e-8},
    "1b.1": {"reg": 0.05, "rtol": 1e-9, "atol": 1e-10},
    "2d.1": {"reg": 0.05, "step": 1e-5, "max_rel_error": 1e-8,
             "backprop_shape": (50, 200, 50, 10), "backprop_repeats": 5,
             "backprop_seconds": 2.0, "max_backprop_ratio": 50.0},
    "3a.1": {"learning_rate": 0.1, "reg": 5e-6, "num_iters": 100, "max_loss": 0.02},
    "3a.2": {"shape": (100, 6, 8, 4), "batch_size": 10, "num_iters": 50,
             "learning_rate": 0.05, "learning_rate_decay": 0.5, "min_coverage": 0.5,
             "lr_rtol": 1e-6},
}
SGD_DATA_SEED = 2027  # the self-check's own data for 3a.2 (Gradescope uses other numbers)
BACKPROP_SEED = 2028  # the self-check's own network for 2d.1's cost check
TIME_LIMIT_S = 60  # per check, on POSIX systems (signal.alarm)

NOT_HERE = ("Graded on Gradescope only, not here: the hidden checks (random networks, other "
            "shapes, other reg values and SGD settings for 1a, 1b, 2d and 3a; results after "
            "the due date), the speed of your forward pass against the reference (1c.1) and "
            "the CIFAR-10 retraining with your hyperparams.py (3b).")


@dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    check: str  # the check's id on Gradescope, e.g. "2d.1"
    passed: bool
    message: str  # expected, got and a hint, one finding per line


class Stop(Exception):
    """A check cannot go on; the message says why, in the student's terms."""


class TimedOut(BaseException):
    """A check ran past TIME_LIMIT_S (BaseException: `except Exception` cannot swallow it)."""


# ---------------------------------------------------------------------------------------
# Running student code


def _student_place(exc: BaseException, folder: Path) -> str:
    """'file.py, line N' of the innermost traceback frame in the student's folder."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{Path(exc.filename).name}, line {exc.lineno}"
    place = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path.parent == folder and path.name not in ("selfcheck.py", "staticcheck.py"):
            place = f"{path.name}, line {frame.lineno}"
    return place


def describe(exc: BaseException, folder: Path) -> str:
    """What an exception raised by the student's code means, with its place in their file."""
    if isinstance(exc, NotImplementedError):
        what = str(exc) or "a TODO block"
        return (f"Not implemented yet ({what}). Fill in that TODO block in {MODULE}.py, "
                "then run this check again.")
    if isinstance(exc, TimedOut):
        return (f"stopped after {TIME_LIMIT_S} s without finishing: an endless loop, or a "
                "loop that is far too slow?")
    if isinstance(exc, SystemExit):
        return ("your code called sys.exit() or exit(): the graded functions must return "
                "their result, not exit")
    place = _student_place(exc, folder)
    where = f" ({place})" if place else ""
    if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name != MODULE:
        return (f"{MODULE}.py imports {exc.name!r}, which is not installed here{where}: "
                "install it or remove the import")
    first = str(exc.msg if isinstance(exc, SyntaxError) else exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}{where}"


def _on_alarm(signum, frame):
    raise TimedOut()


def guarded(func, *args):
    """Calls func(*args) under the time limit; returns (value, None) or (None, exception)."""
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(TIME_LIMIT_S)
    try:
        return func(*args), None
    except BaseException as exc:  # noqa: BLE001 - SystemExit and TimedOut included
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, exc
    finally:
        if alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def load_student(folder: Path):
    """The student's TwoLayerNet class, imported from folder/two_layernet.py."""
    path = folder / f"{MODULE}.py"
    if not path.is_file():
        raise Stop(f"{MODULE}.py not found in {folder}: run this script next to your "
                   f"{MODULE}.py, or pass its folder (python selfcheck.py FOLDER)")
    sys.dont_write_bytecode = True  # no __pycache__ left in the student's folder
    sys.path.insert(0, str(folder))  # their own helper modules, if any, import too
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    cls = getattr(module, CLASS, None)
    if cls is None:
        raise Stop(f"{MODULE}.py defines no class {CLASS}")
    return cls


# ---------------------------------------------------------------------------------------
# The toy problem and what comes back from the student's code


def toy_problem():
    """The handout's toy problem: TwoLayerNet(4, 10, 3, std=1e-1) after np.random.seed(0)
    has these params; np.random.seed(1), then X = 10 * randn(5, 4). Returns params, X, y."""
    draws = np.random.RandomState(0)
    first = 1e-1 * draws.randn(4, 10)
    second = 1e-1 * draws.randn(10, 3)
    params = dict(W1=first, b1=np.zeros(10), W2=second, b2=np.zeros(3))
    inputs = 10 * np.random.RandomState(1).randn(5, 4)
    return params, inputs, np.array(TOY_LABELS)


def toy_net(cls):
    """A fresh student network holding the toy params, and the toy X (5, 4), y (5,)."""
    params, X, y = toy_problem()
    np.random.seed(0)
    net = cls(4, 10, 3, std=1e-1)
    store = getattr(net, "params", None)
    try:
        for name in NAMES:
            store[name] = params[name].copy()
    except Exception:  # noqa: BLE001 - anything that is not a dict-like params
        raise Stop(f"{CLASS}(...).params should be a dict holding W1, b1, W2, b2 (got "
                   f"{type(store).__name__})") from None
    return net, X, y


def as_array(value, shape, what):
    """value as a finite float array of shape (a (1, H) bias is accepted), or raises Stop."""
    if value is None:
        raise Stop(f"{what}: nothing was returned (None); is a `return` missing?")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Stop(f"{what}: expected an array of numbers, got a {type(value).__name__}") \
            from None
    if arr.shape != tuple(shape):
        if arr.size == int(np.prod(shape)) and arr.squeeze().shape == tuple(
                s for s in shape if s != 1):
            arr = arr.reshape(shape)
        else:
            raise Stop(f"{what}: expected shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise Stop(f"{what}: some entries are NaN or inf (overflow in exp? log of 0? a "
                   "division by zero?)")
    return arr


def loss_and_grads(net, X, y, reg):
    """(loss as a float, grads as returned) of the student's loss(X, y, reg)."""
    out = net.loss(X.copy(), y=y.copy(), reg=reg)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Stop("loss(X, y, reg) should return a tuple (loss, grads); got "
                   f"{type(out).__name__}")
    return float(as_array(out[0], (), "the loss")), out[1]


def table(arr) -> str:
    """An array printed with 8 decimals, for expected/got lines."""
    return np.array2string(np.asarray(arr), precision=8, floatmode="fixed",
                           suppress_small=True)


# ---------------------------------------------------------------------------------------
# The checks: each returns (passed, message) or raises


def check_probabilities(cls, folder):
    """1a.1: loss(X) on the toy problem against the handout's probabilities."""
    s = SETTINGS["1a.1"]
    net, X, _ = toy_net(cls)
    got = as_array(net.loss(X.copy()), (5, 3), "loss(X) with y=None")
    want = np.array(TOY_PROBS)
    diff = np.abs(got - want)
    if np.all(diff <= s["atol"] + s["rtol"] * np.abs(want)):
        return True, f"largest difference from the handout's probabilities: {diff.max():.1e}"
    if np.abs(got.sum(axis=1) - 1).max() > 1e-6:
        hint = ("rows do not sum to 1: loss(X) must return softmax probabilities, not raw "
                "scores")
    else:
        hint = ("check the ReLU (max(0, z) on the hidden layer only, not on the output) and "
                "that both biases are added")
    return False, (f"expected (the handout's probabilities):\n{table(want)}\n"
                   f"got:\n{table(got)}\nlargest difference {diff.max():.2e}\nHint: {hint}.")


def _loss_hint(got, reg, params, n):
    """Which common slip the wrong toy loss matches (from the published number)."""
    penalty = float(np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    data = TOY_LOSS - reg * penalty  # the handout's mean cross-entropy, without the L2 term
    guesses = ((data, "the L2 term is missing: add reg * (sum of W1**2 + sum of W2**2)"),
               (data + 0.5 * reg * penalty, "the L2 term has a factor 1/2; the handout's "
                "has none"),
               (n * data + reg * penalty, "the cross-entropy is summed; average it over the "
                "N samples"))
    for value, hint in guesses:
        if abs(got - value) <= 1e-8 * max(1.0, abs(value)):
            return hint
    return ("compare -log(probability of the true class), averaged over the batch, plus "
            "reg * (sum of squared entries of W1 and W2)")


def check_loss(cls, folder):
    """1b.1: the toy loss at reg=0.05 against the handout's 1.30378789133."""
    s = SETTINGS["1b.1"]
    net, X, y = toy_net(cls)
    got, _ = loss_and_grads(net, X, y, s["reg"])
    line = f"expected {TOY_LOSS:.11f} (reg={s['reg']:g}), got {got:.11f}"
    params, _, _ = toy_problem()
    if abs(got - TOY_LOSS) <= s["atol"] + s["rtol"] * abs(TOY_LOSS):
        return True, line + _reg_note(net, X, y, got, s["reg"], params)
    return False, f"{line}\nHint: {_loss_hint(got, s['reg'], params, len(y))}."


def _loss_is_off(cls) -> bool:
    """Whether the student's toy loss differs from the handout's at reg=0.05 or at reg=0
    (for checks that rely on their own loss(); never raises)."""
    s = SETTINGS["1b.1"]
    params, _, _ = toy_problem()
    penalty = s["reg"] * float(np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    try:
        net, X, y = toy_net(cls)
        at_reg = loss_and_grads(net, X, y, s["reg"])[0]
        at_zero = loss_and_grads(net, X, y, 0.0)[0]
    except Exception:  # noqa: BLE001 - the loss does not even run: that is off
        return True
    return (abs(at_reg - TOY_LOSS) > 1e-9 * TOY_LOSS
            or abs(at_zero - (TOY_LOSS - penalty)) > 1e-9 * TOY_LOSS)


def _reg_note(net, X, y, got, reg, params):
    """A note when the loss at reg=0 shows that loss() ignores its reg argument."""
    penalty = reg * float(np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    try:
        added = got - loss_and_grads(net, X, y, 0.0)[0]
    except Exception:  # noqa: BLE001 - a note only; the check itself passed
        return ""
    if abs(added - penalty) <= 1e-9 * max(1.0, penalty):
        return ""
    return (f"\nNote: your loss at reg=0 is {got - added:.11f}, so the L2 term added at "
            f"reg={reg:g} is {added:.6g}, not reg * (||W1||^2 + ||W2||^2) = {penalty:.6g}. "
            "Does loss() use its reg argument? Hidden checks use other values of reg.")


def numerical_gradient(f, x, h):
    """Centred differences (f() at x + h minus f() at x - h) / 2h for every entry of x.

    x is changed in place, entry by entry, and put back; f reads it. Returns x's shape.
    """
    out = np.zeros(x.shape)
    for index in np.ndindex(*x.shape):
        kept = float(x[index])
        x[index] = kept + h
        above = f()
        x[index] = kept - h
        below = f()
        x[index] = kept
        out[index] = (above - below) / (2.0 * h)
    return out


def rel_error(a, b):
    """The handout's error: largest |a - b| / max(1e-8, |a| + |b|) over all entries."""
    scale = np.maximum(1e-8, np.abs(a) + np.abs(b))
    return float((np.abs(a - b) / scale).max())


def _gradient_hint(name, got, want, weight, reg, n, right):
    """Why grads[name] may differ from the numerical gradient `want`."""
    def near(a, b):
        return np.allclose(a, b, rtol=1e-6, atol=1e-10)

    if not np.any(got):
        return f"{name}'s gradient is all zeros: is it computed and stored in grads?"
    penalty = 2.0 * reg * weight if weight is not None else 0.0
    if near(got, n * want) or near(got, n * (want - penalty) + penalty):
        return f"{name}'s gradient is {n}x too large: average over the batch (divide by N)"
    if near(got, -want):
        return f"{name}'s gradient has the wrong sign"
    if weight is not None and reg:
        for factor, text in ((0.5, "the L2 gradient needs the factor 2: 2 * reg * W"),
                             (0.0, "the L2 term's gradient (2 * reg * W) is missing"),
                             (-1.0, "the L2 gradient's sign is wrong")):
            if near(got, want + (factor - 1.0) * penalty):
                return text
    if name in ("W1", "b1"):
        if {"W2", "b2"} <= set(right):
            return ("W2 and b2 are right, so look at the step back through the ReLU: the "
                    "gradient must be zero wherever the hidden pre-activation was <= 0")
        return "W1 and b1 are computed from the output layer's gradient: fix W2 and b2 first"
    if name.startswith("b"):
        return f"{name}: sum the upstream gradient over the batch axis (axis=0)"
    return ""


def backprop_cost(cls):
    """'' when loss(X, y) costs at most max_backprop_ratio times loss(X) on a network of
    backprop_shape (best of backprop_repeats each), else why not: gradients must come
    from backpropagation, not from finite differences inside loss()."""
    s = SETTINGS["2d.1"]
    N, D, H, C = s["backprop_shape"]
    draws = np.random.RandomState(BACKPROP_SEED)
    net = cls(D, H, C, std=1e-1)
    for name, shape in (("W1", (D, H)), ("b1", (H,)), ("W2", (H, C)), ("b2", (C,))):
        net.params[name] = 0.1 * draws.randn(*shape)
    X, y = 10 * draws.randn(N, D), draws.randint(0, C, size=N)
    net.loss(X.copy())  # warm-up
    forward = []
    for _ in range(s["backprop_repeats"]):
        data = X.copy()
        start = time.perf_counter()
        net.loss(data)
        forward.append(time.perf_counter() - start)
    backward = []
    for _ in range(s["backprop_repeats"] + 1):  # the first is the warm-up
        data, labels = X.copy(), y.copy()
        start = time.perf_counter()
        net.loss(data, y=labels, reg=0.1)
        backward.append(time.perf_counter() - start)
        if sum(backward) > s["backprop_seconds"]:
            break
    fast, slow = min(forward), min(backward[1:] or backward)
    ratio = slow / max(fast, 1e-7)
    if ratio <= s["max_backprop_ratio"]:
        return ""
    return (f"gradients must come from backpropagation: loss(X, y) took {ratio:.0f}x the time "
            f"of loss(X) on a {D} x {H} network (the course allows "
            f"{s['max_backprop_ratio']:g}x); numerical gradients inside loss() do not count."
            f"\nloss(X, y): {1000 * slow:.1f} ms, loss(X): {1000 * fast:.2f} ms (best of "
            f"{len(backward[1:] or backward)} and {len(forward)} calls; {N} samples, {D} "
            f"inputs, {H} hidden units, {C} classes)."
            "\nHint: compute the gradients with the chain rule from the forward pass's "
            "intermediate values (backpropagation, question 2c); numerical gradients are for "
            "checking them (ex2_FCnet.py gradcheck), not for loss().")


def check_gradients(cls, folder):
    """2d.1: each analytic gradient against centred differences of the student's own loss."""
    s = SETTINGS["2d.1"]
    limit = s["max_rel_error"]
    net, X, y = toy_net(cls)
    _, grads = loss_and_grads(net, X, y, s["reg"])
    if not isinstance(grads, dict):
        raise Stop(f"grads should be a dict keyed W1, b1, W2, b2; got {type(grads).__name__}")
    params, _, _ = toy_problem()
    got, problems = {}, {}
    for name in NAMES:
        if name not in grads:
            problems[name] = f"grads has no {name!r} (keys: {', '.join(map(str, grads))})"
            continue
        try:
            got[name] = as_array(grads[name], params[name].shape, f"grads[{name!r}]").copy()
        except Stop as exc:
            problems[name] = str(exc)
    errors, numeric = {}, {}
    for name in got:
        numeric[name] = numerical_gradient(
            lambda: loss_and_grads(net, X, y, s["reg"])[0], net.params[name], s["step"])
        errors[name] = rel_error(got[name], numeric[name])
    right = [n for n in NAMES if n in errors and errors[n] < limit]
    if len(right) == len(NAMES):
        summary = "max relative errors: " + ", ".join(f"{n} {errors[n]:.1e}" for n in NAMES)
        slow = backprop_cost(cls)
        return not slow, summary + (f"\n{slow}" if slow else "")
    lines = []
    for name in NAMES:
        if name in right:
            continue
        if name in problems:
            lines.append(f"{name}: {problems[name]}")
            continue
        lines.append(f"{name}: max relative error {errors[name]:.1e} (needs < {limit:.0e})")
        weight = params[name] if name.startswith("W") else None
        hint = _gradient_hint(name, got[name], numeric[name], weight, s["reg"], len(y), right)
        if hint:
            lines.append(f"Hint: {hint}.")
    if right:
        lines.append(f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} right.")
    if _loss_is_off(cls):
        lines.append("Note: the numerical gradients are those of your own loss(), which is "
                     "not yet the handout's (see 1b): fix 1b first.")
    return False, "\n".join(lines)


def check_training(cls, folder):
    """3a.1: the handout's toy SGD run; the final loss on the toy data must be <= 0.02."""
    s = SETTINGS["3a.1"]
    net, X, y = toy_net(cls)
    start = {name: np.array(net.params[name], copy=True) for name in NAMES}
    np.random.seed(0)
    stats = net.train(X.copy(), y.copy(), X.copy(), y.copy(),
                      learning_rate=s["learning_rate"], reg=s["reg"],
                      num_iters=s["num_iters"], verbose=False)
    if not isinstance(stats, dict):
        raise Stop("train() should return a dict with loss_history, train_acc_history and "
                   f"val_acc_history; got {type(stats).__name__}")
    missing = [k for k in ("loss_history", "train_acc_history", "val_acc_history")
               if k not in stats]
    if missing:
        raise Stop(f"the dict train() returns has no {', '.join(missing)}")
    for name in NAMES:
        try:
            as_array(net.params[name], start[name].shape, f"self.params[{name!r}] after train()")
        except Stop as exc:
            raise Stop(f"{exc}\nHint: training diverged? check the SGD step and 2d.") from None
    # The L2 term is added here, so a reg that loss() ignores cannot change the verdict.
    weights = float(np.sum(net.params["W1"] ** 2) + np.sum(net.params["W2"] ** 2))
    final = loss_and_grads(net, X, y, 0.0)[0] + s["reg"] * weights
    line = (f"training loss after train(): {final:.4g} (needs <= {s['max_loss']:g}; your "
            f"loss(X, y, reg=0) on the toy data plus reg * (||W1||^2 + ||W2||^2) at "
            f"reg={s['reg']:g})")
    if final <= s["max_loss"]:
        return True, line
    if all(np.array_equal(net.params[n], start[n]) for n in NAMES):
        hint = "train() did not change self.params: update them in place with the gradients"
    else:
        hint = ("check the SGD update (each parameter moves by -learning_rate * its gradient) "
                "and the gradients (2d)")
    note = ("\nNote: this final loss comes from your own loss(), which is not yet the "
            "handout's (see 1b): fix 1b first." if _loss_is_off(cls) else "")
    return False, f"{line}\nHint: {hint}.{note}"


def shipped_helper(name):
    """The grader's own judging module `name`.py shipped next to this file (numpy only)."""
    path = HERE / f"{name}.py"
    if not path.is_file():
        raise Stop(f"{name}.py is missing next to selfcheck.py: unpack the handout's "
                   "archive again")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def check_no_loops(cls, folder):
    """1c.2: no Python loop over samples in loss() or the methods it calls; it must run."""
    static = shipped_helper("staticcheck")
    source = static.read_source(folder, f"{MODULE}.py")
    if source is None:
        raise Stop(f"{MODULE}.py could not be read (a symbolic link?)")
    found = static.loops_over_samples(source, CLASS, "loss")
    net, X, _ = toy_net(cls)
    net.loss(X.copy())  # vectorised code that does not run earns nothing
    if found:
        lines = "\n".join(f"line {f.line}: {f.code}" for f in found)
        return False, (f"Python loop over samples in loss():\n{lines}\nHint: operate on the "
                       "whole (N, D) batch with matrix products and fancy indexing "
                       "(probs[np.arange(N), y]).")
    return True, "no loop over samples found in loss() or the methods it calls."


def _spied_net(cls, params, rows, log):
    """A student network holding params whose loss() logs every call with labels:
    (all params flattened before the call, the grads it returned flattened, batch rows)."""
    np.random.seed(0)
    D, H = params["W1"].shape
    net = cls(D, H, params["W2"].shape[1], std=1e-1)
    for name in NAMES:
        net.params[name] = params[name].copy()
    original = net.loss

    def spy(*args, **kwargs):
        before = np.concatenate([np.ravel(net.params[k]).astype(np.float64) for k in NAMES])
        out = original(*args, **kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if y is not None and isinstance(out, tuple) and len(out) == 2:
            grads = np.concatenate([as_array(out[1][k], np.shape(params[k]), f"grads[{k!r}]")
                                    .ravel() for k in NAMES])
            log.append((before, grads, [rows.get(np.asarray(r, dtype=np.float64).tobytes(), -1)
                                        for r in X]))
        return out

    net.loss = spy  # train() calls self.loss(X_batch, y=y_batch, reg=reg): found first
    return net


def check_sgd_steps(cls, folder):
    """3a.2: every step train() takes is params -= lr * grads, with the given learning
    rate decayed once per epoch, batches of batch_size rows from the whole set; predict()
    is the argmax of the scores. Judged by the grader's own rules (sgd.py)."""
    sgd, s = shipped_helper("sgd"), SETTINGS["3a.2"]
    N, D, H, C = s["shape"]
    draws = np.random.RandomState(SGD_DATA_SEED)
    params = {"W1": 0.1 * draws.randn(D, H), "b1": 0.1 * draws.randn(H),
              "W2": 0.1 * draws.randn(H, C), "b2": 0.1 * draws.randn(C)}
    X, y, X_pred = draws.randn(N, D), draws.randint(0, C, size=N), draws.randn(20, D)
    log = []
    net = _spied_net(cls, params, {X[i].tobytes(): i for i in range(N)}, log)
    settings = sgd.Settings(N, s["batch_size"], s["num_iters"], s["learning_rate"],
                            s["learning_rate_decay"])
    net.train(X.copy(), y.copy(), X.copy(), y.copy(), learning_rate=s["learning_rate"],
              learning_rate_decay=s["learning_rate_decay"], reg=0.0,
              num_iters=s["num_iters"], batch_size=s["batch_size"], verbose=False)
    if not log:
        raise Stop("train() never called self.loss(X_batch, y=y_batch, reg=reg), so its SGD "
                   "steps could not be observed\nHint: compute each step's loss and "
                   "gradients with self.loss, as the template does.")
    final = {k: as_array(net.params[k], np.shape(params[k]), f"self.params[{k!r}] after "
                         "train()") for k in NAMES}
    step_log = sgd.StepLog(np.stack([e[0] for e in log]), np.stack([e[1] for e in log]),
                           np.concatenate([final[k].ravel() for k in NAMES]),
                           np.array([len(e[2]) for e in log]),
                           np.array([i for e in log for i in e[2]], dtype=np.int64))
    net.loss = type(net).loss.__get__(net)  # predict() and the scores, unobserved
    scores = as_array(net.loss(X_pred.copy()), (len(X_pred), C), "loss(X) after train()")
    pred = net.predict(X_pred.copy())
    pred = None if pred is None else np.asarray(pred).ravel()
    pred_ok = pred is not None and sgd.predictions_match(pred, np.argmax(scores, axis=1))
    parts = sgd.judge_steps(step_log, settings, s["min_coverage"], s["lr_rtol"], pred_ok)
    head = (f"train(learning_rate={s['learning_rate']:g}, learning_rate_decay="
            f"{s['learning_rate_decay']:g}, batch_size={s['batch_size']}, num_iters="
            f"{s['num_iters']}) on {N} rows")
    bad = [f"{part}: {problem}" for part, problem in parts if problem]
    good = [part for part, problem in parts if not problem]
    return not bad, "\n".join([head] + bad + ([f"right: {', '.join(good)}"] if good else []))


CHECKS = (("1a.1", check_probabilities), ("1b.1", check_loss), ("1c.2", check_no_loops),
          ("2d.1", check_gradients), ("3a.1", check_training), ("3a.2", check_sgd_steps))


# ---------------------------------------------------------------------------------------


def run_all(folder: Path) -> list[Result]:
    """Every public check on folder/two_layernet.py, each isolated from the others."""
    cls, failure = guarded(load_student, folder)
    if failure is not None:
        text = str(failure) if isinstance(failure, Stop) else describe(failure, folder)
        message = f"{MODULE}.py could not be loaded: {text}"
        return [Result(cid, False, message) for cid, _ in CHECKS]
    results = []
    for cid, check in CHECKS:
        outcome, failure = guarded(check, cls, folder)
        if failure is None:
            results.append(Result(cid, *outcome))
        elif isinstance(failure, Stop):
            results.append(Result(cid, False, str(failure)))
        else:
            results.append(Result(cid, False, describe(failure, folder)))
    return results


def render(results: list[Result], path: Path) -> str:
    """The report: one block per check, then a summary."""
    lines = [f"Self-check of {path}: the public checks of questions 1a, 1b, 1c, 2d and 3a.",
             ""]
    for r in results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'}  {r.check}  {TITLES[r.check]}")
        for text in r.message.splitlines():
            lines += textwrap.wrap(text, 92, initial_indent=" " * 6,
                                   subsequent_indent=" " * 8) or [""]
    passed = sum(r.passed for r in results)
    lines += ["", f"{passed} of {len(results)} public checks passed."
              + (" Well done." if passed == len(results) else ""), ""]
    lines += textwrap.wrap(NOT_HERE, 90)
    return "\n".join(lines)


def main(argv=None) -> int:
    """Runs the checks and prints the report; returns 0 when every check passed, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=HERE,
                        help=f"folder holding your {MODULE}.py (default: this file's folder)")
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    results = run_all(folder)
    sys.stdout.flush()  # the student's own prints first
    print(render(results, folder / f"{MODULE}.py"))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
