#!/usr/bin/env python3
"""Self-check of Part 4 (the CIFAR-10 CNN and the MNIST ConvNet): the public checks 6a.1,
6b.1, 6d.1, 7b.1 and 7b.2, run on your code.

    python selfcheck_part4.py            # checks theory.py, build_net.py and convnet_mnist.py here
    python selfcheck_part4.py FOLDER     # checks the ones in FOLDER

6a.1 calls conv_output_size on the handout's six cases; 6d.1 calls bias_gradients on the
figure's network (the expected numbers are computed here, with numpy); 6b.1 builds
CNN((3, 32, 32), 10), runs 8 images through it and watches every convolution, pooling,
ReLU and Linear layer it applies; 7b.1 and 7b.2 do the same with ConvNet() on 8 digits and
compare the layers, their output shapes and learnable parameters with the handout's.
Each check prints what was expected, what your code did and a hint. Exit code 0 when all
pass, 1 otherwise. Needs Python 3, numpy and torch (torchvision too, if convnet_mnist.py
imports it); it runs on the CPU in seconds.

Importing your files must start nothing (keep loading data, downloads and training under
`if __name__ == "__main__":`); a notebook is not read: put its definitions in
convnet_mnist.py to check them here.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import signal
import sys
import textwrap
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TIME_LIMIT_S = 120  # per check, on POSIX systems (signal.alarm)
SIZE_CASES = ((32, 3, 1, 1), (32, 5, 2, 1), (32, 2, 0, 2), (32, 3, 0, 2), (28, 5, 0, 1),
              (7, 3, 1, 2))  # (h_in, kernel, padding, stride), the handout's
FIGURE = dict(x=[1.0, -2.0], W1=[[0.5, -1.0], [1.5, 1.0]], b1=[0.25, -0.5],
              W2=[[1.0, -2.0], [0.5, 3.0]], b2=[0.1, -0.2], t=[1.0, 0.5])  # the handout's figure
RTOL, ATOL = 1e-8, 1e-10
ROWS = 8  # images per forward pass
MNIST_LAYERS = ("conv", "relu", "maxpool", "linear", "relu", "linear")
MNIST_SHAPES = ((20, 24, 24), (20, 24, 24), (20, 12, 12), (100,), (100,), (10,))
MNIST_PARAMS = (520, 0, 0, 288100, 0, 1010)
TITLES = {"6a.1": "conv_output_size on the handout's six cases",
          "6b.1": "CNN((3, 32, 32), 10): two conv blocks keeping H x W until a 2x2 max-pool, "
                  "two dense blocks, logits out",
          "6d.1": "bias_gradients on the figure's network",
          "7b.1": "ConvNet(): the layers forward applies, in order, and their output shapes",
          "7b.2": "ConvNet(): each layer's learnable parameters (289630 in all)"}
NOT_HERE = ("Graded on Gradescope only, not here: the hidden cases of conv_output_size (6a.2), "
            "ConvBlock and DenseBlock on their own (6b.2), training the CNN with your sup_trn "
            "and opt_dict (6c), bias_gradients on hidden networks (6d.2), your stated counts "
            "and shapes (7c), and training the ConvNet with your train() (7d).")


class Stop(Exception):
    """A check cannot go on; the message says why, in the student's terms."""


class TimedOut(BaseException):
    """A check ran past TIME_LIMIT_S."""


def _on_alarm(signum, frame):
    raise TimedOut()


def describe(exc: BaseException, filename: str) -> str:
    """What an exception from the student's file means, with its place there."""
    if isinstance(exc, Stop):
        return str(exc)
    if isinstance(exc, NotImplementedError):
        return (f"Not implemented yet ({str(exc) or 'a TODO block'}): fill in that block of "
                f"{filename}.")
    if isinstance(exc, TimedOut):
        return (f"stopped after {TIME_LIMIT_S} s: an endless loop, or code at the top level of "
                f"{filename} that trains? Keep it under `if __name__ == \"__main__\":`.")
    place, top = "", False
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).name == filename:
            place, top = f" ({filename}, line {frame.lineno})", frame.name == "<module>"
    first = (str(exc).strip().splitlines() or [""])[0]
    hint = ("\nHint: importing the file ran code that loads data or trains; keep it under "
            "`if __name__ == \"__main__\":`." if top else "")
    return f"{type(exc).__name__}: {first}{place}{hint}"


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


