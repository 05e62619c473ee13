"""5b: Adam. The student's train() runs with optimizer "adam" for several epochs, with the
grader's forward and backward passes handing out grader-chosen gradients; every
update_network call is compared with the grader's Adam (observed.py) to the rubric's
tolerance."""
from . import observed
from .cases import hidden_train_case, public_train_case
from ...core.engine.context import conclude, failure_verdict, graded
from .probing import run_cases


def _grade(grading, check, feedback, cases):
    run = run_cases(grading, "train_observed", check.id, cases)
    whole = failure_verdict(run, what="network_template.py")
    if whole is not None:
        return conclude(feedback, whole)
    rtol, atol = float(check.value("rtol")), float(check.value("atol"))
    problems = {}
    for case in cases:
        stopped = failure_verdict(run, case.name, "train() with optimizer \"adam\"")
        problems[f"{case.name} run"] = [stopped.message] if stopped else \
            observed.judge_adam(run, case, rtol, atol)
    feedback.record(runs=[{**c.settings(), "seed": c.seed} for c in cases])
    head = "; ".join(f"{c.name}: sizes {list(c.sizes)}, {c.epochs} epochs of {c.per_epoch} "
                     f"steps, eta {c.eta:.3g}" for c in cases)
    verdict = observed.verdict_of(problems, "Adam run")
    conclude(feedback, type(verdict)(verdict.fraction, head + "\n" + verdict.message))


@graded("5b.1")
def test_public_adam_run(grading, check, feedback):
    _grade(grading, check, feedback, [public_train_case(check, "adam", k=0.0)])


@graded("5b.2")
def test_hidden_adam_runs(grading, check, feedback):
    cases = [hidden_train_case(grading.rubric.seed, check, "adam", i, k=0.0)
             for i in range(int(check.value("cases")))]
    feedback.record(seeds=[c.seed for c in cases])
    _grade(grading, check, feedback, cases)
