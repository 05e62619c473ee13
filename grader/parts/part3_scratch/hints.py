"""Failure signatures -> likely causes, for Part 3 (5a L2, 5b Adam, 5c the schedule).

Each function looks at what the student's code did next to what the grader computed and
names the most likely bug in the student's terms, or returns "" when no signature fits.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import netmath


def _near(value: float, target: float, rel: float = 0.02) -> bool:
    return abs(value - target) <= rel * abs(target) + 1e-12


def _fit(got: np.ndarray, parts: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """Least-squares coefficients c with got ~ sum c_i parts_i, and the relative residual."""
    A = np.stack([p.ravel() for p in parts], axis=1)
    c, *_ = np.linalg.lstsq(A, got.ravel(), rcond=None)
    scale = max(np.linalg.norm(got), 1e-300)
    return c, float(np.linalg.norm(A @ c - got.ravel()) / scale)


def l2_gradient_hint(gw: Sequence[np.ndarray], gb: Sequence[np.ndarray],
                     true_gw: Sequence[np.ndarray], true_gb: Sequence[np.ndarray],
                     weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                     l2: float, m: int) -> str:
    """Why backward_pass's gradients differ from the true ones, fitted over every layer as
    a * (data gradient) + s * l2 * W (and likewise the biases)."""
    if l2 == 0 and not any(np.any(g) for g in gw):
        return "every weight gradient is zero: is backward_pass implemented?"
    if np.all([not np.any(g) for g in gw[:1]]) and any(np.any(t) for t in true_gw[:1]):
        return ("the first layer's gradient is all zeros: the backward loop must go down to "
                "layer 1 (gw[0], gb[0])")
    data_w = np.concatenate([(t - l2 * W).ravel() for t, W in zip(true_gw, weights)])
    reg_w = np.concatenate([(l2 * W).ravel() for W in weights])
    got_w = np.concatenate([g.ravel() for g in gw])
    data_b = np.concatenate([t.ravel() for t in true_gb])
    reg_b = np.concatenate([(l2 * b).ravel() for b in biases])
    got_b = np.concatenate([g.ravel() for g in gb])
    found = []
    if l2:
        (a, s), residual = _fit(got_w, [data_w, reg_w])
        if residual < 1e-6:
            if _near(a, m) and m > 1:
                found.append(f"the gradients are {m}x too large: average over the m = {m} "
                             "examples of the batch (divide by m), do not sum")
            if not _near(s, 1.0):
                found.append(_l2_scale_text(s, m))
    elif np.allclose(got_w, m * data_w, rtol=1e-5, atol=1e-10) and m > 1:
        found.append(f"the gradients are {m}x too large: average over the m = {m} examples "
                     "of the batch (divide by m), do not sum")
    if l2 and np.any(reg_b):
        (a, s), residual = _fit(got_b, [data_b, reg_b])
        if residual < 1e-6 and abs(s) > 0.1:
            found.append("the biases are regularised too: gb gets no L2 term (only the "
                         "weight matrices are in the penalty)")
    return "; ".join(found)


def _l2_scale_text(s: float, m: int) -> str:
    """What an L2 gradient of s * l2 * W (instead of l2 * W) means."""
    if _near(s, 0.0, 0) or abs(s) < 1e-9:
        return ("the L2 term is missing from gw: backward_pass adds l2 * W[i] to gw[i] "
                "(the gradient of (l2 / 2) * ||W||^2)")
    if _near(s, 2.0):
        return "the L2 gradient is 2 * l2 * W: the penalty is (l2 / 2) * ||W||^2, so it is l2 * W"
    if _near(s, 0.5):
        return "the L2 gradient is l2 * W / 2: the derivative of (l2 / 2) * ||W||^2 is l2 * W"
    if m > 1 and _near(s, 1.0 / m):
        return (f"the L2 gradient is divided by the batch size m = {m}: it is l2 * W, not "
                "l2 * W / m")
    if m > 1 and _near(s, 2.0 / m):
        return f"the L2 gradient is 2 * l2 * W / m (m = {m}): it is l2 * W"
    if 0 < s < 0.2:
        return (f"the L2 gradient is l2 * W / {1 / s:.0f}: divided by the number of training "
                "examples? The handout's L2 gradient is l2 * W, whatever the data size")
    if _near(s, -1.0):
        return "the L2 gradient has the wrong sign: gw[i] gains + l2 * W[i]"
    return f"the L2 gradient is {s:.3g} * l2 * W; it should be l2 * W"


def l2_loss_hint(got: float, data: float, penalty_w: float, penalty_b: float, l2: float,
                 m: int, guarded: Sequence[float] = ()) -> str:
    """Why loss(output, Y) differs: data is the mean cross-entropy, penalty_w the sum of
    ||W||^2, penalty_b of ||b||^2; guarded, the cross-entropies a loss with a numerical
    guard in its log computes (l2.guarded_cross_entropies), tried in place of data."""
    for value in (data, *guarded):
        text = _l2_loss_guess(got, value, penalty_w, penalty_b, l2, m)
        if text:
            return text
    if l2 and penalty_w and 0 < (got - data) / (0.5 * l2 * penalty_w) < 0.2:
        return (f"the L2 term is divided by about {0.5 * l2 * penalty_w / (got - data):.0f}: the "
                "handout's is (l2 / 2) * sum ||W||^2, not scaled by the data size")
    return "compare the mean cross-entropy over the m columns plus (l2 / 2) * sum ||W||^2"


def _l2_loss_guess(got: float, data: float, penalty_w: float, penalty_b: float, l2: float,
                   m: int) -> str:
    """The L2 bug that turns the cross-entropy data into got, else ''."""
    guesses = [
        (data, "the L2 term (l2 / 2) * sum ||W||^2 is missing from the loss"),
        (data + l2 * penalty_w, "the L2 term is l2 * sum ||W||^2; the handout's has a factor 1/2"),
        (data + 0.5 * l2 * penalty_w / m, f"the L2 term is divided by the batch size m = {m}"),
        (data + 0.5 * l2 * (penalty_w + penalty_b), "the biases are in the L2 penalty; only "
                                                    "the weight matrices are"),
        (data * m + 0.5 * l2 * penalty_w, "the cross-entropy is summed over the batch, not "
                                          "averaged"),
        (data + l2 * penalty_w / 4, "the L2 term has a factor 1/4: it is (l2 / 2) * sum ||W||^2"),
    ]
    for value, text in guesses:
        if abs(value - got) <= 1e-8 * max(1.0, abs(value)):
            return text
    return ""


def step_hint(after: Sequence[np.ndarray], before: Sequence[np.ndarray],
              gw: Sequence[np.ndarray], weights_count: int, l2: float, eta: float) -> str:
    """Why update_network(gw, gb, eta) with SGD did not give W - eta * gw."""
    W_after = np.concatenate([a.ravel() for a in after[:weights_count]])
    W_before = np.concatenate([b.ravel() for b in before[:weights_count]])
    g = np.concatenate([x.ravel() for x in gw])
    if np.allclose(W_after, W_before - eta * (g + l2 * W_before), rtol=1e-9, atol=1e-12):
        return ("update_network added l2 * W to the gradient again: the L2 term belongs in "
                "backward_pass only (it is already in gw), so it is applied twice")
    if np.allclose(W_after, (1 - eta * l2) * W_before - eta * g, rtol=1e-9, atol=1e-12):
        return ("update_network shrinks the weights by (1 - eta * l2) as well: the L2 term is "
                "already in gw (backward_pass), so it is applied twice")
    if np.allclose(W_after, W_before, rtol=0, atol=0):
        return "the weights did not change: SGD is W -= eta * gw"
    return "the SGD step is W -= eta * gw and b -= eta * gb, nothing else"


# -- Adam ---------------------------------------------------------------------------------

def adam_variants(per_epoch: int, layers: int) -> list[tuple[str, netmath.Adam]]:
    """(what a student did, the Adam that does it), the most frequent bugs first: one bug,
    then two at once (a bug of the update with a wrong default, or two wrong defaults)."""
    singles = _adam_singles(per_epoch, layers)
    handout = netmath.Adam()
    settings = ("beta1", "beta2", "eps")
    structural = [(text, adam) for text, adam in singles
                  if all(getattr(adam, n) == getattr(handout, n) for n in settings)]
    defaults = [(text, adam) for text, adam in singles if text.startswith("wrong default")]
    pairs = []
    for text, adam in structural:
        for other, wrong in defaults:
            pairs.append((f"{text}; also {other}", netmath.Adam(
                beta1=wrong.beta1, beta2=wrong.beta2, eps=wrong.eps,
                correction=adam.correction, eps_inside=adam.eps_inside, t=adam.t)))
    for i, (text, one) in enumerate(defaults):
        for other, two in defaults[i + 1:]:
            changed = {name: getattr(two, name) for name in settings
                       if getattr(two, name) != getattr(handout, name)}
            if any(getattr(one, name) != getattr(handout, name) for name in changed):
                continue  # the same setting twice
            merged = {name: getattr(one, name) for name in settings}
            merged.update(changed)
            pairs.append((f"{text}; also {other}", netmath.Adam(**merged)))
    return singles + pairs


def _adam_singles(per_epoch: int, layers: int) -> list[tuple[str, netmath.Adam]]:
    """(what a student did, the Adam that does it) for one bug each."""
    A = netmath.Adam
    return [
        ("no bias correction: m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t) are "
         "missing", A(correction="none")),
        # t stuck at 1 and (1 - beta) in place of (1 - beta^t) take the same steps
        ("the bias correction divides by (1 - beta) at every step: is t never incremented "
         "(add 1 to t at every update_network call), or is the power missing (1 - beta^t)?",
         A(correction="one_minus_beta")),
        ("t restarts at every epoch: it counts every update_network call since the network "
         "was made, across epochs", A(t=lambda s, layer, e: s - e * per_epoch + 1)),
        ("t is incremented once per layer: once per update_network call",
         A(t=lambda s, layer, e: s * layers + layer + 1)),
        ("t is the layer's index, not the number of steps taken",
         A(t=lambda s, layer, e: layer + 1)),
        ("epsilon is inside the square root: it is sqrt(v_hat) + eps", A(eps_inside=True)),
    ] + [(f"wrong default: {name} = {value:g} (the handout's: beta1 0.9, beta2 0.999, eps 1e-8)",
          A(**{name: value})) for name, values in (
        ("beta1", (0.99, 0.999, 0.95, 0.8)), ("beta2", (0.99, 0.9, 0.9999, 0.999999)),
        ("eps", (1e-7, 1e-6, 1e-5, 1e-4, 1e-10, 1e-12, 0.0))) for value in values
         if value != {"beta1": netmath.BETA1, "beta2": netmath.BETA2, "eps": netmath.EPS}[name]] + [
        ("beta1 and beta2 are swapped", A(beta1=0.999, beta2=0.9)),
    ]


LAG = ("the rate is set after update_network, so every step uses the rate meant for the "
       "step before it (the first minibatch of each epoch still gets the previous epoch's "
       "rate, as with the template's line after the update): set eta_current before the "
       "minibatch loop, or at least before update_network")
RESET = ("the rate is reset to eta at the start of each epoch, so the first minibatch of "
         "every epoch uses eta itself")
EPOCH_LAG = ("each epoch uses the previous epoch's rate (the rate is set at the end of an "
             "epoch, from the epoch just finished): epoch t uses eta * exp(-k * t) from its "
             "first minibatch")


def schedule_variants(eta: float, k: float, epochs: np.ndarray, steps: np.ndarray,
                      per_epoch: int) -> list[tuple[str, np.ndarray]]:
    """(what a student did, the learning rate of every step it gives): one bug each
    first, then the handout's schedule and each of those given one step late, reset to
    eta at each epoch's first minibatch (with or without the lag), or an epoch late."""
    singles = _schedule_singles(eta, k, epochs, steps, per_epoch)
    first = (steps - epochs * per_epoch) == 0

    def lag(values, by=1):
        return np.concatenate([np.full(min(by, len(values)), eta), values[:-by]])[:len(values)]

    timing = [(LAG, lag), (RESET, lambda v: np.where(first, eta, v)),
              (f"{LAG}; also {RESET}", lambda v: np.where(first, eta, lag(v))),
              (EPOCH_LAG, lambda v: lag(v, per_epoch))]
    bases = [("", eta * np.exp(-k * epochs))] + singles
    combined = []
    for text, values in bases:
        for late, shift in timing:
            combined.append(((f"{text}; also " if text else "") + late, shift(values)))
    return singles + combined


