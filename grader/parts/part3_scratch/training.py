"""5d, in the grader's process: the student's network trained on the prepared data by the
student's train() (probes.train_runs), judged with numpy only.

The grader feeds its prepared rows column-major, divided by 255 (mean-centred pixels, as
the template's load_data_cifar scales them to [0, 1]); test images never enter the
sandbox. Accuracies are computed here from the weights and biases train() leaves, with
the grader's own forward pass and the hidden activation identified from the student's
forward_pass on a few validation columns.

What is judged: the test rows, which no sandbox sees. train() gets the validation
labels (the handout's train(training_data, training_class, val_data, val_class, ...)),
so the validation accuracy is reported, never judged. Both 5d checks also need the
weights train() left to differ from those Network() was built with; the loss the
training child saw only gives hints (5d.1 needs it to fall as well).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import netmath, settings
from .probing import PROBES
from ...core.engine.context import Feedback, failure_verdict
from ...core.engine.judge import Verdict, accuracy_line, changed_entries, curve, shaped
from ...core.engine import training as core
from ...core.engine.training import STOPPED, Trained, data_name, judges, loss_drop, opening
from ...core.rubric.spec import Check
from ...core.sandbox.runner import ProbeRun

SCALE = 1 / 255.0  # prepared (mean-centred) pixels to the template's scale
SETTINGS_CHECK, TRAIN_CHECK = "5d.1", "5d.2"


def per_epoch(rows: int, batch: int) -> int:
    """Steps of one epoch over `rows` columns in minibatches of `batch` (the last may be
    smaller, as in the template)."""
    return -(-rows // batch)


# train_runs trains the network with SETTINGS on every training row, within the budget
# rule (5d.2's budget_* keys) over the grader's own step with the same sizes, optimizer
# and mini_batch_size (netmath.time_training)
TRAINING = core.Training(
    "5d", SETTINGS_CHECK, TRAIN_CHECK, PROBES, "train_runs", settings.read,
    lambda s, data, seed, rows: {"scale": SCALE, "seed": seed, "num_classes": data.num_classes,
                                 "runs": [s.run("best", rows)]},
    timing=lambda s, params, rows: ({"settings": s.run("timing", rows), "scale": SCALE,
                                     "seed": params["seed"]},
                                    s.epochs * per_epoch(rows, s.mini_batch_size)),
    timing_probe=Path(netmath.__file__))
train_submission = TRAINING.train  # (grading) -> Trained, within 5d.2's budget


def final_params(run: ProbeRun, name: str, sizes) -> tuple[list, list, str]:
    """(weights, biases, '') the run left, or ([], [], what is wrong)."""
    weights, biases = [], []
    for i in range(len(sizes) - 1):
        W, problem = shaped(run.values.get(f"{name}/W{i}"), (sizes[i + 1], sizes[i]),
                            f"weights[{i}] after train()", "training diverged: lower eta")
        if problem:
            return [], [], problem
        b, problem = shaped(run.values.get(f"{name}/b{i}"), (sizes[i + 1], 1),
                            f"biases[{i}] after train()", "training diverged: lower eta")
        if problem:
            return [], [], problem
        weights.append(W)
        biases.append(b)
    return weights, biases, ""


def weights_changed(run: ProbeRun, name: str, layers: int) -> tuple[int, int]:
    """(arrays among the weights and biases that train() changed, arrays compared): the
    run's W{i}, b{i} against W_init{i}, b_init{i}, recorded before train() ran."""
    keys = [f"{kind}{i}" for kind in ("W", "b") for i in range(layers)]
    return changed_entries({k: run.values.get(f"{name}/{k}") for k in keys},
                           {k: run.values.get(f"{name}/{k[0]}_init{k[1:]}") for k in keys})


UNCHANGED = ("train() left the weights and biases as Network() built them (none of the "
             "{total} arrays changed), so nothing was learned.\nHint: train() must call "
             "self.update_network(gw, gb, eta) on every minibatch, and update_network must "
             "change self.weights and self.biases (in place, or by assigning new arrays).")


def activation_of(run: ProbeRun, name: str, layers: int) -> str | None:
    """The hidden activation of the student's forward_pass, from its Zs and As."""
    Zs = [run.values.get(f"{name}/Z{i}") for i in range(layers)]
    As = [run.values.get(f"{name}/A{i}") for i in range(layers + 1)]
    if As[-1] is None:  # As without the input
        As = As[:-1]
    if any(v is None for v in Zs + As):
        return None
    try:
        return netmath.identify_activation([np.asarray(z, dtype=np.float64) for z in Zs],
                                           [np.asarray(a, dtype=np.float64) for a in As])
    except (ValueError, TypeError):
        return None


def val_curve(run: ProbeRun, name: str, labels: np.ndarray) -> list[float]:
    """The validation accuracy after each epoch (from forward_pass's predicted labels)."""
    preds = run.values.get(f"{name}/val_preds")
    if preds is None:
        return []
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != len(labels):
        return []
    return [float(np.mean(p == labels)) for p in preds]


def _stopped(trained: Trained) -> Verdict | None:
    """A zero verdict when the run gave no result (how far it got, when its budget
    stopped it), else None."""
    run, budget = trained.run, trained.budget
    if run.failure is None:  # the run's own case ("best") may have failed
        return failure_verdict(run, "best", what="train() with your SETTINGS")
    if run.failure.kind not in STOPPED or budget is None:
        return failure_verdict(run, what="train() with your SETTINGS")
    done = trained.progress[0] if trained.progress else 0
    lines = [f"train() with your SETTINGS was stopped by its time budget of "
             f"{budget.describe()}, after {done} of {budget.num_iters} steps."]
    if done:
        per, ratio = budget.pace(done, run.wall_seconds)
        lines.append(f"{1000 * per:.1f} ms per step; the grader's own step takes "
                     f"{1000 * budget.reference_s:.1f} ms with your settings "
                     f"({ratio:.1f}x; the budget allows {budget.factor:g}x).")
    lines.append("Hint: vectorise the forward and backward passes over the minibatch (no "
                 "loop over its columns), do not evaluate the whole training set every step, "
                 "or lower epochs or the layer sizes.")
    return Verdict(0.0, "\n".join(lines))


