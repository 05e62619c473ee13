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
from ...core.grading import Feedback, GradingContext, failure_verdict
from ...core.judge import Verdict, shaped
from ...core.rubric import Check
from ...core.sandbox import ProbeRun

QUESTION, CHECK = "7d", "7d.1"
NUM_CLASSES = 10
STOPPED = ("timeout", "cpu")  # failure kinds of a run its time budget stopped
CURVE_POINTS = 400


@dataclass(frozen=True)
class Trained:
    """The grader's training run of the student's ConvNet."""

    settings: settings.Settings | None  # the declared settings, when valid
    problem: str = ""  # what is wrong with them, else ''
    run: ProbeRun | None = None  # the training run, when it ran
    data: object | None = None  # grader.data.prepare.PreparedData (MNIST)
    device: str = "cpu"  # where it trained: "cpu" or "cuda"


def train_submission(grading: GradingContext, check: Check) -> Trained:
    """Reads the declared settings and trains the student's ConvNet in one sandboxed child
    under the check's limits for the data's kind; the test digits go in, their labels
    stay here."""
    declared, problem = settings.read(grading.submission, check)
    if declared is None:
        return Trained(None, problem)
    data = grading.data(QUESTION)
    files = {k: str(data.files[k]) for k in ("X_train", "y_train")}
    run = grading.probe(PROBES, "train_convnet", check.id, kind=data.kind, data_files=files,
                        params={"settings": declared.params(), "seed": grading.rubric.seed},
                        inputs={"X_test": np.asarray(data.load("X_test"))})
    return Trained(declared, "", run, data, grading.device_for(QUESTION))


def data_name(data) -> str:
    """What the digits were, for the feedback."""
    return "real MNIST (10,000 test digits)" if data.kind == "real" else \
        "a 5,000-digit subset of real MNIST (1,000 test digits; not the full MNIST)"


def curve(values: np.ndarray) -> list[float]:
    """At most CURVE_POINTS values of a per-step curve, evenly sampled."""
    step = max(1, len(values) // CURVE_POINTS)
    return values[::step].tolist()


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
    labels = np.asarray(data.load("y_test"))
    logits, problem = shaped(run.values.get("test_logits"), (len(labels), NUM_CLASSES),
                             "the trained ConvNet's output on the test digits",
                             "training diverged? lower the learning rate")
    if problem:
        return Verdict(0.0, "\n".join(opening + [problem]))
    acc = float(np.mean(np.argmax(logits, axis=1) == labels))
    threshold = float(check.value("threshold", data.kind))
    losses = np.asarray(run.values.get("losses", np.zeros(0)), dtype=np.float64).ravel()
    steps = int(run.values.get("steps") or 0)
    feedback.record(dataset="mnist", dataset_kind=data.kind, test_accuracy=acc,
                    threshold=threshold, device=trained.device, steps=steps,
                    train_seconds=round(run.wall_seconds, 2), peak_rss_mb=run.peak_rss_mb,
                    loss_history=curve(losses))
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
