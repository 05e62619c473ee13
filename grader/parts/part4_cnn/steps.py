"""Shared steps of the Part 4 (seed 003) suites: the probe file, the judgements of 6a and
6d on cases, and 6b's one traced run and its two judgements (numpy only)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cnnmath, structure
from .cases import Network
from ...core.engine.context import Feedback, GradingContext, ProbeCall, failure_verdict
from ...core.engine.judge import Verdict, compare, shaped
from ...core.rubric.spec import Check, case_seed

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


# -- 6b: one child traces the CNN and the blocks ---------------------------------------

STRUCTURE_CHECK, BLOCKS_CHECK = "6b.1", "6b.2"


@dataclass(frozen=True)
class Traced:
    """6b's sandboxed run: the CNN traced (6b.1) and the blocks traced (6b.2)."""

    cnn: object  # ProbeRun of the structure call
    blocks: object  # ProbeRun of the blocks call
    rows: int  # images in the CNN's batch
    block_rows: int  # rows of each block's input
    cases: tuple  # structure.BlockCase, in order


def trace_6b(grading: GradingContext) -> Traced:
    """Runs CNN((3, 32, 32), 10) on the grader's images and every 6b.2 block case, all in
    one sandboxed child under 6b.1's limits (torch is imported once for both checks)."""
    rubric = grading.rubric
    public, hidden = rubric.check(STRUCTURE_CHECK), rubric.check(BLOCKS_CHECK)
    rows, block_rows = int(public.value("rows")), int(hidden.value("rows"))
    rng = np.random.default_rng(case_seed(rubric.seed, STRUCTURE_CHECK, 0))
    images = rng.standard_normal((rows, 3, 32, 32)).astype(np.float32)
    cases = structure.block_cases(rubric.seed, BLOCKS_CHECK, hidden.value("kernels"))
    rng = np.random.default_rng(case_seed(rubric.seed, BLOCKS_CHECK, len(cases)))
    inputs = {f"{c.name}/X": rng.standard_normal(c.input_shape(block_rows)).astype(np.float32)
              for c in cases}
    calls = [ProbeCall("structure", {}, {"X": images}),
             ProbeCall("blocks", {"cases": [{"name": c.name, "kind": c.kind, **c.args}
                                            for c in cases]}, inputs)]
    cnn, blocks = grading.probe_calls(PROBES, calls, STRUCTURE_CHECK)
    return Traced(cnn, blocks, rows, block_rows, tuple(cases))


NONE_CALLED = "'NoneType' object is not callable"


def _with_none_hint(verdict: Verdict, run) -> Verdict:
    """The verdict, with a hint when forward called an activation that is None (a
    DenseBlock built without one)."""
    failure = run.failure
    if failure is None or NONE_CALLED not in failure.message:
        return verdict
    return Verdict(verdict.fraction, verdict.message + "\nHint: a DenseBlock built with "
                   "act_type other than 'relu' has self.relu = None: apply it only when it "
                   "is not None (the output block has no activation).")


def judge_structure(traced: Traced, check: Check, feedback: Feedback) -> Verdict:
    """6b.1: the CNN's trace against the handout's structure."""
    run, rows = traced.cnn, traced.rows
    verdict = failure_verdict(run, what=f"CNN((3, 32, 32), {NUM_CLASSES})")
    if verdict is not None:
        before = [p for p in structure.walk(run.values.get("events") or []).problems
                  if "not followed by a ReLU" not in p]  # a direct torch.relu is not traced yet
        if before:  # forward crashed after some layers: what they did is often why
            verdict = Verdict(0.0, "\n".join([verdict.message, "Before that:"] + before))
        return _with_none_hint(verdict, run)
    problems, summary = structure.judge_cnn(run, rows, NUM_CLASSES)
    feedback.record(layers=summary, inp_dim=str(run.values.get("inp_dim", "")))
    lines = []
    if run.values.get("inp_dim") == "3":
        lines.append("Note: CNN((3, 32, 32), 10) failed, CNN(3, 10) was used (inp_dim as the "
                     "number of channels).")
    if problems:
        return Verdict(0.0, "\n".join(lines + problems))
    return Verdict(1.0, "\n".join(lines + [f"CNN((3, 32, 32), {NUM_CLASSES}): {summary}.",
                                           f"Logits out, shape ({rows}, {NUM_CLASSES})."]))


def judge_blocks(traced: Traced, check: Check, feedback: Feedback) -> Verdict:
    """6b.2: each block case; the share of cases that behave as the handout says."""
    run, cases = traced.blocks, traced.cases
    names = [c.name for c in cases]
    verdict = failure_verdict(run, what="build_net.py") or \
        same_failure(run, names, "ConvBlock and DenseBlock")
    if verdict is not None:
        return verdict
    problems = []
    for case in cases:
        stopped = failure_verdict(run, case.name)
        problem = stopped.message.splitlines()[0] if stopped else \
            structure.judge_block(run, case, traced.block_rows)
        if problem and NONE_CALLED in problem:
            problem += " (self.relu is None without activation: apply it only when it is not None)"
        if problem:
            problems.append(f"{case.label()}: {problem}")
    right = len(cases) - len(problems)
    feedback.record(seeds=[c.seed for c in cases], passed=right)
    return Verdict(right / len(cases), "\n".join(
        [f"{right} of {len(cases)} blocks built and applied as the handout says."] + problems))
