"""4b, in the grader's process: what the observed training run says about the student's
training loop, and the accuracies of the trained model (numpy only).

The train_mlp probe watches the student's train() from outside: each loss computed with
gradients on (its value, whether its input rows were probabilities), each optimizer step
(the learning rate; whether the tracked parameter's gradient still held the previous
step's), each zero_grad, and each pass over the training loader (an epoch when it took
steps). It returns logits of the validation and test images; accuracies are computed here.
"""
from __future__ import annotations

import numpy as np

from ...core.sandbox import ProbeRun

CURVE_POINTS = 400


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


def accuracy(logits, labels: np.ndarray) -> float:
    """Fraction of rows whose highest logit is their label."""
    logits = np.asarray(logits, dtype=np.float64)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def curve(values: np.ndarray) -> list[float]:
    """At most CURVE_POINTS values of a per-step curve, evenly sampled."""
    step = max(1, len(values) // CURVE_POINTS)
    return values[::step].tolist()


def val_history(run: ProbeRun, labels: np.ndarray) -> list[float]:
    """The grader's validation accuracy after each epoch."""
    stacked = run.values.get("epoch_val_logits")
    if stacked is None:
        return []
    return [accuracy(epoch, labels) for epoch in np.asarray(stacked)]
