"""7d, in the grader's process: the ConvNet trained by the grader with the student's
train(), judged by its test accuracy (numpy only).

One sandboxed child builds ConvNet(), moves it to the grader's device (CUDA when the
rubric's `device = "auto"` and the sandbox sees a GPU), calls the student's
train(model, train_loader, device, num_epochs, learning_rate) with the declared settings
and the grader's loader of training digits, and returns the logits of the test digits;
their labels stay here, and the accuracy is computed here. The data is the question's:
real MNIST when verified, else a 5,000-digit subset of real MNIST (grader/data/mnist.py),
each with its own threshold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import settings
from .layers import PROBES
from ...core.grading import Feedback, GradingContext, ProbeCall, failure_verdict
from ...core.judge import Verdict, curve, logits_accuracy
from ...core.rubric import Check
from ...core.sandbox import ProbeRun

QUESTION, CHECK = "7d", "7d.1"
NUM_CLASSES = 10
STOPPED = ("timeout", "cpu")  # failure kinds of a run its time budget stopped


@dataclass(frozen=True)
class Trained:
    """The grader's training run of the student's ConvNet."""

    settings: settings.Settings | None  # the declared settings, when valid
    problem: str = ""  # what is wrong with them, else ''
    run: ProbeRun | None = None  # the training run, when it ran
    data: object | None = None  # grader.data.prepare.PreparedData (MNIST)
    device: str = "cpu"  # where it trained: "cpu" or "cuda"
    mode: str = "retrain"  # the rubric's mode for 7d: "retrain" or "checkpoint"
    checkpoint: ProbeRun | None = None  # checkpoint mode: the submitted weights, evaluated
    checkpoint_problem: str = ""  # checkpoint mode: why the file could not be evaluated
    checkpoint_file: str = ""  # checkpoint mode: the file's name in the submission


def train_submission(grading: GradingContext, check: Check) -> Trained:
    """Reads the declared settings and trains the student's ConvNet in one sandboxed child
    under the check's limits for the data's kind; the test digits go in, their labels
    stay here."""
    declared, problem = settings.read(grading.submission, check)
    if declared is None:
        return Trained(None, problem)
    data = grading.data(QUESTION)
    files = {k: str(data.files[k]) for k in ("X_train", "y_train")}
    params = {"settings": declared.params(), "seed": grading.rubric.seed}
    test = {"X_test": np.asarray(data.load("X_test"))}
    mode = grading.rubric.question(QUESTION).mode
    if mode == "retrain":
        run = grading.probe(PROBES, "train_convnet", check.id, kind=data.kind,
                            data_files=files, params=params, inputs=test)
        return Trained(declared, "", run, data, grading.device_for(QUESTION))
    # checkpoint mode: a short progress run of train() (progress_iters steps, whole epochs,
    # on the first progress_rows digits), then the submitted state dict evaluated, both in
    # ONE child (torch imported once), under the check's limits
    rows = min(int(check.value("progress_rows", data.kind)), len(data.load("y_train")))
    per_epoch = -(-rows // declared.batch_size)
    epochs = max(1, -(-int(check.value("progress_iters", data.kind)) // per_epoch))
    calls = [ProbeCall("train_convnet", {"settings": {**declared.params(), "num_epochs": epochs},
                                         "rows": rows}, test)]
    name = str(check.value("checkpoint"))
    blob, problem = read_checkpoint(grading.submission, name, float(check.value("max_checkpoint_mb")))
    if blob is not None:
        calls.append(ProbeCall("evaluate_checkpoint", {"checkpoint": name},
                               {"checkpoint": np.frombuffer(blob, dtype=np.uint8), **test}))
    runs = grading.probe_calls(PROBES, calls, check.id, params=params, kind=data.kind,
                               data_files=files)
    return Trained(declared, "", runs[0], data, grading.device_for(QUESTION), mode,
                   runs[1] if blob is not None else None, problem, name)


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


def progress_findings(trained: Trained, check: Check) -> tuple[bool, str]:
    """Checkpoint mode: whether the progress run learned (the mean loss of its last quarter
    of steps min_loss_drop below the first step's, and the grader's test accuracy of the
    model it left min_acc_above_chance above chance), and a line saying so."""
    run, kind = trained.run, trained.data.kind
    losses = np.asarray(run.values.get("losses", np.zeros(0)), dtype=np.float64).ravel()
    labels = np.asarray(trained.data.load("y_test"))
    acc = logits_accuracy(run.values.get("test_logits"), labels, NUM_CLASSES, "logits")[0] or 0.0
    drop_needed = float(check.value("min_loss_drop", kind))
    above = float(check.value("min_acc_above_chance", kind))
    chance = 1.0 / NUM_CLASSES
    if len(losses) < 4 or not np.all(np.isfinite(losses)):
        return False, ("the short run of your train() gave no usable loss curve.\nHint: "
                       "train() must compute the loss with nn.CrossEntropyLoss on every batch.")
    first, last = float(losses[0]), float(np.mean(losses[-max(1, len(losses) // 4):]))
    drop = (first - last) / first if first > 0 else 0.0
    line = (f"short run of your train() ({len(losses)} steps): loss {first:.3f} -> {last:.3f} "
            f"(a {100 * drop:.1f}% drop; at least {100 * drop_needed:.0f}% needed), test "
            f"accuracy {100 * acc:.1f}% (more than {100 * (chance + above):.0f}% needed)")
    if drop >= drop_needed and acc > chance + above:
        return True, line
    return False, "it did not learn: " + line


def data_name(data) -> str:
    """What the digits were, for the feedback."""
    tests = len(data.load("y_test"))
    return f"real MNIST ({tests:,} test digits)" if data.kind == "real" else \
        f"a 5,000-digit subset of real MNIST ({tests:,} test digits; not the full MNIST)"


def judge(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """7d.1: test accuracy of the trained ConvNet against the threshold of the data's kind
    (at least the threshold passes)."""
    if trained.settings is None:
        return Verdict(0.0, "no usable settings: " + trained.problem)
    run, data, s = trained.run, trained.data, trained.settings
    opening = [f"Your settings: {s.describe()}."] + [f"Note: {n}" for n in s.notes]
    if run.failure is not None and run.failure.kind in STOPPED:
        done, total = run.progress or (0, 0)
        return Verdict(0.0, "\n".join(opening + [
            f"the training run was stopped by its time budget after {done} of {total} "
            "training batches.",
            "Hint: the budget is several times what the handout's settings need; train "
            "fewer epochs, keep each step to the training step (no evaluation of the whole "
            f"set every batch), and make sure train() stops after num_epochs = {s.num_epochs} "
            "epochs."]))
    failed = failure_verdict(run, what="the training run")
    if failed is not None:
        return Verdict(0.0, "\n".join(opening + [failed.message]))
    if trained.mode == "checkpoint":
        return judge_checkpoint(trained, check, feedback, opening)
    labels = np.asarray(data.load("y_test"))
    acc, problem = logits_accuracy(run.values.get("test_logits"), labels, NUM_CLASSES,
                                   "the trained ConvNet's output on the test digits",
                                   "training diverged? lower the learning rate")
    if problem:
        return Verdict(0.0, "\n".join(opening + [problem]))
    threshold = float(check.value("threshold", data.kind))
    losses = np.asarray(run.values.get("losses", np.zeros(0)), dtype=np.float64).ravel()
    steps = int(run.values.get("steps") or 0)
    feedback.record(dataset="mnist", dataset_kind=data.kind, test_accuracy=acc,
                    threshold=threshold, device=trained.device, steps=steps,
                    train_seconds=round(run.wall_seconds, 2), peak_rss_mb=run.peak_rss_mb,
                    curves=[{"title": "training loss per step (observed by the grader)",
                             "x_label": "step (sampled)", "series": {"loss": curve(losses)}}])
    where = "CUDA" if trained.device == "cuda" else "the CPU"
    lines = opening + [f"on {data_name(data)}, in a training run of {run.wall_seconds:.0f} s "
                       f"on {where} ({steps} optimizer steps): test accuracy "
                       f"{100 * acc:.1f}% (needs >= {100 * threshold:.1f}%)"]
    if acc >= threshold:
        return Verdict(1.0, "\n".join(lines))
    if steps == 0:
        hint = ("optimizer.step() was never called, so the weights never changed: call it "
                "after loss.backward() in every training step.")
    elif len(losses) and not np.all(np.isfinite(losses)):
        hint = "the loss became NaN or inf: lower the learning rate."
    elif len(losses) == 0:
        hint = ("no loss was computed with nn.CrossEntropyLoss (or F.cross_entropy) while "
                "training: use criterion = nn.CrossEntropyLoss() on the model's scores.")
    else:
        hint = (f"the loss went from {losses[0]:.3f} to {np.mean(losses[-max(1, len(losses) // 10):]):.3f}; "
                "check the training step (zero_grad, backward, step, in that order) and tune "
                "num_epochs and learning_rate.")
    return Verdict(0.0, "\n".join(lines + ["Hint: " + hint]))


def judge_checkpoint(trained: Trained, check: Check, feedback: Feedback,
                     opening: list[str]) -> Verdict:
    """7d.1 in checkpoint mode: the submitted state dict's test accuracy against the
    threshold, counted only when the short run of train() learned (require_progress)."""
    name, data = trained.checkpoint_file, trained.data
    lines = [f"Mode: checkpoint (the grader evaluates the state dict you submitted in {name}; "
             "a short run of your train() must show learning)."] + opening
    feedback.record(mode="checkpoint", dataset="mnist", dataset_kind=data.kind,
                    device=trained.device)
    learned, said = progress_findings(trained, check)
    lines.append(said[0].upper() + said[1:] + ".")
    if trained.checkpoint is None:
        return Verdict(0.0, "\n".join(lines + [trained.checkpoint_problem]))
    failed = failure_verdict(trained.checkpoint, what=f"your checkpoint {name}")
    if failed is not None:
        return Verdict(0.0, "\n".join(lines + [failed.message, "Hint: submit the state dict of "
                                              f"your trained ConvNet: torch.save(model.state_dict(), \"{name}\")."]))
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
