"""Questions side by side (grader/core/engine/lanes.py): how a grading is dealt into lanes,
that a grading in lanes gives the results of a grading in one (same checks, order, scores
and messages), and that a lane or a grader that dies still leaves a valid results.json."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core.engine import lanes
from grader.core.results import gradescope
from grader.core.rubric import budgets
from grader.core.rubric import spec as rubric_mod
from grader.core.sandbox.procs import descendants
from processes import alive, wait_for

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = rubric_mod.load()
TWO_LANES = "1a,1b,1c,2d,3a,5a,5b,5c"  # Part 1's numpy checks and Part 3's: two groups


def _costs(**seconds) -> budgets.ReferenceCosts:
    return budgets.ReferenceCosts(1.0, {f"{q}.1": s for q, s in seconds.items()})


def test_questions_that_read_a_file_in_common_share_a_lane():
    plan = lanes.lane_plan(RUBRIC, None, 8)
    for lane in plan:
        for other in plan:
            if lane is other:
                continue
            mine = {f for q in lane for f in RUBRIC.question(q).files}
            theirs = {f for q in other for f in RUBRIC.question(q).files}
            assert not mine & theirs, (lane, other)
    part1 = next(lane for lane in plan if "1a" in lane)
    assert {"1a", "1b", "1c", "2d", "3a", "3b"} <= set(part1)


def test_every_question_with_checks_is_in_exactly_one_lane_in_rubric_order():
    automatic = [q.id for q in RUBRIC.questions if q.checks]
    for jobs in (1, 2, 3, 4, 16):
        plan = lanes.lane_plan(RUBRIC, None, jobs)
        assert 1 <= len(plan) <= jobs
        dealt = [q for lane in plan for q in lane]
        assert sorted(dealt) == sorted(automatic), jobs
        for lane in plan:
            assert list(lane) == [q for q in automatic if q in lane]
        assert plan == lanes.lane_plan(RUBRIC, None, jobs)  # deterministic
    assert lanes.lane_plan(RUBRIC, None, 1) == (tuple(automatic),)


def test_costly_groups_are_dealt_to_the_lightest_lane_and_cheap_ones_open_none():
    costs = _costs(**{"3b": 100.0, "4b": 60.0, "6c": 50.0, "7d": 30.0})
    plan = lanes.lane_plan(RUBRIC, None, 2, costs)
    part1 = next(lane for lane in plan if "3b" in lane)
    assert "4b" not in part1 and "6c" not in part1
    assert "7d" in part1  # 100 + 30 against 60 + 50
    # groups too cheap to pay for a process of their own stay together
    assert len(lanes.lane_plan(RUBRIC, {"1a", "5a"}, 2, _costs())) == 1
    assert len(lanes.lane_plan(RUBRIC, {"1a", "5a"}, 2, _costs(**{"1a": 9, "5a": 9}))) == 2


def test_available_cores_is_at_least_one_and_at_most_the_affinity():
    assert 1 <= lanes.available_cores() <= len(os.sched_getaffinity(0))


def test_the_default_opens_no_more_lanes_than_the_memory_limit_holds(monkeypatch):
    monkeypatch.setattr(lanes, "available_cores", lambda: 4)
    for limit, jobs in ((None, 4), (768.0, 1), (2048.0, 1), (3072.0, 2), (64000.0, 4)):
        monkeypatch.setattr(lanes, "memory_limit_mb", lambda: limit)
        assert lanes.default_jobs() == jobs, limit


def test_a_grading_handed_its_sandbox_user_stays_in_one_lane(monkeypatch):
    monkeypatch.delenv("GRADER_SANDBOX_USER", raising=False)
    assert len(lanes.lanes_for(RUBRIC, None, 2)) == 2
    assert lanes.lanes_for(RUBRIC, None, 1) == ()
    monkeypatch.setenv("GRADER_SANDBOX_USER", "65101")  # grade-all's worker's slot
    assert lanes.lanes_for(RUBRIC, None, 2) == ()


def _grade(out: Path, jobs: int, questions: str = TWO_LANES, *extra: str,
           submission: Path = ROOT / "reference") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "grade", str(submission),
                           "--out", str(out), "--questions", questions, "--jobs", str(jobs),
                           "--record", *extra], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def _rows(out: Path) -> list[tuple]:
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    # measured times (1c's, 3b's) differ from run to run: numbers are left out of messages
    return [(t["number"], t["score"], t["max_score"], re.sub(r"[\d.]+", "#", t["output"]))
            for t in results["tests"]]


def test_lanes_grade_as_one_grading_does(tmp_path):
    assert len(lanes.lane_plan(RUBRIC, set(TWO_LANES.split(",")), 2)) == 2
    one, two = _grade(tmp_path / "one", 1), _grade(tmp_path / "two", 2)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    assert "grading 2 lanes side by side" in two.stderr
    assert "lanes side by side" not in one.stderr
    assert _rows(tmp_path / "two") == _rows(tmp_path / "one")
    merged = json.loads((tmp_path / "two" / "results.json").read_text())
    assert merged["extra_data"]["complete"] is True
    assert merged["score"] == merged["extra_data"]["max_score"]
    # the staff record keeps what the lanes recorded
    record = json.loads((tmp_path / "two" / "run.json").read_text())
    assert [r["check_id"] for r in record["results"]] == [c.id for c in RUBRIC.checks
                                                          if c.question in TWO_LANES.split(",")]


def _lane_processes(grader: int) -> list[int]:
    """The lane graders under a grading's process (`grade ... --jobs 1`)."""
    found = []
    for pid in descendants(grader):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"grade" in cmd and b"--jobs" in cmd and cmd[cmd.index(b"--jobs") + 1] == b"1":
            found.append(pid)
    return found


