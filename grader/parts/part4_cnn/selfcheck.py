"""Part 4's public checks of the CIFAR-10 CNN for the students' self-check (shipped as
selfcheck_files/part4_cnn.py; run by selfcheck.py): 6a.1 calls conv_output_size on the
rubric's cases, 6d.1 bias_gradients on the handout's figure (both against the grader's
values, generated when the handout is built), and 6b.1 builds CNN((3, 32, 32), 10), runs
images through it and watches every convolution, pooling, ReLU and Linear layer it applies
(traced(), which the MNIST ConvNet's checks use too). Needs numpy; torch for 6b.1.
"""
from __future__ import annotations

import math

import numpy as np

from selfcheck import Stop, describe


def student_function(run, name):
    """The student's function or class `name` of the check's file."""
    module = run.module()
    if not callable(getattr(module, name, None)):
        raise Stop(f"{run.check['files'][0]} defines no {name}")
    return module


# ---------------------------------------------------------------------------------------
# 6a.1 and 6d.1: the numpy answers of theory.py


def check_output_size(run):
    """6a.1: conv_output_size on the rubric's cases against the grader's sizes."""
    theory, lines, ok = student_function(run, "conv_output_size"), [], True
    for (h_in, kernel, padding, stride), want in zip(run.values["given_cases"],
                                                     run.data["sizes"]):
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


def check_bias_gradients(run):
    """6d.1: bias_gradients on the handout's figure against the grader's gradients."""
    theory = student_function(run, "bias_gradients")
    net = {k: np.array(v) for k, v in run.data["figure"].items()}
    want1, want2 = (np.array(g) for g in run.data["bias_gradients"])
    rtol, atol = run.values["rtol"], run.values["atol"]
    got = theory.bias_gradients(*(net[k].copy() for k in ("x", "W1", "b1", "W2", "b2", "t")))
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return False, f"expected a pair (dL/db1, dL/db2), got {type(got).__name__}"
    lines, ok = [], True
    for label, want, value in (("dL/db1", want1, got[0]), ("dL/db2", want2, got[1])):
        value = np.asarray(value, dtype=float)
        if value.shape == want.shape and np.allclose(value, want, rtol=rtol, atol=atol):
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


def check_cnn(run):
    """6b.1: the layers CNN((3, 32, 32), 10)'s forward applies, traced."""
    import torch
    build_net, rows = student_function(run, "CNN"), run.values["rows"]
    torch.manual_seed(0)
    model = build_cnn(build_net).eval()
    head = f"CNN((3, 32, 32), 10) on {rows} images of 3x32x32"
    events, crash = [], None
    try:
        out = traced(torch, model, torch.randn(rows, 3, 32, 32), build_net, events)
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
        failed = f"(then forward failed: {describe(crash, run.folder, '')})"
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
        if out.shape != (rows, 10):
            problems.append(f"the output should be ({rows}, 10), got {out.shape}.")
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


CHECKS = {"6a.1": check_output_size, "6b.1": check_cnn, "6d.1": check_bias_gradients}