def load(folder: Path, filename: str, needs: str):
    """The student's module folder/filename, imported as it is; it must define `needs`."""
    path = folder / filename
    if not path.is_file():
        raise Stop(f"{path} not found: run this next to your {filename} or give its folder")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, needs, None)):
        raise Stop(f"{filename} defines no {needs}")
    return module


# ---------------------------------------------------------------------------------------
# 6a.1 and 6d.1: the numpy answers of theory.py


def check_output_size(theory):
    lines, ok = [], True
    for h_in, kernel, padding, stride in SIZE_CASES:
        want = math.floor((h_in - kernel + 2 * padding) / stride) + 1
        got = theory.conv_output_size(h_in, kernel, padding, stride)
        call = f"conv_output_size({h_in}, {kernel}, {padding}, {stride})"
        if isinstance(got, (int, np.integer, float, np.floating)) and got == want:
            lines.append(f"{call} = {want}")
            continue
        ok = False
        hint = ""
        if isinstance(got, (float, np.floating)) and math.floor(got) == want:
            hint = " Hint: round the division down (//), as equation (5) does."
        lines.append(f"{call}: expected {want}, got {got!r}.{hint}")
    return ok, "\n".join(lines)


def check_bias_gradients(theory):
    net = {k: np.array(v) for k, v in FIGURE.items()}
    pre = net["W1"].dot(net["x"]) + net["b1"]
    out = net["W2"].dot(pre * (pre > 0)) + net["b2"]
    want2 = 2 * (out - net["t"])  # d||t - y||^2 / dy
    want1 = np.where(pre > 0, net["W2"].T.dot(want2), 0.0)
    got = theory.bias_gradients(*(net[k].copy() for k in ("x", "W1", "b1", "W2", "b2", "t")))
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return False, f"expected a pair (dL/db1, dL/db2), got {type(got).__name__}"
    lines, ok = [], True
    for label, want, value in (("dL/db1", want1, got[0]), ("dL/db2", want2, got[1])):
        value = np.asarray(value, dtype=float)
        if value.shape == want.shape and np.allclose(value, want, rtol=RTOL, atol=ATOL):
            lines.append(f"{label} = {np.round(want, 6).tolist()}")
            continue
        ok = False
        hint = ""
        if value.shape != want.shape:
            hint = f" Hint: return one entry per bias, shape {want.shape}."
        elif np.allclose(2 * value, want, rtol=1e-6):
            hint = " Hint: off by a factor of 2: the derivative of ||t - y||^2 is -2 (t - y)."
        elif np.allclose(-value, want, rtol=1e-6):
            hint = " Hint: the sign is flipped: L grows when y moves away from t."
        elif label == "dL/db1":
            hint = (" Hint: back through W2 (its transpose), then the ReLU: 1 where z1 > 0, "
                    "0 elsewhere (the second hidden unit is off here).")
        lines.append(f"{label}: expected {np.round(want, 6).tolist()}, got "
                     f"{np.round(value, 6).tolist()}.{hint}")
    return ok, "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The layers a forward pass applies: torch's functional calls, wrapped (modules call them)


