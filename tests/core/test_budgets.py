"""Time and cost rules of Part 1: 3b's training budgets and 2d's backpropagation gate.

3b: every training budget follows one rubric rule (3b.2's budget_* keys): the reference's
measured seconds per iteration with the student's settings, times budget_factor (at least
1c's max_slowdown), times the iterations, plus a start-up allowance, capped by the run's
wall_seconds. A correct train() about 4x slower than the reference keeps its marks on the
default data (tests/parts/part1_numpy/mutants.py VARIANTS, einsum_without_blas, graded by test_e2e_part1); one
far slower is stopped, and told how far it got and how its time per iteration compares.
In retrain mode 3b.1 asks that train() trained (the checkpoint mode's progress criterion).

2d: loss(X, y) may cost at most max_backprop_ratio forward passes on a larger network, so
numerical gradients inside loss() earn nothing (tests/parts/part1_numpy/mutants.py, numerical_gradients).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.core.results import gradescope
from grader.core.rubric import spec as rubric
from grader.core.errors import RubricError
from grader.data import prepare
from grader.core.rubric.budgets import Budget
from mutants import MUTANTS, Mutant, ROOT, set_hyperparams
from outputs import plain
from rubric_copies import with_setting

RUBRIC_FILE = ROOT / "grader" / "rubric.toml"
RUBRIC = rubric.load()
RULE = RUBRIC.check("3b.2")
# Each call of loss(X, y) sleeps a second: far slower than the reference (20-30 ms per
# iteration), whatever the machine's load.
SLEEPY = Mutant("sleeps_in_loss", (
    ("import numpy as np\n", "import time\n\nimport numpy as np\n"),
    ("        if y is None:\n            return probs\n",
     "        if y is None:\n            return probs\n        time.sleep(1.0)\n")),
    ("3b.1", "3b.2"), (), "each training iteration sleeps a second")


def _mutant(name: str) -> Mutant:
    return next(m for m in MUTANTS if m.name == name)


_hyperparams = set_hyperparams  # mutants.py's


def _rubric_with(tmp_path: Path, old: str, new: str, question: str = "3b") -> Path:
    """grader/rubric.toml with one line of `question` changed, as an instructor would."""
    path = tmp_path / "rubric.toml"
    path.write_text(with_setting(RUBRIC_FILE.read_text(), question, old, new))
    return path


def grade(sub: Path, out: Path, questions: str, rubric_file: Path | None = None) -> dict:
    """`python -m grader grade` on the default data; returns check id -> test."""
    env = {k: v for k, v in os.environ.items() if k != "GRADER_DATA_DIR"}
    env["GRADER_CACHE"] = str(prepare.cache_dir())  # the synthetic data, prepared once
    cmd = [sys.executable, "-m", "grader", "grade", str(sub), "--out", str(out), "--quiet",
           "--questions", questions] + (["--rubric", str(rubric_file)] if rubric_file else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert results["extra_data"]["complete"], results["output"]
    return {t["number"]: t for t in results["tests"]}


# -- the rule, in the rubric ---------------------------------------------------------------

def test_one_budget_rule_at_least_as_lenient_as_1c():
    assert RULE.value("budget_factor") >= RUBRIC.check("1c.1").value("max_slowdown")
    for kind in ("real", "synthetic"):  # the ceilings do not depend on the data
        assert RUBRIC.limits_for(RULE, kind).wall_seconds == 540
        assert RUBRIC.limits_for(RUBRIC.check("3b.1"), kind).wall_seconds == 240


def test_budget_is_the_rule_capped_by_the_ceiling():
    budget = Budget(reference_s=0.017, num_iters=3000, factor=10, startup=20, ceiling=540)
    assert budget.seconds == pytest.approx(530)
    assert budget.describe().startswith("530 s = 20 s + 10 x 17.0 ms per iteration")
    slow = Budget(reference_s=0.03, num_iters=3000, factor=10, startup=20, ceiling=540)
    assert slow.seconds == 540
    assert slow.describe() == ("540 s, the rubric's ceiling (20 s + 10 x 30.0 ms per iteration "
                               "(the reference's time with your settings) x 3000 iterations "
                               "would be 920 s)")


@pytest.mark.parametrize("old, new, message", [
    ("budget_factor = 10.0\n", "budget_factor = 0.5\n",
     "check 3b.2: budget_factor should be a number >= 1"),
    ("budget_probe_iters = 40\n", "budget_probe_iters = 2.5\n",
     "check 3b.2: budget_probe_iters should be a positive whole number"),
    ("budget_startup_seconds = 20\n", "",
     "check 3b.2: budget_startup_seconds is missing; budget_factor, budget_startup_seconds"),
])
def test_bad_budget_rule_is_refused(tmp_path, old, new, message):
    with pytest.raises(RubricError, match=message):
        rubric.load(_rubric_with(tmp_path, old, new))


# -- 3b: training stopped by its budget; train() that did not train -----------------------

def test_training_far_slower_than_the_reference_is_stopped_with_how_far_it_got(tmp_path):
    """40 iterations of a second each, under a rubric copy whose start-up allowance is 5 s:
    the budget is 5 s + 10 x the reference's ~25 ms x 40 = about 15 s, so training stops
    well before the end, and says so."""
    sub = SLEEPY.write(tmp_path / "sub")
    _hyperparams(sub, num_iters=40)
    rubric_file = _rubric_with(tmp_path, "budget_startup_seconds = 20\n",
                               "budget_startup_seconds = 5\n")
    tests = grade(sub, tmp_path / "out", "3b", rubric_file)
    for cid in ("3b.1", "3b.2"):
        assert tests[cid]["score"] == 0
        text = plain(tests[cid]["output"])
        assert "stopped by its time budget of" in text, text
        assert "(the reference's time with your settings) x 40 iterations" in text
        assert "of 40 iterations in" in text and "the budget allows 10x" in text, text
        assert "Hint: make each iteration as fast as the reference's" in text
    details = tests["3b.2"]["extra_data"]
    budget = 5 + 10 * details["reference_ms_per_iteration"] / 1000 * 40
    assert details["budget_seconds"] == pytest.approx(budget, abs=0.1)
    assert budget < 40  # a budget that let this run finish would be the bug
    done = int(plain(tests["3b.2"]["output"]).split("Your train() did ")[1].split(" of ")[0])
    assert 3 <= done < 40


def test_train_that_never_trains_fails_3b1_in_retrain_mode(tmp_path):
    sub = _mutant("fabricated_history").write(tmp_path / "sub")
    tests = grade(sub, tmp_path / "out", "3b")
    run = tests["3b.1"]["extra_data"]
    assert tests["3b.1"]["score"] == 0 and run["mode"] == "retrain"
    assert run["first_loss"] > 2 and run["last_quarter_loss"] < 0.1  # the made-up history
    assert run["test_accuracy"] < run["min_test_accuracy"]  # what the grader measured
    assert not run["weights_changed"]
    assert "train() never changed the arrays in self.params" in plain(tests["3b.1"]["output"])
    assert tests["3b.2"]["score"] == 0
    assert "hardly learned (see 3b.1)" in plain(tests["3b.2"]["output"])


# -- 2d: backpropagation, not numerical gradients -----------------------------------------

def test_numerical_gradients_inside_loss_earn_nothing_on_2d(tmp_path):
    sub = _mutant("numerical_gradients").write(tmp_path / "sub")
    tests = grade(sub, tmp_path / "out", "2d")
    limit = RUBRIC.check("2d.1").value("max_backprop_ratio")
    for cid in ("2d.1", "2d.2"):
        text = plain(tests[cid]["output"])
        assert tests[cid]["score"] == 0
        assert "gradients must come from backpropagation: loss(X, y) took" in text
        assert f"on a 200 x 50 network (the rubric allows {limit:g}x); numerical " \
               "gradients inside loss() do not count" in text, text
        assert tests[cid]["extra_data"]["backprop_ratio"] > 20 * limit


def test_slowing_loss_X_down_does_not_hide_numerical_gradients(tmp_path):
    """loss(X) made 2000x slower (a sleep) would bring the ratio under the bar; it counts
    as at most max_forward_slowdown reference forward passes."""
    numerical = _mutant("numerical_gradients")
    slowed = Mutant("slow_forward_numerical_gradients", numerical.edits + (
        ("import numpy as np\n", "import time\n\nimport numpy as np\n"),
        ("        if y is None:\n            return probs\n",
         "        if y is None:\n            time.sleep(0.2)\n            return probs\n")),
        ("2d.1", "2d.2"), (), "numerical gradients, and loss(X) slowed down to hide them")
    tests = grade(slowed.write(tmp_path / "sub"), tmp_path / "out", "2d")
    for cid in ("2d.1", "2d.2"):
        text = plain(tests[cid]["output"])
        assert tests[cid]["score"] == 0
        assert "gradients must come from backpropagation" in text
        assert "loss(X) counted as" in text and "at least the reference's forward pass" in text
        extra = tests[cid]["extra_data"]
        assert extra["forward_ms"] > 150  # the sleep
        assert extra["backward_ms"] / extra["forward_ms"] < extra["max_backprop_ratio"]


def test_reference_backward_pass_costs_a_few_forward_passes(tmp_path):
    tests = grade(ROOT / "reference", tmp_path / "out", "2d")
    for cid in ("2d.1", "2d.2"):
        assert tests[cid]["score"] == tests[cid]["max_score"], tests[cid]["output"]
        assert tests[cid]["extra_data"]["backprop_ratio"] < 10


def test_backward_pass_past_its_time_budget_is_stopped_with_a_clear_message(tmp_path):
    """A 2d.1 budget of 2 s stops the numerical gradients' first call (3-4 s)."""
    rubric_file = _rubric_with(tmp_path, "  max_backprop_ratio = 50.0\n",
                               "  max_backprop_ratio = 50.0\n  wall_seconds = 2\n", "2d")
    sub = _mutant("numerical_gradients").write(tmp_path / "sub")
    tests = grade(sub, tmp_path / "out", "2d", rubric_file)
    for cid in ("2d.1", "2d.2"):
        text = plain(tests[cid]["output"])
        assert tests[cid]["score"] == 0
        assert "gradients must come from backpropagation: loss(X, y) on a 200 x 50 " \
               "network" in text, text
        # a busy loop may meet the CPU limit of the same 2 s before the wall clock's
        assert ("did not finish within 2 s" in text or "used more than 2 s of CPU time" in
                text) and "numerical gradients inside loss() do not count" in text, text
