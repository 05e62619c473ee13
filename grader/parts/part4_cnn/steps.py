"""Shared steps of the Part 4 (seed 003) suites: the probe file, and the judgements of
6a and 6d on cases (numpy only)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import cnnmath
from .cases import Network
from ...core.grading import Feedback, GradingContext, failure_verdict
from ...core.judge import Verdict, compare, shaped
from ...core.rubric import Check

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of seed 003
NUM_CLASSES = 10


def same_failure(run, names: list[str], what: str) -> Verdict | None:
    """The failure of the first case, with its hint, when every case stopped with the same
    message (a stub, a missing function): said once, not once per case; else None."""
    failures = [run.case_failure(n) for n in names]
    if not failures or any(f is None for f in failures) or \
            len({f.message for f in failures}) != 1:
        return None
    return failure_verdict(run, names[0], what=what)


def _formula(h: int, k: int, p: int, s: int) -> str:
    return f"floor(({h} + 2*{p} - ({k} - 1) - 1) / {s} + 1)"


def grade_sizes(grading: GradingContext, check: Check, feedback: Feedback,
                cases: np.ndarray) -> Verdict:
    """6a: conv_output_size on every (h_in, kernel, padding, stride) row of cases, in
    one sandboxed child, against cnnmath's formula; the share of rows right."""
    run = grading.probe(PROBES, "output_sizes", check.id, inputs={"cases": cases})
    whole = failure_verdict(run, what="conv_output_size")
    if whole is not None:
        return whole
    whole = same_failure(run, [f"case{i}" for i in range(len(cases))], "conv_output_size")
    if whole is not None:
        return whole
    expected = cnnmath.conv_output_sizes(cases)
    problems, fractional = [], False
    for i, (row, want) in enumerate(zip(cases.tolist(), expected.tolist())):
        call = f"conv_output_size({', '.join(str(v) for v in row)})"
        stopped = failure_verdict(run, f"case{i}")
        if stopped is not None:
            problems.append(f"{call}: {stopped.message.splitlines()[0]}")
            continue
        got, problem = shaped(run.values.get(f"case{i}"), (), call)
        if problem:
            problems.append(problem)
        elif float(got) != want:
            fractional = fractional or float(got) != np.floor(float(got))
            problems.append(f"{call} returned {float(got):g}, expected {want} "
                            f"(= {_formula(*row)}).")
    feedback.record(cases=cases.tolist(), passed=len(cases) - len(problems))
    if not problems:
        return Verdict(1.0, f"{len(cases)} of {len(cases)} output sizes right.")
    hint = ("Hint: the output size is a whole number: round the division down (// or "
            "math.floor), as equation (5) does." if fractional else
            "Hint: equation (5): floor((h_in + 2p - (k - 1) - 1) / s + 1).")
    shown = problems[:4] + ([f"... and {len(problems) - 4} more."] if len(problems) > 4 else [])
    return Verdict((len(cases) - len(problems)) / len(cases),
                   "\n".join([f"{len(cases) - len(problems)} of {len(cases)} output sizes "
                              "right."] + shown + [hint]))


def _gradient_hint(got: np.ndarray, want: np.ndarray) -> str:
    if np.allclose(got * 2, want, rtol=1e-6, atol=1e-9):
        return ("Hint: off by a factor of 2: the derivative of ||t - y||^2 with respect to y "
                "is -2 (t - y).")
    if np.allclose(-got, want, rtol=1e-6, atol=1e-9):
        return "Hint: the sign is flipped: dL/dy = -2 (t - y) = 2 (y - t)."
    return ""


def judge_network(run, case: Network, check: Check) -> str:
    """'' when both gradients of one instance match, else the first difference and a
    hint."""
    stopped = failure_verdict(run, case.name)
    if stopped is not None:
        return stopped.message.splitlines()[0]
    want1, want2 = cnnmath.bias_gradients(*case.args())
    rtol, atol = check.value("rtol"), check.value("atol")
    found = {}
    for key, want, what in (("db2", want2, "dL/db2"), ("db1", want1, "dL/db1")):
        got, problem = shaped(run.values.get(f"{case.name}/{key}"), want.shape, what)
        if problem:
            return problem
        found[key] = (got, want, compare(got, want, rtol, atol, what))
    for key in ("db2", "db1"):
        got, want, problem = found[key]
        if problem:
            hint = _gradient_hint(got, want)
            if key == "db1" and not found["db2"][2] and not hint:
                hint = ("Hint: dL/db2 is right; dL/db1 = (W2^T dL/db2) times the ReLU's "
                        "derivative, 1 where z1 = W1 x + b1 > 0 and 0 elsewhere.")
            return problem + ("\n" + hint if hint else "")
    return ""


def grade_networks(grading: GradingContext, check: Check, feedback: Feedback,
                   networks: list[Network], label: str) -> Verdict:
    """6d: bias_gradients on every instance, in one sandboxed child, against cnnmath's;
    the share of instances right."""
    inputs: dict[str, np.ndarray] = {}
    for case in networks:
        inputs.update(case.arrays())
    run = grading.probe(PROBES, "bias_grads", check.id, inputs=inputs,
                        params={"cases": [c.name for c in networks]})
    whole = failure_verdict(run, what="bias_gradients") or \
        same_failure(run, [c.name for c in networks], "bias_gradients")
    if whole is not None:
        return whole
    problems = []
    for case in networks:
        problem = judge_network(run, case, check)
        if problem:
            seed = f", seed {case.seed}" if case.seed is not None else ""
            title = label if len(networks) == 1 else f"{label} {case.name}"
            problems.append(f"{title} ({case.sizes()}{seed}): {problem}")
    right = len(networks) - len(problems)
    feedback.record(passed=right, seeds=[c.seed for c in networks if c.seed is not None])
    head = f"{right} of {len(networks)} networks: both bias gradients right."
    return Verdict(right / len(networks), "\n".join([head] + problems))
