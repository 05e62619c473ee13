"""5e (informational; its points are given by hand): the grader trains task 6's ablations
of the student's SETTINGS (the other optimizer with its own learning rate, without L2,
without the schedule), a few epochs each on the first training rows, all in one sandboxed
child (probes.train_runs), and reports a table (final training loss, validation and test
accuracy, computed here with the grader's own forward pass) and the curves. Numpy only."""
from __future__ import annotations

import numpy as np

from . import netmath, settings
from .probing import PROBES
from .training import (SCALE, SETTINGS_CHECK, TRAINING, activation_of, final_params, per_epoch,
                       val_curve)
from ...core.engine.context import Feedback, GradingContext, failure_verdict
from ...core.engine.judge import Verdict, curve
from ...core.engine.training import data_name, rounded, sweep_details, sweep_line
from ...core.rubric.spec import Check


def ablation_runs(s: settings.Settings, epochs: int, rows: int) -> list[tuple[str, dict]]:
    """(label, run parameters) of task 6's comparison, every run with `epochs` epochs on the
    first `rows` training rows: the declared settings, the other optimizer with its own
    learning rate, without L2 and without the schedule (the last two only when declared)."""
    other = "sgd" if s.optimizer == "adam" else "adam"
    runs = [(f"your settings ({s.optimizer})", s.run("declared", rows, epochs=epochs)),
            (f"{other}, eta {s.ablation_eta:g}",
             s.run("other_optimizer", rows, epochs=epochs, optimizer=other, eta=s.ablation_eta))]
    if s.l2:
        runs.append(("without L2", s.run("no_l2", rows, epochs=epochs, l2=0.0)))
    if s.k:
        runs.append(("without the schedule", s.run("no_schedule", rows, epochs=epochs, k=0.0)))
    return runs


def run_ablations(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """5e.1 (informational): trains every ablation in one sandboxed child and reports the
    table and the curves; passes (0 points) unless nothing could be trained."""
    head = ("Informational: question 5e's points are given by hand from your report; this "
            "is the grader's own run of your code with your SETTINGS, for reference.")
    declared, problem = settings.read(grading.submission, grading.rubric.check(SETTINGS_CHECK))
    if declared is None:
        return Verdict(0.0, "\n".join([head, "no usable SETTINGS: " + problem]))
    data = grading.data()
    kind = data.kind
    epochs = min(declared.epochs, int(check.value("epochs", kind)))
    total = int(np.load(data.files["y_train"], mmap_mode="r").shape[0])
    rows = min(total, int(check.value("rows", kind)))
    runs = ablation_runs(declared, epochs, rows)
    params = {"scale": SCALE, "seed": grading.rubric.seed, "num_classes": data.num_classes,
              "runs": [r for _, r in runs]}
    files = {k: str(data.files[k]) for k in TRAINING.data_keys}
    run = grading.probe(PROBES, "train_runs", check.id, kind=kind, data_files=files,
                        params=params)
    whole = failure_verdict(run, what="the ablation runs")
    if whole is not None:
        return Verdict(0.0, head + "\n" + whole.message)
    labels = np.asarray(data.load("y_val"))
    table, losses, vals, notes = [], {}, {}, []
    for label, r in runs:
        name = r["name"]
        failed = failure_verdict(run, name)
        row = [label, r["optimizer"], r["eta"], r["l2"], r["k"]]
        if failed is not None:
            table.append(row + [None, None, None])
            notes.append(f"{label}: {failed.message.splitlines()[0]}")
            continue
        loss = np.asarray(run.values.get(f"{name}/losses", np.zeros(0)), dtype=np.float64).ravel()
        last = loss[-per_epoch(rows, r["mini_batch_size"]):]
        final_loss = float(np.mean(last)) if len(last) and np.all(np.isfinite(last)) else None
        weights, biases, problem = final_params(run, name, r["sizes"])
        activation = activation_of(run, name, len(r["sizes"]) - 1)
        val = test = None
        if not problem and activation is not None:
            val = netmath.accuracy(weights, biases, data.load("X_val"), labels, SCALE, activation)
            test = netmath.accuracy(weights, biases, data.load("X_test"),
                                    np.asarray(data.load("y_test")), SCALE, activation)
        elif problem:
            notes.append(f"{label}: {problem}")
        losses[label] = curve(loss)
        vals[label] = val_curve(run, name, labels)
        table.append(row + rounded(final_loss, val, test))
    feedback.record(dataset_kind=kind, epochs=epochs, rows=rows, **sweep_details(
        f"Task 6 ablations ({epochs} epochs on {rows} training rows, your SETTINGS otherwise)",
        ["run", "optimizer", "eta", "l2", "k", "final training loss", "validation accuracy",
         "test accuracy"], table, "run", losses, vals, "validation accuracy per epoch, by run"))
    out = [head, f"On the first {rows} training rows of {data_name(data)}, {epochs} epochs "
           f"each, your SETTINGS otherwise ({declared.describe()}):"]
    for row in table:
        if row[5] is None and row[6] is None:
            continue
        out.append(sweep_line(row[0], *row[5:]))
    if not declared.l2:
        out.append("Your SETTINGS have l2 = 0: no without-L2 run (set l2 to compare).")
    if not declared.k:
        out.append("Your SETTINGS have k = 0: no without-schedule run (set k to compare).")
    out += notes
    trained = sum(1 for row in table if row[5] is not None or row[6] is not None)
    return Verdict(1.0 if trained else 0.0, "\n".join(out))
