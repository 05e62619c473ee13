"""3b, in the grader's process: the trained network, judged as the rubric's mode for 3b says.

retrain: the grader retrains the student's network with the declared hyperparameters.
checkpoint: the grader evaluates the weights the student submits (read as plain arrays,
checkpoint.py), and a short run of the student's train() with the declared
settings must show learning (3b.1). Either way accuracies are recomputed by the grader
from plain parameters, on validation and test rows. What is judged is the TEST accuracy:
train() receives the validation labels (X_val, y_val), so validation accuracy can be
trained on; the test images never enter a sandbox and their labels stay here. The
validation accuracy, the handout's measure, is reported. 3b.1 asks of the training run
that its loss fell, its weights changed and its network beats chance on the test images.

Every training run's time budget follows the rubric's one rule (3b.2's budget_* keys): the
reference's measured seconds per iteration with the student's settings, on the same data,
times budget_factor, times the run's iterations, plus a start-up allowance, capped by the
run's check's wall_seconds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import checkpoint, hyperparams, netmath, probes
from .probing import DIVERGED, PROBES
from ...core.engine.context import Feedback, GradingContext, failure_verdict
from ...core.engine.judge import Verdict, accuracy_line, curve, names, shaped
from ...core.engine import training as core
from ...core.engine.training import (STOPPED, Trained, checkpoint_mode, count, data_name,
                                     loss_drop)
from ...core.rubric.budgets import ms
from ...core.rubric.spec import Check
from ...core.results.charts import weight_tiles_png
from ...core.sandbox.runner import ProbeRun

QUESTION, PROGRESS_CHECK, TRAIN_CHECK = "3b", "3b.1", "3b.2"
RETRAIN = "Mode: retrain (the grader trains your network with hyperparams.py)."


# train_cifar runs the student's train() on the grader's data files within the budget rule
# (3b.2's budget_* keys) over the reference's step (netmath.time_training); a checkpoint
# is read by the grader itself (checkpoint.py: plain arrays)
TRAINING = core.Training(
    QUESTION, PROGRESS_CHECK, TRAIN_CHECK, PROBES, "train_cifar", hyperparams.read,
    lambda hp, data, seed, rows: {"hyperparams": hp, "seed": seed,
                                  "num_classes": data.num_classes},
    progress_run=lambda hp, params, rows, iters: {**params, "num_iters": iters,
                                                   "num_train": rows},
    timing=lambda hp, params, rows: (params, params.get("num_iters", hp["num_iters"])),
    timing_probe=Path(netmath.__file__))
train_submission = TRAINING.train  # (grading) -> Trained: 3b.2's limits (3b.1's: checkpoint)


def _say_mode(feedback: Feedback, trained: Trained) -> None:
    """Opens the feedback with the mode, and records it for results.json."""
    feedback.say(RETRAIN if trained.mode == "retrain" else checkpoint_mode(
        trained, "network", "train() must show learning"))
    feedback.record(mode=trained.mode)


def _history(run, key):
    value = run.values.get(f"stats/{key}")
    return None if value is None else np.asarray(value, dtype=np.float64)


def _curve(values):
    return None if values is None else curve(values)


def _what(trained: Trained) -> str:
    return f"train() with your hyperparameters ({trained.num_iters} iterations)"


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the training run gave no result; when its time budget stopped
    it, how far it got and how its time per iteration compares with the reference's."""
    run, budget, n = trained.run, trained.budget, trained.num_iters
    if run.failure is None or run.failure.kind not in STOPPED or budget is None:
        return failure_verdict(run, what=_what(trained))
    done = trained.progress[0] if trained.progress else 0
    spent = run.wall_seconds
    lines = [f"{_what(trained)}: stopped by its time budget of {budget.describe()}."]
    slow = True
    if done:
        per, ratio = budget.pace(done, spent)
        slow = ratio > budget.factor or budget.derived <= budget.ceiling
        lines.append(f"Your train() did {done} of {n} iterations in {spent:.0f} s: {ms(per)} "
                     f"per iteration; the reference takes {ms(budget.reference_s)} with your "
                     f"settings ({ratio:.1f}x; the budget allows {budget.factor:g}x).")
    else:
        lines.append(f"Your train() finished no iteration (a call of self.loss(X_batch, "
                     f"y=y_batch, reg=reg)) in {spent:.0f} s; the reference takes "
                     f"{ms(budget.reference_s)} per iteration with your settings.")
    if done >= n:
        lines.append("Hint: train() did its iterations but did not return in time: what "
                     "runs after the loop (or between iterations) that the reference does not?")
    elif slow:
        lines.append("Hint: make each iteration as fast as the reference's: matrix products "
                     "(X.dot(W1)) over the whole minibatch, no Python loops over samples, no "
                     "accuracy over the whole training set every iteration; also check "
                     "that train() stops after num_iters iterations.")
    else:
        lines.append(f"Hint: your code is fast enough, but these settings need more than the "
                     f"rubric's ceiling of {budget.ceiling:.0f} s: lower num_iters, hidden_size "
                     "or batch_size.")
    return Verdict(0.0, "\n".join(lines))


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


