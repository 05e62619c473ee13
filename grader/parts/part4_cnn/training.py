"""6c, in the grader's process: the sandboxed training run of the student's CNN with
their sup_trn and opt_dict, and what it says (numpy only).

The train_cnn probe builds CNN((3, 32, 32), 10), calls sup_trn(net, trn_loader,
val_loader, opt_dict) with the grader's loaders (images standardised per channel, labels
(B,) int64) and opt_dict['gpu'] set to whether it trains on CUDA, and watches the run from
outside (every loss computed with gradients on, every optimizer step, every training
batch). It returns the weights sup_trn leaves; no test image enters it. A second child,
which never runs sup_trn and sees no label, builds a fresh CNN the same way (its initial
weights come back too), loads those weights and returns the logits of the validation and
test images. The accuracies and the comparison of the weights are computed here.

What is judged: the test images, whose labels never leave the grader. The handout's
sup_trn gets the validation labels (val_loader), so the validation accuracy is reported,
never judged. 6c.1 needs, besides the observed steps and falling loss (which only the
training child saw, so they only give hints and gate), weights that changed and a test
accuracy above chance, both computed here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import settings
from .steps import NUM_CLASSES, PROBES
from ...core.engine.context import Feedback, GradingContext, ProbeCall, failure_verdict
from ...core.engine.judge import Verdict, changed_entries, curve, prefixed, split_accuracies
from ...core.rubric.spec import Check, Rubric
from ...core.sandbox.runner import ProbeRun
from ...core.submission.files import read_capped

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
    evaluation: ProbeRun | None = None  # the weights sup_trn left, evaluated in a child
    #   that never ran it: their initial values and the validation and test logits

    @property
    def checkpoint_file(self) -> str:
        return str(self.rubric.check(TRAIN_CHECK).get("checkpoint", ""))


def evaluate_call(run: ProbeRun, test: np.ndarray, rows: int | None = None) -> ProbeCall | None:
    """The evaluation of the weights a training run left (its "state/NAME" arrays) on the
    validation and test images, or None when the run gave none."""
    state = {k: v for k, v in run.values.items() if k.startswith("state/")}
    if run.failure is not None or not state:
        return None
    return ProbeCall("evaluate_state", {} if rows is None else {"rows": rows},
                     {**state, "X_test": test})


def weights_changed(run: ProbeRun, evaluation: ProbeRun) -> tuple[int, int]:
    """(entries of the state dict that differ from a fresh CNN's, entries compared): the
    training run's "state/NAME" arrays against the evaluation's "initial/NAME"."""
    return changed_entries(prefixed(run.values, "state/"), prefixed(evaluation.values, "initial/"))


def train_submission(grading: GradingContext) -> Trained:
    """Reads opt_dict and runs the student's sup_trn on the grader's data in one sandboxed
    child, then evaluates the weights it left in another that never runs it (6c.2's
    limits; in checkpoint mode a progress run, then the evaluation of its weights and of
    the checkpoint in one child, under 6c.1's)."""
    rubric = grading.rubric
    declared, problem = settings.read(grading.submission, rubric.check(LOOP_CHECK))
    if declared is None:
        return Trained(rubric, None, problem)
    data = grading.data()
    files = {k: str(data.files[k]) for k in ("X_train", "y_train", "X_val", "y_val")}
    images = {k: str(data.files[k]) for k in ("X_train", "X_val")}  # no label
    test = np.asarray(data.load("X_test"))
    params = {"opt_dict": declared.values, "seed": rubric.seed}
    device = grading.device_for(QUESTION)
    mode = rubric.question(QUESTION).mode
    if mode == "retrain":
        run = grading.probe(PROBES, "train_cnn", TRAIN_CHECK, kind=data.kind, data_files=files,
                            params=params)
        call = evaluate_call(run, test)
        evaluation = None if call is None else grading.probe(
            PROBES, call.function, TRAIN_CHECK, kind=data.kind, data_files=images,
            params=params, inputs=call.inputs)
        return Trained(rubric, declared, "", run, data, device, run.progress,
                       evaluation=evaluation)
    progress = rubric.check(LOOP_CHECK)
    rows = int(progress.value("progress_rows", data.kind))
    per_epoch = -(-rows // declared.tbs)
    epochs = max(1, -(-int(progress.value("progress_iters", data.kind)) // per_epoch))
    run = grading.probe(PROBES, "train_cnn", LOOP_CHECK, kind=data.kind, data_files=files,
                        params={**params, "rows": rows,
                                "opt_dict": {**declared.values, "num_epochs": epochs}})
    ran = run.progress
    first = evaluate_call(run, test, rows)
    calls = [] if first is None else [first]
    held = rubric.check(TRAIN_CHECK)
    name = str(held.value("checkpoint"))
    blob, problem = read_capped(grading.submission, name, float(held.value("max_checkpoint_mb")))
    if blob is None:
        problem += (".\nHint: submit " + name + ", the state dict `python main.py` saves "
                    "(torch.save(net.state_dict(), ...)), next to main.py.")
    else:
        calls.append(ProbeCall("evaluate_checkpoint", {"checkpoint": name},
                               {"checkpoint": np.frombuffer(blob, dtype=np.uint8),
                                "X_test": test}))
    runs = grading.probe_calls(PROBES, calls, LOOP_CHECK, params=params, kind=data.kind,
                               data_files=images) if calls else []
    evaluation = runs.pop(0) if first is not None else None
    return Trained(rubric, declared, "", run, data, device, ran, mode,
                   runs[0] if blob is not None else None, problem, evaluation)


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


def evaluated(trained: Trained) -> tuple[dict[str, float] | None, int, int, str]:
    """({"validation": accuracy, "test": accuracy}, state dict entries sup_trn changed,
    entries) of the weights the training run left, as the evaluation child found them;
    None, with what went wrong, when there are none. Labels and comparison are the grader's."""
    evaluation = trained.evaluation
    if evaluation is None:
        return None, 0, 0, "sup_trn left a network without weights to evaluate."
    failed = failure_verdict(evaluation, what="the weights sup_trn left, loaded into a fresh "
                                              "CNN((3, 32, 32), 10) to be evaluated")
    if failed is not None:
        return None, 0, 0, failed.message
    changed, total = weights_changed(trained.run, evaluation)
    acc, problem = cnn_accuracies(trained.data, evaluation)
    return acc, changed, total, problem


def cnn_accuracies(data, run: ProbeRun) -> tuple[dict[str, float] | None, str]:
    """The grader's validation and test accuracy of a run's logits, or (None, what is wrong)."""
    labels = {"validation": np.asarray(data.load("y_val")), "test": np.asarray(data.load("y_test"))}
    return split_accuracies(run.values, labels, NUM_CLASSES, "the trained CNN",
                            "training diverged? lower opt_dict['lr']")


UNCHANGED = ("sup_trn left the network's weights as they were built (none of the {total} "
             "entries of its state dict changed), so nothing it did counts.\nHint: train "
             "the net sup_trn is given, in place: its optimizer must hold net.parameters(), "
             "not those of a copy or of another tensor.")


def learning(trained: Trained, check: Check) -> tuple[bool, str]:
    """(whether the run learned, a line saying so): it took optimizer steps, its losses
    are finite and the mean loss of its last quarter of steps is min_loss_drop below the
    first step's (what the training child saw), and, computed by the grader, the weights
    it left differ from the initial ones and beat chance on the test images by
    min_acc_above_chance (evaluated in a child that never ran sup_trn)."""
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
    acc, changed, total, problem = evaluated(trained)
    if acc is None:
        return False, problem
    if not changed:
        return False, UNCHANGED.format(total=total)
    need = float(check.value("min_loss_drop", kind))
    first, last = float(losses[0]), float(np.mean(losses[-max(1, len(losses) // 4):]))
    drop = (first - last) / first if first > 0 else 0.0
    above = 1.0 / NUM_CLASSES + float(check.value("min_acc_above_chance", kind))
    line = (f"{steps} optimizer steps; loss {first:.3f} at the first step, {last:.3f} over "
            f"the last quarter (a {100 * drop:.1f}% drop; at least {100 * need:.0f}% needed); "
            f"{changed} of {total} entries of the state dict changed; test accuracy of the "
            f"weights it left {100 * acc['test']:.1f}% (more than {100 * above:.0f}% needed; "
            "computed by the grader)")
    if drop >= need and acc["test"] > above:
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
    data = trained.data
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
        (acc, problem), changed, total = cnn_accuracies(data, trained.checkpoint), 1, 0
    else:
        acc, changed, total, problem = evaluated(trained)
    if acc is None:
        return Verdict(0.0, "\n".join(opening + [problem]))
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
        f"{100 * threshold:.1f}%; judged: the grader's test images, whose labels no sandbox "
        "sees)",
        f"validation accuracy {100 * acc['validation']:.1f}% (reported, not graded: "
        "sup_trn gets the validation labels; the test labels never leave the grader)"]
    if not changed:
        return Verdict(0.0, "\n".join(lines + [UNCHANGED.format(total=total)]))
    if acc["test"] >= threshold:
        return Verdict(1.0, "\n".join(lines))
    learned, said = learning(trained, trained.rubric.check(LOOP_CHECK))
    lines.append("Hint: " + ("fix the training first (6c.1): " + said.split("\n")[0]
                             if not learned else
                             "more epochs, more channels or a tuned learning rate; the "
                             "validation accuracy shows whether the network underfits."))
    return Verdict(0.0, "\n".join(lines))
