"""Comparisons, in the grader's own process: what came back against what was expected.

Every function takes plain values (what a probe returned, what netmath computed) and
returns a Verdict or a problem string in the student's terms: what was expected, what
was got. Nothing here runs student code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import SandboxError
from ..sandbox.probe_run import ProbeRun


@dataclass(frozen=True)
class Verdict:
    """The judgement of one check."""

    fraction: float  # share of the check's points earned, 0..1
    message: str  # expected / got / hint, one finding per line

    @property
    def passed(self) -> bool:
        """Whether every point was earned."""
        return self.fraction >= 1.0


@dataclass
class Feedback:
    """What one check tells the student (lines) and the report (numbers, curves)."""

    lines: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    fraction: float | None = None  # share of the points earned, once concluded

    def say(self, line: str) -> None:
        """Adds one line of feedback."""
        if line:
            self.lines.append(line)

    def record(self, **values: Any) -> None:
        """Keeps JSON-able numbers or curves for results.json's extra_data and the report."""
        self.details.update(values)


def failure_verdict(run: ProbeRun, case: str | None = None, what: str = "") -> Verdict | None:
    """A zero verdict when the sandboxed call (or one case of it) gave no result; raises
    SandboxError when the grader itself is at fault (a library it provides failed to
    import in the sandbox), so the check is a grader error, not the student's failure."""
    failure = run.failure if case is None else run.case_failure(case)
    if failure is None:
        return None
    if failure.kind == "grader":
        raise SandboxError(failure.message)
    lines = [(f"{what}: " if what else "") + failure.line()]
    if failure.detail:
        lines.append(failure.detail.rstrip())
    hint = HINTS_BY_KIND.get(failure.kind)
    if hint:
        file = failure.where.split(":")[0] if failure.where else "your file"
        lines.append("Hint: " + hint.format(file=file))
    return Verdict(0.0, "\n".join(lines))


HINTS_BY_KIND = {
    "todo": "this part of the template is still a stub; replace the NotImplementedError "
            "with your code.",
    "missing": "submit the handout's files under their original names.",
    "syntax": "run `python {file}` locally to see the error.",
    "import": "the grader provides numpy, scipy, matplotlib, torch, torchvision and the "
              "standard library.",
    "timeout": "check loops and num_iters; the check's time budget is in the handout.",
    "hung_function": "an earlier check stopped this function for time: look for a loop "
                     "that never ends (a while condition that never changes) or a call "
                     "that waits forever.",
    "hung_import": "move code that trains, downloads or waits at the top level of {file} "
                   "under `if __name__ == \"__main__\":`; importing the file must only "
                   "define things.",
    "import_network": "move code that downloads, trains or tests at the top level of {file} "
                      "under `if __name__ == \"__main__\":`; importing the file must only "
                      "define things (the grader hands your functions its own data).",
    "cpu": "check loops and num_iters; the check's time budget is in the handout.",
    "memory": "avoid copying the whole training set (e.g. X.astype(np.float64)); work "
              "on minibatches.",
    "output": "remove prints inside loops, or print every 100 iterations only.",
    "exit": "remove sys.exit()/exit()/quit() from the graded code.",
    "from_scratch": "compute the forward pass, the loss and the gradients with numpy "
                    "operations; importing torch at the top of {file} is fine as long as "
                    "this question's code never calls it.",
}


NAN_HINT = "overflow in exp? a division by zero?"


def shaped(value: Any, shape: Sequence[int], what: str,
           nan_hint: str = NAN_HINT) -> tuple[np.ndarray | None, str]:
    """The value as a finite float array of `shape`, or (None, what is wrong).

    A bias returned as (1, H) instead of (H,) (or any extra axes of length 1) is accepted;
    nan_hint says what NaN or inf most likely means where the value came from.
    """
    if value is None:
        return None, f"{what}: nothing was returned"
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):  # a ragged list
        return None, f"{what}: expected an array of numbers, got a {type(value).__name__}"
    if arr.dtype.kind not in "biuf":
        return None, f"{what}: expected numbers, got an array of dtype {arr.dtype}"
    if arr.shape != tuple(shape):
        if arr.size == int(np.prod(shape)) and arr.squeeze().shape == tuple(
                s for s in shape if s != 1):
            arr = arr.reshape(shape)
        else:
            return None, f"{what}: expected shape {tuple(shape)}, got {arr.shape}"
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        return None, (f"{what}: {bad} entr{'y is' if bad == 1 else 'ies are'} NaN or inf "
                      f"({nan_hint})")
    return arr, ""


