"""7d, in the grader's process: the ConvNet trained by the grader with the student's
train(), judged by its test accuracy (numpy only).

One sandboxed child builds ConvNet(), moves it to the grader's device (CUDA when the
rubric's `device = "auto"` and the sandbox sees a GPU), calls the student's
train(model, train_loader, device, num_epochs, learning_rate) with the declared settings
and the grader's loader of training digits, and returns the weights it leaves; no test
digit enters it. A second child, which never runs train(), builds a fresh ConvNet() the
same way (its initial weights come back too), loads those weights and returns the logits
of the test digits; their labels stay here. Points need what the grader computes: the
weights differ from the initial ones, and the test accuracy reaches the threshold. The
losses and optimizer steps seen in the training child only give hints. The data is the
question's: real MNIST when verified, else a 5,000-digit subset of real MNIST
(grader/data/mnist.py), each with its own threshold.
"""
from __future__ import annotations

import numpy as np

from . import settings
from .layers import PROBES
from ...core.engine.context import Feedback, failure_verdict
from ...core.engine.judge import Verdict, curve, logits_accuracy
from ...core.engine import training as core
from ...core.engine.training import (Trained, checkpoint_mode, evaluation_problem, judges,
                                     loss_drop, opening, refused_checkpoint, series, short_run,
                                     state_changed, stopped_by_budget, where)
from ...core.rubric.spec import Check
from ...core.sandbox.runner import ProbeRun

QUESTION, CHECK = "7d", "7d.1"
NUM_CLASSES = 10


def read_checkpoint(submission, name: str, max_mb: float) -> tuple[bytes | None, str]:
    """(the checkpoint file's bytes, '') or (None, what is wrong). Read as bytes only: the
    grader never unpickles it (a sandboxed child loads it with weights_only=True)."""
    how = (f"Hint: submit {name}, the state dict of your trained ConvNet "
           f"(torch.save(model.state_dict(), \"{name}\")), next to convnet_mnist.py.")
    path = submission / name
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return None, f"{name} is not a regular file.\n{how}"
    if not path.exists():
        return None, f"{name} is missing from your submission.\n{how}"
    size = path.stat().st_size
    if size > max_mb * 2 ** 20:
        return None, (f"{name} is {size / 2 ** 20:.1f} MB, over the {max_mb:g} MB cap.\nHint: "
                      "save model.state_dict() only (no optimizer state).")
    return path.read_bytes(), ""


# one check reads the settings and judges; train_convnet returns the weights train() left,
# evaluated (with any checkpoint) in a child that never runs train()
TRAINING = core.Training(
    QUESTION, CHECK, CHECK, PROBES, "train_convnet", settings.read,
    lambda s, data, seed, rows: {"settings": s.params(), "seed": seed},
    read_checkpoint=read_checkpoint, data_keys=("X_train", "y_train"), evaluates_state=True)
train_submission = TRAINING.train  # (grading) -> Trained, under 7d.1's limits


def evaluated(trained: Trained) -> tuple[float | None, int, int, str]:
    """(test accuracy, state dict entries train() changed, entries) of the weights the
    training run left, as the evaluation child found them; the accuracy is None, with what
    went wrong, when there is none. The labels and the comparison are the grader's."""
    problem = evaluation_problem(trained, "train() left a ConvNet without weights to evaluate "
                                 "(its state_dict() is empty).", "the weights train() left, "
                                 "loaded into a fresh ConvNet() to be evaluated")
    if problem:
        return None, 0, 0, problem
    acc, problem = logits_accuracy(trained.evaluation.values.get("test_logits"),
                                   np.asarray(trained.data.load("y_test")), NUM_CLASSES,
                                   "the trained ConvNet's output on the test digits",
                                   "training diverged? lower the learning rate")
    return (acc, *state_changed(trained), problem)


def unchanged_hint(run: ProbeRun) -> str:
    """Why the weights train() left are the initial ones, in the student's terms."""
    if int(run.values.get("steps") or 0) == 0:
        return ("optimizer.step() was never called, so the weights never changed: call it "
                "after loss.backward() in every training step.")
    return ("train() must update the parameters of the model it is given, in place "
            "(optimizer = optim.Adam(model.parameters(), ...)), not those of a copy or "
            "of another tensor.")


def progress_findings(trained: Trained, check: Check) -> tuple[bool, str]:
    """Checkpoint mode: whether the progress run learned (the mean loss of its last quarter
    of steps min_loss_drop below the first step's, its weights changed, and the grader's
    test accuracy of them, evaluated in a child that never ran train(),
    min_acc_above_chance above chance), and a line saying so."""
    run, kind = trained.run, trained.data.kind
    losses = series(run, "losses")
    acc, changed, total, problem = evaluated(trained)
    drop_needed = float(check.value("min_loss_drop", kind))
    above = float(check.value("min_acc_above_chance", kind))
    chance = 1.0 / NUM_CLASSES
    if len(losses) < 4 or not np.all(np.isfinite(losses)):
        return False, ("the short run of your train() gave no usable loss curve.\nHint: "
                       "train() must compute the loss with nn.CrossEntropyLoss on every batch.")
    if acc is None:
        return False, "the short run of your train() could not be evaluated: " + problem
    if not changed:
        return False, (f"it did not learn: the short run of your train() left all {total} "
                       "entries of the ConvNet's state dict as they were built.\nHint: "
                       + unchanged_hint(run))
    first, last, drop = loss_drop(losses)
    line = (f"short run of your train() ({len(losses)} steps): loss {first:.3f} -> {last:.3f} "
            f"(a {100 * drop:.1f}% drop; at least {100 * drop_needed:.0f}% needed), test "
            f"accuracy of the weights it left {100 * acc:.1f}% (more than "
            f"{100 * (chance + above):.0f}% needed)")
    if drop >= drop_needed and acc > chance + above:
        return True, line
    return False, "it did not learn: " + line


