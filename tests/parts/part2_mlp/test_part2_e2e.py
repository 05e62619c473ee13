"""Part 2 end to end: grade submission folders with the CLI, as course staff would.

The reference is graded once (module fixture) on 4a and 4b, and every test of it reads
that run: full marks, what the feedback says, what results.json and the report record, and
what it cost. The template scores zero with a reason per check; a script in the style of
the public solutions (trains at import, downloads CIFAR-10, no __main__ guard) is graded
on 4a without training or network, and told which lines were not run.
"""
from __future__ import annotations

import json

import pytest

from mutants_part2 import PUBLIC_STYLE, ROOT
from test_e2e_part1 import by_id, grade

from grader.core.rubric import spec as rubric_mod

RUBRIC = rubric_mod.load()

pytest.importorskip("torch")

PART2 = "4a,4b"




@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    return by_id(grade(ROOT / "reference", out, PART2 + ",4c")), out


def test_reference_full_marks(reference):
    tests, _ = reference
    assert sorted(tests) == ["4a.1", "4a.2", "4b.1", "4b.2", "4c.1"]
    lost = {k: t["output"] for k, t in tests.items() if t["score"] != t["max_score"]}
    assert not lost


def test_reference_feedback_names_layers_input_and_lines_not_run(reference):
    tests, _ = reference
    text = tests["4a.1"]["output"]
    assert "Linear(3072, 100) -\\> Linear(100, 50) -\\> Linear(50, 10)" in text
    assert "images, shape (32, 3, 32, 32)" in text
    assert "ex2_pytorch.py lines" in text and "the \\_\\_main\\_\\_ block" in text
    assert "ex2_FCnet.py" not in text  # lines not run are noted for the question's files only
    assert len(tests["4a.2"]["extra_data"]["seeds"]) == 3


def test_reference_training_is_observed_and_recorded(reference):
    tests, out = reference
    loop = tests["4b.1"]["extra_data"]
    assert loop["steps"] == loop["zero_grad_calls"] == loop["loss_calls"] == 10 * 20
    assert loop["epoch_lrs"] == pytest.approx([1e-3 * 0.95 ** e for e in range(10)])
    assert loop["model_changed"] and loop["test_accuracy"] > loop["min_test_accuracy"] + 0.2
    assert loop["accumulated_steps"] == loop["val_loader_steps"] == 0
    assert loop["device"] == "cpu"
    extra = tests["4b.2"]["extra_data"]
    assert extra["dataset_kind"] == "synthetic"
    assert extra["judged"] == "test_accuracy"
    assert extra["test_accuracy"] >= extra["threshold"] + 0.10  # calibration margin
    assert 0 < extra["val_accuracy"] <= 1
    assert len(extra["val_acc_history"]) == len(extra["train_acc_history"]) == 10
    assert extra["val_acc_history"][-1] == pytest.approx(extra["val_accuracy"], abs=1e-9)
    assert len(extra["loss_history"]) == 200 and extra["loss_history"][0] > extra["loss_history"][-1]
    assert "synthetic CIFAR-format data" in tests["4b.2"]["output"]
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 2  # the loss curve and the accuracy per epoch


def test_depth_experiment_is_informational_with_table_and_curves(reference):
    """4c stays graded by hand: its one check is worth 0 points, after the due date, and
    carries the grader's table (one row per depth) and curves, drawn in the report."""
    tests, out = reference
    test = tests["4c.1"]
    assert (test["score"], test["max_score"], test["visibility"]) == (0, 0, "after_due_date")
    assert test["extra_data"]["outcome"] == "passed" and test["extra_data"]["informational"]
    assert "points are given by hand" in test["output"]
    rows = test["extra_data"]["table"]["rows"]
    assert [r[1] for r in rows] == [2, 3, 4, 5]
    assert rows[0][2] == 3072 * 50 + 50 + 50 * 10 + 10  # parameters, counted in the sandbox
    assert all(0 <= r[4] <= 1 for r in rows) and rows[0][4] > 0.2  # the 2-layer MLP learns
    assert all(0 <= r[5] <= 1 for r in rows) and rows[0][5] > 0.2  # on the test images too
    assert test["extra_data"]["table"]["columns"][4:] == ["validation accuracy", "test accuracy"]
    curves = test["extra_data"]["curves"]
    assert len(curves[0]["series"]) == len(curves[1]["series"]) == 4
    assert all(len(v) == 3 for v in curves[1]["series"].values())  # 3 epochs (synthetic)
    assert test["extra_data"]["sandbox_calls"] == 1  # all four runs in one child
    # the line for whoever grades 4c quotes the reference's recorded run, and this run of
    # the reference agrees with it (the rubric's reference_val_accuracy, within 3 points)
    assert "How to read this: the reference solution" in test["output"]
    recorded = RUBRIC.check("4c.1").value("reference_val_accuracy", "synthetic")
    assert [abs(100 * r[4] - a) <= 3 for r, a in zip(rows, recorded)] == [True] * 4, rows
    results = json.loads((out / "results.json").read_text())
    assert [m["question"] for m in results["extra_data"]["manual"]] == ["4c"]
    html = (out / "report.html").read_text()
    assert "MLP depth experiment" in html and "informational: no points" in html


def test_reference_costs_stay_within_the_torch_limits(reference):
    tests, _ = reference
    for check_id in ("4a.1", "4a.2", "4b.1"):
        extra = tests[check_id]["extra_data"]
        assert extra["sandbox_calls"] == 1  # one child per check: torch imported once
        assert 0 < extra["sandbox_peak_rss_mb"] < 2560, extra
    assert tests["4b.1"]["extra_data"]["sandbox_seconds"] < 90  # the synthetic budget


def test_template_scores_zero_with_a_reason(tmp_path):
    tests = by_id(grade(ROOT / "student_template", tmp_path, PART2))
    assert {k: t["score"] for k, t in tests.items()} == dict.fromkeys(
        ["4a.1", "4a.2", "4b.1", "4b.2"], 0.0)
    for check_id in ("4a.1", "4a.2", "4b.1"):
        assert "not implemented yet" in tests[check_id]["output"]
        assert "still a stub" in tests[check_id]["output"]


def test_public_style_script_is_graded_on_4a_without_training(tmp_path):
    """Datasets with download=True, training and testing at import, no __main__ guard: 4a
    reads the class and its settings only (no network, no training), and says which lines
    it did not run."""
    tests = by_id(grade(PUBLIC_STYLE, tmp_path, "4a"))
    for check_id in ("4a.1", "4a.2"):
        test = tests[check_id]
        assert test["score"] == test["max_score"], test["output"]
        assert test["extra_data"]["sandbox_seconds"] < 60  # nothing was trained
    text = tests["4a.1"]["output"]
    assert "lines 25-39 not run by the grader" in text and "torchvision.datasets.CIFAR10" in text
    assert "lines 70-115 not run by the grader" in text
