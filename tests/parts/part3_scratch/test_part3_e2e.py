"""Part 3 end to end: grade submission folders with the CLI, as course staff would.

The reference is graded once on every Part 3 question, 5d's training and 5e's ablations
included (one test, so one worker does it); the template scores zero on every automatic
check with a reason.
"""
from __future__ import annotations

import pytest

from mutants_part3 import ROOT
from test_e2e_part1 import by_id, grade

PART3 = "5a,5b,5c,5d,5e,5f,7a"
AUTO = ["5a.1", "5a.2", "5b.1", "5b.2", "5c.1", "5c.2", "5d.1", "5d.2", "5e.1", "5f.1",
        "5f.2", "7a.1", "7a.2"]


def test_reference_end_to_end(tmp_path):
    """One test, so that one worker grades the reference once (pytest-xdist would run a
    module fixture once per worker): full marks, the calibration margin of 5d, 5e's
    table, what the feedback says."""
    reference = by_id(grade(ROOT / "reference", tmp_path, PART3))
    assert sorted(reference) == sorted(AUTO)
    lost = {k: t["output"] for k, t in reference.items() if t["score"] != t["max_score"]}
    assert not lost
    # Calibration (grader/rubric.toml, 5d.2): the reference's SETTINGS reach the synthetic
    # threshold with 10 points to spare; the accuracy is the grader's own.
    extra = reference["5d.2"]["extra_data"]
    assert extra["dataset_kind"] == "synthetic"
    assert extra["test_accuracy"] >= extra["threshold"] + 0.10, extra["test_accuracy"]
    assert extra["budget_seconds"] <= 540
    assert len(extra["val_acc_history"]) == 10  # one per epoch
    learned = reference["5d.1"]["extra_data"]
    assert learned["activation"] == "sigmoid"
    assert learned["last_quarter_loss"] < learned["first_loss"]
    # judged on the test rows (no sandbox sees their labels), the weights changed
    assert learned["test_accuracy"] == extra["test_accuracy"]
    assert learned["weights_changed"] == learned["weights_total"] == 4
    assert "validation accuracy" in reference["5d.2"]["output"] and \
        "(reported, not graded: train() gets the validation labels)" in reference["5d.2"]["output"]
    # 5e: informational, with the table and the curves
    extra = reference["5e.1"]["extra_data"]
    assert extra["informational"] and reference["5e.1"]["max_score"] == 0
    rows = extra["table"]["rows"]
    assert [r[0] for r in rows] == ["your settings (adam)", "sgd, eta 0.05", "without L2",
                                    "without the schedule"]
    assert all(r[6] is not None for r in rows)
    assert set(extra["curves"][0]["series"]) == {r[0] for r in rows}
    assert "3 of 3 networks right" in reference["5a.2"]["output"]
    assert "2 of 2 answers right" in reference["5f.1"]["output"]
    assert "6 of 6 answers right" in reference["7a.1"]["output"]
    assert reference["7a.2"]["visibility"] == "after_due_date"
    assert reference["7a.2"]["output"].startswith("**Passed**")  # every answer right


def test_template_scores_zero_with_reasons(tmp_path):
    template = by_id(grade(ROOT / "student_template", tmp_path, PART3))
    assert sorted(template) == sorted(AUTO)
    earned = {k: t["score"] for k, t in template.items() if t["score"]}
    assert not earned
    for check_id in ("5a.1", "5b.1", "5d.1"):
        assert "NotImplementedError" in template[check_id]["output"], template[check_id]["output"]
    assert "not answered (still None)" in template["7a.1"]["output"]
    assert "not answered (still None)" in template["5f.1"]["output"]
    for check_id in ("5f.2", "7a.2"):  # 0 points, but marked failed when answers are wrong
        assert template[check_id]["output"].startswith("**Failed**"), template[check_id]["output"]
        assert "expected" in template[check_id]["output"]


@pytest.mark.slow  # about 20 s: a training run cut by its budget (excluded by default)
def test_training_past_its_budget_says_how_far_it_got(tmp_path):
    """A train() far slower than the grader's own step is stopped by 5d's budget (here a
    rubric copy with a 12 s ceiling), and both checks say how far it got."""
    from grading import CPU_RUBRIC, grade as grade_in_process, with_params
    from mutants_part3 import UPDATE_CALL, Mutant

    rubric = with_params(CPU_RUBRIC, "5d.2", wall_seconds=12, cpu_seconds=12)
    slow = Mutant("slow_steps", ((UPDATE_CALL, UPDATE_CALL + "                "
                                  "__import__('time').sleep(0.1)\n"),), "5d", "slow steps")
    for graded in grade_in_process(slow.write(tmp_path / "sub"), "5d", rubric=rubric).values():
        assert graded.fraction == 0
        assert "stopped by its time budget of 12 s, the rubric's ceiling" in graded.message
        assert "of 630 steps" in graded.message


@pytest.mark.slow  # about 25 s: a training run of decoy steps
def test_a_train_that_fakes_a_falling_loss_earns_nothing(tmp_path, monkeypatch):
    """Issue 19: the loss and the update_network calls seen in the training child are
    hints; 5d's points need the grader's own evidence. A train() that hands backward_pass
    decoy outputs whose loss falls and calls update_network with zero gradients (every step
    observed, the loss down 79%) leaves the weights as built and the test rows at chance:
    both checks fail and say so."""
    from grader.core.rubric import spec as rubric_mod
    from grader.core.engine.context import Feedback, GradingContext
    from grader.parts.part3_scratch import training
    from grading import context
    from mutants_part3 import NEVER_LEARNS

    calls, probe = [], GradingContext.probe

    def recorded(self, probe_file, function, check_id, **kwargs):
        calls.append((function, kwargs))
        return probe(self, probe_file, function, check_id, **kwargs)

    monkeypatch.setattr(GradingContext, "probe", recorded)
    shipped = rubric_mod.load()
    for mutant in NEVER_LEARNS:
        trained = training.train_submission(context(mutant.write(tmp_path / mutant.name),
                                                    shipped))
        for check_id, judge in (("5d.1", training.judge_learned),
                                ("5d.2", training.judge_accuracy)):
            feedback = Feedback()
            verdict = judge(trained, shipped.check(check_id), feedback)
            assert verdict.fraction == 0, verdict.message
            assert mutant.says in verdict.message, verdict.message
            assert feedback.details["test_accuracy"] < 0.15, feedback.details
        assert trained.run.values["best/steps"] == 630  # the observers saw every step
    # no child is handed a test image or label (the budget's timing and the training)
    assert [f for f, _ in calls] == ["time_training", "train_runs"] * len(NEVER_LEARNS)
    for _, kwargs in calls:
        assert not {"X_test", "y_test"} & set(kwargs.get("data_files") or {})
        assert not kwargs.get("inputs")
