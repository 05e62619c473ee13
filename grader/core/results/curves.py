"""The curves a check recorded, read from its details, and each said in a few lines of text (as_text).

A check records curves three ways (all JSON lists of numbers, None where a value was not
finite): loss_history (a training loss per step, evenly sampled over the run),
train_acc_history/val_acc_history (accuracy per epoch, fractions 0..1, with the check's
`threshold`), and `curves`, a list of its own charts ({title, x_label, series}; a title
or axis naming "accuracy" holds fractions, one naming "epoch" has a point per epoch).
The report draws them (charts.py); results.json carries them as text, since
Gradescope never shows the report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..rubric.spec import is_number

LOSS, ACCURACY = "loss", "accuracy"  # what the y values are
STEP, EPOCH = "step", "epoch"  # what one point is: a (sampled) training step, an epoch
EPOCHS_LISTED = 12  # up to this many epochs, the text lists every epoch's accuracy


@dataclass(frozen=True)
class Curves:
    """One chart's worth of curves: series name -> y values (None: not finite)."""

    title: str
    x_label: str
    series: Mapping[str, Sequence[float | None]]
    kind: str  # LOSS or ACCURACY
    per: str  # STEP or EPOCH
    threshold: float | None = None  # an accuracy the check asks for, drawn as a line


def _values(raw: Any) -> list[float | None] | None:
    """raw as a list of floats (None for anything not a finite number), or None."""
    if not isinstance(raw, (list, tuple)) or not raw:
        return None
    return [float(v) if is_number(v) else None for v in raw]


def of_check(details: Mapping[str, Any]) -> list[Curves]:
    """The curves in a check's details, in the order the report shows them."""
    found = []
    loss = _values(details.get("loss_history"))
    if loss:
        found.append(Curves("training loss (reported by your train())", "training step",
                            {"loss": loss}, LOSS, STEP))
    accs = {name: v for name, key in (("train", "train_acc_history"),
                                      ("validation", "val_acc_history"))
            if (v := _values(details.get(key)))}
    if accs:
        threshold = details.get("threshold")
        found.append(Curves("accuracy per epoch (reported by your train())", "epoch", accs,
                            ACCURACY, EPOCH, float(threshold)
                            if isinstance(threshold, (int, float)) else None))
    for spec in details.get("curves") or ():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("series"), Mapping):
            continue
        series = {str(k): v for k, raw in spec["series"].items() if (v := _values(raw))}
        if not series:
            continue
        title, x_label = str(spec.get("title", "")), str(spec.get("x_label", ""))
        words = f"{title} {x_label}".lower()
        found.append(Curves(title, x_label, series,
                            ACCURACY if "accuracy" in words else LOSS,
                            EPOCH if "epoch" in words else STEP))
    return found


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _series_line(name: str, values: Sequence[float | None], curves: Curves) -> str:
    finite = [(i, v) for i, v in enumerate(values) if v is not None]
    gaps = len(values) - len(finite)
    tail = f"; {gaps} of {len(values)} values not finite" if gaps else ""
    if not finite:
        return f"{name}: no finite value ({len(values)} recorded)"
    if curves.kind == LOSS:
        unit = "epochs" if curves.per == EPOCH else "points sampled over the run"
        return (f"{name}: first {finite[0][1]:.4g}, last {finite[-1][1]:.4g}, lowest "
                f"{min(v for _, v in finite):.4g} ({len(values)} {unit}{tail})")
    best_at, best = max(finite, key=lambda p: p[1])
    where = f"epoch {best_at + 1} of {len(values)}" if curves.per == EPOCH else \
        f"point {best_at + 1} of {len(values)}"
    listed = ""
    if curves.per == EPOCH and len(values) <= EPOCHS_LISTED:
        listed = "; per epoch " + ", ".join("n/a" if v is None else _percent(v)
                                            for v in values)
    return f"{name}: best {_percent(best)} ({where}), last {_percent(finite[-1][1])}{listed}{tail}"


def as_text(curves: Curves) -> list[str]:
    """A chart as text: its title, then a line per series (loss: first, last and lowest;
    accuracy: the best and where, the last, every epoch when few), then the threshold."""
    lines = [curves.title or "curve"]
    lines += [_series_line(name, values, curves) for name, values in curves.series.items()]
    if curves.threshold is not None:
        lines.append(f"threshold: {_percent(curves.threshold)}")
    return lines
