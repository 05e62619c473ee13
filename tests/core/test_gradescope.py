"""grader/gradescope.py: results.json follows Gradescope's schema and is written atomically."""
import json

import pytest

from grader.core.results import gradescope
from grader.core.results.records import (ERROR, FAILED, PASSED, PENDING, SKIPPED, CheckResult,
                                         GradingRun, ManualItem, RunInfo)

INFO = RunInfo(submission="/subs/alice", rubric_version="2026.11-part1", seed=20260531,
               dataset_kind="synthetic", dataset_note="Graded on synthetic data.",
               public_only=False, versions={"python": "3.11", "numpy": "1.26"},
               device="cpu: test", started="2026-05-31T12:00:00")
RESULTS = (
    CheckResult("1a.1", "toy probabilities", 2, 2, PASSED, "visible", "ok",
                details={"max_error": 1e-9}, seconds=0.51234),
    CheckResult("1b.1", "toy loss", 0, 2, FAILED, "visible", "loss: expected 1.3, got 2"),
    CheckResult("1a.2", "hidden probabilities", 0, 2, PENDING, "after_due_date",
                "not reached"),
    CheckResult("1b.2", "hidden loss", 0, 2, ERROR, "after_due_date",
                "grader error, contact course staff", staff_note="Traceback: boom"),
    CheckResult("2d.2", "hidden gradients", 0, 2, SKIPPED, "hidden", "skipped"),
    CheckResult("2d.1", "toy gradients", 2.25, 3, FAILED, "visible", "W1 off"),
)
MANUAL = (ManualItem("2a", "Report: dL/dz3", 2), ManualItem("2c", "Report: W1, b1, b2", 6))


def _run(results=RESULTS, **changes):
    values = dict(info=INFO, results=results, manual=MANUAL, seconds=12.2, complete=True)
    return GradingRun(**{**values, **changes})


@pytest.fixture
def content():
    return gradescope.results_json(_run())


def test_results_validate(content):
    assert gradescope.validate(content) == []
    assert json.loads(json.dumps(content, allow_nan=False)) == content


def test_statuses_are_only_passed_or_failed(content):
    statuses = [t["status"] for t in content["tests"]]
    assert statuses == ["passed", "failed", "failed", "failed", "failed", "failed"]
    outcomes = [t["extra_data"]["outcome"] for t in content["tests"]]
    assert outcomes == [PASSED, FAILED, PENDING, ERROR, SKIPPED, FAILED]


def test_tests_carry_the_records(content):
    first, error = content["tests"][0], content["tests"][3]
    assert first["number"] == "1a.1" and first["name"] == "toy probabilities"
    assert (first["score"], first["max_score"]) == (2, 2)
    assert first["visibility"] == "visible" and first["output"] == "ok"
    assert first["extra_data"]["max_error"] == 1e-9
    assert first["extra_data"]["seconds"] == 0.512
    assert error["visibility"] == "after_due_date"
    assert error["extra_data"]["staff_note"] == "Traceback: boom"
    assert "staff_note" not in first["extra_data"]
    assert "Traceback" not in error["output"]


def test_top_level(content):
    assert content["score"] == 4.25
    assert content["execution_time"] == 13
    assert content["stdout_visibility"] == "hidden"
    extra = content["extra_data"]
    assert extra["max_score"] == 13 and extra["seed"] == 20260531
    assert extra["dataset_kind"] == "synthetic" and extra["complete"] is True
    assert [m["question"] for m in extra["manual"]] == ["2a", "2c"]
    assert "Graded by hand later (8 points): 2a Report: dL/dz3 (2)" in content["output"]
    assert "Graded on synthetic data." in content["output"]


def test_summary_counts_hidden_checks(content):
    head = content["output"].splitlines()[0]
    assert head == ("1 of 3 public checks passed; 3 hidden checks graded after the due date.")
    one_hidden = _run(results=RESULTS[:3])
    assert "; 1 hidden check graded after the due date." in gradescope.headline(one_hidden)
    assert gradescope.hidden_count(one_hidden) == 1


def test_summary_when_public_checks_pass_or_grading_stopped():
    passed = _run(results=(RESULTS[0], RESULTS[2]), complete=False)
    line = gradescope.headline(passed)
    assert line.startswith("Public checks passed; 1 hidden check")
    assert "grading did not finish" in line
    broken = _run(grader_error="KeyError: 'x'")
    assert gradescope.headline(broken).startswith("Grader error, contact course staff")
    assert "(KeyError)" in gradescope.headline(broken)
    assert gradescope.results_json(broken)["extra_data"]["grader_error"] == "KeyError: 'x'"


