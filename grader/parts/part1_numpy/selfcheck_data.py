"""Part 1's public cases for the students' self-check, computed with the grader's own math
when the handout is built (grader/core/handout/public_checks.py): the netmath calls the
public judges make (recorded), and the toy problem's losses for 3a.1's own check. Never
shipped: only the results are."""
from __future__ import annotations

from . import netmath
from .cases import toy_case


def recorded(rubric) -> dict:
    """{solution module: [(function, args)]}: what the judges of 1a.1, 1b.1 and 2d.1
    compute with netmath on the toy problem (its probabilities, its loss at 1b's and 2d's
    reg and at 0, the numerical gradients at 2d's step) and its parameters' names."""
    toy, at_reg = toy_case(), toy_case(reg=rubric.check("1b.1").value("reg"))
    case = toy_case(reg=rubric.check("2d.1").value("reg"))
    step = rubric.check("2d.1").value("step")
    params = {k: v.copy() for k, v in case.params.items()}  # as gradients._numerical has them
    return {"netmath": [("PARAM_NAMES", None), ("probabilities", (toy.params, toy.X))] + [
        ("loss", (c.params, c.X, c.y, reg)) for c in (at_reg, case) for reg in (c.reg, 0.0)] + [
        ("numerical_gradient", (lambda: netmath.loss(params, case.X, case.y, case.reg),
                                params[k], step)) for k in netmath.PARAM_NAMES]}


def public_data(rubric) -> dict:
    """The toy problem and its losses at 1b's reg and at 0, for 3a.1's own check."""
    reg = rubric.check("1b.1").value("reg")
    case = toy_case(reg=reg)
    return {"params": case.params, "X": case.X, "y": case.y, "reg": reg,
            "loss": netmath.loss(case.params, case.X, case.y, reg),
            "loss_at_zero": netmath.loss(case.params, case.X, case.y, 0.0)}
