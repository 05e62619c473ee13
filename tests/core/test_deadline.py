"""Time: call budgets scaled from the reference's cost, and grade --deadline (a submission
whose functions hang still gets a complete, valid results.json inside the deadline, every
check graded or saying why it was not)."""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from grader.core.rubric import budgets
from grader.core.results import gradescope
from grader.core.rubric import spec as rubric

ROOT = Path(__file__).resolve().parents[2]
HANG = '        while True:  # every call of loss() hangs\n            pass\n'


def _hanging_part1(tmp: Path) -> Path:
    sub = tmp / "sub"
    sub.mkdir()
    text = (ROOT / "reference" / "two_layernet.py").read_text()
    anchor = '        W1, b1 = self.params["W1"], self.params["b1"]\n'
    assert anchor in text
    (sub / "two_layernet.py").write_text(text.replace(anchor, HANG + anchor, 1))
    shutil.copy(ROOT / "reference" / "hyperparams.py", sub)
    return sub


def test_hanging_submission_finishes_inside_the_deadline(tmp_path):
    deadline = 32.0  # 17 s for the calls: not enough for 11 checks of at least 2 s
    out = tmp_path / "out"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(_hanging_part1(tmp_path)),
                           "--out", str(out), "--questions", "1a,1b,1c,2d,3a", "--quiet",
                           "--deadline", str(deadline)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert took < deadline, took
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    outcomes = {t["number"]: t["extra_data"]["outcome"] for t in results["tests"]}
    assert "pending" not in outcomes.values(), outcomes
    assert results["score"] == 0
    messages = "\n".join(t["output"] for t in results["tests"])
    for test in results["tests"]:  # stopped, not run again, or no time left for it
        assert any(reason in test["output"] for reason in (
            "did not finish within", "is not run again", "used more than",
            "the grading time ran out while")), test["output"]


def test_a_check_with_no_time_left_says_which_question_took_it():
    from grader.core.engine.context import GradingContext, OutOfTime
    context = GradingContext(ROOT / "reference", None, False, True,
                             deadline=time.monotonic() - 1)
    context.ran_out_in = "1a"
    try:
        context.time_share("3a.1", 15.0)
    except OutOfTime as exc:
        assert exc.message().startswith(
            "Not graded: the grading time ran out while 1a was running")
    else:
        raise AssertionError("a call was allowed after the deadline")
    context.deadline = time.monotonic() + 100  # time left: shared with what is to come
    context.checks_to_come = ["3a.2", "3a.3"]
    assert 2.0 <= context.time_share("3a.1", 15.0) <= 15.0


def test_deadline_too_short_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", "reference", "--out",
                           str(tmp_path), "--deadline", "5"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "--deadline must be at least" in proc.stderr


def test_call_budget_rule():
    assert budgets.call_budget(60, 0.3, 20, 15) == 15  # the floor
    assert budgets.call_budget(60, 1.2, 20, 15) == 24  # 20 x the cost
    assert budgets.call_budget(60, 1.2, 20, 15, slowness=2.0) == 48  # a slower machine
    assert budgets.call_budget(60, 0.3, 20, 15, slowness=2.0) == 30  # the floor too
    assert budgets.call_budget(60, 9.0, 20, 15) == 60  # never above the ceiling
    assert budgets.call_budget(60, None, 20, 15) == 60  # no cost recorded
    assert budgets.call_budget(60, 1.0, 0, 15) == 60  # the rule turned off


def test_every_question_without_a_dataset_has_a_recorded_cost():
    costs = budgets.ReferenceCosts.load()
    assert costs.machine_seconds > 0
    shipped = rubric.load()
    for question in shipped.questions:
        if question.checks and not question.dataset:
            assert any(costs.checks.get(c.id) for c in question.checks) or all(
                shipped.check(c.id).points == 0 or c.id.startswith(("5f", "7a", "7c"))
                for c in question.checks), question.id


def test_a_hanging_call_waits_its_scaled_budget_not_the_flat_ceiling(tmp_path):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(_hanging_part1(tmp_path)),
                           "--out", str(tmp_path / "out"), "--questions", "1a", "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    for test in results["tests"]:
        # its scaled budget stopped it: the wall clock or, on an idle machine first, the CPU
        # limit of the same seconds (a busy loop), as the test below accepts too
        assert ("did not finish within" in test["output"]
                or "used more than" in test["output"] and "of CPU time" in test["output"]), test
        assert test["extra_data"]["sandbox_seconds"] < 50, test  # the ceiling is 60 s
    assert time.monotonic() - start < 100


def test_a_function_that_ran_out_of_time_is_not_run_again_within_that_budget(tmp_path):
    """The call that hung names the function it was in; later checks that would call it
    with the same or a smaller budget fail at once, naming it and the check that stopped
    it; a check with a larger budget (1c.1's, from its larger recorded cost) tries again."""
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(_hanging_part1(tmp_path)),
                           "--out", str(tmp_path / "out"), "--questions", "1a,1b,3a",
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tests = {t["number"]: t for t in json.loads((tmp_path / "out" / "results.json")
                                                .read_text())["tests"]}
    first = tests["1a.1"]["output"]
    # stopped by the wall clock or, first, by the CPU limit (a busy loop): named either way
    assert ("TwoLayerNet.loss() did not finish within" in first
            or "TwoLayerNet.loss() used more than" in first) and "two_layernet.py" in first
    for cid in ("1a.2", "1b.1", "1b.2", "3a.1", "3a.2", "3a.3"):
        text = tests[cid]["output"]
        assert "TwoLayerNet.loss() is not run again: it did not finish within" in text, text
        assert "in check 1a.1" in text and "an earlier check stopped this function" in text
        assert tests[cid]["extra_data"]["sandbox_seconds"] < 5, tests[cid]
