#!/usr/bin/env python3
"""Self-check of Part 2 (the PyTorch MLP): the public checks 4a.1 and 4b.1, run on your code.

    python selfcheck_part2.py            # checks the ex2_pytorch.py next to this file
    python selfcheck_part2.py FOLDER     # checks FOLDER/ex2_pytorch.py

4a.1 builds MultiLayerPerceptron(3072, hidden_layers, 10) for [50] and [100, 50] and
watches which nn.Linear layers its forward pass applies, what separates them and what
comes out. 4b.1 runs your train() for two short epochs on random images and watches the
loop: optimizer steps, gradients cleared, scores (not probabilities) given to the loss,
the learning rate decayed once per epoch. Each check prints what was expected, what your
code did and a hint. Exit code 0 when both pass, 1 otherwise. Needs Python 3, numpy and
torch (the versions the handout installs); it runs on the CPU and takes seconds.

Importing ex2_pytorch.py must start nothing (keep downloads and training under
`if __name__ == "__main__":`). The grader's hidden lists (4a.2), its training run on
CIFAR-10 (4b.2) and the depth experiment (4c) are graded on Gradescope only.
"""
from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import textwrap
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODULE = "ex2_pytorch"
INPUT_SIZE, NUM_CLASSES, ROWS = 3072, 10, 32
LISTS = ([50], [100, 50])  # 4a.1's hidden_layers, as the rubric lists them
EPOCHS, BATCH, TRAIN_ROWS, LR, DECAY, REG = 2, 50, 200, 1e-3, 0.5, 1e-3  # 4b.1 here
TIME_LIMIT_S = 120  # per check, on POSIX systems (signal.alarm)
TITLES = {"4a.1": "hidden_layers [50] and [100, 50]: every width used in order, nonlinear "
                  "in between, scores out",
          "4b.1": "the training loop as observed: optimizer steps, gradients cleared, loss "
                  "on scores, learning rate decayed once per epoch"}
NOT_HERE = ("Graded on Gradescope only, not here: hidden lists of 1, 3 and 5 widths (4a.2), "
            "the grader's training run with your settings and its validation accuracy (4b.2), "
            "and the 2 to 5 layer experiment shown with 4c.")


class Stop(Exception):
    """A check cannot go on; the message says why, in the student's terms."""


class TimedOut(BaseException):
    """A check ran past TIME_LIMIT_S."""


def _on_alarm(signum, frame):
    raise TimedOut()


def describe(exc: BaseException) -> str:
    """What an exception from the student's code means, with its place in their file."""
    if isinstance(exc, Stop):
        return str(exc)
    if isinstance(exc, NotImplementedError):
        return f"Not implemented yet ({exc or 'a TODO block'}): fill in that block of {MODULE}.py."
    if isinstance(exc, TimedOut):
        return (f"stopped after {TIME_LIMIT_S} s: an endless loop, or code at the top level of "
                f"{MODULE}.py that trains? Keep it under `if __name__ == \"__main__\":`.")
    place = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).name == f"{MODULE}.py":
            place = f" ({MODULE}.py, line {frame.lineno})"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}{place}"


def guarded(func, *args):
    """(value, None) or (None, exception) of func(*args), under the time limit."""
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(TIME_LIMIT_S)
    try:
        return func(*args), None
    except (Exception, TimedOut, SystemExit) as exc:  # noqa: BLE001 - reported to the student
        return None, exc
    finally:
        if alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def load_student(folder: Path):
    """The student's module, imported from folder/ex2_pytorch.py."""
    path = folder / f"{MODULE}.py"
    if not path.is_file():
        raise Stop(f"{path} not found: run this next to your {MODULE}.py or give its folder")
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    if not isinstance(getattr(module, "MultiLayerPerceptron", None), type):
        raise Stop(f"{MODULE}.py defines no class MultiLayerPerceptron")
    return module


# ---------------------------------------------------------------------------------------
# 4a.1: the layers applied


