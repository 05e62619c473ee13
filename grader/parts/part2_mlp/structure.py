"""4a, in the grader's process: which layers the student's model applies for a list of
hidden widths, judged from what the structure probe recorded (numpy only); grade_structure
runs that probe once for all of a check's lists.

Only the layers on the path to the returned output count (the probe walks the output's
autograd graph): an nn.Linear run and thrown away is left out, a matrix product called
directly (F.linear, x @ W.T) is a Linear layer all the same. A case is one
`hidden_layers` list. It passes when the nn.Linear layers forward applies are
exactly Linear(input_size, h0) -> Linear(h0, h1) -> ... -> Linear(h_last, num_classes),
something nonlinear separates each consecutive pair (the input of Linear i+1 is neither the
output of Linear i nor an affine function of it, feature by feature: BatchNorm in eval
mode and Dropout in eval mode are affine, ReLU, LeakyReLU, tanh are not), and forward
returns the last layer's scores, shape (N, num_classes): not probabilities, not a ReLU of
them (log-softmax is accepted: CrossEntropyLoss treats it as scores).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import settings
from .probing import IMAGE, INPUT_SIZE, NUM_CLASSES, PROBES
from ...core.engine.judge import Feedback, Verdict, failure_verdict
from ...core.rubric.spec import Check, case_seed
from ...core.sandbox.probe_run import ProbeRun

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext

AFFINE_RTOL = 1e-2  # residual of the best affine fit, relative to the feature's spread


@dataclass(frozen=True)
class Case:
    """One hidden_layers list the grader builds the student's model with."""

    name: str
    hidden: tuple[int, ...]  # the widths
    seed: int | None = None  # for hidden cases: derived from the rubric seed

    def label(self) -> str:
        return f"hidden_layers={list(self.hidden)}"


def public_cases(lists) -> list[Case]:
    """The rubric's public lists, as cases."""
    return [Case(f"case{i}", tuple(int(w) for w in widths)) for i, widths in enumerate(lists)]


def hidden_cases(base_seed: int, check_id: str, depths, low: int, high: int) -> list[Case]:
    """One case per depth (number of widths), each derived from the rubric seed: widths drawn
    in [low, high), all different, so that every width and its place can be told apart."""
    cases = []
    for i, depth in enumerate(depths):
        seed = case_seed(base_seed, check_id, i)
        rng = np.random.default_rng(seed)
        widths = rng.choice(np.arange(low, high), size=int(depth), replace=False)
        cases.append(Case(f"case{i}", tuple(int(w) for w in widths), seed))
    return cases


def expected_chain(input_size: int, hidden, num_classes: int) -> list[tuple[int, int]]:
    """(in, out) of every Linear layer the handout's MLP applies, in order."""
    widths = [input_size, *hidden, num_classes]
    return list(zip(widths[:-1], widths[1:]))


def describe(layers) -> str:
    """'Linear(3072, 100) -> Linear(100, 10)'."""
    return " -> ".join(f"Linear({a}, {b})" for a, b in layers) or "no Linear layer"


def _widths(values) -> str:
    items = [str(v) for v in values]
    return ("the width " if len(items) == 1 else "the widths ") + ", ".join(items)


def first_difference(case: Case, applied, expected, num_classes: int) -> str:
    """What differs first between the applied and the expected Linear layers, in the
    student's terms ('' when they are the same)."""
    if applied == expected:
        return ""
    if not applied:
        return "forward applied no nn.Linear layer to the input"
    used = Counter(out for _, out in applied[:-1])
    wanted = Counter(case.hidden)
    missing, extra = list((wanted - used).elements()), list((used - wanted).elements())
    last = applied[-1][1]
    if last != num_classes:
        unused = list((wanted - Counter(out for _, out in applied)).elements())
        why = f"the last Linear layer applied has {last} outputs, not num_classes={num_classes}"
        return why + (f"; {_widths(unused)} never used" if unused else "")
    if missing and not extra:
        return f"{_widths(missing)} {'is' if len(missing) == 1 else 'are'} never used"
    if len(applied) > len(expected) and not missing:
        more = len(applied) - len(expected)
        return (f"{more} Linear layer{'s' if more > 1 else ''} more than {case.label()} asks "
                "for (a fixed depth?)")
    if extra:
        return (f"it uses {_widths(extra)}, which {case.label()} does not hold"
                + (f", and never uses {_widths(missing)}" if missing else ""))
    index = next(i for i, (a, e) in enumerate(zip(applied, expected)) if a != e)
    return (f"layer {index + 1} is Linear({applied[index][0]}, {applied[index][1]}), "
            f"expected Linear({expected[index][0]}, {expected[index][1]}): the widths are "
            "used out of order")


