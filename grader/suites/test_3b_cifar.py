"""3b: the grader retrains the student's network with the declared hyperparameters.

Accuracies are recomputed by the grader from the parameters train() leaves in
self.params, on validation and test rows; test labels never enter the sandbox.
"""
from dataclasses import dataclass

import numpy as np
import pytest

from .. import hyperparams, netmath
from ..grading import RUBRIC, conclude, failure_verdict, graded
from ..charts import weight_tiles_png
from ..judge import Verdict, accuracy_line, names, shaped
from .part1 import DIVERGED
from ..sandbox import ProbeRun

TRAIN_CHECK = "3b.2"
CURVE_POINTS = 400


@dataclass(frozen=True)
class Retrained:
    """One retraining run shared by the 3b checks."""

    hp: dict | None  # the declared hyperparameters, when valid
    problem: str  # what is wrong with hyperparams.py, else ''
    run: ProbeRun | None  # the sandboxed training, when it ran
    data: object | None  # grader.data.prepare.PreparedData


@pytest.fixture(scope="module")
def retrained(grading):
    if grading.public_only and not grading.full:
        pytest.skip("CIFAR-10 training is left out of the quick self-check; add --full "
                    "to run it")
    hp, problem = hyperparams.read(grading.submission, RUBRIC.check("3b.1"))
    if hp is None:
        return Retrained(None, problem, None, None)
    data = grading.data()
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    run = grading.probe("part1", "train_cifar", TRAIN_CHECK, kind=data.kind, data_files=files,
                        params={"hyperparams": hp, "seed": RUBRIC.seed,
                                "num_classes": data.num_classes})
    return Retrained(hp, "", run, data)


def _history(run, key):
    value = run.values.get(f"stats/{key}")
    return None if value is None else np.asarray(value, dtype=np.float64)


def _curve(values):
    if values is None:
        return None
    step = max(1, len(values) // CURVE_POINTS)
    return values[::step].tolist()


@graded("3b.1")
def test_hyperparams_and_history(retrained, feedback):
    if retrained.hp is None:
        return conclude(feedback, Verdict(0.0, retrained.problem))
    run = retrained.run
    stopped = failure_verdict(run, what="train() with your hyperparameters")
    if stopped is not None:
        return conclude(feedback, stopped)
    hp = retrained.hp
    problems = []
    loss = _history(run, "loss_history")
    if loss is None:
        keys = names(run.values.get("stats/history_keys"))
        problems.append(f"train() returned no loss_history (keys: {', '.join(keys) or 'none'})")
    elif len(loss) != hp["num_iters"] or not np.all(np.isfinite(loss)):
        problems.append(f"loss_history should hold {hp['num_iters']} finite losses; got "
                        f"{len(loss)} values, {int(np.sum(~np.isfinite(loss)))} not finite")
    for key in ("train_acc_history", "val_acc_history"):
        values = _history(run, key)
        if values is None or len(values) == 0:
            problems.append(f"train() returned no {key} (one entry per epoch)")
    settings = ", ".join(f"{k}={v:g}" for k, v in hp.items())
    if problems:
        return conclude(feedback, Verdict(0.0, "\n".join(problems)))
    return conclude(feedback, Verdict(1.0, f"hyperparameters: {settings}; train() returned its "
                               "loss and per-epoch accuracy histories."))


def _hint(run, val_acc, threshold):
    loss = _history(run, "loss_history")
    tr, va = _history(run, "train_acc_history"), _history(run, "val_acc_history")
    if loss is not None and len(loss) > 20 and np.all(np.isfinite(loss)):
        q = len(loss) // 4
        drops = [loss[i * q:(i + 1) * q].mean() for i in range(4)]
        steady = drops[0] - drops[1]
        if steady > 0 and abs((drops[1] - drops[2]) - steady) < 0.35 * steady and \
                abs((drops[2] - drops[3]) - steady) < 0.35 * steady:
            return ("the loss still falls in a straight line: the learning rate is too low "
                    "or the run too short (raise learning_rate or num_iters).")
    if tr is not None and va is not None and len(tr) and len(va):
        gap = tr[-1] - va[-1]
        if gap < 0.05:
            return ("training and validation accuracy are close: the network underfits; "
                    "try a larger hidden_size, a higher learning rate or more iterations.")
        if gap > 0.2:
            return "training accuracy far above validation: overfitting; raise reg."
    return "tune hidden_size, learning_rate, num_iters and reg on the validation set."


@graded("3b.2")
def test_validation_accuracy(grading, retrained, feedback):
    check = RUBRIC.check("3b.2")
    if retrained.hp is None:
        return conclude(feedback, Verdict(0.0, "no valid hyperparameters: " + retrained.problem))
    run, data = retrained.run, retrained.data
    stopped = failure_verdict(run, what="train() with your hyperparameters")
    if stopped is not None:
        return conclude(feedback, stopped)
    H = retrained.hp["hidden_size"]
    shapes = {"W1": (3072, H), "b1": (H,), "W2": (H, data.num_classes), "b2": (data.num_classes,)}
    params, problems = {}, []
    for name, shape in shapes.items():
        params[name], problem = shaped(run.values.get(f"final/{name}"), shape,
                                       f"self.params[{name!r}] after train()", DIVERGED)
        if problem:
            problems.append(problem)
    if problems:
        return conclude(feedback, Verdict(0.0, problems[0] if DIVERGED in problems[0]
                                          else "\n".join(problems)))
    val = netmath.accuracy(params, data.load("X_val"), data.load("y_val"))
    test = netmath.accuracy(params, data.load("X_test"), data.load("y_test"))
    threshold = check.value("threshold", data.kind)
    feedback.record(dataset_kind=data.kind, val_accuracy=val, test_accuracy=test,
                    threshold=threshold, train_seconds=run.wall_seconds,
                    peak_rss_mb=run.peak_rss_mb, hyperparams=retrained.hp,
                    loss_history=_curve(_history(run, "loss_history")),
                    train_acc_history=_curve(_history(run, "train_acc_history")),
                    val_acc_history=_curve(_history(run, "val_acc_history")),
                    report={"w1_tiles": weight_tiles_png(params["W1"])})
    name = "CIFAR-10" if data.kind == "real" else "synthetic CIFAR-format data (not CIFAR-10)"
    lines = [f"on {name}, retrained in {run.wall_seconds:.0f} s: "
             + accuracy_line("validation accuracy", val, threshold),
             accuracy_line("test accuracy", test) + " (reported, not graded)"]
    if val > threshold:
        return conclude(feedback, Verdict(1.0, "\n".join(lines)))
    lines.append("Hint: " + _hint(run, val, threshold))
    return conclude(feedback, Verdict(0.0, "\n".join(lines)))
