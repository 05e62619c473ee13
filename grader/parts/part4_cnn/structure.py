"""6b, in the grader's process: what the traced forward passes of the student's CNN,
ConvBlock and DenseBlock say about their structure (numpy only). trace_6b runs both in one
sandboxed child; judge_structure (6b.1) and judge_blocks (6b.2) judge what it traced.

A trace is the list of layers on the path to the returned output (probes.py walks the
output's autograd graph: a layer run and thrown away does not count, a torch.conv2d or
torch.relu called directly does), in call order: torch.nn.functional calls (nn.Conv2d
calls F.conv2d, nn.MaxPool2d F.max_pool2d, nn.Linear F.linear, nn.ReLU F.relu, so modules
and functional calls look alike) and the layer operations no such call made, each as
[kind, function, module name, input shape, output shape, kernel, stride, padding]. A conv
block is the convolutions up to the pooling that ends it. The CNN passes when it has
exactly two conv blocks of two convolutions each, every convolution keeps H x W and is
followed by its ReLU (right after the block's max-pool is the same function, and
accepted), each block ends in a max-pool that halves H and W (nothing else downsamples),
two Linear layers follow, and the output is the last Linear layer's output (its logits
can be negative; log-softmax of them is accepted).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .probing import NUM_CLASSES, PROBES, same_failure
from ...core.engine.judge import Feedback, Verdict, failure_verdict, shaped
from ...core.rubric.spec import Check, case_seed
from ...core.sandbox.probe_run import ProbeCall, ProbeRun

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext

KIND, FUNCTION, MODULE, SHAPE_IN, SHAPE_OUT, KERNEL, STRIDE, PADDING = range(8)
CLOSE = dict(rtol=1e-5, atol=1e-6)
BLOCKS, CONVS_PER_BLOCK, DENSE = 2, 2, 2  # the handout's CNN
POOL_NAMES = {"avgpool": "average pooling", "lppool": "power-average pooling",
              "resize": "resizing (interpolate)"}


def _hw(shape) -> tuple[int, ...]:
    return tuple(int(v) for v in shape[-2:]) if len(shape) >= 3 else ()


def _fmt_hw(shape) -> str:
    hw = _hw(shape)
    return "x".join(str(v) for v in hw) if hw else str(tuple(shape))


def _one(value):
    """The first entry of a per-dimension setting ([2, 2] -> 2), as given otherwise."""
    return value[0] if isinstance(value, (list, tuple)) and value else value


def _where(event, label: str) -> str:
    return f"{label} ({event[MODULE]})" if event[MODULE] else label


@dataclass
class Walk:
    """The layers of one traced forward pass, grouped."""

    blocks: list = field(default_factory=list)  # per block: (its conv events, the pooling event)
    dense: list = field(default_factory=list)  # the Linear events
    trailing: list = field(default_factory=list)  # convolutions after the last pooling
    problems: list = field(default_factory=list)  # one line each, in the student's terms


def conv_problem(event, label: str) -> str:
    """'' when the convolution keeps H x W, else what it did and what to change."""
    h_in, h_out = _hw(event[SHAPE_IN]), _hw(event[SHAPE_OUT])
    if h_in == h_out:
        return ""
    kernel, stride, padding = _one(event[KERNEL]), _one(event[STRIDE]), _one(event[PADDING])
    said = f"{_where(event, label)} maps {_fmt_hw(event[SHAPE_IN])} to {_fmt_hw(event[SHAPE_OUT])}"
    if isinstance(stride, int) and stride > 1:
        return (f"{said} (stride {stride}): keep stride 1 and leave downsampling to "
                "MaxPool2d.")
    need = (kernel - 1) // 2 if isinstance(kernel, int) else "(kernel - 1) / 2"
    return (f"{said} (kernel {kernel}, padding {padding!r}): pad by (kernel - 1) / 2 = "
            f"{need} (or padding='same') so the convolution keeps {_fmt_hw(event[SHAPE_IN])}.")


def _no_relu(event, label: str) -> str:
    return (f"{_where(event, label)} is not followed by a ReLU: ConvBlock is conv, ReLU, "
            "conv, ReLU, 2x2 max-pool (a ReLU defined in __init__ must also be called in "
            "forward).")


def _spatial(shape) -> tuple[int, ...]:
    """H x W of an (N, C, H, W) shape, () for any other (a Linear layer's, unknown)."""
    return _hw(shape) if len(shape) == 4 else ()


def walk(events, start_hw: tuple[int, ...] = ()) -> Walk:
    """Groups a trace into conv blocks and Linear layers and lists what breaks the rules
    on the way (a convolution that changes H x W or has no ReLU after it, downsampling
    other than max-pooling, a max-pool that does not halve H and W, a Linear layer before
    the conv blocks end). A convolution's ReLU may come right after the block's max-pool
    instead (the two commute: the same function); another activation counts as its
    ReLU. Between consecutive spatial layers (and from start_hw, the input's H x W, to the
    first) H x W must not change outside a layer: slicing does not downsample unseen."""
    found, current = Walk(), []
    pending = None  # (the convolution still waiting for its ReLU, its label)
    after_pool = False  # pending's ReLU may still come: the max-pool came in between
    last_hw, last = start_hw, "the input"  # H x W the next spatial layer must get, and from
    for event in events:
        kind = event[KIND]
        hw_in, hw_out = _spatial(event[SHAPE_IN]), _spatial(event[SHAPE_OUT])
        if hw_in and last_hw and hw_in != last_hw:
            found.problems.append(
                f"between {last} and {_where(event, event[FUNCTION])} something changes H x W "
                f"from {'x'.join(map(str, last_hw))} to {'x'.join(map(str, hw_in))} (slicing, "
                "a resize or a reshape outside the layers): only the blocks' max-pools may "
                "downsample.")
        if hw_out:
            last_hw, last = hw_out, _where(event, event[FUNCTION])
        if kind in ("relu", "activation"):
            pending, after_pool = None, False
            continue
        if pending is not None and (after_pool or kind in ("conv", "linear")):
            found.problems.append(_no_relu(*pending))
            pending = None
        after_pool = False
        if kind == "conv":
            label = f"conv {len(current) + 1} of block {len(found.blocks) + 1}"
            problem = conv_problem(event, label)
            if problem:
                found.problems.append(problem)
            current.append(event)
            pending = (event, label)
        elif kind == "maxpool" or (kind in POOL_NAMES and _hw(event[SHAPE_IN]) != _hw(event[SHAPE_OUT])):
            label = f"the pooling of block {len(found.blocks) + 1}"
            h_in, h_out = _hw(event[SHAPE_IN]), _hw(event[SHAPE_OUT])
            if kind != "maxpool":
                found.problems.append(
                    f"{_where(event, label)} is {POOL_NAMES[kind]} ({event[FUNCTION]}), "
                    f"mapping {_fmt_hw(event[SHAPE_IN])} to {_fmt_hw(event[SHAPE_OUT])}: only "
                    "max-pooling may downsample; use nn.MaxPool2d(2) (or F.max_pool2d(x, 2)).")
            elif h_out != tuple(v // 2 for v in h_in):
                found.problems.append(
                    f"{_where(event, label)} maps {_fmt_hw(event[SHAPE_IN])} to "
                    f"{_fmt_hw(event[SHAPE_OUT])}: a 2x2 max-pool with stride 2 halves both "
                    "(nn.MaxPool2d(2)).")
            after_pool = pending is not None
            if current:
                found.blocks.append((current, event))
                current = []
            else:
                found.problems.append(f"{_where(event, label)} follows no convolution: each "
                                      "conv block is conv, ReLU, conv, ReLU, then one max-pool.")
        elif kind == "linear":
            if current:
                found.problems.append(
                    f"{_where(event, 'a Linear layer')} comes after convolutions that no "
                    "max-pool ended: each conv block ends with its 2x2 max-pool.")
                found.trailing.extend(current)
                current = []
            found.dense.append(event)
    if pending is not None:
        found.problems.append(_no_relu(*pending))
    found.trailing.extend(current)
    return found


def describe(found: Walk) -> str:
    """'block 1: conv 3->8 at 32x32, conv 8->8 at 32x32, max-pool to 16x16; ...'."""
    parts = []
    for i, (convs, pool) in enumerate(found.blocks, 1):
        layers = [f"conv {c[SHAPE_IN][1]}->{c[SHAPE_OUT][1]} at {_fmt_hw(c[SHAPE_OUT])}"
                  for c in convs if len(c[SHAPE_IN]) > 1 and len(c[SHAPE_OUT]) > 1]
        parts.append(f"block {i}: " + ", ".join(layers + [f"max-pool to {_fmt_hw(pool[SHAPE_OUT])}"]))
    if found.dense:
        parts.append("dense: " + ", ".join(f"{e[SHAPE_IN][-1]} -> {e[SHAPE_OUT][-1]}"
                                           for e in found.dense if e[SHAPE_IN] and e[SHAPE_OUT]))
    return "; ".join(parts)


def output_problem(output: np.ndarray, last: np.ndarray | None, what: str) -> str:
    """'' when forward returns its last Linear layer's output (or its log-softmax), else
    what it returns instead."""
    if last is None:
        return f"{what} applied no Linear layer."
    if last.shape != output.shape:
        return (f"{what} returns shape {output.shape}, but its last Linear layer gave "
                f"{last.shape}: return the output block's scores.")
    if np.allclose(output, last, **CLOSE):
        return ""
    shifted = last - last.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if np.allclose(output, log_softmax, **CLOSE):
        return ""
    if np.allclose(output, np.maximum(last, 0.0), **CLOSE) and (last < 0).any():
        return (f"{what} puts a ReLU after the output block's Linear layer: its scores can "
                "never be negative (the output block has no activation).\nHint: build the "
                "output block as DenseBlock(hidden, out_dim, act_type=None), or any act_type "
                "but 'relu'.")
    if output.ndim == 2 and output.min() >= 0 and np.allclose(output.sum(axis=1), 1, atol=1e-4):
        return (f"{what} returns probabilities (a softmax after the last Linear layer).\n"
                "Hint: return the scores; nn.CrossEntropyLoss applies log-softmax itself.")
    return (f"{what} does not return the output of its last Linear layer (something is "
            "applied after it).\nHint: the output block is a Linear layer with no activation.")


def path_problems(run: ProbeRun, prefix: str = "") -> list[str]:
    """What the probe said about the path to the output: no autograd graph, a backward
    pass that failed (problems), and the layers applied off the path (said only along
    with other problems)."""
    notes = [str(n)[:400] for n in run.values.get(prefix + "path_notes") or []]
    problems = []
    for note in notes:
        if note == "no autograd graph":
            problems.append("forward's output carries no autograd graph (computed under "
                            "torch.no_grad(), detached, or rebuilt from numpy), so no layer "
                            "can be seen making it: return what the layers compute.")
        elif not note.startswith("applied, but"):
            problems.append(f"the grader's backward pass through forward's output failed "
                            f"({note}), so the layers that make it could not be told.")
    return problems


def off_path(run: ProbeRun, prefix: str = "") -> list[str]:
    """The line naming the layers applied whose result never reaches the output."""
    return [f"Layers {n}" for n in (str(n)[:400] for n in run.values.get(prefix + "path_notes") or [])
            if n.startswith("applied, but")]


def judge_cnn(run: ProbeRun, rows: int, num_classes: int) -> tuple[list[str], str]:
    """6b.1: (problems, the layers applied, described in one line). Only the layers on the
    path to the returned output count (probes.py: its autograd graph), whoever calls them."""
    events = list(run.values.get("events") or [])
    found = walk(events, (32, 32))
    problems = path_problems(run) + list(found.problems)
    if len(found.blocks) != BLOCKS:
        problems.append(f"{len(found.blocks)} conv block{'s' if len(found.blocks) != 1 else ''} "
                        f"(convolutions ending in a max-pool); the handout's CNN has exactly "
                        f"{BLOCKS}: ConvBlock, ConvBlock, then the dense blocks.")
    for i, (convs, _) in enumerate(found.blocks, 1):
        if len(convs) != CONVS_PER_BLOCK:
            problems.append(f"block {i} has {len(convs)} convolution"
                            f"{'s' if len(convs) != 1 else ''}; ConvBlock is conv, ReLU, "
                            "conv, ReLU, 2x2 max-pool.")
    if found.trailing:
        problems.append(f"{len(found.trailing)} convolution(s) after the last max-pool "
                        f"({found.trailing[0][MODULE] or 'in forward'}); each conv block ends "
                        "with its max-pool.")
    if len(found.dense) != DENSE:
        problems.append(f"{len(found.dense)} Linear layer{'s' if len(found.dense) != 1 else ''}; "
                        f"the handout's CNN has exactly {DENSE} dense blocks: DenseBlock(flat, "
                        "hidden) and DenseBlock(hidden, out_dim, act_type=None).")
    output, problem = shaped(run.values.get("output"), (rows, num_classes),
                             f"CNN((3, 32, 32), {num_classes}) on {rows} images")
    if problem:
        problems.append(problem)
    else:
        last = run.values.get("last_linear")
        if last is None and found.dense:
            problems.append("forward's last Linear layer is a direct matrix product (not "
                            "nn.Linear or F.linear), so its scores cannot be compared: build "
                            "the dense blocks with nn.Linear.")
        else:
            said = output_problem(output, None if last is None else np.asarray(last, np.float64),
                                  "forward")
            if said:
                problems.append(said)
    if problems:
        problems += off_path(run)
    return problems, describe(found)


@dataclass(frozen=True)
class BlockCase:
    """One ConvBlock or DenseBlock the grader builds on its own (6b.2)."""

    name: str
    kind: str  # "conv" or "dense"
    args: dict  # conv: kernel, inp_ch, out_ch, size [H, W]; dense: inp, out, act
    seed: int

    def label(self) -> str:
        a = self.args
        if self.kind == "conv":
            return f"ConvBlock({a['kernel']}, {a['inp_ch']}, {a['out_ch']}) on {a['size'][0]}x{a['size'][1]}"
        return f"DenseBlock({a['inp']}, {a['out']}" + (")" if a["act"] == "relu" else ", act_type=None)")

    def input_shape(self, rows: int) -> tuple[int, ...]:
        a = self.args
        if self.kind == "conv":
            return (rows, a["inp_ch"], *a["size"])
        return (rows, a["inp"])


def block_cases(base_seed: int, check_id: str, kernels) -> list[BlockCase]:
    """One ConvBlock case per kernel (channels 2-9 in, 4-12 out, an even H x W of 8-24
    that is not square), then DenseBlock with its default activation and with None."""
    cases = []
    for i, kernel in enumerate(kernels):
        seed = case_seed(base_seed, check_id, i)
        rng = np.random.default_rng(seed)
        h = 2 * int(rng.integers(4, 12))
        w = h + 2 * int(rng.integers(1, 4))
        cases.append(BlockCase(f"conv{i}", "conv", {
            "kernel": int(kernel), "inp_ch": int(rng.integers(2, 10)),
            "out_ch": int(rng.integers(4, 13)), "size": [h, w]}, seed))
    for j, act in enumerate(("relu", None)):
        seed = case_seed(base_seed, check_id, len(kernels) + j)
        rng = np.random.default_rng(seed)
        cases.append(BlockCase(f"dense{j}", "dense", {
            "inp": int(rng.integers(12, 40)), "out": int(rng.integers(5, 12)), "act": act}, seed))
    return cases


def judge_block(run: ProbeRun, case: BlockCase, rows: int) -> str:
    """6b.2: '' when the block behaves as the handout says, else the first problem."""
    events = list(run.values.get(f"{case.name}/events") or [])
    out = run.values.get(f"{case.name}/output")
    a = case.args
    stopped = path_problems(run, f"{case.name}/")
    if stopped:
        return stopped[0]
    if case.kind == "conv":
        found = walk(events, tuple(a["size"]))
        if found.problems:
            return "\n".join([found.problems[0]] + off_path(run, f"{case.name}/"))
        h, w = a["size"]
        expected = (rows, a["out_ch"], h // 2, w // 2)
        got, problem = shaped(out, expected, "its output")
        if problem:
            return problem
        if len(found.blocks) != 1 or found.trailing or len(found.blocks[0][0]) != CONVS_PER_BLOCK:
            convs = sum(len(c) for c, _ in found.blocks) + len(found.trailing)
            return (f"it applied {convs} convolution(s) and {len(found.blocks)} max-pool(s); "
                    "ConvBlock is conv, ReLU, conv, ReLU, one 2x2 max-pool.")
        return ""
    got, problem = shaped(out, (rows, a["out"]), "its output")
    if problem:
        return problem
    last = run.values.get(f"{case.name}/last_linear")
    if last is None or int(run.values.get(f"{case.name}/linear_count", 0)) != 1:
        return "\n".join(["it should apply exactly one Linear layer (self.fc), its result "
                          "on the way to the output."] + off_path(run, f"{case.name}/"))
    last = np.asarray(last, dtype=np.float64)
    if a["act"] == "relu":
        if np.allclose(got, np.maximum(last, 0.0), **CLOSE):
            return ""
        return ("with act_type='relu' (the default) its output should be ReLU of the "
                "Linear layer's output.")
    if np.allclose(got, last, **CLOSE):
        return ""
    return ("with act_type=None it should return the Linear layer's output as it is (no "
            "activation), as the output block needs.")


# -- one child traces the CNN and the blocks, both checks judge it ------------------

STRUCTURE_CHECK, BLOCKS_CHECK = "6b.1", "6b.2"


@dataclass(frozen=True)
class Traced:
    """6b's sandboxed run: the CNN traced (6b.1) and the blocks traced (6b.2)."""

    cnn: object  # ProbeRun of the structure call
    blocks: object  # ProbeRun of the blocks call
    rows: int  # images in the CNN's batch
    block_rows: int  # rows of each block's input
    cases: tuple  # BlockCase, in order


def trace_6b(grading: GradingContext) -> Traced:
    """Runs CNN((3, 32, 32), 10) on the grader's images and every 6b.2 block case, all in
    one sandboxed child under 6b.1's limits (torch is imported once for both checks)."""
    rubric = grading.rubric
    public, hidden = rubric.check(STRUCTURE_CHECK), rubric.check(BLOCKS_CHECK)
    rows, block_rows = int(public.value("rows")), int(hidden.value("rows"))
    rng = np.random.default_rng(case_seed(rubric.seed, STRUCTURE_CHECK, 0))
    images = rng.standard_normal((rows, 3, 32, 32)).astype(np.float32)
    cases = block_cases(rubric.seed, BLOCKS_CHECK, hidden.value("kernels"))
    rng = np.random.default_rng(case_seed(rubric.seed, BLOCKS_CHECK, len(cases)))
    inputs = {f"{c.name}/X": rng.standard_normal(c.input_shape(block_rows)).astype(np.float32)
              for c in cases}
    calls = [ProbeCall("structure", {}, {"X": images}),
             ProbeCall("blocks", {"cases": [{"name": c.name, "kind": c.kind, **c.args}
                                            for c in cases]}, inputs)]
    cnn, blocks = grading.probe_calls(PROBES, calls, STRUCTURE_CHECK)
    return Traced(cnn, blocks, rows, block_rows, tuple(cases))


NONE_CALLED = "'NoneType' object is not callable"


def _with_none_hint(verdict: Verdict, run) -> Verdict:
    """The verdict, with a hint when forward called an activation that is None (a
    DenseBlock built without one)."""
    failure = run.failure
    if failure is None or NONE_CALLED not in failure.message:
        return verdict
    return Verdict(verdict.fraction, verdict.message + "\nHint: a DenseBlock built with "
                   "act_type other than 'relu' has self.relu = None: apply it only when it "
                   "is not None (the output block has no activation).")


def judge_structure(traced: Traced, check: Check, feedback: Feedback) -> Verdict:
    """6b.1: the CNN's trace against the handout's structure."""
    run, rows = traced.cnn, traced.rows
    verdict = failure_verdict(run, what=f"CNN((3, 32, 32), {NUM_CLASSES})")
    if verdict is not None:
        before = [p for p in walk(run.values.get("events") or []).problems
                  if "not followed by a ReLU" not in p]  # a direct torch.relu is not traced yet
        if before:  # forward crashed after some layers: what they did is often why
            verdict = Verdict(0.0, "\n".join([verdict.message, "Before that:"] + before))
        return _with_none_hint(verdict, run)
    problems, layers = judge_cnn(run, rows, NUM_CLASSES)
    feedback.record(layers=layers, inp_dim=str(run.values.get("inp_dim", "")))
    lines = []
    if run.values.get("inp_dim") == "3":
        lines.append("Note: CNN((3, 32, 32), 10) failed, CNN(3, 10) was used (inp_dim as the "
                     "number of channels).")
    if problems:
        return Verdict(0.0, "\n".join(lines + problems))
    return Verdict(1.0, "\n".join(lines + [f"CNN((3, 32, 32), {NUM_CLASSES}): {layers}.",
                                           f"Logits out, shape ({rows}, {NUM_CLASSES})."]))


def judge_blocks(traced: Traced, check: Check, feedback: Feedback) -> Verdict:
    """6b.2: each block case; the share of cases that behave as the handout says."""
    run, cases = traced.blocks, traced.cases
    names = [c.name for c in cases]
    verdict = failure_verdict(run, what="build_net.py") or \
        same_failure(run, names, "ConvBlock and DenseBlock")
    if verdict is not None:
        return verdict
    problems = []
    for case in cases:
        stopped = failure_verdict(run, case.name)
        problem = stopped.message.splitlines()[0] if stopped else \
            judge_block(run, case, traced.block_rows)
        if problem and NONE_CALLED in problem:
            problem += " (self.relu is None without activation: apply it only when it is not None)"
        if problem:
            problems.append(f"{case.label()}: {problem}")
    right = len(cases) - len(problems)
    feedback.record(seeds=[c.seed for c in cases], passed=right)
    return Verdict(right / len(cases), "\n".join(
        [f"{right} of {len(cases)} blocks built and applied as the handout says."] + problems))
