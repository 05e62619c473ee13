"""bench/batch_simulate.py: the list-scheduling simulation behind RESULTS.md's estimate of
grading 500 submissions on N workers (pure Python, well under a second)."""
from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "batch_simulate.py"
_SPEC = importlib.util.spec_from_file_location("batch_simulate", _PATH)
sim = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = sim  # dataclasses look their module up there
_SPEC.loader.exec_module(sim)


@pytest.mark.parametrize("jobs,workers", [(10, 1), (10, 3), (10, 4), (500, 64), (7, 20)])
def test_constant_times_take_ceil_m_over_n_rounds(jobs, workers):
    schedule = sim.simulate([30.0] * jobs, workers)
    assert schedule.wall == math.ceil(jobs / workers) * 30.0
    assert schedule.queue_empty == (math.ceil(jobs / workers) - 1) * 30.0
    assert schedule.busy == 30.0 * jobs


def test_submissions_start_in_queue_order_on_the_first_free_worker():
    # worker A: 10, then 1 (starts at 10), then 4 (starts at 11); worker B: 12
    schedule = sim.simulate([10, 12, 1, 4], 2)
    assert (schedule.wall, schedule.queue_empty) == (15, 11)
    # a long job last leaves the other worker idle: longest first does better
    assert sim.simulate([1, 1, 1, 1, 8], 2).wall == 10
    assert sim.simulate([8, 1, 1, 1, 1], 2).wall == 8


def test_overhead_is_paid_per_submission_and_the_timeout_caps_a_grade():
    assert sim.costs([5.0, 5000.0], overhead=0.5, timeout=1200) == [5.5, 1200.5]
    rows = sim.table([100.0], submissions=8, workers=[1, 2, 8], overhead=1.0, trials=2)
    assert [r.wall for r in rows] == [808.0, 404.0, 101.0]
    assert [r.speedup for r in rows] == [1.0, 2.0, 8.0]
    assert all(r.efficiency == 1.0 for r in rows)


def test_draws_are_seeded_and_hangs_take_the_timeout():
    measured = [10.0, 20.0, 30.0]
    first = sim.draw(measured, 100, random.Random(3))
    assert first == sim.draw(measured, 100, random.Random(3)) and set(first) == set(measured)
    hung = sim.draw(measured, 1000, random.Random(3), timeout_share=0.1, timeout=1200)
    assert 50 < hung.count(1200) < 150


def test_reads_batch_times_json_and_drops_named_students(tmp_path):
    record = {"submissions": {"alice": {"seconds": 170}, "aaron": {"seconds": 900}}}
    (tmp_path / "t.json").write_text(json.dumps(record))
    assert sim.read_times(str(tmp_path / "t.json"), drop=["aaron"]) == [170.0]
    (tmp_path / "l.json").write_text("[1, 2.5]")
    assert sim.read_times(str(tmp_path / "l.json")) == [1.0, 2.5]
    assert sim.read_times("3,4") == [3.0, 4.0]
    out = tmp_path / "out"
    for student, secs in (("bob", 41), ("work", 1)):
        (out / student).mkdir(parents=True)
        (out / student / "results.json").write_text(json.dumps({"execution_time": secs}))
    assert sim.read_times(str(out)) == [41.0]  # OUT/work/ holds extracted zips, not results
