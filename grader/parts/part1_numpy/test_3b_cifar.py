"""3b: the trained network, judged as the rubric's mode for 3b says.

retrain: the grader retrains the student's network with the declared hyperparameters.
checkpoint: the grader evaluates the weights the student submits (read as plain arrays,
grader/checkpoint.py), and a short run of the student's train() with the declared
settings must show learning (3b.1). Either way accuracies are recomputed by the grader
from plain parameters, on validation and test rows; test labels never enter the sandbox.
"""
from dataclasses import dataclass

import numpy as np
import pytest

from . import checkpoint, hyperparams, netmath
from ...core.grading import Feedback, conclude, failure_verdict, graded
from ...core.charts import weight_tiles_png
from ...core.judge import Verdict, accuracy_line, names, shaped
from .steps import DIVERGED, PROBES
from ...core.rubric import Rubric
from ...core.sandbox import ProbeRun

QUESTION, PROGRESS_CHECK, TRAIN_CHECK = "3b", "3b.1", "3b.2"
CURVE_POINTS = 400
ACCURACY_ROWS = 2000  # (first) training rows the grader classifies after the progress run
MODE_LINE = {
    "retrain": "Mode: retrain (the grader trains your network with hyperparams.py).",
    "checkpoint": ("Mode: checkpoint (the grader evaluates the network you submitted in {file}; "
                   "a short run of your train() must show learning)."),
}


@dataclass(frozen=True)
class Trained:
    """The sandboxed training run shared by the 3b checks (whole, or the progress run)."""

    rubric: Rubric  # the run's rubric
    hp: dict | None  # the declared hyperparameters, when valid
    problem: str  # what is wrong with hyperparams.py, else ''
    run: ProbeRun | None  # the sandboxed training, when it ran
    data: object | None  # grader.data.prepare.PreparedData
    num_iters: int = 0  # iterations train() was asked for

    @property
    def mode(self) -> str:
        """How 3b is judged: "retrain" or "checkpoint" (the rubric's `mode`)."""
        return self.rubric.question(QUESTION).mode


@pytest.fixture(scope="module")
def trained(grading):
    if grading.public_only and not grading.full:
        pytest.skip("CIFAR-10 training is left out of the quick self-check; add --full "
                    "to run it")
    rubric = grading.rubric
    mode = rubric.question(QUESTION).mode
    hp, problem = hyperparams.read(grading.submission, rubric.check(PROGRESS_CHECK))
    if hp is None:
        return Trained(rubric, None, problem, None, None)
    data = grading.data()
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    params = {"hyperparams": hp, "seed": rubric.seed, "num_classes": data.num_classes}
    num_iters = hp["num_iters"]
    if mode == "checkpoint":
        progress = rubric.check(PROGRESS_CHECK)
        num_iters = int(progress.value("progress_iters", data.kind))
        params.update(num_iters=num_iters,
                      num_train=int(progress.value("progress_rows", data.kind)))
    # The sandboxed call of this mode runs under its check's budget: the whole retraining
    # (3b.2) or the short progress run (3b.1).
    run_check = TRAIN_CHECK if mode == "retrain" else PROGRESS_CHECK
    run = grading.probe(PROBES, "train_cifar", run_check, kind=data.kind, data_files=files,
                        params=params)
    return Trained(rubric, hp, "", run, data, num_iters)


def _say_mode(feedback: Feedback, trained: Trained) -> None:
    """Opens the feedback with the mode, and records it for results.json."""
    file = trained.rubric.check(TRAIN_CHECK).get("checkpoint")
    feedback.say(MODE_LINE[trained.mode].format(file=file))
    feedback.record(mode=trained.mode)


def _history(run, key):
    value = run.values.get(f"stats/{key}")
    return None if value is None else np.asarray(value, dtype=np.float64)