def affine(inputs: np.ndarray, outputs: np.ndarray) -> bool:
    """Whether every feature (column) of `outputs` is a * inputs + b of the same feature of
    `inputs` (identity, scaling, BatchNorm or Dropout in eval mode): nothing nonlinear."""
    a = inputs - inputs.mean(axis=0)
    b = outputs - outputs.mean(axis=0)
    var = (a * a).sum(axis=0)
    slope = np.where(var > 0, (a * b).sum(axis=0) / np.where(var > 0, var, 1.0), 0.0)
    residual = np.linalg.norm(b - slope * a, axis=0)
    spread = np.linalg.norm(b, axis=0)
    scale = np.abs(outputs).max() + 1e-30
    live = spread > 1e-6 * scale  # a constant feature (all clipped) tells nothing
    return not np.any(residual[live] > AFFINE_RTOL * spread[live])


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def output_problem(output: np.ndarray, last: np.ndarray | None) -> str:
    """'' when forward returned the last Linear layer's scores (or their log-softmax); else
    what it returned instead."""
    def same(x, y):
        return x.shape == y.shape and np.allclose(x, y, rtol=1e-4, atol=1e-5 * (np.abs(y).max() + 1))

    if last is not None and (same(output, last) or same(output, _log_softmax(last))):
        return ""
    if output.min() >= -1e-6 and output.max() <= 1 + 1e-6 and \
            np.abs(output.sum(axis=1) - 1).max() < 1e-4:
        return ("forward returns probabilities (every row sums to 1): return the last Linear "
                "layer's scores; nn.CrossEntropyLoss applies the softmax itself")
    if last is not None and same(output, np.maximum(last, 0.0)):
        return ("forward applies a ReLU after the last Linear layer: its scores must be able "
                "to go negative; no activation after the last layer")
    return ("forward's output is not the last Linear layer's output (an activation after it?); "
            "return the scores as they come out of the last layer")


def judge_case(run: ProbeRun, case: Case, input_size: int, num_classes: int,
               global_hidden: list[int] | None) -> tuple[str, str]:
    """(problem, description) of one case: problem is '' when it passes."""
    v = run.values
    key = case.name + "/"
    built = [(int(a), int(b)) for _, a, b in v.get(key + "built", [])]
    stopped = failure_verdict(run, case.name, what=case.label())
    if stopped is not None:
        lines = stopped.message.split("\n")
        if built:
            lines[0] += f". Its nn.Linear layers: {', '.join(describe([b]) for b in built)}"
        return "\n".join(lines), ""
    applied = [(int(a), int(b)) for _, a, b in v.get(key + "applied", [])]
    expected = expected_chain(input_size, case.hidden, num_classes)
    notes = [str(n)[:400] for n in v.get(key + "path_notes") or []]
    if "no autograd graph" in notes:
        return (f"{case.label()}: forward's output carries no autograd graph (computed under "
                "torch.no_grad(), detached, or rebuilt from numpy), so no layer can be seen "
                "making it: return what the layers compute"), ""
    used = tuple(v.get(key + "input_shape", []))
    output = np.asarray(v.get(key + "output"), dtype=np.float64)
    difference = first_difference(case, applied, expected, num_classes)
    if difference:
        text = f"{case.label()} applied {describe(applied)}: {difference} (expected {describe(expected)})"
        if global_hidden and list(case.hidden) != global_hidden and \
                applied == expected_chain(input_size, global_hidden, num_classes):
            text += (f". These are the layers of your global hidden_size = {global_hidden}: "
                     "build them from the argument hidden_layers")
        unused = Counter(built) - Counter(applied)
        if unused:
            text += (". Built but never on the path to the output: "
                     f"{', '.join(describe([u]) for u in unused.elements())}")
        text += "".join(f". Layers {n}" for n in notes if n.startswith("applied, but"))
        return text, ""
    for i in range(1, len(applied)):
        before, after = v.get(f"{key}out{i - 1}"), v.get(f"{key}in{i}")
        if before is None or after is None or np.shape(before) != np.shape(after):
            continue
        if affine(np.asarray(before), np.asarray(after)):
            return (f"{case.label()}: nothing nonlinear between {describe([applied[i - 1]])} and "
                    f"{describe([applied[i]])} (the second gets the first's output, at most "
                    "scaled and shifted): put a ReLU between them"), ""
    rows = used[0] if used else 0
    if output.ndim != 2 or output.shape != (rows, num_classes):
        return (f"{case.label()}: forward returned shape {output.shape} for an input of shape "
                f"{used}; expected ({rows}, {num_classes})"), ""
    last = v.get(f"{key}out{len(applied) - 1}")
    problem = output_problem(output, None if last is None else np.asarray(last))
    if problem:
        return f"{case.label()}: {problem}", ""
    return "", f"{case.label()}: {describe(applied)}, nonlinear in between, scores {output.shape}"