def _affine(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether every feature of `after` (N, F) is a*before + b of the same feature."""
    if before.shape != after.shape:
        return False
    for j in range(before.shape[1]):
        design = np.stack([before[:, j], np.ones(len(before))], axis=1)
        coef, *_ = np.linalg.lstsq(design, after[:, j], rcond=None)
        if np.max(np.abs(design @ coef - after[:, j])) > 1e-4 * (1 + np.max(np.abs(after[:, j]))):
            return False
    return True


def _applied(torch, module, hidden):
    """(Linear calls as (in, out, input (N, in), output (N, out)), model output, input
    shape used) for MultiLayerPerceptron(3072, hidden, 10) on random images."""
    torch.manual_seed(0)
    model = module.MultiLayerPerceptron(INPUT_SIZE, list(hidden), NUM_CLASSES)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():  # a scale at which any nonlinearity shows
        for layer in linears:
            layer.weight.normal_(0.0, 1.0 / np.sqrt(layer.in_features))
            if layer.bias is not None:
                layer.bias.uniform_(-0.5, 0.5)
    model.eval()
    calls = []
    handles = [m.register_forward_hook(lambda m, a, o: calls.append(
        (m.in_features, m.out_features, a[0].double().numpy(), o.double().numpy())))
        for m in linears]
    images = torch.rand(ROWS, 3, 32, 32) * 2 - 1
    try:
        for x in (images, images.reshape(ROWS, -1)):
            calls.clear()
            try:
                with torch.no_grad():
                    out = model(x).double().numpy()
                return calls[:], out, tuple(x.shape)
            except RuntimeError:
                if x.dim() == 2:
                    raise
    finally:
        for h in handles:
            h.remove()


def check_structure(module):
    import torch
    lines, ok = [], True
    for hidden in LISTS:
        calls, out, shape = _applied(torch, module, hidden)
        widths = [INPUT_SIZE] + list(hidden) + [NUM_CLASSES]
        want = list(zip(widths[:-1], widths[1:]))
        got = [(i, o) for i, o, _, _ in calls]
        built = " -> ".join(f"Linear({i}, {o})" for i, o in got) or "no nn.Linear"
        problem = ""
        if got != want:
            problem = (f"expected {' -> '.join(f'Linear({i}, {o})' for i, o in want)}, "
                       f"your forward applied {built}")
            if len(got) < len(want):
                problem += ("\nHint: build one nn.Linear per pair of consecutive widths in "
                            "[input_size] + hidden_layers + [num_classes], in a loop over the list.")
        else:
            for k in range(len(calls) - 1):
                if _affine(calls[k][3], calls[k + 1][2]):
                    problem = (f"nothing nonlinear between Linear layer {k + 1} and {k + 2}."
                               "\nHint: put a ReLU between consecutive Linear layers.")
                    break
        if not problem:
            last = calls[-1][3]
            if out.shape != (ROWS, NUM_CLASSES):
                problem = f"the output should be ({ROWS}, {NUM_CLASSES}), got {out.shape}"
            elif np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-5):
                problem = ("the output rows are probabilities (softmax at the end).\nHint: "
                           "return the last layer's scores; nn.CrossEntropyLoss applies the "
                           "softmax itself.")
            elif not (np.allclose(out, last, atol=1e-5) or np.allclose(
                    out, last - np.log(np.exp(last).sum(axis=1, keepdims=True)), atol=1e-4)):
                problem = ("the output is not the last Linear layer's scores (an activation "
                           "after it?).\nHint: nothing after the last Linear layer.")
        ok = ok and not problem
        lines.append(f"hidden_layers={hidden}: " + (problem or f"{built} on input {shape}, scores out"))
    return ok, "\n".join(lines)


# ---------------------------------------------------------------------------------------
# 4b.1: the training loop as observed


def check_training(module):
    import torch
    import torch.nn.functional as F
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    if not callable(getattr(module, "train", None)):
        raise Stop(f"{MODULE}.py defines no function train(model, train_loader, val_loader, "
                   "device, num_epochs, learning_rate, learning_rate_decay, reg)")
    torch.manual_seed(0)
    images = torch.rand(TRAIN_ROWS, 3, 32, 32) * 2 - 1
    labels = torch.randint(0, NUM_CLASSES, (TRAIN_ROWS,))
    data = torch.utils.data.TensorDataset(images, labels)
    train_loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True)
    val_loader = torch.utils.data.DataLoader(data, batch_size=BATCH)
    model = module.MultiLayerPerceptron(INPUT_SIZE, [50], NUM_CLASSES)
    tracked = next(model.parameters())
    seen = {"steps": [], "fresh": None, "accumulated": 0, "probs": 0, "losses": 0}

    def on_grad(grad):
        seen["fresh"] = grad.detach().clone()

    def on_step(optimizer, args, kwargs):
        seen["steps"].append(optimizer.param_groups[0]["lr"])
        if seen["fresh"] is not None and tracked.grad is not None and not torch.allclose(
                tracked.grad, seen["fresh"], rtol=1e-4, atol=1e-7):
            seen["accumulated"] += 1

    def spy(original):
        def loss(input, *args, **kwargs):
            if input.requires_grad:
                seen["losses"] += 1
                rows = input.detach()
                if rows.min() >= 0 and torch.allclose(rows.sum(dim=1), torch.ones(len(rows)),
                                                      atol=1e-4):
                    seen["probs"] += 1
            return original(input, *args, **kwargs)
        return loss

    handle = tracked.register_hook(on_grad)
    step_hook = register_optimizer_step_pre_hook(on_step)
    original = F.cross_entropy
    F.cross_entropy = spy(original)
    try:
        module.train(model, train_loader, val_loader, torch.device("cpu"), EPOCHS, LR, DECAY, REG)
    finally:
        F.cross_entropy = original
        step_hook.remove()
        handle.remove()
    per_epoch = TRAIN_ROWS // BATCH
    steps = seen["steps"]
    head = (f"train(..., num_epochs={EPOCHS}, learning_rate={LR:g}, learning_rate_decay="
            f"{DECAY:g}, reg={REG:g}) on {TRAIN_ROWS} random images, batches of {BATCH}")
    problems = []
    if not steps:
        problems.append("optimizer.step() was never called.\nHint: after loss.backward(), "
                        "call optimizer.step() in every training step.")
    if not seen["losses"]:
        problems.append("no loss was computed with nn.CrossEntropyLoss (or F.cross_entropy).")
    elif seen["probs"] * 2 > seen["losses"]:
        problems.append("the loss was given probabilities (a softmax before "
                        "nn.CrossEntropyLoss).\nHint: give it the model's scores.")
    if steps and seen["accumulated"] * 2 > len(steps):
        problems.append("the gradients were never cleared: each step used the sum of all "
                        "gradients so far.\nHint: call optimizer.zero_grad() before "
                        "loss.backward() in every step.")
    if len(steps) == EPOCHS * per_epoch:
        firsts = [steps[e * per_epoch] for e in range(EPOCHS)]
        want = [LR * DECAY ** e for e in range(EPOCHS)]
        if not np.allclose(firsts, want, rtol=1e-6):
            problems.append(f"the learning rate per epoch was {firsts}, expected {want}: "
                            "multiply it by learning_rate_decay once per epoch.")
        elif any(not np.isclose(s, firsts[i // per_epoch]) for i, s in enumerate(steps)):
            problems.append("the learning rate changed within an epoch: decay it once per "
                            "epoch, after the last batch.")
    elif steps:
        problems.append(f"{len(steps)} optimizer steps, expected {EPOCHS * per_epoch} "
                        f"({EPOCHS} epochs of {per_epoch} batches).")
    if problems:
        return False, "\n".join([head] + problems)
    return True, (f"{head}: {len(steps)} steps, gradients cleared, the loss got scores, "
                  f"learning rate {LR:g} then {LR * DECAY:g}")


CHECKS = (("4a.1", check_structure), ("4b.1", check_training))


def run_all(folder: Path) -> list[tuple[str, bool, str]]:
    """(check id, passed, message) of every public check on folder/ex2_pytorch.py."""
    module, failure = guarded(load_student, folder)
    if failure is not None:
        return [(cid, False, f"{MODULE}.py could not be loaded: {describe(failure)}")
                for cid, _ in CHECKS]
    results = []
    for cid, check in CHECKS:
        outcome, failure = guarded(check, module)
        results.append((cid, *outcome) if failure is None else (cid, False, describe(failure)))
    return results


def render(results, path: Path) -> str:
    lines = [f"Self-check of {path}: the public checks 4a.1 and 4b.1.", ""]
    for cid, passed, message in results:
        lines.append(f"{'PASS' if passed else 'FAIL'}  {cid}  {TITLES[cid]}")
        for text in message.splitlines():
            lines += textwrap.wrap(text, 92, initial_indent=" " * 6,
                                   subsequent_indent=" " * 8) or [""]
    passed = sum(p for _, p, _ in results)
    lines += ["", f"{passed} of {len(results)} public checks passed.", ""]
    return "\n".join(lines + textwrap.wrap(NOT_HERE, 90))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=HERE,
                        help=f"folder holding your {MODULE}.py (default: this file's folder)")
    folder = parser.parse_args(argv).folder.resolve()
    results = run_all(folder)
    sys.stdout.flush()
    print(render(results, folder / f"{MODULE}.py"))
    return 0 if all(p for _, p, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
