"""6c, in the grader's process: the sandboxed training run of the student's CNN with
their sup_trn and opt_dict, and what it says (numpy only).

The train_cnn probe builds CNN((3, 32, 32), 10), calls sup_trn(net, trn_loader,
val_loader, opt_dict) with the grader's loaders (images standardised per channel, labels
(B,) int64) and opt_dict['gpu'] set to whether it trains on CUDA, and watches the run from
outside (every loss computed with gradients on, every optimizer step, every training
batch). It returns the logits of the validation and test images; the accuracies are
computed here, and the test labels never leave the grader.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import settings
from .steps import NUM_CLASSES, PROBES
from ...core.grading import Feedback, GradingContext, ProbeCall, failure_verdict
from ...core.judge import Verdict, accuracy, curve, logits_accuracy
from ...core.rubric import Check, Rubric
from ...core.sandbox import ProbeRun
from ...core.submitted_files import read_capped

QUESTION, LOOP_CHECK, TRAIN_CHECK = "6c", "6c.1", "6c.2"
STOPPED = ("timeout", "cpu")  # failure kinds of a run its time budget stopped
CUDA_WORDS = ("cuda", "nvidia", "gpu")  # in the message of a crash that needed a GPU


@dataclass(frozen=True)
class Trained:
    """The sandboxed training run both 6c checks judge."""

    rubric: Rubric  # the run's rubric
    settings: settings.Settings | None  # opt_dict as used, when valid
    problem: str  # what is wrong with opt_dict, else ''
    run: ProbeRun | None = None  # the training run (a progress run in checkpoint mode)
    data: object | None = None  # grader.data.prepare.PreparedData
    device: str = "cpu"  # where it trained: "cpu" or "cuda"
    progress: tuple[int, int] | None = None  # (training batches done, planned), last reported
    mode: str = "retrain"  # the rubric's mode for 6c
    checkpoint: ProbeRun | None = None  # checkpoint mode: the submitted weights, evaluated
    checkpoint_problem: str = ""  # checkpoint mode: why the file could not be evaluated

    @property
    def checkpoint_file(self) -> str:
        return str(self.rubric.check(TRAIN_CHECK).get("checkpoint", ""))


def train_submission(grading: GradingContext) -> Trained:
    """Reads opt_dict and runs the student's sup_trn on the grader's data in one sandboxed
    child (6c.2's limits; in checkpoint mode a progress run and the checkpoint's
    evaluation in one child under 6c.1's)."""
    rubric = grading.rubric
    declared, problem = settings.read(grading.submission, rubric.check(LOOP_CHECK))
    if declared is None:
        return Trained(rubric, None, problem)
    data = grading.data()
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    params = {"opt_dict": declared.values, "seed": rubric.seed}
    device = grading.device_for(QUESTION)
    mode = rubric.question(QUESTION).mode
    if mode == "retrain":
        run = grading.probe(PROBES, "train_cnn", TRAIN_CHECK, kind=data.kind, data_files=files,
                            params=params, inputs={"X_test": np.asarray(data.load("X_test"))})
        return Trained(rubric, declared, "", run, data, device, run.progress)
    progress = rubric.check(LOOP_CHECK)
    rows = int(progress.value("progress_rows", data.kind))
    per_epoch = -(-rows // declared.tbs)
    epochs = max(1, -(-int(progress.value("progress_iters", data.kind)) // per_epoch))
    calls = [ProbeCall("train_cnn", {"opt_dict": {**declared.values, "num_epochs": epochs},
                                     "rows": rows})]
    held = rubric.check(TRAIN_CHECK)
    name = str(held.value("checkpoint"))
    blob, problem = read_capped(grading.submission, name, float(held.value("max_checkpoint_mb")))
    if blob is None:
        problem += (".\nHint: submit " + name + ", the state dict `python main.py` saves "
                    "(torch.save(net.state_dict(), ...)), next to main.py.")
    else:
        calls.append(ProbeCall("evaluate_checkpoint", {"checkpoint": name},
                               {"checkpoint": np.frombuffer(blob, dtype=np.uint8),
                                "X_test": np.asarray(data.load("X_test"))}))
    runs = grading.probe_calls(PROBES, calls, LOOP_CHECK, params=params, kind=data.kind,
                               data_files=files)
    return Trained(rubric, declared, "", runs[0], data, device,
                   grading.probe_runs[-1].progress if grading.probe_runs else None, mode,
                   runs[1] if blob is not None else None, problem)


def _series(run: ProbeRun, key: str) -> np.ndarray:
    value = run.values.get(key)
    return np.zeros(0) if value is None else np.asarray(value, dtype=np.float64).ravel()


def _int(run: ProbeRun, key: str) -> int:
    try:
        return int(run.values.get(key, 0))
    except (TypeError, ValueError):
        return 0


def _opening(trained: Trained) -> list[str]:
    lines = []
    if trained.mode == "checkpoint":
        lines.append("Mode: checkpoint (the grader evaluates the state dict you submitted in "
                     f"{trained.checkpoint_file}; a short run of your sup_trn must learn).")
    lines.append(f"Your opt_dict: {trained.settings.describe()}.")
    return lines + [f"Note: {n}." for n in trained.settings.notes]


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the training run gave no result (how far it got when its time
    budget stopped it; a hint when it needed a GPU), else None."""
    run = trained.run
    if run.failure is None:
        return None
    if run.failure.kind not in STOPPED:
        verdict = failure_verdict(run, what="the training run")
        if trained.device == "cpu" and any(w in run.failure.message.lower() for w in CUDA_WORDS):
            verdict = Verdict(0.0, verdict.message + "\nHint: the grader trains on the CPU "
                              "here and sets opt_dict['gpu'] = False: call .cuda() only when "
                              "opt_dict['gpu'] is True.")
        return verdict
    ran_under = TRAIN_CHECK if trained.mode == "retrain" else LOOP_CHECK
    limits = trained.rubric.limits_for(trained.rubric.check(ran_under), trained.data.kind)
    done, total = trained.progress or (0, 0)
    return Verdict(0.0, "\n".join([
        f"the training run was stopped by its time budget of {limits.wall_seconds:.0f} s "
        f"after {done} of {total} training batches.",
        "Hint: the budget is about 8 times what the handout's opt_dict needs; use fewer "
        "epochs or channels, validate less often (val_cycle), and make sure sup_trn stops "
        f"after num_epochs = {trained.settings.num_epochs} epochs."]))


def learning(trained: Trained, check: Check) -> tuple[bool, str]:
    """(whether the run learned, a line saying so): it took optimizer steps, its losses
    are finite, and the mean loss of its last quarter of steps is min_loss_drop below the
    first step's; in checkpoint mode the network it leaves also beats chance on the
    validation images by min_acc_above_chance."""
    run, kind = trained.run, trained.data.kind
    losses, steps = _series(run, "losses"), _int(run, "steps")
    if steps == 0:
        return False, ("the optimizer never stepped (no optimizer.step() call), so the "
                       "weights never changed.\nHint: opt.step() after train_loss.backward(), "
                       "in every training step.")
    if len(losses) < 4:
        return False, (f"{len(losses)} training losses were computed with nn.CrossEntropyLoss "
                       "(or F.cross_entropy) over the whole run.\nHint: compute the mini-batch "
                       "loss with criterion = nn.CrossEntropyLoss() in every step.")
    if not np.all(np.isfinite(losses)):
        at = int(np.argmin(np.isfinite(losses)))
        return False, (f"the loss became NaN or inf at training step {at + 1}.\nHint: lower "
                       "opt_dict['lr'].")
    need = float(check.value("min_loss_drop", kind))
    first, last = float(losses[0]), float(np.mean(losses[-max(1, len(losses) // 4):]))
    drop = (first - last) / first if first > 0 else 0.0
    line = (f"{steps} optimizer steps; loss {first:.3f} at the first step, {last:.3f} over "
            f"the last quarter (a {100 * drop:.1f}% drop; at least {100 * need:.0f}% needed)")
    ok = drop >= need
    if trained.mode == "checkpoint":
        labels = np.asarray(trained.data.load("y_val"))
        logits = run.values.get("val_logits")
        acc = accuracy(logits, labels) if logits is not None and np.shape(logits) == (
            len(labels), NUM_CLASSES) else 0.0
        above = 1.0 / NUM_CLASSES + float(check.value("min_acc_above_chance", kind))
        line += f"; validation accuracy {100 * acc:.1f}% (more than {100 * above:.0f}% needed)"
        ok = ok and acc > above
    if ok:
        return True, line
    return False, ("the training run did not learn: " + line + ".\nHint: check the training "
                   "step (zero_grad, forward, loss, backward, step) and the learning rate.")


def judge_learning(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """6c.1: opt_dict is valid and sup_trn trains on the grader's loaders."""
    if trained.settings is None:
        return Verdict(0.0, trained.problem)
    stopped = _stopped(trained)
    if stopped is not None:
        return Verdict(0.0, "\n".join(_opening(trained) + [stopped.message]))
    run = trained.run
    feedback.record(steps=_int(run, "steps"), batches=_int(run, "batches"),
                    device=trained.device, mode=trained.mode,
                    loss_history=curve(_series(run, "losses")))
    ok, line = learning(trained, check)
    if run.values.get("inp_dim") == "3":
        line += " (CNN(3, 10) used: CNN((3, 32, 32), 10) failed)"
    return Verdict(1.0 if ok else 0.0, "\n".join(_opening(trained) + [
        ("sup_trn trained: " if ok else "") + line + ("." if ok else "")]))


def _data_name(data) -> str:
    return "CIFAR-10" if data.kind == "real" else "synthetic CIFAR-format data (not CIFAR-10)"


def judge_accuracy(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """6c.2: the test accuracy of the trained CNN, from its logits, against the threshold
    of the data's kind (at least it); the validation accuracy is reported."""
    if trained.settings is None:
        return Verdict(0.0, "no usable opt_dict: " + trained.problem)
    stopped = _stopped(trained)
    if stopped is not None:
        return stopped
    run, data = trained.run, trained.data
    opening = _opening(trained)[:1] if trained.mode == "checkpoint" else []
    if trained.mode == "checkpoint":
        feedback.record(mode="checkpoint")
        if trained.checkpoint is None:
            return Verdict(0.0, "\n".join(opening + [trained.checkpoint_problem]))
        failed = failure_verdict(trained.checkpoint, what="your checkpoint")
        if failed is not None:
            return Verdict(0.0, "\n".join(opening + [failed.message, "Hint: submit the state "
                                                     f"dict of your CNN ({trained.checkpoint_file}: "
                                                     "torch.save(net.state_dict(), ...))."]))
        if check.get("require_progress") and not learning(
                trained, trained.rubric.check(LOOP_CHECK))[0]:
            return Verdict(0.0, "\n".join(opening + [
                "your checkpoint is not graded because the short run of your sup_trn did not "
                "learn (6c.1 says how it went); require_progress is set."]))
        run = trained.checkpoint
    labels = {"validation": np.asarray(data.load("y_val")), "test": np.asarray(data.load("y_test"))}
    acc = {}
    for split, key in (("validation", "val_logits"), ("test", "test_logits")):
        acc[split], problem = logits_accuracy(
            run.values.get(key), labels[split], NUM_CLASSES,
            f"the trained CNN's output on the {split} images",
            "training diverged? lower opt_dict['lr']")
        if problem:
            return Verdict(0.0, problem)
    threshold = float(check.value("threshold", data.kind))
    feedback.record(dataset_kind=data.kind, test_accuracy=acc["test"],
                    val_accuracy=acc["validation"], threshold=threshold, device=trained.device,
                    train_seconds=round(trained.run.wall_seconds, 2),
                    peak_rss_mb=trained.run.peak_rss_mb)
    where = "CUDA" if trained.device == "cuda" else "the CPU"
    how = (f"your checkpoint {trained.checkpoint_file}, evaluated on {where}"
           if trained.mode == "checkpoint" else
           f"a training run of {trained.run.wall_seconds:.0f} s on {where}")
    lines = opening + [
        f"on {_data_name(data)}, {how}: test accuracy {100 * acc['test']:.1f}% (needs >= "
        f"{100 * threshold:.1f}%)",
        f"validation accuracy {100 * acc['validation']:.1f}% (reported, not graded)"]
    if acc["test"] >= threshold:
        return Verdict(1.0, "\n".join(lines))
    learned, said = learning(trained, trained.rubric.check(LOOP_CHECK))
    lines.append("Hint: " + ("fix the training first (6c.1): " + said.split("\n")[0]
                             if not learned else
                             "more epochs, more channels or a tuned learning rate; the "
                             "validation accuracy shows whether the network underfits."))
    return Verdict(0.0, "\n".join(lines))
