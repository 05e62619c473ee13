"""Comparisons, in the grader's own process: what came back against what was expected.

Every function takes plain values (what a probe returned, what netmath computed) and
returns a Verdict or a problem string in the student's terms: what was expected, what
was got. Nothing here runs student code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class Verdict:
    """The judgement of one check."""

    fraction: float  # share of the check's points earned, 0..1
    message: str  # expected / got / hint, one finding per line

    @property
    def passed(self) -> bool:
        """Whether every point was earned."""
        return self.fraction >= 1.0


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