def _curve(values):
    if values is None:
        return None
    step = max(1, len(values) // CURVE_POINTS)
    return values[::step].tolist()


def _history_problems(run: ProbeRun, num_iters: int) -> list[str]:
    """What is missing or wrong in the histories train() returned."""
    problems = []
    loss = _history(run, "loss_history")
    if loss is None:
        keys = names(run.values.get("stats/history_keys"))
        problems.append(f"train() returned no loss_history (keys: {', '.join(keys) or 'none'})")
    elif len(loss) != num_iters or not np.all(np.isfinite(loss)):
        problems.append(f"loss_history should hold {num_iters} finite losses; got "
                        f"{len(loss)} values, {int(np.sum(~np.isfinite(loss)))} not finite")
    for key in ("train_acc_history", "val_acc_history"):
        values = _history(run, key)
        if values is None or len(values) == 0:
            problems.append(f"train() returned no {key} (one entry per epoch)")
    return problems


def _final_params(run: ProbeRun, shapes: dict) -> tuple[dict, list[str]]:
    """The parameters train() left in self.params, checked against shapes."""
    params, problems = {}, []
    for name, shape in shapes.items():
        params[name], problem = shaped(run.values.get(f"final/{name}"), shape,
                                       f"self.params[{name!r}] after train()", DIVERGED)
        if problem:
            problems.append(problem)
    return params, problems


def _shapes(hp: dict, data) -> dict:
    """W1, b1, W2, b2 -> the shapes TwoLayerNet(D, hidden_size, C) gives them."""
    D, H, C = data.load("X_val").shape[1], hp["hidden_size"], data.num_classes
    return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}


