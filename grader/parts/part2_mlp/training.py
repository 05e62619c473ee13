"""4b, in the grader's process: what the observed training run says about the student's
training loop, and the accuracies of the trained model (numpy only).

The train_mlp probe watches the student's train() from outside: each loss computed with
gradients on (its value, whether its input rows were probabilities), each optimizer step
(the learning rate; whether the tracked parameter's gradient still held the previous
step's), each zero_grad, and each pass over the training loader (an epoch when it took
steps). It returns logits of the validation and test images; accuracies are computed here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import settings
from .steps import NUM_CLASSES, PROBES, SCALE
from ...core.grading import Feedback, GradingContext, ProbeCall, failure_verdict
from ...core.judge import Verdict, accuracy, accuracy_line, curve, logits_accuracy
from ...core.rubric import Check, Rubric
from ...core.sandbox import ProbeRun
from ...core.submitted_files import read_capped

QUESTION, LOOP_CHECK, TRAIN_CHECK = "4b", "4b.1", "4b.2"
STOPPED = ("timeout", "cpu")  # failure kinds of a run its time budget stopped


@dataclass(frozen=True)
class Trained:
    """The sandboxed training run both 4b checks judge."""

    rubric: Rubric  # the run's rubric
    settings: settings.Settings | None  # the declared settings, when valid
    problem: str  # what is wrong with them, else ''
    run: ProbeRun | None = None  # the training run, when it ran
    data: object | None = None  # grader.data.prepare.PreparedData
    device: str = "cpu"  # where it trained: "cpu" or "cuda"
    progress: tuple[int, int] | None = None  # (training batches done, planned), last reported
    mode: str = "retrain"  # the rubric's mode for 4b: "retrain" or "checkpoint"
    checkpoint: ProbeRun | None = None  # checkpoint mode: the submitted weights, evaluated
    checkpoint_problem: str = ""  # checkpoint mode: why the file could not be evaluated

    @property
    def checkpoint_file(self) -> str:
        return str(self.rubric.check(TRAIN_CHECK).get("checkpoint", ""))


MODE_LINE = {
    "retrain": "Mode: retrain (the grader trains your model with your train() and settings).",
    "checkpoint": ("Mode: checkpoint (the grader evaluates the state dict you submitted in "
                   "{file}; a short run of your train() must show learning)."),
}


def mode_line(trained: Trained) -> str:
    return MODE_LINE[trained.mode].format(file=trained.checkpoint_file)


def read_checkpoint(submission, name: str, max_mb: float) -> tuple[bytes | None, str]:
    """(the checkpoint file's bytes, '') or (None, what is wrong). Read as bytes only: the
    grader never unpickles it (a sandboxed child loads it with weights_only=True)."""
    blob, problem = read_capped(submission, name, max_mb)
    if blob is not None:
        return blob, ""
    how = ("save model.state_dict() only (no optimizer state), with the declared hidden_size"
           if "cap" in problem else
           f"submit {name}, the state dict `python ex2_pytorch.py` saves "
           "(torch.save(model.state_dict(), ...)) from your best epoch, next to ex2_pytorch.py")
    return None, f"{problem}.\nHint: {how}."


def train_submission(grading: GradingContext) -> Trained:
    """Reads the declared settings and runs the student's train() on the grader's data, in
    one sandboxed child under 4b.2's limits; the test images go in, their labels stay here."""
    rubric = grading.rubric
    declared, problem = settings.read(grading.submission, rubric.check(LOOP_CHECK))
    if declared is None:
        return Trained(rubric, None, problem)
    data = grading.data()
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    params = {"settings": declared.params(), "seed": rubric.seed, "scale": SCALE,
              "num_classes": data.num_classes}
    mode = rubric.question(QUESTION).mode
    if mode == "retrain":
        run = grading.probe(PROBES, "train_mlp", TRAIN_CHECK, kind=data.kind, data_files=files,
                            params=params, inputs={"X_test": np.asarray(data.load("X_test"))})
        return Trained(rubric, declared, "", run, data, grading.device_for(QUESTION),
                       run.progress)
    # checkpoint mode: a short progress run (4b.1's progress_* keys: progress_iters
    # training steps, whole epochs, on the first progress_rows rows), then the submitted
    # state dict evaluated, both in ONE child (torch imported once), under 4b.1's limits
    progress = rubric.check(LOOP_CHECK)
    rows = int(progress.value("progress_rows", data.kind))
    per_epoch = -(-rows // declared.batch_size)
    epochs = max(1, -(-int(progress.value("progress_iters", data.kind)) // per_epoch))
    calls = [ProbeCall("train_mlp", {"settings": {**declared.params(), "num_epochs": epochs},
                                     "rows": rows})]
    held = rubric.check(TRAIN_CHECK)
    blob, problem = read_checkpoint(grading.submission, str(held.value("checkpoint")),
                                    float(held.value("max_checkpoint_mb")))
    if blob is not None:
        calls.append(ProbeCall("evaluate_checkpoint", {"checkpoint": str(held.value("checkpoint"))},
                               {"checkpoint": np.frombuffer(blob, dtype=np.uint8),
                                "X_test": np.asarray(data.load("X_test"))}))
    runs = grading.probe_calls(PROBES, calls, LOOP_CHECK, params=params, kind=data.kind,
                               data_files=files)
    return Trained(rubric, declared, "", runs[0], data, grading.device_for(QUESTION),
                   grading.probe_runs[-1].progress if grading.probe_runs else None,
                   mode,
                   runs[1] if blob is not None else None, problem)


def _int(run: ProbeRun, key: str) -> int:
    try:
        return int(run.values.get(key, 0))
    except (TypeError, ValueError):
        return 0


def series(run: ProbeRun, key: str) -> np.ndarray:
    """A recorded per-step or per-epoch series as a float array (empty when absent)."""
    value = run.values.get(key)
    return np.zeros(0) if value is None else np.asarray(value, dtype=np.float64).ravel()


def epoch_lrs(run: ProbeRun) -> tuple[np.ndarray, bool]:
    """(learning rate at the first step of each epoch, whether it changed within an epoch)."""
    lrs = series(run, "step_lrs")
    firsts = series(run, "epoch_first_step").astype(int)
    counts = series(run, "epoch_steps").astype(int)
    per_epoch, within = [], False
    for first, count in zip(firsts, counts):
        steps = lrs[first:first + count]
        if len(steps):
            per_epoch.append(steps[0])
            within = within or not np.allclose(steps, steps[0], rtol=1e-9, atol=0.0)
    return np.array(per_epoch), within


def _fmt(values) -> str:
    shown = ", ".join(f"{v:.3g}" for v in values[:4])
    return shown + (", ..." if len(values) > 4 else "")


def loop_findings(run: ProbeRun, learning_rate: float, decay: float, rtol: float
                  ) -> tuple[list[str], list[str]]:
    """(problems, observations) of the training loop, each a line for the student."""
    problems, seen = [], []
    steps, calls = _int(run, "steps"), _int(run, "loss_calls")
    zero_grads, accumulated, judged = (_int(run, k) for k in ("zero_grads", "accumulated", "judged"))
    epochs = len(series(run, "epoch_first_step"))
    if steps == 0:
        problems.append("optimizer.step() was never called, so the weights never changed.\n"
                        "Hint: after loss.backward(), call optimizer.step() in every "
                        "training step.")
    else:
        seen.append(f"{steps} optimizer steps over {epochs} epoch{'s' if epochs != 1 else ''}")
    if calls == 0:
        problems.append("no loss was computed with nn.CrossEntropyLoss (or F.cross_entropy) "
                        "while training.\nHint: compute the loss with criterion = "
                        "nn.CrossEntropyLoss(), as the handout does.")
    losses = series(run, "losses")
    if len(losses) and not np.all(np.isfinite(losses)):
        at = int(np.argmin(np.isfinite(losses)))
        problems.append(f"the loss became NaN or inf at training step {at + 1}.\nHint: lower "
                        "the learning rate.")
    prob = _int(run, "prob_inputs")
    if calls and prob * 2 > calls:
        problems.append(f"the loss was given probabilities: at {prob} of {calls} steps every "
                        "row of its input was in [0, 1] and summed to 1 (a softmax before "
                        "nn.CrossEntropyLoss).\nHint: pass the model's scores (logits) to the "
                        "loss; nn.CrossEntropyLoss applies log-softmax itself.")
    elif calls:
        seen.append("the loss got scores (logits)")
    if judged and accumulated * 2 > judged:
        problems.append(f"the gradients were never cleared: at {accumulated} of {judged} steps "
                        "the gradients still held the previous steps' (zero_grad was called "
                        f"{zero_grads} times).\nHint: call optimizer.zero_grad() in every step, "
                        "before loss.backward().")
    elif judged:
        seen.append(f"gradients cleared before each step (zero_grad called {zero_grads} times)")
    lrs, within = epoch_lrs(run)
    if steps and len(lrs):
        expected = learning_rate * decay ** np.arange(len(lrs))
        if not np.isclose(lrs[0], learning_rate, rtol=rtol, atol=0.0):
            problems.append(f"the first step used learning rate {lrs[0]:.4g}, not the declared "
                            f"learning_rate = {learning_rate:.4g}.\nHint: create the optimizer "
                            "with lr=learning_rate, the argument of train().")
        elif within:
            problems.append("the learning rate changed within an epoch: decay it once per "
                            "epoch, after the last batch, not every step.")
        elif len(lrs) > 1 and decay != 1 and np.allclose(lrs, lrs[0], rtol=rtol, atol=0.0):
            problems.append(f"the learning rate stayed at {lrs[0]:.4g} for all {len(lrs)} "
                            "epochs.\nHint: after each epoch, multiply lr by learning_rate_decay "
                            "and give it to the optimizer (update_lr(optimizer, lr)).")
        elif not np.allclose(lrs, expected, rtol=rtol, atol=0.0):
            problems.append(f"the learning rate per epoch was {_fmt(lrs)}; with learning_rate "
                            f"= {learning_rate:.4g} and learning_rate_decay = {decay:g} it "
                            f"should be {_fmt(expected)}: multiply it by the decay once per epoch.")
        elif len(lrs) > 1:
            seen.append(f"learning rate {lrs[0]:.3g} multiplied by {decay:g} once per epoch "
                        f"(last epoch {lrs[-1]:.3g})")
    return problems, seen


def val_history(run: ProbeRun, labels: np.ndarray) -> list[float]:
    """The grader's validation accuracy after each epoch."""
    stacked = run.values.get("epoch_val_logits")
    if stacked is None:
        return []
    return [accuracy(epoch, labels) for epoch in np.asarray(stacked)]


def _opening(trained: Trained) -> list[str]:
    lines = [mode_line(trained)] if trained.mode == "checkpoint" else []
    lines += [f"Your settings: {trained.settings.describe()}."]
    return lines + [f"Note: {n}" for n in trained.settings.notes]


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the training run gave no result (how far it got, when its time
    budget stopped it), else None."""
    run = trained.run
    if run.failure is None or run.failure.kind not in STOPPED:
        return failure_verdict(run, what="the training run")
    ran_under = TRAIN_CHECK if trained.mode == "retrain" else LOOP_CHECK
    limits = trained.rubric.limits_for(trained.rubric.check(ran_under), trained.data.kind)
    done, total = trained.progress or (0, 0)
    return Verdict(0.0, "\n".join([
        f"the training run was stopped by its time budget of "
        f"{limits.wall_seconds:.0f} s after {done} of {total} training batches.",
        "Hint: the budget is about 8 times what the handout's settings need; train fewer "
        "epochs or a smaller network, keep each step to the training step (no evaluation "
        "of the whole training set every batch), and make sure train() stops after "
        f"num_epochs = {trained.settings.num_epochs} epochs."]))


def judge_loop(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """4b.1: the training loop as observed."""
    if trained.settings is None:
        return Verdict(0.0, trained.problem)
    stopped = _stopped(trained)
    if stopped is not None:
        return Verdict(0.0, "\n".join(_opening(trained) + [stopped.message]))
    run, s = trained.run, trained.settings
    problems, seen = loop_findings(run, s.learning_rate, s.learning_rate_decay,
                                   float(check.value("lr_rtol")))
    feedback.record(steps=_int(run, "steps"), zero_grad_calls=_int(run, "zero_grads"),
                    loss_calls=_int(run, "loss_calls"), epoch_lrs=epoch_lrs(run)[0].tolist(),
                    device=trained.device)
    if trained.mode == "checkpoint":
        feedback.record(mode="checkpoint", loss_history=curve(series(run, "losses")))
        learned, said = progress_findings(trained, check)
        (seen if learned else problems).append(said)
    if problems:
        return Verdict(0.0, "\n".join(_opening(trained) + problems))
    return Verdict(1.0, "\n".join(_opening(trained) + ["Training observed: " + "; ".join(seen) + "."]))


def progress_findings(trained: Trained, check: Check) -> tuple[bool, str]:
    """Checkpoint mode: whether the progress run learned (the mean loss of the last quarter
    of its steps min_loss_drop below the first step's, and the grader's validation
    accuracy of the model it left min_acc_above_chance above chance), and a line saying so."""
    run, data = trained.run, trained.data
    losses = series(run, "losses")
    drop_needed = float(check.value("min_loss_drop", data.kind))
    above = float(check.value("min_acc_above_chance", data.kind))
    labels = np.asarray(data.load("y_val"))
    logits = run.values.get("val_logits")
    acc = accuracy(logits, labels) if logits is not None and np.shape(logits) == (
        len(labels), NUM_CLASSES) else 0.0
    chance = 1.0 / NUM_CLASSES
    if len(losses) < 4 or not np.all(np.isfinite(losses)):
        return False, ("the progress run gave no usable loss curve.\nHint: train() must "
                       "compute the loss with nn.CrossEntropyLoss on every batch.")
    first, last = float(losses[0]), float(np.mean(losses[-max(1, len(losses) // 4):]))
    drop = (first - last) / first if first > 0 else 0.0
    line = (f"progress run ({len(losses)} steps): loss {first:.3f} -> {last:.3f} "
            f"(a {100 * drop:.1f}% drop; at least {100 * drop_needed:.0f}% needed), validation "
            f"accuracy {100 * acc:.1f}% (more than {100 * (chance + above):.0f}% needed)")
    if drop >= drop_needed and acc > chance + above:
        return True, line
    return False, ("the short training run did not learn: " + line + ".\nHint: the grader "
                   "runs your train() with your settings for a few epochs; fix it until a "
                   "fresh model's loss falls.")


def _data_name(data) -> str:
    return "CIFAR-10" if data.kind == "real" else "synthetic CIFAR-format data (not CIFAR-10)"


def judge_accuracy(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """4b.2: the validation accuracy of the trained model, from its logits, against the
    threshold of the data's kind; the test accuracy is recorded and reported."""
    if trained.settings is None:
        return Verdict(0.0, "no usable settings: " + trained.problem)
    stopped = _stopped(trained)
    if stopped is not None:
        return stopped
    run, data = trained.run, trained.data
    opening = [mode_line(trained)] if trained.mode == "checkpoint" else []
    if trained.mode == "checkpoint":
        feedback.record(mode="checkpoint")
        if trained.checkpoint is None:
            return Verdict(0.0, "\n".join(opening + [trained.checkpoint_problem]))
        failed = failure_verdict(trained.checkpoint, what="your checkpoint")
        if failed is not None:
            return Verdict(0.0, "\n".join(opening + [failed.message, "Hint: submit the state "
                                        f"dict `python ex2_pytorch.py` saves ({trained.checkpoint_file}: "
                                        "torch.save(model.state_dict(), ...)) for the "
                                        "declared hidden_size."]))
        if trained.checkpoint_file and check.get("require_progress") and \
                not progress_findings(trained, trained.rubric.check(LOOP_CHECK))[0]:
            return Verdict(0.0, "\n".join(opening + [
                "your checkpoint is not graded because the short run of your train() did "
                "not learn (4b.1 says how it went); require_progress is set."]))
        run = trained.checkpoint
    labels = {"validation": np.asarray(data.load("y_val")), "test": np.asarray(data.load("y_test"))}
    acc = {}
    for split, key in (("validation", "val_logits"), ("test", "test_logits")):
        acc[split], problem = logits_accuracy(
            run.values.get(key), labels[split], NUM_CLASSES,
            f"the trained model's output on the {split} images",
            "training diverged? lower the learning rate")
        if problem:
            return Verdict(0.0, problem)
    threshold = check.value("threshold", data.kind)
    feedback.record(dataset_kind=data.kind, val_accuracy=acc["validation"],
                    test_accuracy=acc["test"], threshold=threshold, device=trained.device,
                    train_seconds=round(trained.run.wall_seconds, 2),
                    peak_rss_mb=trained.run.peak_rss_mb,
                    input_shape=str(run.values.get("input_shape", "")),
                    loss_history=curve(series(trained.run, "losses")),
                    train_acc_history=series(trained.run, "epoch_train_acc").tolist(),
                    val_acc_history=val_history(trained.run, labels["validation"]))
    where = "CUDA" if trained.device == "cuda" else "the CPU"
    how = (f"your checkpoint {trained.checkpoint_file}, evaluated on {where}"
           if trained.mode == "checkpoint" else
           f"in a training run of {run.wall_seconds:.0f} s on {where}")
    lines = opening + [f"on {_data_name(data)}, {how}: "
             + accuracy_line("validation accuracy", acc["validation"], threshold),
             accuracy_line("test accuracy", acc["test"]) + " (reported, not graded)"]
    if acc["validation"] > threshold:
        return Verdict(1.0, "\n".join(lines))
    s = trained.settings
    problems, _ = loop_findings(trained.run, s.learning_rate, s.learning_rate_decay,
                                float(trained.rubric.check(LOOP_CHECK).value("lr_rtol")))
    lines.append("Hint: " + ("fix the training loop first (4b.1): " + problems[0].split("\n")[0]
                             if problems else
                             "tune hidden_size, learning_rate, num_epochs and reg on the "
                             "validation set; the curves in the report show whether the "
                             "model underfits (training and validation accuracy both low) "
                             "or overfits (a large gap)."))
    return Verdict(0.0, "\n".join(lines))