def _learned(trained: Trained, feedback: Feedback | None = None) -> Verdict:
    """Whether train() trained, the rubric's criterion in both modes (3b.1's min_loss_drop
    and min_acc_above_chance): its loss history fell, and the network it left in
    self.params classifies training images clearly better than chance."""
    run, data, n = trained.run, trained.data, trained.num_iters
    what = _what(trained)
    stopped = _stopped(trained)
    if stopped is not None:
        return stopped
    problems = _history_problems(run, n)
    if problems:
        return Verdict(0.0, "\n".join(problems))
    check = trained.rubric.check(PROGRESS_CHECK)
    loss = _history(run, "loss_history")
    first, last, _ = loss_drop(loss)
    most = first * (1 - check.value("min_loss_drop", data.kind))
    params, problems = _final_params(run, _shapes(trained.settings, data))
    if problems:
        return Verdict(0.0, problems[0] if DIVERGED in problems[0] else "\n".join(problems))
    y_test = data.load("y_test")
    acc = netmath.accuracy(params, data.load("X_test"), y_test)
    changed = _weights_changed(run, params)
    chance = 1.0 / data.num_classes
    least = chance + check.value("min_acc_above_chance", data.kind)
    if feedback is not None:
        feedback.record(iterations=n, first_loss=first, last_quarter_loss=last,
                        max_last_quarter_loss=most, test_accuracy=acc,
                        min_test_accuracy=least, weights_changed=changed,
                        dataset_kind=data.kind)
        if trained.mode == "checkpoint":  # in retrain mode 3b.2 shows the curves
            feedback.record(progress_iters=n, loss_history=_curve(loss),
                            train_acc_history=_curve(_history(run, "train_acc_history")),
                            val_acc_history=_curve(_history(run, "val_acc_history")))
    lines = [f"{what}: the loss went from {first:.4f} (first) to {last:.4f} (mean of the "
             f"last quarter; needs < {most:.4f})",
             f"the network it left in self.params classifies {100 * acc:.1f}% of the "
             f"{len(y_test)} test images correctly, computed by the grader (needs > "
             f"{100 * least:.1f}%; chance is {100 * chance:.0f}%; their labels never reach "
             "your code)"]
    if not changed:
        lines.append("the weights in self.params after train() are the ones it started with")
    lines += _val_note(run, n)
    if last < most and acc > least and changed:
        return Verdict(1.0, "\n".join(lines))
    lines.append("Hint: " + (
        "the loss hardly fell: check the SGD step (3a) and that it changes self.params; a "
        f"very small learning_rate may also show too little progress in {n} iterations."
        if last >= most and changed else
        "train() never changed the arrays in self.params: update them in place (the grader "
        "reads the network there), e.g. self.params['W1'] -= learning_rate * grads['W1']."
        if not changed else
        "the loss fell but the weights in self.params barely beat chance on the test "
        "images: update the arrays in self.params (the grader reads them there), train on "
        "X and y (not on the validation rows), and report the losses train() really "
        "computed."))
    return Verdict(0.0, "\n".join(lines))


def _weights_changed(run: ProbeRun, params: dict) -> bool:
    """Whether any sampled entry of the trained parameters differs from the same entry
    before train() (probes.sample of each, taken in the sandbox before the call)."""
    for name, value in params.items():
        before = run.values.get(f"initial/{name}")
        if before is None:
            return True  # the parameter did not exist before train(): train() made it
        after = probes.sample(value)
        before = np.asarray(before, dtype=np.float64).ravel()
        if before.shape != after.shape or not np.array_equal(before, after):
            return True
    return False


def _fits_validation(run: ProbeRun, num_iters: int) -> bool:
    """Whether at least half of train()'s loss calls with labels were on validation rows."""
    return 2 * count(run, "val_batches") >= max(1, num_iters)


def _val_note(run: ProbeRun, num_iters: int) -> list[str]:
    """A note when train() computed losses on validation rows (minibatches of X_val)."""
    batches = count(run, "val_batches")
    if not batches:
        return []
    if _fits_validation(run, num_iters):
        return [f"Note: at {batches} of {num_iters} iterations train() computed its loss on "
                "validation rows (X_val, y_val): it trains on them. Validation data is for "
                "choosing hyperparameters; the grader judges accuracy on test images whose "
                "labels your code never sees, so training on it earns nothing."]
    return [f"Note: train() computed its loss on validation rows (X_val, y_val) {batches} "
            "times; measuring on them is fine, training on them earns nothing (the grader "
            "judges test images whose labels your code never sees)."]


