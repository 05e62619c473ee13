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

from functools import partial

import numpy as np

from . import settings
from .probing import NUM_CLASSES, PROBES
from ...core.engine.context import Feedback, failure_verdict
from ...core.engine.judge import Verdict, curve, split_accuracies
from ...core.engine import training as core
from ...core.engine.training import (NOT_GRADED, Trained, checkpoint_mode, count, data_name,
                                     evaluation_problem, judges, loss_drop, opening,
                                     refused_checkpoint, series, short_run, state_changed,
                                     stopped_by_budget, where)
from ...core.rubric.spec import Check
from ...core.sandbox.runner import ProbeRun

QUESTION, LOOP_CHECK, TRAIN_CHECK = "6c", "6c.1", "6c.2"
CUDA_WORDS = ("cuda", "nvidia", "gpu")  # in the message of a crash that needed a GPU


# train_cnn returns the weights sup_trn left; a child that never runs sup_trn and sees no
# label evaluates them (and, in checkpoint mode, the submitted state dict)
TRAINING = core.Training(
    QUESTION, LOOP_CHECK, TRAIN_CHECK, PROBES, "train_cnn", settings.read,
    lambda s, data, seed, rows: {"opt_dict": s.values, "seed": seed},
    read_checkpoint=partial(core.read_checkpoint, hint=lambda name, over_cap: (
        f"submit {name}, the state dict `python main.py` saves "
        "(torch.save(net.state_dict(), ...)), next to main.py")),
    evaluates_state=True, eval_keys=("X_train", "X_val"), settings_key="opt_dict",
    batch_key="tbs")
train_submission = TRAINING.train  # (grading) -> Trained: 6c.2's limits (6c.1's: checkpoint)


def _opening(trained: Trained) -> list[str]:
    mode = [checkpoint_mode(trained, "state dict", "sup_trn must learn")]
    return (mode if trained.mode == "checkpoint" else []) + opening(
        trained.settings, "opt_dict", ".")


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the training run gave no result (how far it got when its time
    budget stopped it; a hint when it needed a GPU), else None."""
    stopped = stopped_by_budget(trained, TRAINING.run_check(trained.mode), (
        "the budget is about 8 times what the handout's opt_dict needs; use fewer "
        "epochs or channels, validate less often (val_cycle), and make sure sup_trn stops "
        f"after num_epochs = {trained.settings.num_epochs} epochs."))
    if stopped is not None:
        return stopped
    verdict = failure_verdict(trained.run, what="the training run")
    if verdict is not None and trained.device == "cpu" and any(
            w in trained.run.failure.message.lower() for w in CUDA_WORDS):
        verdict = Verdict(0.0, verdict.message + "\nHint: the grader trains on the CPU "
                          "here and sets opt_dict['gpu'] = False: call .cuda() only when "
                          "opt_dict['gpu'] is True.")
    return verdict


def evaluated(trained: Trained) -> tuple[dict[str, float] | None, int, int, str]:
    """({"validation": accuracy, "test": accuracy}, state dict entries sup_trn changed,
    entries) of the weights the training run left, as the evaluation child found them;
    None, with what went wrong, when there are none. Labels and comparison are the grader's."""
    problem = evaluation_problem(trained, "sup_trn left a network without weights to evaluate.",
                                 "the weights sup_trn left, loaded into a fresh "
                                 "CNN((3, 32, 32), 10) to be evaluated")
    if problem:
        return None, 0, 0, problem
    acc, problem = cnn_accuracies(trained.data, trained.evaluation)
    return (acc, *state_changed(trained), problem)


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
    losses, steps = series(run, "losses"), count(run, "steps")
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
    first, last, drop = loss_drop(losses)
    above = 1.0 / NUM_CLASSES + float(check.value("min_acc_above_chance", kind))
    line = (f"{steps} optimizer steps; loss {first:.3f} at the first step, {last:.3f} over "
            f"the last quarter (a {100 * drop:.1f}% drop; at least {100 * need:.0f}% needed); "
            f"{changed} of {total} entries of the state dict changed; test accuracy of the "
            f"weights it left {100 * acc['test']:.1f}% (more than {100 * above:.0f}% needed; "
            "computed by the grader)")
    if drop >= need and acc["test"] > above:
        return True, line
    short = short_run(trained.settings.values, settings.SPEC.defaults(), "tbs") \
        if trained.mode == "retrain" else ""
    return False, ("the training run did not learn: " + line + ".\nHint: " + short
                   + "check the training step (zero_grad, forward, loss, backward, step) and "
                   "the learning rate.")


@judges(_stopped, head=_opening)
def judge_learning(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """6c.1: opt_dict is valid and sup_trn trains on the grader's loaders."""
    run = trained.run
    feedback.record(steps=count(run, "steps"), batches=count(run, "batches"),
                    device=trained.device, mode=trained.mode,
                    loss_history=curve(series(run, "losses")))
    ok, line = learning(trained, check)
    if run.values.get("inp_dim") == "3":
        line += " (CNN(3, 10) used: CNN((3, 32, 32), 10) failed)"
    return Verdict(1.0 if ok else 0.0, "\n".join(_opening(trained) + [
        ("sup_trn trained: " if ok else "") + line + ("." if ok else "")]))


@judges(_stopped, "no usable opt_dict: ")
def judge_accuracy(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """6c.2: the test accuracy of the trained CNN, from its logits, against the threshold
    of the data's kind (at least it); the validation accuracy is reported."""
    data = trained.data
    head = _opening(trained)[:1] if trained.mode == "checkpoint" else []
    if trained.mode == "checkpoint":
        feedback.record(mode="checkpoint")
        refused = refused_checkpoint(trained, "submit the state dict of your CNN ("
                                     f"{trained.checkpoint_file}: "
                                     "torch.save(net.state_dict(), ...)).")
        if refused is None and check.get("require_progress") and not learning(
                trained, trained.rubric.check(LOOP_CHECK))[0]:
            refused = [NOT_GRADED.format(code="sup_trn", check=LOOP_CHECK)]
        if refused is not None:
            return Verdict(0.0, "\n".join(head + refused))
        (acc, problem), changed, total = cnn_accuracies(data, trained.checkpoint), 1, 0
    else:
        acc, changed, total, problem = evaluated(trained)
    if acc is None:
        return Verdict(0.0, "\n".join(head + [problem]))
    threshold = float(check.value("threshold", data.kind))
    feedback.record(dataset_kind=data.kind, test_accuracy=acc["test"],
                    val_accuracy=acc["validation"], threshold=threshold, device=trained.device,
                    train_seconds=round(trained.run.wall_seconds, 2),
                    peak_rss_mb=trained.run.peak_rss_mb)
    how = (f"your checkpoint {trained.checkpoint_file}, evaluated on {where(trained.device)}"
           if trained.mode == "checkpoint" else
           f"a training run of {trained.run.wall_seconds:.0f} s on {where(trained.device)}")
    lines = head + [
        f"on {data_name(data)}, {how}: test accuracy {100 * acc['test']:.1f}% (needs >= "
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