def names(value: Any, limit: int = 20) -> list[str]:
    """A list of names a probe reported (dict keys), as short strings, whatever it holds."""
    items = value if isinstance(value, (list, tuple)) else []
    return [str(v)[:40] for v in items[:limit]]


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def compare(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
            what: str) -> str:
    """'' when got matches expected within tolerance, else where and by how much not."""
    diff = np.abs(got - expected)
    allowed = atol + rtol * np.abs(expected)
    if np.all(diff <= allowed):
        return ""
    worst = np.unravel_index(np.argmax(diff - allowed), diff.shape) if diff.ndim else ()
    index = f" at {tuple(int(i) for i in worst)}" if worst else ""
    return (f"{what}: expected {_fmt(expected[worst])}, got {_fmt(got[worst])}{index} "
            f"(max abs difference {diff.max():.3g}; {int(np.sum(diff > allowed))} of "
            f"{diff.size} entries off)")


def rel_error(x: np.ndarray, y: np.ndarray, floor: float = 1e-8) -> float:
    """The handout's relative error: max |x - y| / max(floor, |x| + |y|) over the entries."""
    return float(np.max(np.abs(x - y) / np.maximum(floor, np.abs(x) + np.abs(y))))


def fraction_of(found: Sequence[str], total: int) -> float:
    """Share of `total` parts with no problem, given the problems found."""
    return max(0.0, (total - len(found)) / total) if total else 1.0


def accuracy_line(name: str, value: float, threshold: float | None = None) -> str:
    """'validation accuracy 51.2% (needs > 48.0%)'."""
    text = f"{name} {100 * value:.1f}%"
    return text + (f" (needs > {100 * threshold:.1f}%)" if threshold is not None else "")


def accuracy(logits: Any, labels: np.ndarray) -> float:
    """Fraction of rows whose highest logit is their label (logits (N, C), labels (N,))."""
    logits = np.asarray(logits, dtype=np.float64)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def logits_accuracy(value: Any, labels: np.ndarray, num_classes: int, what: str,
                    nan_hint: str = NAN_HINT) -> tuple[float | None, str]:
    """(accuracy, "") of returned logits (N, num_classes) against labels (N,), or (None,
    what is wrong with them: missing, misshapen, not finite; see shaped)."""
    logits, problem = shaped(value, (len(labels), num_classes), what, nan_hint)
    return (None, problem) if problem else (accuracy(logits, labels), "")


SPLIT_LOGITS = {"validation": "val_logits", "test": "test_logits"}  # split -> a run's key


def split_accuracies(values: Mapping[str, Any], labels: Mapping[str, np.ndarray],
                     num_classes: int, model: str, nan_hint: str = NAN_HINT
                     ) -> tuple[dict[str, float] | None, str]:
    """({split: accuracy}, "") of the logits a run returned for each split of labels
    (split -> (N,) labels; the logits (N, num_classes) under SPLIT_LOGITS[split]), or
    (None, what is wrong with the first bad one; model names what made them)."""
    acc = {}
    for split, split_labels in labels.items():
        acc[split], problem = logits_accuracy(
            values.get(SPLIT_LOGITS[split]), split_labels, num_classes,
            f"{model}'s output on the {split} images", nan_hint)
        if problem:
            return None, problem
    return acc, ""


def changed_entries(left: Mapping[str, Any], initial: Mapping[str, Any]) -> tuple[int, int]:
    """(entries of `initial` that `left` does not hold unchanged, entries of `initial`):
    the weights a training run left (name -> array) against those the model was built
    with. An entry missing from `left`, or of another shape, counts as changed."""
    changed = 0
    for name, before in initial.items():
        after = left.get(name)
        if after is None or np.shape(after) != np.shape(before) or not np.array_equal(
                np.asarray(after), np.asarray(before)):
            changed += 1
    return changed, len(initial)


def prefixed(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The entries of a run's values whose key starts with `prefix`, without it."""
    return {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}


def curve(values: Any, points: int = 400) -> list[float | None]:
    """At most `points` values of a per-step curve, evenly sampled, for the report and
    results.json: a value that is not finite (a diverged loss) becomes None, which JSON
    can hold and the charts leave out."""
    values = np.asarray(values, dtype=np.float64).ravel()
    step = max(1, len(values) // points)
    return [float(v) if np.isfinite(v) else None for v in values[::step]]
