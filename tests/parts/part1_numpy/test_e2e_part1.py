"""End to end: grade real submission folders with the CLI, as course staff would."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core.results import gradescope
from grader.core.rubric import spec as rubric
from mutants import BROKEN, MUTANTS, REFERENCE, ROOT, VARIANTS
from outputs import plain

RUBRIC = rubric.load()
CHEAP = "1a,1b,1c,2d,3a"  # every Part 1 question but the CIFAR-10 retraining
# Part 1's questions: the other parts' end-to-end modules grade their own, and the
# Gradescope layout test grades the whole rubric
PART1 = ",".join(q.id for q in RUBRIC.questions if q.part == 1)  # 2a-2c: listed, by hand
AUTO_IDS = [c.id for c in RUBRIC.checks if RUBRIC.question(c.question).part == 1]


def grade(submission: Path, out: Path, questions: str | None = None) -> dict:
    """Runs `python -m grader grade` and returns results.json (asserting it is valid)."""
    cmd = [sys.executable, "-m", "grader", "grade", str(submission), "--out", str(out), "--quiet"]
    if questions:
        cmd += ["--questions", questions]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert results["extra_data"]["complete"], results["output"]
    return results


def by_id(results: dict) -> dict:
    return {t["number"]: t for t in results["tests"]}


def test_reference_full_marks(tmp_path):
    results = grade(REFERENCE, tmp_path, PART1)
    tests = by_id(results)
    assert sorted(tests) == sorted(AUTO_IDS)
    lost = {k: t["output"] for k, t in tests.items() if t["score"] != t["max_score"]}
    assert not lost
    assert results["score"] == sum(c.points for c in RUBRIC.checks if c.id in AUTO_IDS)
    assert "SYNTHETIC" in results["output"]  # never passed off as CIFAR-10
    extra = tests["3b.2"]["extra_data"]
    assert extra["dataset_kind"] == "synthetic"
    assert extra["judged"] == "test_accuracy"  # test labels never enter a sandbox
    assert extra["test_accuracy"] >= extra["threshold"] + 0.10  # clears it with margin
    assert 0.3 < extra["val_accuracy"] <= 1  # the handout's measure, reported
    assert results["leaderboard"] == [{"name": "3b test accuracy",
                                       "value": round(100 * extra["test_accuracy"], 2),
                                       "order": "desc"}]
    assert "2a" in results["output"] and "by hand" in results["output"]
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "data:image/png;base64," in html  # curves and weight tiles


def test_template_scores_zero_everywhere(tmp_path):
    results = grade(ROOT / "student_template", tmp_path, PART1)
    tests = by_id(results)
    assert sorted(tests) == sorted(AUTO_IDS)
    earned = {k: t["score"] for k, t in tests.items() if t["score"]}
    assert not earned
    assert all(t["output"] for t in tests.values())  # every zero says why


def test_variant_written_differently_keeps_full_marks(tmp_path):
    results = grade(ROOT / "tests" / "submissions" / "variant_student", tmp_path, CHEAP)
    lost = {k: t["output"] for k, t in by_id(results).items() if t["score"] != t["max_score"]}
    assert not lost


@pytest.mark.parametrize("variant", [
    # a variant graded on 3b retrains CIFAR-10 at its own (slower) pace: minutes
    pytest.param(v, id=v.name, marks=[pytest.mark.slow] if "3b" in v.keeps else [])
    for v in VARIANTS])
def test_correct_variant_keeps_full_marks(variant, tmp_path):
    """An unused `import torch` (the sandbox must import torch) and scipy.special (the
    grader must provide scipy) cost nothing."""
    sub = variant.write(tmp_path / "sub")
    results = grade(sub, tmp_path / "out", ",".join(variant.keeps))
    lost = {k: t["output"] for k, t in by_id(results).items() if t["score"] != t["max_score"]}
    assert not lost


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_loses_points_only_where_its_bug_is(mutant, tmp_path):
    sub = mutant.write(tmp_path / "sub")
    questions = sorted({c.split(".")[0] for c in mutant.loses} | set(mutant.keeps))
    tests = by_id(grade(sub, tmp_path / "out", ",".join(questions)))
    for cid in mutant.loses:
        assert tests[cid]["score"] < tests[cid]["max_score"], f"{cid} missed: {mutant.bug}"
        assert tests[cid]["output"]
    for cid, test in tests.items():
        if cid.split(".")[0] in mutant.keeps:
            assert test["score"] == test["max_score"], (cid, test["output"])


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_broken_submission_gets_a_clear_message(broken, tmp_path):
    sub = broken.write(tmp_path / "sub")
    results = grade(sub, tmp_path / "out", CHEAP)
    for test in results["tests"]:
        assert test["score"] == 0
        if test["number"] != "1c.2" or broken.name not in ("syntax_error", "missing_file"):
            assert broken.phrase in plain(test["output"]), (test["number"], test["output"])


def test_wrong_loss_sends_2d_to_1b_first(tmp_path):
    """Gradients of a wrong loss are wrong: 2d says to fix 1b first, with 1b's finding,
    instead of a hint per parameter (which would point at the wrong place); scores stay."""
    mutant = next(m for m in MUTANTS if m.name == "summed_loss_and_gradients")
    tests = by_id(grade(mutant.write(tmp_path / "sub"), tmp_path / "out", "1b,2d"))
    for cid in ("2d.1", "2d.2"):
        text = plain(tests[cid]["output"])
        assert tests[cid]["score"] == 0, text
        assert "Hint: fix 1b first" in text and "the loss is wrong too (1b): expected loss" in text
        assert "too large" not in text and "W1:" not in text, text  # no per-parameter hints
    assert "0 of 4 gradients match" in plain(tests["2d.1"]["output"])
    assert "summed, not averaged" in plain(tests["1b.1"]["output"])


def test_missing_hyperparams_costs_3b_only(tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(REFERENCE, sub)
    (sub / "hyperparams.py").write_text("BEST_HYPERPARAMS = dict(hidden_size=100)\n")
    tests = by_id(grade(sub, tmp_path / "out", "1a,3b"))
    assert tests["1a.1"]["score"] == 2
    assert tests["3b.1"]["score"] == 0 and "literal dict" in plain(tests["3b.1"]["output"])
    assert tests["3b.2"]["score"] == 0


def test_self_check_runs_public_checks_only(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(REFERENCE), "--out",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    visibilities = {t["visibility"] for t in results["tests"]}
    assert visibilities == {"visible"}
    skipped = [t for t in results["tests"] if t["extra_data"]["outcome"] == "skipped"]
    trains = [c.id for c in RUBRIC.checks if RUBRIC.question(c.question).dataset and c.public]
    assert [t["number"] for t in skipped] == trains  # 3b's and every part's training checks
    assert trains[:2] == ["3b.1", "3b.2"]
    assert "--full" in plain(skipped[0]["output"])
    assert "Score on public checks" in proc.stdout


def test_self_check_of_template_explains_stubs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grader", "check", "student_template",
                           "--questions", "1a,2d"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1  # a public check failed: a script or CI can tell
    assert "not implemented yet" in proc.stdout
    assert "two_layernet.py:" in proc.stdout  # the student's own file and line


def test_killed_grader_leaves_valid_results(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(REFERENCE), "--out",
                             str(out), "--quiet", "--questions", "1a,3b"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    graded = []
    while time.monotonic() < deadline and not graded:
        time.sleep(0.2)
        if (out / "results.json").exists():
            results = json.loads((out / "results.json").read_text())
            graded = [t for t in results["tests"] if t["extra_data"]["outcome"] != "pending"]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert not results["extra_data"]["complete"]
    outcomes = {t["number"]: t["extra_data"]["outcome"] for t in results["tests"]}
    assert outcomes["1a.1"] == "passed"
    assert outcomes["3b.2"] == "pending"
    assert "did not finish" in results["output"]
    assert "pending" in (out / "report.html").read_text()


def test_part1_never_imports_torch(tmp_path):
    code = ("import sys; from grader.core import cli; "
            f"cli.main(['grade', 'reference', '--out', {str(tmp_path)!r}, '--quiet', "
            "'--questions', '1a,3a']); "
            "assert 'torch' not in sys.modules and 'torchvision' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_training_that_diverges_to_infinity_still_leaves_valid_results(tmp_path):
    """A loss history holding inf (no averaging, no ReLU: the toy run blows up) is
    recorded with gaps, not lost: results.json stays strict JSON."""
    sub = tmp_path / "sub"
    shutil.copytree(REFERENCE, sub)
    code = (sub / "two_layernet.py").read_text()
    for old, new in (("        dz3 /= N\n", ""), ("np.maximum(0.0, z2)", "z2")):
        assert old in code
        code = code.replace(old, new)
    (sub / "two_layernet.py").write_text(code)
    results = grade(sub, tmp_path / "out", "3a")
    toy = by_id(results)["3a.1"]
    assert toy["score"] == 0 and None in toy["extra_data"]["loss_history"]
