"""7b, in the grader's process: the layers the student's ConvNet applies, judged against
the handout's (numpy-free; what the summary probe recorded is plain lists).

The probe records one row per layer on the path to the forward's output (probes.py says
how layers are counted: modules, functional F.relu / F.max_pool2d and direct calls alike;
a layer whose result never reaches the output is left out and named). A max-pool right
before its ReLU, where the handout has the ReLU first, is the same function (they
commute) and accepted: PyTorch's MNIST example orders them so. Here each row gets a role:
conv, relu, maxpool or linear, the four the handout's ConvNet is made of; another
activation or pooling keeps its own name (a Sigmoid where a ReLU belongs is named as
such); reshaping, dropout and a final softmax are shown in the table but are not layers
of the count (nn.Flatten, x.view, nn.Dropout, F.softmax). The handout's ConvNet, read from
the rubric (7b.1's `layers` and `shapes`, 7b.2's `parameters`): conv 5x5 20 maps (20, 24,
24) 520; ReLU (20, 24, 24) 0; max-pool 2x2 stride 2 (20, 12, 12) 0; Linear(2880, 100)
(100) 288,100; ReLU (100) 0; Linear(100, 10) (10) 1,010; 289,630 in all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import settings
from ...core.engine.judge import Feedback, Verdict, failure_verdict
from ...core.rubric.spec import Check, case_seed
from ...core.sandbox.probe_run import ProbeRun

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of Part 4's ConvNet
IMAGE = (1, 28, 28)
ROLES = {"Conv2d": "conv", "conv2d": "conv", "ReLU": "relu", "relu": "relu",
         "MaxPool2d": "maxpool", "max_pool2d": "maxpool", "Linear": "linear",
         "linear": "linear"}  # lower case: a function (a direct call for conv2d and linear)
NOT_LAYERS = {"Flatten", "Unflatten", "Dropout", "Dropout1d", "Dropout2d", "Identity",
              "Softmax", "LogSoftmax", "softmax", "log_softmax"}
WHAT = {"conv": "a convolution (nn.Conv2d)", "relu": "a ReLU (nn.ReLU or F.relu)",
        "maxpool": "a max-pooling (nn.MaxPool2d or F.max_pool2d)",
        "linear": "a fully connected layer (nn.Linear)"}


@dataclass(frozen=True)
class Layer:
    """One layer the student's forward applied, as the probe recorded it."""

    kind: str  # the module's class name (Conv2d) or the function's name (relu)
    name: str  # its attribute path in the model ("conv", "features.0"); '' for a function
    params: int  # its learnable parameters
    shape: tuple[int, ...] | None  # its output shape without the batch dimension
    settings: dict = field(default_factory=dict)  # kernel, stride, padding; in, out

    @property
    def role(self) -> str:
        """conv, relu, maxpool, linear; else the kind itself."""
        return ROLES.get(self.kind, self.kind)

    @property
    def counted(self) -> bool:
        """Whether it is a layer of the count (reshaping, dropout, softmax are not)."""
        return self.kind not in NOT_LAYERS

    def label(self) -> str:
        """'fc1 (Linear)', or 'F.relu' for a function."""
        return f"{self.name} ({self.kind})" if self.name else f"F.{self.kind}"


@dataclass(frozen=True)
class Summary:
    """The summary probe's outcome, shared by 7b.1 and 7b.2."""

    run: ProbeRun | None
    layers: tuple[Layer, ...] = ()  # every row, in call order
    total: int = 0  # the model's parameters (model.parameters())
    unused: tuple[tuple[str, str, int], ...] = ()  # (name, type, parameters) off the path
    failed: Verdict | None = None  # the probe gave no summary
    notes: tuple[str, ...] = ()  # the probe's path notes (probes._Recorder.path)

    @property
    def counted(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.counted)


def _layer(row) -> Layer | None:
    try:
        kind, name, params, shape, extra = row
        return Layer(str(kind)[:40], str(name)[:60], int(params),
                     None if shape is None else tuple(int(s) for s in shape),
                     dict(extra) if isinstance(extra, dict) else {})
    except (TypeError, ValueError):
        return None


def run_summary(grading: GradingContext, check_id: str) -> Summary:
    """ConvNet() in one sandboxed child on `rows` grader digits (uniform in [0, 1], seeded
    from the rubric); the layers its forward applies."""
    check = grading.rubric.check(check_id)
    rng = np.random.default_rng(case_seed(grading.rubric.seed, check_id, 0))
    images = rng.uniform(0.0, 1.0, (int(check.value("rows")),) + IMAGE).astype(np.float32)
    batch_size = settings.declared_settings(grading.submission).get("batch_size")
    params = {"batch_size": int(batch_size) if settings._whole(batch_size) and batch_size <= 4096 else 0}
    run = grading.probe(PROBES, "summary", check_id, inputs={"X": images}, params=params)
    failed = failure_verdict(run, what=f"{settings.MODULE}.ConvNet")
    if failed is not None:
        return Summary(run, failed=failed)
    rows = run.values.get("layers") or []
    layers = tuple(layer for layer in map(_layer, rows if isinstance(rows, list) else [])
                   if layer is not None)
    unused = tuple((str(n)[:60], str(t)[:40], int(p)) for n, t, p in run.values.get("unused") or [])
    notes = tuple(str(n)[:400] for n in run.values.get("path_notes") or [])
    return Summary(run, layers, int(run.values.get("total_parameters") or 0), unused,
                   notes=notes)