def input_note(run: ProbeRun, cases: list[Case]) -> str:
    """Which input shape the grader used, and why, from the first case that ran."""
    for case in cases:
        used = run.values.get(case.name + "/input_shape")
        if not used:
            continue
        failures = run.values.get(case.name + "/shape_failures") or []
        if not failures:
            return (f"Input: a batch of {used[0]} images, shape {tuple(used)}, as the "
                    "handout's loaders give them.")
        why = "; ".join(f"{tuple(shape)}: {str(message)[:160]}" for shape, message in failures[:2])
        return (f"Input: rows of shape {tuple(used)}: your forward does not accept "
                f"{'images (N, 3, 32, 32)' if len(failures) == 1 else 'those shapes'} ({why}); "
                "accepted, as your training code may flatten the images itself.")
    return ""


def extras_note(run: ProbeRun, cases: list[Case]) -> str:
    """A line naming the layers besides Linear and ReLU the model uses (accepted)."""
    seen: set[str] = set()
    for case in cases:
        seen.update(str(t) for t in run.values.get(case.name + "/module_types") or [])
    extra = sorted(seen - {"Linear", "ReLU", "Sequential", "ModuleList", "ModuleDict",
                           "Flatten", "Identity"})
    if not extra:
        return ""
    return (f"Your model also uses {', '.join(extra)}: accepted, judged in eval mode "
            "(Dropout off, BatchNorm on its running statistics), as long as something "
            "nonlinear separates consecutive Linear layers.")


def grade_structure(grading: GradingContext, check: Check, feedback: Feedback,
                    cases: list[Case]) -> Verdict:
    """Builds the student's model for every case in ONE sandboxed child (torch is imported
    once) and judges each case; the check earns the share of cases that pass."""
    rows = int(check.value("rows"))
    rng = np.random.default_rng(case_seed(grading.rubric.seed, check.id, len(cases)))
    images = rng.uniform(-1.0, 1.0, (rows,) + IMAGE).astype(np.float32)
    params = {"cases": [{"name": c.name, "hidden_layers": list(c.hidden)} for c in cases],
              "input_size": INPUT_SIZE, "num_classes": NUM_CLASSES,
              "batch_size": settings.declared_batch_size(grading.submission)}
    run = grading.probe(PROBES, "structure", check.id, inputs={"X": images}, params=params)
    whole = failure_verdict(run, what="MultiLayerPerceptron")
    if whole is not None:
        return whole
    global_hidden = settings.declared_hidden_size(grading.submission)
    problems, passed = [], []
    for case in cases:
        problem, description = judge_case(run, case, INPUT_SIZE, NUM_CLASSES, global_hidden)
        (problems if problem else passed).append(problem or description)
    feedback.record(cases=[list(c.hidden) for c in cases], passed=len(passed))
    lines = [f"{len(passed)} of {len(cases)} hidden_layers lists built as asked."]
    for text in problems:  # a hint shared by several cases is given once
        lines += [line for line in text.split("\n")
                  if not (line.startswith("Hint:") and line in lines)]
    lines += passed
    lines += [n for n in (input_note(run, cases), extras_note(run, cases)) if n]
    return Verdict(len(passed) / len(cases), "\n".join(lines))
