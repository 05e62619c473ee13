"""5a: L2 regularisation: loss(output, Y), the gradients of every layer (against centred
numerical gradients of the regularised loss of the student's own network) and an SGD step
with l2 > 0 (the L2 term is in gw already: nothing added in update_network)."""
from . import l2
from .cases import hidden_net_cases, public_net_case
from ...core.engine.context import conclude, failure_verdict, graded
from ...core.engine.judge import Verdict
from .probing import run_cases


def _grade(grading, check, feedback, cases):
    h = float(check.value("step"))
    run = run_cases(grading, "l2_cases", check.id, cases, step=h)
    whole = failure_verdict(run, what="network_template.py")
    if whole is not None:
        return conclude(feedback, whole)
    seeds = [c.seed for c in cases if c.seed is not None]
    if seeds:
        feedback.record(seeds=seeds)
    verdicts = []
    for case in cases:
        stopped = failure_verdict(run, case.name)
        if stopped is not None:
            verdicts.append((case, 0.0, [stopped.message]))
            continue
        parts = l2.judge_case(run, case, h, float(check.value("max_rel_error")),
                              float(check.value("loss_rtol")), float(check.value("step_rtol")))
        right = [p.name for p in parts if not p.problem]
        problems = [f"{p.name}: {p.problem}" for p in parts if p.problem]
        skipped = run.values.get(f"{case.name}/step_skipped")
        if skipped:
            problems.append(f"note: update_network needs more arguments than (gw, gb, eta) "
                            f"({skipped}), so the SGD step was not checked")
        verdicts.append((case, len(right) / len(parts), problems
                         + ([f"right: {', '.join(right)}"] if right and len(right) < len(parts) else [])))
    lines = []
    for case, fraction, problems in verdicts:
        head = (f"{case.name} network, sizes {list(case.sizes)}, m = {case.m}, l2 = {case.l2:g}"
                + (f" (seed {case.seed})" if case.seed is not None else ""))
        lines.append(head + (": right." if fraction == 1 and not problems else ""))
        lines += problems
    if len(cases) == 1:
        return conclude(feedback, Verdict(verdicts[0][1], "\n".join(lines)))
    passed = sum(1 for _, f, _ in verdicts if f == 1)
    return conclude(feedback, Verdict(passed / len(cases),
                                      f"{passed} of {len(cases)} networks right.\n" + "\n".join(lines)))


@graded("5a.1")
def test_public_network(grading, check, feedback):
    _grade(grading, check, feedback, [public_net_case(check)])


@graded("5a.2")
def test_hidden_networks(grading, check, feedback):
    _grade(grading, check, feedback, hidden_net_cases(grading.rubric.seed, check))