def test_a_lane_that_dies_leaves_its_checks_pending_and_the_others_graded(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(ROOT / "reference"),
                             "--out", str(out), "--questions", TWO_LANES, "--jobs", "2",
                             "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        victims = wait_for(lambda: len(_lane_processes(proc.pid)) == 2
                           and _lane_processes(proc.pid), 120, "two lanes")
        part3 = next(p for p in victims if b"5a" in Path(f"/proc/{p}/cmdline").read_bytes())
        os.killpg(part3, signal.SIGKILL)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, err[-2000:]  # a grader error: the lane stopped
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    outcomes = {t["number"]: t["extra_data"]["outcome"] for t in results["tests"]}
    assert all(outcomes[c] == "passed" for c in outcomes if c[:2] in ("1a", "1b", "1c", "2d", "3a"))
    assert any(o == "pending" for c, o in outcomes.items() if c.startswith("5"))
    assert "questions 5a, 5b, 5c" in results["extra_data"]["grader_error"]
    assert results["extra_data"]["complete"] is False


def test_a_killed_grader_leaves_a_valid_results_json_and_no_lane_behind(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(ROOT / "reference"),
                             "--out", str(out), "--jobs", "2", "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (out / "results.json").is_file() and any(
            t["extra_data"]["outcome"] == "passed"
            for t in json.loads((out / "results.json").read_text())["tests"]), 120,
            "a check graded")
        everyone = _lane_processes(proc.pid)
        everyone += [d for p in everyone for d in descendants(p)]
        assert everyone
        proc.kill()
        proc.wait()
        wait_for(lambda: not any(alive(p) for p in everyone), 30, "every lane gone")
    finally:
        proc.kill()
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert results["extra_data"]["complete"] is False
    assert any(t["extra_data"]["outcome"] == "pending" for t in results["tests"])


@pytest.mark.slow
def test_lanes_finish_inside_the_deadline_when_one_hangs(tmp_path):
    from test_deadline import _hanging_part1
    sub = _hanging_part1(tmp_path)
    for name in RUBRIC.question("5a").files:
        (sub / name).write_text((ROOT / "reference" / name).read_text())
    deadline = 40.0
    start = time.monotonic()
    proc = _grade(tmp_path / "out", 2, TWO_LANES, "--deadline", str(deadline), "--quiet",
                  submission=sub)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert took < deadline, took
    rows = {number: score for number, score, _, _ in _rows(tmp_path / "out")}
    assert all(rows[c] == 0 for c in rows if c[:2] in ("1a", "1b", "1c", "2d", "3a")), rows
    assert all(rows[c] > 0 for c in rows if c.startswith("5"))  # graded beside the hang


@pytest.mark.slow
def test_a_whole_grade_in_lanes_scores_every_check_as_one_lane_does(tmp_path):
    """A regrade is deterministic whichever way it runs: every check of reference/, graded
    in one lane and then in two, earns the same points."""
    scores = {}
    for jobs in (1, 2):
        proc = _grade(tmp_path / str(jobs), jobs, ",".join(q.id for q in RUBRIC.questions
                                                           if q.checks), "--quiet")
        assert proc.returncode == 0, proc.stderr[-3000:]
        scores[jobs] = [(number, score) for number, score, _, _ in _rows(tmp_path / str(jobs))]
    assert scores[1] == scores[2]
    assert sum(score for _, score in scores[2]) == sum(c.points for c in RUBRIC.checks)
