"""4b, in the grader's process: what the observed training run says about the student's
training loop, and the accuracies of the trained model (numpy only).

The train_mlp probe watches the student's train() from outside: each loss computed with
gradients on (its value, whether its input rows were probabilities), each optimizer step
(the learning rate; whether the tracked parameter's gradient still held the previous
step's; whether it followed a batch of val_loader), each zero_grad, and each pass over the
loaders (an epoch when it took steps). Those observations live in the student's process,
so they are hints; what earns points is computed here from the logits the probe returns:
the test images' (their labels never enter a sandbox) before and after train(), which say
whether training changed the model and whether it beats chance, and whose accuracy 4b.2
judges. The validation accuracy, the handout's measure, is reported: train() receives the
validation labels through val_loader, so it can be trained on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import settings
from .steps import NUM_CLASSES, PROBES, SCALE
from ...core.engine.context import Feedback, GradingContext, failure_verdict
from ...core.engine.judge import (Verdict, accuracy, accuracy_line, curve, shaped,
                                  split_accuracies)
from ...core.rubric.spec import Check, Rubric
from ...core.sandbox.runner import ProbeRun
from ...core.submission.files import read_capped

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
    one sandboxed child under 4b.2's limits; the test images go in, their labels stay here.
    In checkpoint mode, the progress run and the submitted state dict's evaluation run in
    two children: the logits judged come from one that never ran the student's train()."""
    rubric = grading.rubric
    declared, problem = settings.read(grading.submission, rubric.check(LOOP_CHECK))
    if declared is None:
        return Trained(rubric, None, problem)
    data = grading.data()
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    params = {"settings": declared.params(), "seed": rubric.seed, "scale": SCALE,
              "num_classes": data.num_classes}
    test_images = {"X_test": np.asarray(data.load("X_test"))}
    mode = rubric.question(QUESTION).mode
    if mode == "retrain":
        run = grading.probe(PROBES, "train_mlp", TRAIN_CHECK, kind=data.kind, data_files=files,
                            params=params, inputs=test_images)
        return Trained(rubric, declared, "", run, data, grading.device_for(QUESTION),
                       run.progress)
    # checkpoint mode: a short progress run (4b.1's progress_* keys: progress_iters
    # training steps, whole epochs, on the first progress_rows rows) under 4b.1's limits,
    # then the submitted state dict evaluated in a child of its own (no train() ran there)
    progress = rubric.check(LOOP_CHECK)
    rows = int(progress.value("progress_rows", data.kind))
    per_epoch = -(-rows // declared.batch_size)
    epochs = max(1, -(-int(progress.value("progress_iters", data.kind)) // per_epoch))
    run = grading.probe(PROBES, "train_mlp", LOOP_CHECK, kind=data.kind, data_files=files,
                        params={**params, "settings": {**declared.params(), "num_epochs": epochs},
                                "rows": rows}, inputs=test_images)
    held = rubric.check(TRAIN_CHECK)
    name = str(held.value("checkpoint"))
    blob, problem = read_checkpoint(grading.submission, name,
                                    float(held.value("max_checkpoint_mb")))
    evaluated = None
    if blob is not None:
        evaluated = grading.probe(PROBES, "evaluate_checkpoint", LOOP_CHECK, kind=data.kind,
                                  data_files={"X_val": files["X_val"]},
                                  params={**params, "checkpoint": name},
                                  inputs={"checkpoint": np.frombuffer(blob, dtype=np.uint8),
                                          **test_images})
    return Trained(rubric, declared, "", run, data, grading.device_for(QUESTION),
                   run.progress, mode, evaluated, problem)


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


def loop_findings(run: ProbeRun, learning_rate: float, decay: float, rtol: float,
                  max_accumulated: int = 0) -> tuple[list[str], list[str]]:
    """(problems, observations) of the training loop, each a line for the student.
    max_accumulated: the steps whose gradients may still hold the previous step's (the
    rubric's max_accumulated_steps)."""
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
    if judged and accumulated > max_accumulated:
        never = accumulated >= judged
        problems.append(f"the gradients were {'never' if never else 'not always'} cleared: at "
                        f"{accumulated} of {judged} steps the gradients still held the previous "
                        f"steps' (zero_grad was called {zero_grads} times for {steps} steps)."
                        "\nHint: call optimizer.zero_grad() in every step, before "
                        "loss.backward().")
    elif judged:
        seen.append(f"gradients cleared before each step (zero_grad called {zero_grads} times)")
    val_steps, val_passes = _int(run, "val_steps"), _int(run, "val_passes")
    if val_steps:
        problems.append(f"{val_steps} optimizer steps followed a batch of val_loader: train() "
                        "trains on the validation set.\nHint: take training steps on "
                        "train_loader's batches only; use val_loader to measure (with "
                        "torch.no_grad()), never to train. The grader judges accuracy on test "
                        "images whose labels your code never sees.")
    elif val_passes:
        seen.append(f"val_loader iterated {val_passes} time{'s' if val_passes != 1 else ''}, "
                    "for evaluation only")
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
    """4b.1: the training loop as observed, and what the grader computed of the model it
    left (it changed, it beats chance on the test images, it outputs scores)."""
    if trained.settings is None:
        return Verdict(0.0, trained.problem)
    stopped = _stopped(trained)
    if stopped is not None:
        return Verdict(0.0, "\n".join(_opening(trained) + [stopped.message]))
    run, s = trained.run, trained.settings
    problems, seen = loop_findings(run, s.learning_rate, s.learning_rate_decay,
                                   float(check.value("lr_rtol")),
                                   int(check.value("max_accumulated_steps")))
    feedback.record(steps=_int(run, "steps"), zero_grad_calls=_int(run, "zero_grads"),
                    loss_calls=_int(run, "loss_calls"), epoch_lrs=epoch_lrs(run)[0].tolist(),
                    accumulated_steps=_int(run, "accumulated"),
                    val_loader_steps=_int(run, "val_steps"), device=trained.device)
    if trained.mode == "checkpoint":
        feedback.record(mode="checkpoint", loss_history=curve(series(run, "losses")))
        learned, said = progress_findings(trained, check, feedback)
    else:
        learned, said = model_findings(trained, check, feedback)
    if learned or _int(run, "steps"):  # no step at all: the loop's finding says it already
        (seen if learned else problems).append(said)
    if problems:
        return Verdict(0.0, "\n".join(_opening(trained) + problems))
    return Verdict(1.0, "\n".join(_opening(trained) + ["Training observed: " + "; ".join(seen) + "."]))


def _probabilities(logits: np.ndarray) -> bool:
    """Whether every row of a model's outputs (N, C) is a probability distribution."""
    return bool(logits.size and logits.min() >= -1e-6 and logits.max() <= 1 + 1e-6
                and np.abs(logits.sum(axis=1) - 1).max() < 1e-3)


def model_findings(trained: Trained, check: Check, feedback: Feedback | None = None
                   ) -> tuple[bool, str]:
    """What the grader computes of the model train() left, from the logits of the test
    images (labels here only) before and after train(): whether the model changed, whether
    its test accuracy beats chance by the check's min_acc_above_chance, and whether it
    outputs probabilities (a softmax in forward, which the loss then gets). (passed, line)."""
    run, data = trained.run, trained.data
    labels = np.asarray(data.load("y_test"))
    after, problem = shaped(run.values.get("test_logits"), (len(labels), NUM_CLASSES),
                            "the trained model's output on the test images")
    if problem:
        return False, problem
    before = run.values.get("initial_test_logits")
    # a tolerance: the same model's logits may differ in the last bits between two passes
    # on a GPU
    changed = before is not None and np.shape(before) == after.shape and \
        not np.allclose(np.asarray(before, dtype=np.float64), after, rtol=1e-5, atol=1e-6)
    acc = accuracy(after, labels)
    chance = 1.0 / NUM_CLASSES
    least = chance + float(check.value("min_acc_above_chance", data.kind))
    if feedback is not None:
        feedback.record(test_accuracy=acc, min_test_accuracy=least, model_changed=changed)
    line = (f"the model train() left classifies {100 * acc:.1f}% of the {len(labels)} test "
            f"images correctly, computed by the grader (more than {100 * least:.0f}% needed; "
            "their labels never reach your code)")
    if _probabilities(after):
        return False, ("the model outputs probabilities (every row of its output on the test "
                       "images is in [0, 1] and sums to 1): a softmax at the end of forward, "
                       "so nn.CrossEntropyLoss is given probabilities.\nHint: return the last "
                       "Linear layer's scores (logits); nn.CrossEntropyLoss applies "
                       "log-softmax itself.")
    if not changed:
        return False, ("the model's outputs on the test images after train() are the same as "
                       "before it: training never changed the weights.\nHint: call "
                       "loss.backward() and optimizer.step() on every training batch, with an "
                       "optimizer built on model.parameters().")
    if acc <= least:
        return False, ("the trained model barely beats chance: " + line + ".\nHint: the "
                       "weights changed but did not learn: compute the loss on the model's "
                       "scores for train_loader's batches, call loss.backward() before "
                       "optimizer.step(), and check the learning rate.")
    return True, line


def progress_findings(trained: Trained, check: Check, feedback: Feedback | None = None
                      ) -> tuple[bool, str]:
    """Checkpoint mode: whether the progress run learned (the mean loss of the last quarter
    of its steps min_loss_drop below the first step's, and model_findings: the model
    changed and its test accuracy, computed here, is min_acc_above_chance above chance),
    and a line saying so."""
    run, data = trained.run, trained.data
    losses = series(run, "losses")
    drop_needed = float(check.value("min_loss_drop", data.kind))
    if len(losses) < 4 or not np.all(np.isfinite(losses)):
        return False, ("the progress run gave no usable loss curve.\nHint: train() must "
                       "compute the loss with nn.CrossEntropyLoss on every batch.")
    first, last = float(losses[0]), float(np.mean(losses[-max(1, len(losses) // 4):]))
    drop = (first - last) / first if first > 0 else 0.0
    line = (f"progress run ({len(losses)} steps): loss {first:.3f} -> {last:.3f} "
            f"(a {100 * drop:.1f}% drop; at least {100 * drop_needed:.0f}% needed)")
    learned, said = model_findings(trained, check, feedback)
    if drop >= drop_needed and learned:
        return True, line + "; " + said
    return False, ("the short training run did not learn: " + line + ".\n"
                   + (said if not learned else "Hint: the grader runs your train() with your "
                      "settings for a few epochs; fix it until a fresh model's loss falls."))


def _data_name(data) -> str:
    return "CIFAR-10" if data.kind == "real" else "synthetic CIFAR-format data (not CIFAR-10)"


JUDGED = ("judged: the test images' labels never reach your code, while train() gets the "
          "validation labels through val_loader")


def judge_accuracy(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """4b.2: the test accuracy of the trained model (checkpoint mode: of the submitted
    state dict, evaluated in a child that never ran train()), from its logits, against the
    threshold of the data's kind; the validation accuracy, the handout's measure, is
    recorded and reported."""
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
    acc, problem = split_accuracies(run.values, labels, NUM_CLASSES, "the trained model",
                                    "training diverged? lower the learning rate")
    if problem:
        return Verdict(0.0, problem)
    threshold = check.value("threshold", data.kind)
    feedback.record(dataset_kind=data.kind, val_accuracy=acc["validation"],
                    test_accuracy=acc["test"], threshold=threshold, judged="test_accuracy",
                    device=trained.device,
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
             + accuracy_line("test accuracy", acc["test"], threshold) + f" ({JUDGED})",
             accuracy_line("validation accuracy", acc["validation"])
             + " (the handout's measure; reported, not graded)"]
    if acc["test"] > threshold:
        return Verdict(1.0, "\n".join(lines))
    s, loop = trained.settings, trained.rubric.check(LOOP_CHECK)
    problems, _ = loop_findings(trained.run, s.learning_rate, s.learning_rate_decay,
                                float(loop.value("lr_rtol")),
                                int(loop.value("max_accumulated_steps")))
    if not problems and trained.mode == "retrain":
        learned, said = model_findings(trained, loop)
        problems = [] if learned else [said]
    lines.append("Hint: " + ("fix the training loop first (4b.1): " + problems[0].split("\n")[0]
                             if problems else
                             "tune hidden_size, learning_rate, num_epochs and reg on the "
                             "validation set; the curves in the report show whether the "
                             "model underfits (training and validation accuracy both low) "
                             "or overfits (a large gap)."))
    return Verdict(0.0, "\n".join(lines))
