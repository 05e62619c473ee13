"""Part 1's public cases for the students' self-check, computed with the grader's own math
when the handout is built (grader/core/handout/public_checks.py): the netmath calls the
public judges make (recorded), and for the part's own checks the toy problem, its losses,
the numerical gradients 2d.1 compares with and the wrong gradients its hints recognise.
Never shipped: only the results are."""
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


def recorded(rubric) -> dict:
    """{solution module: [(function, args)]}: what 1a.1's and 1b.1's judges compute with
    netmath on the toy problem (its probabilities; its loss at 1b's reg and at 0)."""
    toy, at_reg = toy_case(), toy_case(reg=rubric.check("1b.1").value("reg"))
    return {"netmath": [("probabilities", (toy.params, toy.X)),
                        ("loss", (at_reg.params, at_reg.X, at_reg.y, at_reg.reg)),
                        ("loss", (at_reg.params, at_reg.X, at_reg.y, 0.0))]}


def public_data(rubric) -> dict:
    """The toy problem and the expected values of 2d.1 and 3a.1's part's own checks."""
    reg = rubric.check("1b.1").value("reg")
    case = toy_case(reg=rubric.check("2d.1").value("reg"))
    step = rubric.check("2d.1").value("step")
    params = {k: v.copy() for k, v in case.params.items()}
    want = {k: netmath.numerical_gradient(lambda: netmath.loss(params, case.X, case.y, case.reg),
                                          params[k], step) for k in netmath.PARAM_NAMES}
    return {"params": case.params, "X": case.X, "y": case.y, "reg": reg,
            "loss": netmath.loss(case.params, case.X, case.y, reg),
            "loss_at_zero": netmath.loss(case.params, case.X, case.y, 0.0),
            "grads": want, "slips": _likely_slips(case, want),
            "loss_2d": netmath.loss(case.params, case.X, case.y, case.reg),  # 2d's reg
            "loss_tolerance": [rubric.check("1b.1").value(k) for k in ("rtol", "atol")]}
