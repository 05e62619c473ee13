"""Expected values of Part 1's public cases for the students' self-check, computed with the
grader's own math when the handout is built (grader/core/handout/public_checks.py): the toy
problem, its probabilities and losses, the numerical gradients 2d.1 compares with and the
wrong gradients its hints recognise. Never shipped: only what public_data() returns is."""
from __future__ import annotations

import numpy as np

from . import netmath
from .cases import toy_case
from .hints import gradient_hint


def _likely_slips(case, want: dict) -> dict:
    """Per parameter, [(a wrong gradient, the grader's hint for it)] (2d's signatures)."""
    n, reg = case.X.shape[0], case.reg
    probs = netmath.probabilities(case.params, case.X)
    probs[np.arange(n), case.y] -= 1
    dz2 = (probs / n) @ case.params["W2"].T
    no_mask = {"W1": case.X.T @ dz2 + 2 * reg * case.params["W1"], "b1": dz2.sum(axis=0)}
    slips = {}
    for name, right in want.items():
        wrong = [n * right, -right] + ([no_mask[name]] if name in no_mask else [])
        if name.startswith("W"):
            wrong += [right + (f - 1) * 2 * reg * case.params[name] for f in (0.5, 0.0, -1.0)]
        slips[name] = [(w, gradient_hint(name, w, right, case, no_mask.get(name)))
                       for w in wrong]
    return slips


def public_data(rubric) -> dict:
    """The toy problem and the expected values of 1a.1, 1b.1, 2d.1 and 3a.1's notes."""
    reg = rubric.check("1b.1").value("reg")
    case = toy_case(reg=rubric.check("2d.1").value("reg"))
    step = rubric.check("2d.1").value("step")
    params = {k: v.copy() for k, v in case.params.items()}
    want = {k: netmath.numerical_gradient(lambda: netmath.loss(params, case.X, case.y, case.reg),
                                          params[k], step) for k in netmath.PARAM_NAMES}
    penalty = sum(np.sum(case.params[w] ** 2) for w in ("W1", "W2"))
    data_loss = netmath.loss(case.params, case.X, case.y, 0.0)
    wrong_losses = [  # 1b's likely slips, as the self-check names them
        (data_loss, "the L2 term is missing: add reg * (sum of W1**2 + sum of W2**2)"),
        (data_loss + 0.5 * reg * penalty, "the L2 term has a factor 1/2; the handout's has none"),
        (data_loss * len(case.y) + reg * penalty, "the cross-entropy is summed; average it "
         "over the N samples")]
    return {"params": case.params, "X": case.X, "y": case.y, "reg": reg,
            "probs": netmath.probabilities(case.params, case.X),
            "loss": netmath.loss(case.params, case.X, case.y, reg),
            "loss_at_zero": data_loss, "penalty": penalty,
            "loss_slips": wrong_losses,
            "grads": want, "slips": _likely_slips(case, want),
            "loss_2d": netmath.loss(case.params, case.X, case.y, case.reg),  # 2d's reg
            "loss_tolerance": [rubric.check("1b.1").value(k) for k in ("rtol", "atol")]}