def _schedule_singles(eta: float, k: float, epochs: np.ndarray, steps: np.ndarray,
                      per_epoch: int) -> list[tuple[str, np.ndarray]]:
    """(what a student did, the learning rate of every step it gives) for one bug each."""
    within = steps - epochs * per_epoch
    first = within == 0
    return [
        ("the schedule is applied per iteration (t counts minibatches): t is the epoch",
         eta * np.exp(-k * steps)),
        ("the learning rate never decays: is the schedule missing, or is it reset to eta "
         "every minibatch (the template's `eta_current = eta` in the batch loop)? Set "
         "eta * exp(-k * t) once per epoch",
         np.full(len(steps), eta)),
        ("the decayed rate is reset to eta after the first minibatch of each epoch: set "
         "eta_current once per epoch and keep it for all its minibatches",
         np.where(first, eta * np.exp(-k * epochs), eta)),
        ("inverse-time decay eta / (1 + k t); the handout's is exponential: eta * exp(-k t)",
         eta / (1 + k * epochs)),
        ("inverse-time decay per iteration; the handout's is exponential per epoch",
         eta / (1 + k * steps)),
        ("t counts epochs from 1; the first epoch (t = 0) uses eta itself",
         eta * np.exp(-k * (epochs + 1))),
        ("the decay compounds: eta_current *= exp(-k t) multiplies by a growing factor; use "
         "eta * exp(-k t) (or multiply by exp(-k) once per epoch)",
         eta * np.exp(-k * epochs * (epochs + 1) / 2)),
        ("the decay restarts within every epoch (t counts the minibatches of the epoch)",
         eta * np.exp(-k * within)),
        ("exp(+k t): the exponent's sign is wrong", eta * np.exp(k * epochs)),
    ]