@judges(_stopped, head=lambda t: opening(t.settings, "SETTINGS"))
def judge_learned(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """5d.1: SETTINGS valid, the run finished within its budget, its loss fell by
    learned_loss_drop, and, computed by the grader, its weights changed and its network
    beats chance by learned_acc_above_chance on the test rows (which no sandbox sees;
    not 3b's progress_* names: those belong to the checkpoint mode)."""
    s, run, data = trained.settings, trained.run, trained.data
    head = opening(s, "SETTINGS")
    weights, biases, problem = final_params(run, "best", s.sizes)
    if problem:
        return Verdict(0.0, "\n".join(head + [problem]))
    activation = activation_of(run, "best", len(s.sizes) - 1)
    if activation is None:
        return Verdict(0.0, "\n".join(head + [
            "the hidden activation of forward_pass could not be recognised (As[i+1] should "
            "be f(Zs[i]) for f among sigmoid, ReLU, tanh and leaky ReLU), so the grader "
            "cannot evaluate the trained network with its own forward pass"]))
    losses = np.asarray(run.values.get("best/losses", np.zeros(0)), dtype=np.float64).ravel()
    drop = float(check.value("learned_loss_drop"))
    if len(losses) < 4 or not np.all(np.isfinite(losses)):
        return Verdict(0.0, "\n".join(head + ["the training loss was not finite at every step "
                                              "(or train() took fewer than 4 steps)\nHint: "
                                              "lower eta."]))
    first, last, _ = loss_drop(losses)
    labels = np.asarray(data.load("y_test"))
    acc = netmath.accuracy(weights, biases, data.load("X_test"), labels, SCALE, activation)
    changed, total = weights_changed(run, "best", len(s.sizes) - 1)
    chance = 1.0 / data.num_classes
    least = chance + float(check.value("learned_acc_above_chance"))
    feedback.record(first_loss=first, last_quarter_loss=last, test_accuracy=acc,
                    weights_changed=changed, weights_total=total,
                    activation=activation, steps=int(run.values.get("best/steps", 0) or 0))
    lines = head + [f"the loss went from {first:.4f} (first step) to {last:.4f} (mean of the "
                    f"last quarter of the steps; needs < {first * (1 - drop):.4f})",
                    f"the trained network ({activation} hidden layers) classifies "
                    f"{100 * acc:.1f}% of the grader's {len(labels)} test images correctly "
                    f"(needs > {100 * least:.1f}%; their labels never enter a sandbox)"]
    if not changed:
        return Verdict(0.0, "\n".join(lines + [UNCHANGED.format(total=total)]))
    if last < first * (1 - drop) and acc > least:
        return Verdict(1.0, "\n".join(lines))
    lines.append("Hint: the network barely learned: check 5a-5c first, then eta (too small "
                 "a learning rate moves nothing in a few epochs, too large diverges).")
    return Verdict(0.0, "\n".join(lines))


@judges(_stopped, "no usable SETTINGS: ")
def judge_accuracy(trained: Trained, check: Check, feedback: Feedback) -> Verdict:
    """5d.2: the grader's test accuracy of the trained network against the threshold;
    the validation accuracy is reported."""
    s, run, data, budget = trained.settings, trained.run, trained.data, trained.budget
    feedback.record(**budget.details())
    weights, biases, problem = final_params(run, "best", s.sizes)
    if problem:
        return Verdict(0.0, problem)
    activation = activation_of(run, "best", len(s.sizes) - 1)
    if activation is None:
        return Verdict(0.0, "the hidden activation of forward_pass could not be recognised "
                       "(see 5d.1)")
    val = netmath.accuracy(weights, biases, data.load("X_val"), np.asarray(data.load("y_val")),
                           SCALE, activation)
    test = netmath.accuracy(weights, biases, data.load("X_test"),
                            np.asarray(data.load("y_test")), SCALE, activation)
    threshold = float(check.value("threshold", data.kind))
    labels = np.asarray(data.load("y_val"))
    feedback.record(dataset_kind=data.kind, test_accuracy=test, val_accuracy=val,
                    threshold=threshold, train_seconds=round(run.wall_seconds, 2),
                    peak_rss_mb=run.peak_rss_mb, settings=s.run("best", 0),
                    loss_history=curve(run.values.get("best/losses", [])),
                    val_acc_history=val_curve(run, "best", labels))
    lines = [f"on {data_name(data)}, trained in {run.wall_seconds:.0f} s (budget "
             f"{budget.seconds:.0f} s): " + accuracy_line("test accuracy", test)
             + f" (needs >= {100 * threshold:.1f}%; judged: the grader's test images, whose "
             "labels never enter a sandbox)",
             accuracy_line("validation accuracy", val) + " (reported, not graded: train() "
             "gets the validation labels)"]
    changed, total = weights_changed(run, "best", len(s.sizes) - 1)
    if not changed:
        return Verdict(0.0, "\n".join(lines + [UNCHANGED.format(total=total)]))
    if test >= threshold:
        return Verdict(1.0, "\n".join(lines))
    lines.append("Hint: tune the layer sizes, eta, l2, k and epochs on the validation set "
                 "(task 6); the curves in the report show whether the network underfits or "
                 "overfits.")
    return Verdict(0.0, "\n".join(lines))
