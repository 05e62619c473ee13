"""4c (informational; its points are given by hand): the grader trains the student's MLP
at several depths with the student's train() and declared settings, a few epochs each, all
in one sandboxed child, and reports a table (hidden layers, Linear layers, parameters,
final training loss, validation accuracy, the handout's measure, and test accuracy, both
computed here; the test images' labels never enter the sandbox, while train() gets the
validation labels) and the curves (loss per step, validation accuracy per epoch). Numpy
only: the probe is probes.depth_sweep."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import settings
from .probing import PROBES, SCALE
from .training import LOOP_CHECK, accuracy, curve
from ...core.engine.context import Feedback, GradingContext, failure_verdict
from ...core.engine.judge import Verdict
from ...core.engine.training import rounded, sweep_details, sweep_line
from ...core.rubric.spec import Check

QUESTION = "4c"


def case_name(hidden: list[int]) -> str:
    return "h" + "-".join(str(int(w)) for w in hidden)


def run_sweep(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """Trains one model per hidden_layers list of the check; the verdict is always a pass
    (the check is worth 0 points) unless nothing could be trained, and its message is
    the table."""
    rubric = grading.rubric
    head = ("Informational: question 4c's points are given by hand from your report; this "
            "table is the grader's own run of your code, for reference.")
    declared, problem = settings.read(grading.submission, rubric.check(LOOP_CHECK))
    if declared is None:
        return Verdict(0.0, "\n".join([head, "no usable settings: " + problem]))
    data = grading.data()
    kind = data.kind
    lists = [[int(w) for w in hidden] for hidden in check.value("hidden_layers")]
    epochs, rows = int(check.value("epochs", kind)), int(check.value("rows", kind))
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    params = {"settings": declared.params(), "seed": rubric.seed, "scale": SCALE,
              "num_classes": data.num_classes, "epochs": epochs, "rows": rows,
              "cases": [{"name": case_name(h), "hidden_layers": h} for h in lists]}
    run = grading.probe(PROBES, "depth_sweep", check.id, kind=kind, data_files=files,
                        params=params, inputs={"X_test": np.asarray(data.load("X_test"))})
    whole = failure_verdict(run, what="the depth experiment")
    if whole is not None:
        return Verdict(0.0, head + "\n" + whole.message)
    labels = np.asarray(data.load("y_val"))
    test_labels = np.asarray(data.load("y_test"))
    table, losses, vals, lines = [], {}, {}, []
    for hidden in lists:
        name, label = case_name(hidden), f"{len(hidden) + 1} layers"
        failed = failure_verdict(run, name)
        if failed is not None:
            table.append([str(hidden), len(hidden) + 1, None, None, None, None])
            lines.append(f"{hidden}: {failed.message.splitlines()[0]}")
            continue
        loss = np.asarray(run.values.get(f"{name}/losses", np.zeros(0)), dtype=np.float64).ravel()
        steps = np.asarray(run.values.get(f"{name}/epoch_steps", np.zeros(0))).astype(int)
        last = loss[-steps[-1]:] if len(steps) and steps[-1] > 0 else loss[-10:]
        final_loss = float(np.mean(last)) if len(last) else None
        logits = np.asarray(run.values.get(f"{name}/val_logits", np.zeros((0, 0))))
        val = accuracy(logits, labels) if logits.shape == (len(labels), data.num_classes) else None
        logits = np.asarray(run.values.get(f"{name}/test_logits", np.zeros((0, 0))))
        test = (accuracy(logits, test_labels)
                if logits.shape == (len(test_labels), data.num_classes) else None)
        if int(run.values.get(f"{name}/val_steps", 0) or 0):
            lines.append(f"{hidden}: optimizer steps followed batches of val_loader (training "
                         "on the validation set): its validation accuracy says little; see the "
                         "test accuracy.")
        stacked = run.values.get(f"{name}/epoch_val_logits")
        vals[label] = [] if stacked is None else [accuracy(e, labels) for e in np.asarray(stacked)
                                                  if e.shape == (len(labels), data.num_classes)]
        losses[label] = curve(loss)
        params_count = int(run.values.get(f"{name}/parameters", 0))
        table.append([str(hidden), len(hidden) + 1, params_count,
                      *rounded(final_loss, val, test)])
    feedback.record(dataset_kind=kind, epochs=epochs, rows=rows, **sweep_details(
        f"MLP depth experiment ({epochs} epochs on {rows} training rows, your settings "
        "otherwise)", ["hidden_layers", "Linear layers", "parameters", "final training loss",
                       "validation accuracy", "test accuracy"], table, "depth", losses, vals,
        "validation accuracy per epoch, by depth (grader's)"))
    used = ", ".join(f"{k}={v}" for k, v in {**declared.params(), "num_epochs": epochs}.items()
                     if k != "hidden_size")
    out = [head, f"On the first {rows} training rows of "
           f"{'CIFAR-10' if kind == 'real' else 'the synthetic data'}, with your settings and "
           f"{epochs} epochs: {used}."]
    for row in table:
        if row[2] is None:
            continue
        out.append(sweep_line(f"hidden_layers={row[0]} ({row[1]} layers, {row[2]:,} "
                              "parameters)", *row[3:]))
    out += lines
    out.append(reading_guide(check, kind, lists))
    trained = sum(1 for row in table if row[2] is not None)
    return Verdict(1.0 if trained else 0.0, "\n".join(out))


def reading_guide(check: Check, kind: str, lists: list[list[int]]) -> str:
    """The line telling whoever grades 4c what to read from the table: the reference's own
    validation accuracy at each depth on this kind of data (the rubric's
    reference_val_accuracy, %), or that none is recorded."""
    recorded = check.params.get("reference_val_accuracy") or {}
    reference = recorded.get(kind) if isinstance(recorded, Mapping) else None
    if not reference or len(reference) != len(lists):
        return ("How to read this: no run of the reference solution is recorded for this "
                "data; compare depths with each other (does every depth's loss fall, and "
                "does accuracy rise or fall with depth at equal epochs?).")
    depths = ", ".join(f"{len(h) + 1} layers {float(a):.1f}%" for h, a in zip(lists, reference))
    return ("How to read this: the reference solution, run the same way with the handout's "
            f"settings, reaches validation accuracy {depths} on this data. A few epochs favour "
            "shallow networks; rows near 10% for the deepest ones are expected here, even "
            "for the reference. Compare each row with the reference's, and check that every "
            "depth ran and its loss fell.")
