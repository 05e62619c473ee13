"""5c: exponential learning rate decay. The student's train() runs with optimizer "sgd"
and the grader's forward and backward passes; the learning rate of every step is measured
from the step (observed.py) and must be eta * exp(-k * t), t the epoch from 0."""
from . import observed
from .cases import hidden_train_case, public_train_case
from ...core.engine.context import conclude, failure_verdict, graded
from .probing import run_cases


def _grade(grading, check, feedback, cases):
    run = run_cases(grading, "train_observed", check.id, cases)
    whole = failure_verdict(run, what="network_template.py")
    if whole is not None:
        return conclude(feedback, whole)
    rtol = float(check.value("lr_rtol"))
    problems = {}
    for case in cases:
        stopped = failure_verdict(run, case.name, "train() with optimizer \"sgd\"")
        problems[f"{case.name} run"] = [stopped.message] if stopped else \
            observed.judge_schedule(run, case, rtol)
    head = "; ".join(f"{c.name}: train(..., epochs={c.epochs}, mini_batch_size="
                     f"{c.mini_batch_size}, eta={c.eta:.4g}, k={c.k:.4g}) on {c.X.shape[1]} "
                     "columns" for c in cases)
    verdict = observed.verdict_of(problems, "run")
    conclude(feedback, type(verdict)(verdict.fraction, head + "\n" + verdict.message))


@graded("5c.1")
def test_public_schedule(grading, check, feedback):
    _grade(grading, check, feedback, [public_train_case(check, "sgd")])


@graded("5c.2")
def test_hidden_schedule(grading, check, feedback):
    cases = [hidden_train_case(grading.rubric.seed, check, "sgd", i)
             for i in range(int(check.value("cases")))]
    feedback.record(seeds=[c.seed for c in cases])
    _grade(grading, check, feedback, cases)
