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

from functools import partial

import numpy as np

from . import settings
from .probing import NUM_CLASSES, PROBES, SCALE
from ...core.engine.context import Feedback, failure_verdict
from ...core.engine.judge import (Verdict, accuracy, accuracy_line, curve, shaped,
                                  split_accuracies)
from ...core.engine import training as core
from ...core.engine.training import (NOT_GRADED, Trained, checkpoint_mode, count, data_name,
                                     judges, loss_drop, opening, refused_checkpoint, series,
                                     short_run, stopped_by_budget, where)
from ...core.rubric.spec import Check
from ...core.sandbox.runner import ProbeRun

QUESTION, LOOP_CHECK, TRAIN_CHECK = "4b", "4b.1", "4b.2"


def _checkpoint_hint(name: str, over_cap: bool) -> str:
    return ("save model.state_dict() only (no optimizer state), with the declared hidden_size"
            if over_cap else
            f"submit {name}, the state dict `python ex2_pytorch.py` saves "
            "(torch.save(model.state_dict(), ...)) from your best epoch, next to ex2_pytorch.py")


read_checkpoint = partial(core.read_checkpoint, hint=_checkpoint_hint)
# train_mlp gets the test images too (the model's logits are judged); in checkpoint mode
# the submitted state dict is evaluated in a child of its own
TRAINING = core.Training(
    QUESTION, LOOP_CHECK, TRAIN_CHECK, PROBES, "train_mlp", settings.read,
    lambda s, data, seed, rows: {"settings": s.params(), "seed": seed, "scale": SCALE,
                                 "num_classes": data.num_classes},
    read_checkpoint=read_checkpoint, test_in_training=True, eval_keys=("X_val",))
train_submission = TRAINING.train  # (grading) -> Trained: 4b.2's limits (4b.1's: checkpoint)


def _mode(trained: Trained) -> list[str]:
    """The checkpoint mode's line, in that mode."""
    return [checkpoint_mode(trained, "state dict", "train() must show learning")] \
        if trained.mode == "checkpoint" else []


def epoch_lrs(run: ProbeRun) -> tuple[np.ndarray, bool]:
    """(learning rate at the first step of each epoch, whether it changed within an epoch)."""
    lrs = series(run, "step_lrs")
    firsts = series(run, "epoch_first_step").astype(int)
    counts = series(run, "epoch_steps").astype(int)
    per_epoch, within = [], False
    for first, n in zip(firsts, counts):
        steps = lrs[first:first + n]
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
    steps, calls = count(run, "steps"), count(run, "loss_calls")
    zero_grads, accumulated, judged = (count(run, k)
                                       for k in ("zero_grads", "accumulated", "judged"))
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
    prob = count(run, "prob_inputs")
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
    val_steps, val_passes = count(run, "val_steps"), count(run, "val_passes")
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
    return _mode(trained) + opening(trained.settings)


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the training run gave no result (how far it got, when its time
    budget stopped it), else None."""
    return stopped_by_budget(trained, TRAINING.run_check(trained.mode), (
        "the budget is about 8 times what the handout's settings need; train fewer "
        "epochs or a smaller network, keep each step to the training step (no evaluation "
        "of the whole training set every batch), and make sure train() stops after "
        f"num_epochs = {trained.settings.num_epochs} epochs.")) or failure_verdict(
            trained.run, what="the training run")


def _loop_problems(trained: Trained, check: Check) -> tuple[list[str], list[str]]:
    """loop_findings of the run, with the declared settings and the check's tolerances."""
    s = trained.settings
    return loop_findings(trained.run, s.learning_rate, s.learning_rate_decay,
                         float(check.value("lr_rtol")), int(check.value("max_accumulated_steps")))


@judges(_stopped, head=_opening)
def judge_loop(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """4b.1: the training loop as observed, and what the grader computed of the model it
    left (it changed, it beats chance on the test images, it outputs scores)."""
    run = trained.run
    problems, seen = _loop_problems(trained, check)
    feedback.record(steps=count(run, "steps"), zero_grad_calls=count(run, "zero_grads"),
                    loss_calls=count(run, "loss_calls"), epoch_lrs=epoch_lrs(run)[0].tolist(),
                    accumulated_steps=count(run, "accumulated"),
                    val_loader_steps=count(run, "val_steps"), device=trained.device)
    if trained.mode == "checkpoint":
        feedback.record(mode="checkpoint", loss_history=curve(series(run, "losses")))
        learned, said = progress_findings(trained, check, feedback)
    else:
        learned, said = model_findings(trained, check, feedback)
    if learned or count(run, "steps"):  # no step at all: the loop's finding says it already
        (seen if learned else problems).append(said)
    if problems:
        return Verdict(0.0, "\n".join(_opening(trained) + problems))
    return Verdict(1.0, "\n".join(_opening(trained)
                                  + ["Training observed: " + "; ".join(seen) + "."]))


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
        short = short_run(trained.settings.params(), settings.SPEC.defaults()) \
            if trained.mode == "retrain" else ""
        return False, ("the trained model barely beats chance: " + line + ".\nHint: " + short
                       + "the weights changed but did not learn: compute the loss on the model's "
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
    first, last, drop = loss_drop(losses)
    line = (f"progress run ({len(losses)} steps): loss {first:.3f} -> {last:.3f} "
            f"(a {100 * drop:.1f}% drop; at least {100 * drop_needed:.0f}% needed)")
    learned, said = model_findings(trained, check, feedback)
    if drop >= drop_needed and learned:
        return True, line + "; " + said
    return False, ("the short training run did not learn: " + line + ".\n"
                   + (said if not learned else "Hint: the grader runs your train() with your "
                      "settings for a few epochs; fix it until a fresh model's loss falls."))


JUDGED = ("judged: the test images' labels never reach your code, while train() gets the "
          "validation labels through val_loader")


@judges(_stopped, "no usable settings: ")
def judge_accuracy(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """4b.2: the test accuracy of the trained model (checkpoint mode: of the submitted
    state dict, evaluated in a child that never ran train()), from its logits, against the
    threshold of the data's kind; the validation accuracy, the handout's measure, is
    recorded and reported."""
    run, data = trained.run, trained.data
    head = _mode(trained)
    if trained.mode == "checkpoint":
        feedback.record(mode="checkpoint")
        refused = refused_checkpoint(trained, (
            f"submit the state dict `python ex2_pytorch.py` saves ({trained.checkpoint_file}: "
            "torch.save(model.state_dict(), ...)) for the declared hidden_size."))
        if refused is None and trained.checkpoint_file and check.get("require_progress") \
                and not progress_findings(trained, trained.rubric.check(LOOP_CHECK))[0]:
            refused = [NOT_GRADED.format(code="train()", check=LOOP_CHECK)]
        if refused is not None:
            return Verdict(0.0, "\n".join(head + refused))
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
    how = (f"your checkpoint {trained.checkpoint_file}, evaluated on {where(trained.device)}"
           if trained.mode == "checkpoint" else
           f"in a training run of {run.wall_seconds:.0f} s on {where(trained.device)}")
    lines = head + [f"on {data_name(data)}, {how}: "
             + accuracy_line("test accuracy", acc["test"], threshold) + f" ({JUDGED})",
             accuracy_line("validation accuracy", acc["validation"])
             + " (the handout's measure; reported, not graded)"]
    if acc["test"] > threshold:
        return Verdict(1.0, "\n".join(lines))
    loop = trained.rubric.check(LOOP_CHECK)
    problems, _ = _loop_problems(trained, loop)
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
