"""2d: backpropagation, checked against centred numerical gradients and the reference."""
import numpy as np

from . import netmath
from .cases import hidden_cases, toy_case
from ...core.grading import conclude, failure_verdict, graded
from .hints import gradient_hint
from ...core.judge import Verdict, names, shaped
from .steps import run_cases

NAMES = netmath.PARAM_NAMES


def _without_relu_mask(case):
    """The gradients a net would get if its backward pass forgot the ReLU mask."""
    p, X, y, reg = case.params, case.X, case.y, case.reg
    n = X.shape[0]
    a2 = np.maximum(0.0, X @ p["W1"] + p["b1"])
    probs = netmath.probabilities(p, X)
    probs[np.arange(n), y] -= 1
    dz2 = (probs / n) @ p["W2"].T
    return {"W1": X.T @ dz2 + 2 * reg * p["W1"], "b1": dz2.sum(axis=0)}


def _param_errors(run, case, want):
    """{name: (rel error or None, problem text)} for each parameter."""
    out = {}
    keys = names(run.values.get(f"{case.name}/grad_keys"))
    no_mask = _without_relu_mask(case)
    for name in NAMES:
        value = run.values.get(f"{case.name}/grad_{name}")
        if value is None:
            out[name] = (None, f"grads has no {name!r} (keys: {', '.join(keys) or 'none'})")
            continue
        got, problem = shaped(value, case.params[name].shape, f"grads[{name!r}]")
        if problem:
            out[name] = (None, problem)
            continue
        err = netmath.rel_error(got, want[name])
        hint = gradient_hint(name, got, want[name], case, no_mask.get(name))
        out[name] = (err, hint)
    return out


def _numerical(case, h):
    """Centred numerical gradients of the true loss at the case's parameters."""
    params = {k: v.copy() for k, v in case.params.items()}
    return {k: netmath.numerical_gradient(
        lambda: netmath.loss(params, case.X, case.y, case.reg), params[k], h) for k in NAMES}


@graded("2d.1")
def test_toy_gradients(grading, check, feedback):
    case = toy_case(reg=check.value("reg"))
    limit = check.value("max_rel_error")
    run = run_cases(grading, "loss_grads", check.id, [case])
    stopped = failure_verdict(run, "toy", "loss(X, y, reg) on the toy problem")
    if stopped is not None:
        return conclude(feedback, stopped)
    errors = _param_errors(run, case, _numerical(case, check.value("step")))
    right = [n for n, (e, _) in errors.items() if e is not None and e < limit]
    lines = []
    for name, (err, note) in errors.items():
        if name in right:
            continue
        head = f"{name}: max relative error {err:.1e} (needs < {limit:.0e})" if err is not None \
            else f"{name}: {note}"
        lines.append(head + (f"\nHint: {note}" if err is not None and note else ""))
    feedback.record(rel_errors={n: e for n, (e, _) in errors.items()})
    if right and len(right) < len(NAMES):
        lines.append(f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} right.")
    summary = "all four gradients match the numerical ones: " + ", ".join(
        f"{n} {errors[n][0]:.1e}" for n in NAMES) if len(right) == len(NAMES) else ""
    return conclude(feedback, Verdict(len(right) / len(NAMES), summary or "\n".join(lines)),)


@graded("2d.2")
def test_hidden_gradients(grading, check, feedback):
    cases = hidden_cases(grading.rubric.seed, check.id, check.value("cases"))
    feedback.record(seeds=[c.seed for c in cases])
    limit = check.value("max_rel_error")
    run = run_cases(grading, "loss_grads", check.id, cases)
    problems = []
    for case in cases:
        stopped = failure_verdict(run, case.name, f"random network {case.name}")
        if stopped is not None:
            problems.append(stopped.message)
            continue
        want = netmath.loss_and_grads(case.params, case.X, case.y, case.reg)[1]
        for name, (err, note) in _param_errors(run, case, want).items():
            if err is None or err >= limit:
                text = f"max relative error {err:.1e}" if err is not None else note
                problems.append(f"random network {case.name} (seed {case.seed}, reg "
                                f"{case.reg:g}): {name}: {text}"
                                + (f"\nHint: {note}" if err is not None and note else ""))
    if problems:
        return conclude(feedback, Verdict(0.0, "\n".join(problems[:6])))
    return conclude(feedback, Verdict(1.0, f"gradients of {len(cases)} random networks match."))