def judge_learned(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """3b.1: the declared hyperparameters, and whether train() trained (_learned)."""
    _say_mode(feedback, trained)
    if trained.settings is None:
        return Verdict(0.0, trained.problem)
    settings = ", ".join(f"{k}={v:g}" for k, v in trained.settings.items())
    notes = "".join(f"Note: {n}\n" for n in getattr(trained.settings, "notes", ()))
    verdict = _learned(trained, feedback)
    return Verdict(verdict.fraction, f"hyperparameters: {settings}\n{notes}" + verdict.message)


def _hint(run, num_iters):
    if _fits_validation(run, num_iters):
        return ("train() trained on the validation rows: draw its minibatches from X and y, "
                "the training rows, and keep X_val, y_val for measuring.")
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


def judge_accuracy(grading: GradingContext, trained: Trained, check: Check,
                   feedback: Feedback) -> Verdict:
    """3b.2: the test accuracy of the retrained network (checkpoint mode: of the submitted
    weights, _judge_checkpoint), computed here, against the threshold of the data's kind."""
    _say_mode(feedback, trained)
    if trained.settings is None:
        return Verdict(0.0, "no valid hyperparameters: " + trained.problem)
    if trained.mode == "checkpoint":
        return _judge_checkpoint(grading, trained, check, feedback)
    run, data, budget = trained.run, trained.data, trained.budget
    feedback.record(**budget.details())
    stopped = _stopped(trained)
    if stopped is not None:
        return stopped
    params, problems = _final_params(run, _shapes(trained.settings, data))
    if problems:
        return Verdict(0.0, problems[0] if DIVERGED in problems[0] else "\n".join(problems))
    judged, threshold, lines = _accuracies(
        params, data, check, feedback, train_seconds=run.wall_seconds,
        peak_rss_mb=run.peak_rss_mb, hyperparams=trained.settings,
        loss_history=_curve(_history(run, "loss_history")),
        train_acc_history=_curve(_history(run, "train_acc_history")),
        val_acc_history=_curve(_history(run, "val_acc_history")))
    feedback.record(student_ms_per_iteration=round(
        1000 * run.wall_seconds / max(1, trained.num_iters), 3))
    lines[0] = (f"on {data_name(data)}, retrained in {run.wall_seconds:.0f} s (budget "
                f"{budget.seconds:.0f} s): " + lines[0])
    lines += _val_note(run, trained.num_iters)
    if judged > threshold:
        return Verdict(1.0, "\n".join(lines))
    learned = _learned(trained)
    lines.append("Hint: " + (_hint(run, trained.num_iters) if learned.passed else
                             "the network train() left in self.params hardly learned (see "
                             "3b.1): fix train() first if 3a fails, else raise learning_rate "
                             "or num_iters."))
    return Verdict(0.0, "\n".join(lines))


JUDGED = ("judged: the test images' labels never reach your code, while train() receives "
          "the validation labels")


def _accuracies(params: dict, data, check, feedback: Feedback, **details
                ) -> tuple[float, float, list[str]]:
    """The grader's test and validation accuracy of params (test labels stay here; the
    test accuracy is judged, the validation accuracy reported). Records them, the weight
    tiles and details; returns (test accuracy, threshold, [test line, validation line])."""
    val = netmath.accuracy(params, data.load("X_val"), data.load("y_val"))
    test = netmath.accuracy(params, data.load("X_test"), data.load("y_test"))
    threshold = check.value("threshold", data.kind)
    feedback.record(dataset_kind=data.kind, val_accuracy=val, test_accuracy=test,
                    threshold=threshold, judged="test_accuracy",
                    report={"w1_tiles": weight_tiles_png(params["W1"])}, **details)
    return test, threshold, [
        accuracy_line("test accuracy", test, threshold) + f" ({JUDGED})",
        accuracy_line("validation accuracy", val)
        + " (the handout's measure; reported, not graded)"]


def _judge_checkpoint(grading: GradingContext, trained: Trained, check: Check,
                      feedback: Feedback) -> Verdict:
    """Checkpoint mode: the submitted weights' validation accuracy, computed by the grader."""
    data, hp = trained.data, trained.settings
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
    judged, threshold, lines = _accuracies(found.arrays, data, check, feedback, hyperparams=hp,
                                        checkpoint=relpath,
                                        checkpoint_mb=round(found.size_mb, 2))
    lines[0] = f"your checkpoint {relpath}, evaluated on {data_name(data)}: " + lines[0]
    if judged <= threshold:
        lines.append("Hint: tune hidden_size, learning_rate, num_iters and reg on the "
                     "validation set (the curves of `python ex2_FCnet.py best` show how), "
                     "then save the better network with the same command.")
        return Verdict(0.0, "\n".join(lines))
    if check.value("require_progress", data.kind):
        progress = _learned(trained)
        if not progress.passed:
            lines.append("Not credited: the short run of your train() did not show learning "
                         "(see 3b.1), and the checkpoint counts only with training code that "
                         "learns.")
            return Verdict(0.0, "\n".join(lines))
    return Verdict(1.0, "\n".join(lines))
