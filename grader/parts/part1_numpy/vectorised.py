"""1c, in the grader's process: the forward pass is vectorised. 1c.1 times it against the
grader's own (netmath.time_forward, in a sandbox of its own, on the same batch); 1c.2 finds
Python loops over samples in loss() with staticcheck.py, once the forward pass runs."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import netmath
from .cases import case_seed, random_network, toy_case
from .probing import PROBES, run_cases
from .staticcheck import loops_over_samples, read_source
from ...core.engine.judge import Feedback, Verdict, failure_verdict
from ...core.rubric.spec import Check

if TYPE_CHECKING:  # the grader's context; the self-check hands in its own
    from ...core.engine.context import GradingContext


def judge_speed(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """1c.1: best-of-`repeats` seconds of loss(X) on a `batch` = (N, D, H, C) network,
    at most max_slowdown times the reference's (and not below min_slowdown of it)."""
    N, D, H, C = check.value("batch")
    rng = np.random.RandomState(case_seed(grading.rubric.seed, check.id, 0))
    inputs = {**random_network(rng, D, H, C), "X": 10 * rng.randn(N, D)}
    params = {"repeats": check.value("repeats")}
    reference = grading.probe(Path(netmath.__file__), "time_forward", check.id,
                              inputs=inputs, params=params)
    student = grading.probe(PROBES, "time_forward", check.id, inputs=inputs, params=params)
    if reference.failure is not None:
        raise RuntimeError(f"reference timing failed: {reference.failure}")
    stopped = failure_verdict(student, what="forward pass on a large batch")
    if stopped is not None:
        return stopped
    ref_s = min(reference.values["seconds"])
    got = student.values.get("seconds")
    if not (isinstance(got, list) and got and all(
            isinstance(s, (int, float)) and 0 <= s < float("inf") for s in got)):
        return Verdict(0.0, "the forward pass ran, but its timings did not come back as "
                       "numbers: did your code change the grader's timer or its results?")
    got_s = min(got)
    ratio = got_s / max(ref_s, 1e-6)
    limit, floor = check.value("max_slowdown"), check.value("min_slowdown")
    feedback.record(student_seconds=got_s, reference_seconds=ref_s, slowdown=ratio,
                    batch=[N, D, H, C])
    line = (f"forward pass on {N} samples: {1000 * got_s:.1f} ms, reference "
            f"{1000 * ref_s:.1f} ms ({ratio:.1f}x; must be at most {limit:g}x)")
    if ratio < floor:
        return Verdict(0.0, line + f"\nA forward pass more than {1 / floor:g}x faster than "
                       "the reference's is not a credible timing (results cached between "
                       "calls, or the grader's timer changed?): compute the forward pass on "
                       "every call.")
    if ratio <= limit:
        return Verdict(1.0, line)
    return Verdict(0.0, line + "\nHint: replace Python loops over samples with matrix "
                   "products (X.dot(W1) handles the whole batch at once).")


def judge_loops(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """1c.2: no Python loop over samples in TwoLayerNet.loss() or the methods it calls
    (the lines are named); vectorised code earns nothing unless the forward pass runs."""
    source = read_source(grading.submission, "two_layernet.py")
    if source is None:
        return Verdict(0.0, "two_layernet.py not found in the submission")
    try:
        found = loops_over_samples(source, "TwoLayerNet", "loss")
    except SyntaxError as exc:
        return Verdict(0.0, f"two_layernet.py does not parse: {exc.msg} (line {exc.lineno})")
    if "class TwoLayerNet" not in source or "def loss" not in source:
        return Verdict(0.0, "no TwoLayerNet.loss found in two_layernet.py")
    run = run_cases(grading, "forward", check.id, [toy_case()])
    stopped = failure_verdict(run, "toy", "loss(X) on the toy problem")
    if stopped is not None:
        return stopped
    if found:
        lines = [f"line {f.line}: {f.code}" for f in found]
        return Verdict(0.0, "Python loop over samples in loss():\n" + "\n".join(lines)
                       + "\nHint: operate on the whole (N, D) batch with matrix products "
                       "and fancy indexing (probs[np.arange(N), y]).")
    return Verdict(1.0, "no loop over samples found in loss().")