def traced(torch, model, images, student, events):
    """model(images) as (N, ...) float64; appends to events (kind, input shape, output
    shape, parameters, output), one per convolution, pooling, ReLU and Linear layer applied
    (also those before a crash)."""
    import torch.nn.functional as F
    depth = [0]
    kinds = {"conv2d": "conv", "linear": "linear", "relu": "relu", "max_pool2d": "maxpool",
             "avg_pool2d": "avgpool"}

    def wrap(original, kind):
        def layer(input, *args, **kwargs):
            depth[0] += 1
            try:
                result = original(input, *args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                out = result[0] if isinstance(result, tuple) else result
                weights = [a for a in list(args[:2]) + [kwargs.get("weight"), kwargs.get("bias")]
                           if isinstance(a, torch.Tensor)] if kind in ("conv", "linear") else []
                events.append((kind, tuple(input.shape[1:]), tuple(out.shape[1:]),
                               sum(w.numel() for w in weights), out.detach().double().numpy()))
            return result
        return layer

    patched = []  # (owner, name, original)
    for owner in (F, torch, torch.Tensor):  # torch.Tensor: x.relu()
        for name, kind in kinds.items():
            if hasattr(owner, name):
                patched.append((owner, name, getattr(owner, name)))
    wrappers = {id(orig): wrap(orig, kinds[name]) for _, name, orig in patched}
    for name, value in list(vars(student).items()):  # e.g. `from torch.nn.functional import relu`
        if id(value) in wrappers and not isinstance(value, type(torch)):
            patched.append((student, name, value))
    own = [name in vars(owner) for owner, name, _ in patched]
    try:
        for owner, name, original in patched:
            setattr(owner, name, wrappers[id(original)])
        with torch.no_grad():
            output = model(images)
    finally:
        for (owner, name, original), had in zip(patched, own):
            if had:
                setattr(owner, name, original)
            else:  # a method torch.Tensor inherits
                delattr(owner, name)
    return output.detach().double().numpy()


def _hw(shape) -> str:
    return "x".join(str(v) for v in shape[-2:]) if len(shape) >= 3 else str(shape)


# ---------------------------------------------------------------------------------------
# 6b.1: the CNN


def build_cnn(build_net):
    try:
        return build_net.CNN((3, 32, 32), 10)
    except (TypeError, ValueError):
        return build_net.CNN(3, 10)  # a CNN that takes the number of channels


def check_cnn(build_net):
    import torch
    torch.manual_seed(0)
    model = build_cnn(build_net).eval()
    head = f"CNN((3, 32, 32), 10) on {ROWS} images of 3x32x32"
    events, crash = [], None
    try:
        out = traced(torch, model, torch.randn(ROWS, 3, 32, 32), build_net, events)
    except Exception as exc:  # noqa: BLE001 - a shape problem before it is the news
        crash = exc
    blocks, convs, dense, problems = [], [], [], []
    pending, after_pool = None, False  # a convolution waiting for its ReLU (after the pool: ok)
    for kind, shape_in, shape_out, _, _ in events:
        where = f"block {len(blocks) + 1}"
        if kind == "relu":
            pending, after_pool = None, False
            continue
        if pending and (after_pool or kind in ("conv", "linear")):
            problems.append(f"{pending} is not followed by a ReLU: ConvBlock is conv, ReLU, "
                            "conv, ReLU, max-pool.")
            pending = None
        after_pool = False
        if kind == "conv":
            convs.append(shape_out)
            pending = f"conv {len(convs)} of {where}"
            if shape_in[-2:] != shape_out[-2:]:
                problems.append(f"conv {len(convs)} of {where} maps {_hw(shape_in)} to "
                                f"{_hw(shape_out)}: keep stride 1 and pad by (kernel - 1) / 2 "
                                "(or padding='same'); only the max-pool may downsample.")
        elif kind == "avgpool":
            problems.append(f"the pooling of {where} is average pooling: only max-pooling "
                            "may downsample (nn.MaxPool2d(2, 2)).")
            blocks.append(convs)
            convs = []
        elif kind == "maxpool":
            if not convs:
                problems.append(f"a max-pool follows no convolution in {where}.")
            elif tuple(shape_out[-2:]) != tuple(v // 2 for v in shape_in[-2:]):
                problems.append(f"the max-pool of {where} maps {_hw(shape_in)} to "
                                f"{_hw(shape_out)}: a 2x2 max-pool with stride 2 halves both.")
            blocks.append(convs)
            convs, after_pool = [], pending is not None
        elif kind == "linear":
            dense.append(shape_out)
    if pending:
        problems.append(f"{pending} is not followed by a ReLU: ConvBlock is conv, ReLU, conv, "
                        "ReLU, max-pool.")
    if crash is not None:
        if not problems:
            raise crash
        failed = f"(then forward failed: {describe(crash, 'build_net.py')})"
        return False, "\n".join([head + ":"] + problems + [failed])
    if len(blocks) != 2:
        problems.append(f"{len(blocks)} conv blocks (convolutions ending in a max-pool); the "
                        "handout's CNN has exactly 2.")
    for i, block in enumerate(blocks, 1):
        if len(block) != 2:
            problems.append(f"block {i} has {len(block)} convolutions; ConvBlock is conv, ReLU, "
                            "conv, ReLU, max-pool.")
    if len(dense) != 2:
        problems.append(f"{len(dense)} Linear layers; the handout's CNN has exactly 2 dense "
                        "blocks.")
    linears = [e for e in events if e[0] == "linear"]
    if not problems and linears:
        last = linears[-1][4]
        log_softmax = last - np.log(np.exp(last).sum(axis=1, keepdims=True))
        if out.shape != (ROWS, 10):
            problems.append(f"the output should be ({ROWS}, 10), got {out.shape}.")
        elif np.allclose(out, last, atol=1e-5) or np.allclose(out, log_softmax, atol=1e-4):
            pass
        elif np.allclose(out, np.maximum(last, 0), atol=1e-5):
            problems.append("forward puts a ReLU after the output block's Linear layer.\nHint: "
                            "the output block is DenseBlock(..., act_type=None): logits out.")
        elif np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-5):
            problems.append("the output rows are probabilities (a softmax at the end).\nHint: "
                            "return the logits; the cross-entropy loss applies the softmax.")
        else:
            problems.append("the output is not the last Linear layer's output.")
    if problems:
        return False, "\n".join([head + ":"] + problems)
    described = "; ".join(f"block {i}: {len(b)} convs at {_hw(b[0])}, max-pool"
                          for i, b in enumerate(blocks, 1))
    return True, f"{head}: {described}; dense {dense[0][-1]} -> {dense[1][-1]}; logits out"


# ---------------------------------------------------------------------------------------
# 7b.1 and 7b.2: the MNIST ConvNet


def convnet_layers(convnet):
    import torch
    torch.manual_seed(0)
    model = convnet.ConvNet().eval()
    events = []
    traced(torch, model, torch.rand(ROWS, 1, 28, 28), convnet, events)
    return [(kind, shape_out, params) for kind, _, shape_out, params, _ in events]


def check_shapes(convnet):
    got = convnet_layers(convnet)
    want = list(zip(MNIST_LAYERS, MNIST_SHAPES))
    seen = [(k, s) for k, s, _ in got]
    if [k for k, _ in seen[1:3]] == ["maxpool", "relu"]:  # they commute: the same function
        want[1:3] = [("maxpool", MNIST_SHAPES[2]), ("relu", MNIST_SHAPES[2])]
    rows = [f"{i}. {k} {s}" for i, (k, s) in enumerate(seen, 1)]
    if seen == want:
        return True, "\n".join(rows)
    lines = ["expected: " + ", ".join(f"{k} {s}" for k, s in want),
             "got:      " + (", ".join(f"{k} {s}" for k, s in seen) or "no layer traced")]
    if [k for k, _ in seen] != [k for k, _ in want]:
        lines.append("Hint: conv 5x5 (20 maps), ReLU, 2x2 max-pool, flatten, Linear(2880, 100), "
                     "ReLU, Linear(100, 10), in that order.")
    else:
        i = next(i for i, (a, b) in enumerate(zip(seen, want)) if a != b)
        lines.append(f"layer {i + 1} ({want[i][0]}) gives {seen[i][1]}, expected {want[i][1]}."
                     "\nHint: a 5x5 kernel with stride 1 and no padding gives 24x24; 20 maps; "
                     "100 hidden units.")
    return False, "\n".join(lines)


def check_parameters(convnet):
    got = [p for _, _, p in convnet_layers(convnet)]
    if got == list(MNIST_PARAMS):
        return True, f"{got}: {sum(got)} in all"
    hint = ("Hint: a layer's parameters are its weights and biases: conv 20 x 1 x 5 x 5 + 20, "
            "Linear(2880, 100) 2880 x 100 + 100, Linear(100, 10) 100 x 10 + 10.")
    return False, f"expected {list(MNIST_PARAMS)}, got {got} per layer.\n{hint}"


CHECKS = (("6a.1", "theory.py", "conv_output_size", check_output_size),
          ("6b.1", "build_net.py", "CNN", check_cnn),
          ("6d.1", "theory.py", "bias_gradients", check_bias_gradients),
          ("7b.1", "convnet_mnist.py", "ConvNet", check_shapes),
          ("7b.2", "convnet_mnist.py", "ConvNet", check_parameters))


def run_all(folder: Path) -> list[tuple[str, bool, str]]:
    """(check id, passed, message) of every public check on the files in folder."""
    results = []
    for cid, filename, needs, check in CHECKS:
        module, failure = guarded(load, folder, filename, needs)
        if failure is not None:
            results.append((cid, False, f"{filename} could not be loaded: "
                                        f"{describe(failure, filename)}"))
            continue
        outcome, failure = guarded(check, module)
        results.append((cid, *outcome) if failure is None
                       else (cid, False, describe(failure, filename)))
    return results


def render(results, folder: Path) -> str:
    lines = [f"Self-check of Part 4 in {folder}: the public checks "
             f"{', '.join(c for c, *_ in CHECKS)}.", ""]
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
                        help="folder holding your theory.py, build_net.py and convnet_mnist.py "
                             "(default: this file's folder)")
    folder = parser.parse_args(argv).folder.resolve()
    results = run_all(folder)
    sys.stdout.flush()
    print(render(results, folder))
    return 0 if all(p for _, p, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
