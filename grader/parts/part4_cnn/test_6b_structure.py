"""6b: the layers the student's CNN, ConvBlock and DenseBlock apply, traced in one
sandboxed child per check (structure.py says exactly what passes): two conv blocks that
keep H x W until their 2x2 max-pool, two dense blocks, logits out."""
import numpy as np

from . import structure
from .steps import NUM_CLASSES, PROBES, same_failure
from ...core.grading import conclude, failure_verdict, graded
from ...core.judge import Verdict
from ...core.rubric import case_seed


@graded("6b.1")
def test_cnn_structure(grading, check, feedback):
    rows = int(check.value("rows"))
    rng = np.random.default_rng(case_seed(grading.rubric.seed, check.id, 0))
    images = rng.standard_normal((rows, 3, 32, 32)).astype(np.float32)
    run = grading.probe(PROBES, "structure", check.id, inputs={"X": images})
    verdict = failure_verdict(run, what="CNN((3, 32, 32), 10)")
    if verdict is not None and run.values.get("events"):
        # forward crashed after some layers: what those did is often why (a size
        # the dense blocks did not expect)
        before = structure.walk(run.values["events"]).problems
        if before:
            verdict = Verdict(0.0, "\n".join([verdict.message, "Before that:"] + before))
    if verdict is None:
        problems, summary = structure.judge_cnn(run, rows, NUM_CLASSES)
        feedback.record(layers=summary, inp_dim=str(run.values.get("inp_dim", "")))
        note = ("" if run.values.get("inp_dim") != "3" else
                "Note: CNN((3, 32, 32), 10) failed, CNN(3, 10) was used (inp_dim as the "
                "number of channels).")
        lines = ([f"CNN((3, 32, 32), {NUM_CLASSES}): {summary}."] if summary else []) + problems
        verdict = Verdict(0.0 if problems else 1.0,
                          "\n".join(([note] if note else []) + (
                              problems if problems else lines + ["Logits out, shape "
                                                                 f"({rows}, {NUM_CLASSES})."])))
    conclude(feedback, verdict)


@graded("6b.2")
def test_blocks_alone(grading, check, feedback):
    rows = int(check.value("rows"))
    cases = structure.block_cases(grading.rubric.seed, check.id, check.value("kernels"))
    rng = np.random.default_rng(case_seed(grading.rubric.seed, check.id, len(cases)))
    inputs = {f"{c.name}/X": rng.standard_normal(c.input_shape(rows)).astype(np.float32)
              for c in cases}
    run = grading.probe(PROBES, "blocks", check.id, inputs=inputs,
                        params={"cases": [{"name": c.name, "kind": c.kind, **c.args}
                                          for c in cases]})
    verdict = failure_verdict(run, what="build_net.py") or \
        same_failure(run, [c.name for c in cases], "ConvBlock and DenseBlock")
    if verdict is None:
        problems = []
        for case in cases:
            stopped = failure_verdict(run, case.name)
            problem = stopped.message.splitlines()[0] if stopped else \
                structure.judge_block(run, case, rows)
            if problem:
                problems.append(f"{case.label()}: {problem}")
        feedback.record(seeds=[c.seed for c in cases], passed=len(cases) - len(problems))
        right = len(cases) - len(problems)
        verdict = Verdict(right / len(cases), "\n".join(
            [f"{right} of {len(cases)} blocks built and applied as the handout says."] + problems))
    conclude(feedback, verdict)