def path_lines(summary: Summary) -> tuple[list[str], list[str]]:
    """(problems, notes) from the path to the output: no autograd graph, or a backward
    pass that failed, are problems; the layers applied off the path are a note."""
    problems, notes = [], []
    for note in summary.notes:
        if note.startswith("applied, but"):
            notes.append(f"Layers {note}")
        elif note == "no autograd graph":
            problems.append("forward's output carries no autograd graph (computed under "
                            "torch.no_grad(), detached, or rebuilt from numpy), so no layer "
                            "can be seen making it: return what the layers compute.")
        else:
            problems.append(f"the grader's backward pass through forward's output failed "
                            f"({note}), so the layers that make it could not be told.")
    return problems, notes


def commuted(got, want) -> tuple[list, bool]:
    """(want, swapped): the handout's layers with a ReLU and the max-pool after it in the
    order the student's forward applies them, max-pool then ReLU: the same function (a
    ReLU and a max-pool commute), so accepted; the ReLU then outputs the pooled shape."""
    want, swapped = list(want), False
    for i in range(len(want) - 1):
        if (want[i][0], want[i + 1][0]) == ("relu", "maxpool") and i + 1 < len(got) and \
                (got[i].role, got[i + 1].role) == ("maxpool", "relu"):
            pooled = want[i + 1][1]
            want[i], want[i + 1] = ("maxpool", pooled, want[i + 1][2]), ("relu", pooled, want[i][2])
            swapped = True
    return want, swapped


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")" if shape is not None else "?"


def table(summary: Summary) -> str:
    """The per-layer summary, like torchinfo's: layer, output shape, parameters."""
    lines = [f"{'#':>2}  {'Layer (type)':<26}{'Output shape':<16}{'Param #':>9}"]
    number = 0
    for layer in summary.layers:
        if layer.counted:
            number += 1
        mark = f"{number:>2}" if layer.counted else " -"
        lines.append(f"{mark}  {layer.label()[:25]:<26}{_shape(layer.shape):<16}{layer.params:>9,}")
    lines.append(f"Total params: {summary.total:,}"
                 + (" (- rows: not layers of the count)" if len(summary.counted) < len(summary.layers) else ""))
    return "\n".join(lines)


def report_table(summary: Summary) -> dict:
    """The summary table for the report ({title, columns, rows})."""
    rows, number = [], 0
    for layer in summary.layers:
        number += layer.counted
        rows.append([str(number) if layer.counted else "-", layer.label(), _shape(layer.shape),
                     layer.params])
    rows.append(["", "Total params", "", summary.total])
    return {"title": "Your ConvNet, layer by layer (- : not a layer of the count)",
            "columns": ["#", "Layer (type)", "Output shape", "Param #"], "rows": rows}


def expected(check_layers: Check, check_params: Check) -> list[tuple[str, tuple, int]]:
    """(role, output shape, parameters) of each layer of the handout's ConvNet (rubric)."""
    roles = [str(r) for r in check_layers.value("layers")]
    shapes = [tuple(int(s) for s in shape) for shape in check_layers.value("shapes")]
    params = [int(p) for p in check_params.value("parameters")]
    return list(zip(roles, shapes, params))


def _describe(layers) -> str:
    return ", ".join(layer.role for layer in layers) or "none"


def _shape_hint(layer: Layer, want: tuple) -> str:
    """Why a layer's output shape differs, from its settings."""
    s = layer.settings
    if layer.role == "conv":
        hints = []
        if s.get("kernel") and s["kernel"] != [5, 5]:
            hints.append(f"kernel_size {s['kernel'][0]}x{s['kernel'][1]}: the handout asks for 5x5")
        if s.get("out") is not None and s["out"] != want[0]:
            hints.append(f"{s['out']} output maps: the handout asks for {want[0]}")
        if s.get("stride") and s["stride"] != [1, 1]:
            hints.append(f"stride {s['stride'][0]}: the handout asks for stride 1")
        if s.get("padding") not in (None, [0, 0], "valid"):
            hints.append(f"padding {s['padding']}: the handout's convolution has none "
                         "(28 - 5 + 1 = 24)")
        return "; ".join(hints)
    if layer.role == "maxpool":
        if s.get("kernel") != [2, 2] or s.get("stride") != [2, 2]:
            return (f"pooling window {s.get('kernel')} with stride {s.get('stride')}: the "
                    "handout asks for a 2x2 window with stride 2")
    if layer.role == "linear" and s.get("out") is not None and (s["out"],) != want:
        return f"{s['out']} output features: the handout asks for {want[0]}"
    return ""