def test_write_json_is_atomic_and_round_trips(tmp_path, content):
    path = tmp_path / "out" / "results.json"
    gradescope.write_json(path, content)
    assert json.loads(path.read_text()) == content
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]
    gradescope.write_json(path, {**content, "score": 1})  # replaces, leaves no .tmp
    assert json.loads(path.read_text())["score"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_write_json_never_writes_nan_tokens(tmp_path):
    gradescope.write_json(tmp_path / "r.json", {"score": float("nan")})
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and json.loads(text) == {"score": None}


@pytest.mark.parametrize("edit, problem", [
    (lambda c: c.update(grade=3), "unknown top-level field grade"),
    (lambda c: c["tests"][0].update(points=1), "tests[0]: unknown field points"),
    (lambda c: c["tests"][1].update(status="error"), "tests[1]: status 'error'"),
    (lambda c: c["tests"][0].update(score=2.5), "tests[0]: score above max_score"),
    (lambda c: c["tests"][0].update(visibility="later"), "tests[0]: visibility 'later'"),
    (lambda c: c["tests"][0].update(max_score="2"), "tests[0]: max_score is not a number"),
    (lambda c: c["tests"][0].update(score=None), "tests[0]: score is not a number"),
    (lambda c: c.update(execution_time="12"), "execution_time is not a number"),
    (lambda c: c.update(stdout_visibility="public"), "stdout_visibility 'public'"),
])
def test_validate_catches_problems(content, edit, problem):
    edit(content)
    assert problem in gradescope.validate(content)


def test_validate_needs_a_score_somewhere(content):
    del content["score"]
    assert gradescope.validate(content) == []  # every test has its own score
    del content["tests"][0]["score"]
    assert gradescope.validate(content) == ["score missing at the top and on some tests"]


def test_write_json_survives_infinities_and_nans(tmp_path):
    path = tmp_path / "results.json"
    gradescope.write_json(path, {"score": 1.0, "tests": [
        {"extra_data": {"loss_history": [1.0, float("inf"), float("nan"), -float("inf")]}}]})
    content = json.loads(path.read_text())
    assert content["tests"][0]["extra_data"]["loss_history"] == [1.0, None, None, None]


def test_every_curve_is_summarised_in_its_tests_output(tmp_path):
    """Gradescope never shows report.html: each test's Markdown output says what its
    charts show (first and last loss, best accuracy per epoch, the threshold)."""
    from grader.core.results import run_files
    from grader.core.rubric import spec
    curves = CheckResult("3b.2", "trained network", 0, 3, FAILED, "visible", "too low",
                         details={"loss_history": [2.3, 2.0, 1.7], "threshold": 0.45,
                                  "train_acc_history": [0.2, 0.3],
                                  "val_acc_history": [0.2, 0.25]})
    run_files.write(_run(results=(RESULTS[0], curves)), spec.load(), tmp_path)
    content = json.loads((tmp_path / "results.json").read_text())
    assert gradescope.validate(content) == []
    test = content["tests"][1]
    assert test["output_format"] == "md"
    for words in ("**Curves**", "loss: first 2.3, last 1.7, lowest 1.7",
                  "validation: best 25.0% (epoch 2 of 2), last 25.0%; per epoch 20.0%, 25.0%",
                  "threshold: 45.0%"):
        assert words in test["output"], test["output"]
    assert "Curves" not in content["tests"][0]["output"]  # none recorded, none said


def test_staff_only_details_stay_in_extra_data():
    error = "PermissionError: [Errno 13] Permission denied: '/root/.pyenv/bin/python'"
    info = RunInfo(**{**INFO.__dict__, "submission": "/autograder/submission",
                      "sandbox": f"cannot be isolated: {error}",
                      "dataset_note": "No CIFAR-10 found in /autograder/data: synthetic."})
    broken = _run(info=info, grader_error=f"student code cannot be run in the sandbox on "
                                          f"this machine: {error}")
    content = gradescope.results_json(broken)
    assert "PermissionError" not in content["output"] and "/autograder" not in content["output"]
    assert "(student code cannot be run in the sandbox on this machine)" in content["output"]
    extra = content["extra_data"]
    assert error in extra["grader_error"] and error in extra["sandbox"]
    assert extra["submission"] == "/autograder/submission"
    assert "/autograder/data" in extra["dataset_note"]


def test_a_grader_errors_cause_shows_students_its_first_clause_only():
    """A check the grader could not grade says why in its own words; the exception text
    and the machine's paths go to the staff note (extra_data), never to the output."""
    from types import SimpleNamespace

    from grader.core.engine import plugin
    from grader.core.engine.context import Feedback
    from grader.core.errors import SandboxError
    from grader.core.rubric import spec
    exc = SandboxError("no check was graded: cannot run student code as nobody: "
                       "PermissionError: [Errno 13] Permission denied: '/root/.pyenv/python'")
    try:
        raise exc
    except SandboxError:
        pass
    report = SimpleNamespace(passed=False, skipped=False, when="setup", longreprtext="")
    call = SimpleNamespace(excinfo=SimpleNamespace(value=exc))
    status, score, message, staff = plugin._judge_outcome(
        report, call, spec.load().check("1a.1"), Feedback())
    assert (status, score) == (ERROR, 0.0)
    assert message.endswith("\nCause: no check was graded")
    assert "PermissionError" in staff and "/root/.pyenv" in staff
