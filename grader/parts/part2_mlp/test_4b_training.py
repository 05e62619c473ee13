"""4b: the grader trains MultiLayerPerceptron(3072, hidden_size, 10) with the student's
train() and declared settings, on its own prepared data, in one sandboxed run on the device
the rubric asks for (CUDA when available), and watches the run.

4b.1 judges the training loop as observed (optimizer steps, gradients cleared, the loss
given scores, the learning rate decayed once per epoch); 4b.2 the validation accuracy of
the trained model, computed here from the logits the sandbox returns (test labels never
enter the sandbox; the test accuracy is reported, not graded).
"""
from dataclasses import dataclass

import numpy as np
import pytest

from . import settings, training
from ...core.grading import conclude, failure_verdict, graded
from ...core.judge import Verdict, accuracy_line, shaped
from ...core.rubric import Rubric
from ...core.sandbox import ProbeRun
from .steps import NUM_CLASSES, PROBES, SCALE

QUESTION, LOOP_CHECK, TRAIN_CHECK = "4b", "4b.1", "4b.2"
STOPPED = ("timeout", "cpu")


@dataclass(frozen=True)
class Trained:
    """The sandboxed training run both 4b checks judge."""

    rubric: Rubric
    settings: settings.Settings | None  # the declared settings, when valid
    problem: str  # what is wrong with them, else ''
    run: ProbeRun | None = None
    data: object | None = None  # grader.data.prepare.PreparedData
    device: str = "cpu"
    progress: tuple[int, int] | None = None  # (training batches done, planned)


@pytest.fixture(scope="module")
def trained(grading):
    if grading.public_only and not grading.full:
        pytest.skip("the CIFAR-10 training is left out of the quick self-check; add --full "
                    "to run it")
    rubric = grading.rubric
    declared, problem = settings.read(grading.submission, rubric.check(LOOP_CHECK))
    if declared is None:
        return Trained(rubric, None, problem)
    data = grading.data()
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    params = {"settings": declared.params(), "seed": rubric.seed, "scale": SCALE,
              "num_classes": data.num_classes}
    run = grading.probe(PROBES, "train_mlp", TRAIN_CHECK, kind=data.kind, data_files=files,
                        params=params, inputs={"X_test": np.asarray(data.load("X_test"))})
    return Trained(rubric, declared, "", run, data, grading.device_for(QUESTION),
                   grading.progress_of(run))


def _opening(trained: Trained) -> list[str]:
    lines = [f"Your settings: {trained.settings.describe()}."]
    lines += [f"Note: {n}" for n in trained.settings.notes]
    return lines


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the training run gave no result (how far it got, when its time
    budget stopped it)."""
    run = trained.run
    if run.failure is None or run.failure.kind not in STOPPED:
        return failure_verdict(run, what="training with your train()")
    limits = trained.rubric.limits_for(trained.rubric.check(TRAIN_CHECK), trained.data.kind)
    done, total = trained.progress or (0, 0)
    return Verdict(0.0, "\n".join([
        f"training with your train() was stopped by its time budget of "
        f"{limits.wall_seconds:.0f} s after {done} of {total} training batches "
        f"({run.wall_seconds:.0f} s).",
        "Hint: the budget is about 8 times what the handout's settings need; train fewer "
        "epochs or a smaller network, keep work per batch to the training step (no "
        "evaluation of the whole training set every step), and make sure train() stops "
        f"after num_epochs = {trained.settings.num_epochs} epochs."]))


@graded("4b.1")
def test_training_loop(trained, check, feedback):
    if trained.settings is None:
        return conclude(feedback, Verdict(0.0, trained.problem))
    stopped = _stopped(trained)
    if stopped is not None:
        return conclude(feedback, Verdict(0.0, "\n".join(_opening(trained) + [stopped.message])))
    s = trained.settings
    problems, seen = training.loop_findings(trained.run, s.learning_rate, s.learning_rate_decay,
                                            float(check.value("lr_rtol")))
    run = trained.run
    feedback.record(steps=int(run.values.get("steps", 0)),
                    zero_grad_calls=int(run.values.get("zero_grads", 0)),
                    loss_calls=int(run.values.get("loss_calls", 0)),
                    epoch_lrs=training.epoch_lrs(run)[0].tolist(), device=trained.device)
    lines = _opening(trained)
    if problems:
        return conclude(feedback, Verdict(0.0, "\n".join(lines + problems)))
    lines.append("Training observed: " + "; ".join(seen) + ".")
    return conclude(feedback, Verdict(1.0, "\n".join(lines)))


def _data_name(data) -> str:
    return "CIFAR-10" if data.kind == "real" else "synthetic CIFAR-format data (not CIFAR-10)"


@graded("4b.2")
def test_validation_accuracy(trained, check, feedback):
    if trained.settings is None:
        return conclude(feedback, Verdict(0.0, "no usable settings: " + trained.problem))
    stopped = _stopped(trained)
    if stopped is not None:
        return conclude(feedback, stopped)
    run, data = trained.run, trained.data
    y_val, y_test = np.asarray(data.load("y_val")), np.asarray(data.load("y_test"))
    got = {}
    for name, labels in (("val_logits", y_val), ("test_logits", y_test)):
        got[name], problem = shaped(run.values.get(name), (len(labels), NUM_CLASSES),
                                    f"the trained model's output on the {name[:-7]} images",
                                    "training diverged? lower the learning rate")
        if problem:
            return conclude(feedback, Verdict(0.0, problem))
    val = training.accuracy(got["val_logits"], y_val)
    test = training.accuracy(got["test_logits"], y_test)
    threshold = check.value("threshold", data.kind)
    losses = training.series(run, "losses")
    feedback.record(dataset_kind=data.kind, val_accuracy=val, test_accuracy=test,
                    threshold=threshold, device=trained.device,
                    train_seconds=round(run.wall_seconds, 2), peak_rss_mb=run.peak_rss_mb,
                    input_shape=str(run.values.get("input_shape", "")),
                    loss_history=training.curve(losses),
                    train_acc_history=training.series(run, "epoch_train_acc").tolist(),
                    val_acc_history=training.val_history(run, y_val))
    lines = [f"on {_data_name(data)}, in a training run of {run.wall_seconds:.0f} s on "
             f"{trained.device.upper() if trained.device == 'cuda' else 'the CPU'}: "
             + accuracy_line("validation accuracy", val, threshold),
             accuracy_line("test accuracy", test) + " (reported, not graded)"]
    if val > threshold:
        return conclude(feedback, Verdict(1.0, "\n".join(lines)))
    s = trained.settings
    problems, _ = training.loop_findings(run, s.learning_rate, s.learning_rate_decay,
                                         float(trained.rubric.check(LOOP_CHECK).value("lr_rtol")))
    lines.append("Hint: " + ("fix the training loop first (4b.1): " + problems[0].split("\n")[0]
                             if problems else
                             "tune hidden_size, learning_rate, num_epochs and reg on the "
                             "validation set; the curves in the report show whether the "
                             "model underfits (training and validation accuracy both low) "
                             "or overfits (a large gap)."))
    return conclude(feedback, Verdict(0.0, "\n".join(lines)))
