"""6a, in the grader's process: conv_output_size on (h_in, kernel, padding, stride) rows,
run in one sandboxed child without torch, against cnnmath's equation (5), with a hint
naming the wrong version of the equation a student's sizes follow."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import cnnmath
from .probing import PROBES, same_failure
from ...core.engine.judge import Feedback, Verdict, failure_verdict, shaped
from ...core.rubric.spec import Check

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext


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
    problems, fractional, returned = [], False, {}
    for i, (row, want) in enumerate(zip(cases.tolist(), expected.tolist())):
        call = f"conv_output_size({', '.join(str(v) for v in row)})"
        stopped = failure_verdict(run, f"case{i}")
        if stopped is not None:
            problems.append(f"{call}: {stopped.message.splitlines()[0]}")
            continue
        got, problem = shaped(run.values.get(f"case{i}"), (), call)
        if problem:
            problems.append(problem)
            continue
        returned[i] = float(got)
        if float(got) != want:
            fractional = fractional or float(got) != np.floor(float(got))
            problems.append(f"{call} returned {float(got):g}, expected {want} "
                            f"(= {_formula(*row)}).")
    feedback.record(cases=cases.tolist(), passed=len(cases) - len(problems))
    if not problems:
        return Verdict(1.0, f"{len(cases)} of {len(cases)} output sizes right.")
    hint = ("Hint: the output size is a whole number: round the division down (// or "
            "math.floor), as equation (5) does." if fractional else _size_hint(cases, returned))
    shown = problems[:4] + ([f"... and {len(problems) - 4} more."] if len(problems) > 4 else [])
    right = len(cases) - len(problems)
    return Verdict(right / len(cases),
                   "\n".join([f"{right} of {len(cases)} output sizes right; this check needs "
                              f"all {len(cases)} (its points are all or nothing)."]
                             + shown + [hint]))


def _size_hint(cases: np.ndarray, returned: dict[int, float]) -> str:
    """The wrong version of equation (5) that gives every size returned, else the
    equation itself."""
    rows = sorted(returned)
    if rows:
        got = np.array([returned[i] for i in rows])
        for text, sizes in cnnmath.size_variants(cases[rows]):
            if np.array_equal(got, sizes.astype(np.float64)):
                return f"Hint: {text}."
    return "Hint: equation (5): floor((h_in + 2p - (k - 1) - 1) / s + 1)."