def _against_handout(judge: Callable) -> Callable:
    """A 7b judge, called (summary, the 7b.1 check, the 7b.2 check, feedback), from
    judge(summary, got, want, swapped, feedback): the probe's failure when it gave no
    summary; else got, the layers of the count, and want, the handout's (role, shape,
    parameters) with a ReLU and its max-pool in the order got applies them (swapped: they
    were commuted)."""

    def judged(summary: Summary, check_layers: Check, check_params: Check,
               feedback: Feedback) -> Verdict:
        if summary.failed is not None:
            return summary.failed
        want, swapped = commuted(summary.counted, expected(check_layers, check_params))
        return judge(summary, summary.counted, want, swapped, feedback)

    judged.__doc__ = judge.__doc__
    return judged


@_against_handout
def judge_shapes(summary: Summary, got: tuple[Layer, ...], want: list, swapped: bool,
                 feedback: Feedback) -> Verdict:
    """7b.1: the layers the forward applies, in order, each with its output shape."""
    feedback.record(layers=[[l.label(), list(l.shape or []), l.params] for l in summary.layers],
                    total_parameters=summary.total, table=report_table(summary))
    shown = "Your ConvNet, as the grader ran it on a batch of 1 x 28 x 28 digits:\n" + table(summary)
    problems, off_path = path_lines(summary)
    for i, (layer, (role, shape, _)) in enumerate(zip(got, want), 1):
        if layer.role != role:
            problems.append(f"layer {i} is {layer.label()}; the handout's layer {i} is "
                            f"{WHAT[role]}. Hint: the handout's order is conv, ReLU, "
                            "max-pool, fully connected 100, ReLU, fully connected 10.")
            break
        if layer.shape != shape:
            hint = _shape_hint(layer, shape)
            problems.append(f"layer {i}, {layer.label()}, outputs {_shape(layer.shape)}, "
                            f"expected {_shape(shape)}" + (f". Hint: {hint}." if hint else "."))
            break
    if not problems and len(got) != len(want):
        more = len(got) > len(want)
        problems.append(
            f"your forward applies {len(got)} layers ({_describe(got)}); the handout's ConvNet "
            f"has {len(want)} ({', '.join(r for r, _, _ in want)}). Hint: "
            + ("remove the extra layers (a softmax at the end is not needed: "
               "nn.CrossEntropyLoss applies log-softmax itself)." if more else
               "add the missing layers in the handout's order."))
    if problems:
        return Verdict(0.0, "\n".join(problems + off_path + [shown]))
    return Verdict(1.0, "\n".join(["All 6 layers in the handout's order, each with the right "
                                   "output shape."
                                   + (" Your max-pool comes before its ReLU: the same function "
                                      "(a ReLU and a max-pool commute), so accepted."
                                      if swapped else ""), shown]))


@_against_handout
def judge_parameters(summary: Summary, got: tuple[Layer, ...], want: list, swapped: bool,
                     feedback: Feedback) -> Verdict:
    """7b.2: each layer's learnable parameters, and the model's total."""
    total = sum(p for _, _, p in want)
    feedback.record(parameters=[l.params for l in got], total_parameters=summary.total)
    problems = [f"layer {i}, {layer.label()}, has {layer.params:,} learnable parameters, "
                f"expected {params:,}" + _param_hint(layer, role, shape)
                for i, (layer, (role, shape, params)) in enumerate(zip(got, want), 1)
                if layer.params != params]
    if len(got) != len(want):
        problems.append(f"your forward applies {len(got)} layers, not {len(want)} (7b.1 "
                        "says which), so the counts cannot all match.")
    if summary.total != total:
        extra = "; ".join(f"{n} ({t}, {p:,} parameters)" for n, t, p in summary.unused)
        problems.append(f"the model has {summary.total:,} learnable parameters in all, "
                        f"expected {total:,}"
                        + (f": modules whose result never reaches your forward's output "
                           f"hold some ({extra}); remove them" if extra else "") + ".")
    lines = problems or [f"Every layer's parameter count is right; {total:,} in all."]
    return Verdict(0.0 if problems else 1.0, "\n".join(lines + [table(summary)]))


def _param_hint(layer: Layer, role: str, shape: tuple) -> str:
    s = layer.settings
    if layer.role == "conv" and s.get("kernel"):
        k = s["kernel"]
        return (f" (Conv2d({s.get('in')}, {s.get('out')}, {k[0]}x{k[1]}): "
                f"{s.get('out')} x {s.get('in')} x {k[0]} x {k[1]} weights + {s.get('out')} biases)")
    if layer.role == "linear" and s.get("in") is not None:
        return (f" (Linear({s['in']}, {s['out']}): {s['in']} x {s['out']} weights + "
                f"{s['out']} biases)")
    return ""
