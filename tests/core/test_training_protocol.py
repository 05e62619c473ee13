"""The core's training protocol (grader/core/engine/training.py), on made-up values: the
progress run's epochs, the short-run rule, the gate before a judge and the budget's pace.
The parts' contract tests run it end to end (3b, 4b, 5d, 6c, 7d)."""
from __future__ import annotations

import pytest

from grader.core.engine.judge import Verdict
from grader.core.engine.training import Trained, judges, progress_epochs, short_run
from grader.core.rubric.budgets import Budget
from grader.core.sandbox.runner import Failure, ProbeRun

HANDOUT = {"num_epochs": 6, "batch_size": 64}


@pytest.mark.parametrize("rows, batch, iters, epochs", [
    (4000, 64, 80, 2), (4000, 64, 63, 1), (4000, 64, 1, 1), (100, 200, 5, 5)])
def test_progress_runs_whole_epochs_that_make_the_steps(rows, batch, iters, epochs):
    assert progress_epochs(rows, batch, iters) == epochs


def test_a_run_is_short_from_a_third_of_the_handouts_steps():
    assert short_run({"num_epochs": 2, "batch_size": 64}, HANDOUT).startswith(
        "the run was short: num_epochs = 2 and batch_size = 64 make 3 times fewer")
    assert short_run({"num_epochs": 6, "batch_size": 192}, HANDOUT)  # larger batches
    assert short_run({"num_epochs": 3, "batch_size": 64}, HANDOUT) == ""
    assert short_run({"num_epochs": 6, "batch_size": 32}, HANDOUT) == ""


def test_a_judge_runs_only_on_valid_settings_and_a_finished_run():
    stopped = ProbeRun({}, Failure("timeout", "took too long"))

    @judges(lambda t: Verdict(0.0, "stopped") if t.run.failure else None, "no settings: ",
            head=lambda t: [f"Your settings: {t.settings}"])
    def judge(trained, check, feedback):
        return Verdict(1.0, "judged")

    assert judge(Trained(None, None, "num_epochs is missing"), None, None).message == \
        "no settings: num_epochs is missing"
    assert judge(Trained(None, "s", run=stopped), None, None).message == \
        "Your settings: s\nstopped"
    assert judge(Trained(None, "s", run=ProbeRun({}, None)), None, None).passed


def test_the_budgets_pace_compares_with_the_reference():
    budget = Budget(reference_s=0.02, num_iters=100, factor=10, startup=20, ceiling=540)
    assert budget.pace(50, 5.0) == pytest.approx((0.1, 5.0))
    assert budget.seconds == pytest.approx(40)