def _progress(trained: Trained, feedback: Feedback | None = None) -> Verdict:
    """Checkpoint mode: whether the short run of train() learned (the rubric's criterion)."""
    run, data, n = trained.run, trained.data, trained.num_iters
    what = f"train() with your hyperparameters ({n} iterations)"
    stopped = failure_verdict(run, what=what)
    if stopped is not None:
        return stopped
    problems = _history_problems(run, n)
    if problems:
        return Verdict(0.0, "\n".join(problems))
    check = trained.rubric.check(PROGRESS_CHECK)
    loss = _history(run, "loss_history")
    first, last = float(loss[0]), float(loss[-max(1, n // 4):].mean())
    most = first * (1 - check.value("min_loss_drop", data.kind))
    params, problems = _final_params(run, _shapes(trained.hp, data))
    if problems:
        return Verdict(0.0, problems[0] if DIVERGED in problems[0] else "\n".join(problems))
    rows = min(ACCURACY_ROWS, check.value("progress_rows", data.kind),
               data.load("y_train").shape[0])
    acc = netmath.accuracy(params, data.load("X_train")[:rows], data.load("y_train")[:rows])
    chance = 1.0 / data.num_classes
    least = chance + check.value("min_acc_above_chance", data.kind)
    if feedback is not None:
        feedback.record(progress_iters=n, first_loss=first, last_quarter_loss=last,
                        max_last_quarter_loss=most, train_accuracy=acc,
                        min_train_accuracy=least, dataset_kind=data.kind,
                        loss_history=_curve(loss),
                        train_acc_history=_curve(_history(run, "train_acc_history")),
                        val_acc_history=_curve(_history(run, "val_acc_history")))
    lines = [f"{what}: the loss went from {first:.4f} (first) to {last:.4f} (mean of the "
             f"last quarter; needs < {most:.4f})",
             f"the network it left in self.params classifies {100 * acc:.1f}% of {rows} "
             f"training images correctly (needs > {100 * least:.1f}%; chance is "
             f"{100 * chance:.0f}%)"]
    if last < most and acc > least:
        return Verdict(1.0, "\n".join(lines))
    lines.append("Hint: " + (
        "the loss hardly fell: check the SGD step (3a) and that it changes self.params; a "
        f"very small learning_rate may also show too little progress in {n} iterations."
        if last >= most else
        "the loss fell but the weights in self.params barely beat chance: update the "
        "arrays in self.params (the grader reads them there)."))
    return Verdict(0.0, "\n".join(lines))


@graded("3b.1")
def test_hyperparams_and_history(trained, feedback):
    _say_mode(feedback, trained)
    if trained.hp is None:
        return conclude(feedback, Verdict(0.0, trained.problem))
    settings = ", ".join(f"{k}={v:g}" for k, v in trained.hp.items())
    if trained.mode == "checkpoint":
        verdict = _progress(trained, feedback)
        return conclude(feedback, Verdict(verdict.fraction, f"hyperparameters: {settings}\n"
                                          + verdict.message))
    stopped = failure_verdict(trained.run, what="train() with your hyperparameters")
    if stopped is not None:
        return conclude(feedback, stopped)
    problems = _history_problems(trained.run, trained.num_iters)
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
def test_validation_accuracy(grading, trained, feedback):
    check = trained.rubric.check(TRAIN_CHECK)
    _say_mode(feedback, trained)
    if trained.hp is None:
        return conclude(feedback, Verdict(0.0, "no valid hyperparameters: " + trained.problem))
    if trained.mode == "checkpoint":
        return conclude(feedback, _judge_checkpoint(grading, trained, feedback))
    run, data = trained.run, trained.data
    stopped = failure_verdict(run, what="train() with your hyperparameters")
    if stopped is not None:
        return conclude(feedback, stopped)
    params, problems = _final_params(run, _shapes(trained.hp, data))
    if problems:
        return conclude(feedback, Verdict(0.0, problems[0] if DIVERGED in problems[0]
                                          else "\n".join(problems)))
    val, threshold, lines = _accuracies(
        params, data, check, feedback, train_seconds=run.wall_seconds,
        peak_rss_mb=run.peak_rss_mb, hyperparams=trained.hp,
        loss_history=_curve(_history(run, "loss_history")),
        train_acc_history=_curve(_history(run, "train_acc_history")),
        val_acc_history=_curve(_history(run, "val_acc_history")))
    lines[0] = f"on {_data_name(data)}, retrained in {run.wall_seconds:.0f} s: " + lines[0]
    if val > threshold:
        return conclude(feedback, Verdict(1.0, "\n".join(lines)))
    lines.append("Hint: " + _hint(run, val, threshold))
    return conclude(feedback, Verdict(0.0, "\n".join(lines)))


def _accuracies(params: dict, data, check, feedback: Feedback, **details
                ) -> tuple[float, float, list[str]]:
    """The grader's validation and test accuracy of params (test labels stay here).
    Records them, the weight tiles and details; returns (validation accuracy, threshold,
    [validation line, test line])."""
    val = netmath.accuracy(params, data.load("X_val"), data.load("y_val"))
    test = netmath.accuracy(params, data.load("X_test"), data.load("y_test"))
    threshold = check.value("threshold", data.kind)
    feedback.record(dataset_kind=data.kind, val_accuracy=val, test_accuracy=test,
                    threshold=threshold, report={"w1_tiles": weight_tiles_png(params["W1"])},
                    **details)
    return val, threshold, [accuracy_line("validation accuracy", val, threshold),
                            accuracy_line("test accuracy", test) + " (reported, not graded)"]


def _data_name(data) -> str:
    """Which data accuracies were measured on, in the student's terms."""
    return "CIFAR-10" if data.kind == "real" else "synthetic CIFAR-format data (not CIFAR-10)"


def _judge_checkpoint(grading, trained: Trained, feedback: Feedback) -> Verdict:
    """Checkpoint mode: the submitted weights' validation accuracy, computed by the grader."""
    check, data, hp = trained.rubric.check(TRAIN_CHECK), trained.data, trained.hp
    relpath = check.value("checkpoint")
    shapes = _shapes(hp, data)
    found, problem = checkpoint.load(grading.submission, relpath, shapes,
                                     check.value("max_checkpoint_mb", data.kind))
    if found is None:
        return Verdict(0.0, "\n".join([
            problem,
            f"Expected: {checkpoint.describe(shapes)} (hidden_size={hp['hidden_size']} from "
            "hyperparams.py), finite numbers, nothing else.",
            f"Hint: `python ex2_FCnet.py best` trains with hyperparams.py and saves the "
            f"network to {relpath}; submit that file with your code, and retrain it whenever "
            "you change hyperparams.py."]))
    val, threshold, lines = _accuracies(found.arrays, data, check, feedback, hyperparams=hp,
                                        checkpoint=relpath,
                                        checkpoint_mb=round(found.size_mb, 2))
    lines[0] = f"your checkpoint {relpath}, evaluated on {_data_name(data)}: " + lines[0]
    if val <= threshold:
        lines.append("Hint: tune hidden_size, learning_rate, num_iters and reg on the "
                     "validation set (the curves of `python ex2_FCnet.py best` show how), "
                     "then save the better network with the same command.")
        return Verdict(0.0, "\n".join(lines))
    if check.value("require_progress", data.kind):
        progress = _progress(trained)
        if not progress.passed:
            lines.append("Not credited: the short run of your train() did not show learning "
                         "(see 3b.1), and the checkpoint counts only with training code that "
                         "learns.")
            return Verdict(0.0, "\n".join(lines))
    return Verdict(1.0, "\n".join(lines))