def data_name(data) -> str:
    """What the digits were, for the feedback."""
    tests = len(data.load("y_test"))
    return f"real MNIST ({tests:,} test digits)" if data.kind == "real" else \
        f"a 5,000-digit subset of real MNIST ({tests:,} test digits; not the full MNIST)"


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the training run gave no result (how far it got, when its time
    budget stopped it), else None."""
    return stopped_by_budget(trained, None, (
        "the budget is several times what the handout's settings need; train fewer epochs, "
        "keep each step to the training step (no evaluation of the whole set every batch), "
        f"and make sure train() stops after num_epochs = {trained.settings.num_epochs} "
        "epochs.")) or failure_verdict(trained.run, what="the training run")


@judges(_stopped, "no usable settings: ", head=lambda trained: opening(trained.settings))
def judge(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """7d.1: test accuracy of the trained ConvNet against the threshold of the data's kind
    (at least the threshold passes)."""
    run, data, s = trained.run, trained.data, trained.settings
    head = opening(s)
    if trained.mode == "checkpoint":
        return judge_checkpoint(trained, check, feedback, head)
    acc, changed, total, problem = evaluated(trained)
    if acc is None:
        return Verdict(0.0, "\n".join(head + [problem]))
    threshold = float(check.value("threshold", data.kind))
    losses = series(run, "losses")
    steps = int(run.values.get("steps") or 0)
    feedback.record(dataset="mnist", dataset_kind=data.kind, test_accuracy=acc,
                    threshold=threshold, device=trained.device, steps=steps,
                    weights_changed=changed, weights_total=total,
                    train_seconds=round(run.wall_seconds, 2), peak_rss_mb=run.peak_rss_mb,
                    curves=[{"title": "training loss per step (observed by the grader)",
                             "x_label": "step (sampled)", "series": {"loss": curve(losses)}}])
    lines = head + [f"on {data_name(data)}, in a training run of {run.wall_seconds:.0f} s "
                       f"on {where(trained.device)} ({steps} optimizer steps): test accuracy "
                       f"{100 * acc:.1f}% (needs >= {100 * threshold:.1f}%; judged: the "
                       "grader's test digits, whose labels no sandbox sees, classified by a "
                       "fresh ConvNet() loaded with the weights train() left)",
                       f"{changed} of {total} entries of the state dict changed in training"]
    if acc >= threshold and changed:
        return Verdict(1.0, "\n".join(lines))
    if not changed:
        hint = ("train() left the ConvNet's weights as they were built, so nothing it did "
                "counts. " + unchanged_hint(run))
    elif steps == 0:
        hint = ("optimizer.step() was never called, so the weights never changed: call it "
                "after loss.backward() in every training step.")
    elif len(losses) and not np.all(np.isfinite(losses)):
        hint = "the loss became NaN or inf: lower the learning rate."
    elif len(losses) == 0:
        hint = ("no loss was computed with nn.CrossEntropyLoss (or F.cross_entropy) while "
                "training: use criterion = nn.CrossEntropyLoss() on the model's scores.")
    else:
        hint = short_run(s.params(), settings.SPEC.defaults()) + (
            f"the loss went from {losses[0]:.3f} to "
            f"{np.mean(losses[-max(1, len(losses) // 10):]):.3f}; check the training step "
            "(zero_grad, backward, step, in that order) and tune num_epochs and learning_rate.")
    return Verdict(0.0, "\n".join(lines + ["Hint: " + hint]))


def judge_checkpoint(trained: Trained, check: Check, feedback: Feedback,
                     head: list[str]) -> Verdict:
    """7d.1 in checkpoint mode: the submitted state dict's test accuracy against the
    threshold, counted only when the short run of train() learned (require_progress)."""
    name, data = trained.checkpoint_file, trained.data
    lines = [checkpoint_mode(trained, "state dict", "train() must show learning; its weights "
                             "and your checkpoint are evaluated in a sandbox that never runs "
                             "train()")] + head
    feedback.record(mode="checkpoint", dataset="mnist", dataset_kind=data.kind,
                    device=trained.device)
    learned, said = progress_findings(trained, check)
    lines.append(said[0].upper() + said[1:] + ".")
    refused = refused_checkpoint(trained, "submit the state dict of your trained ConvNet: "
                                 f"torch.save(model.state_dict(), \"{name}\").",
                                 what=f"your checkpoint {name}")
    if refused is not None:
        return Verdict(0.0, "\n".join(lines + refused))
    labels = np.asarray(data.load("y_test"))
    acc, problem = logits_accuracy(trained.checkpoint.values.get("test_logits"), labels,
                                   NUM_CLASSES, "your checkpoint's output on the test digits")
    if problem:
        return Verdict(0.0, "\n".join(lines + [problem]))
    threshold = float(check.value("threshold", data.kind))
    feedback.record(test_accuracy=acc, threshold=threshold)
    lines.append(f"Your checkpoint on {data_name(data)}: test accuracy {100 * acc:.1f}% "
                 f"(needs >= {100 * threshold:.1f}%)")
    if check.get("require_progress") and not learned:
        return Verdict(0.0, "\n".join(lines + ["Your checkpoint is not graded because the "
                                              "short run of your train() did not learn "
                                              "(require_progress is set)."]))
    return Verdict(1.0 if acc >= threshold else 0.0, "\n".join(lines))
