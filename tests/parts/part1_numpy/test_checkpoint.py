"""3b graded from a checkpoint (the rubric's `mode = "checkpoint"`), end to end.

The grader runs with a copy of rubric.toml (`grade --rubric FILE`) whose one mode line is
changed, as an instructor would change it. The reference's checkpoint is made in the test by the
driver's `best` step on the synthetic data, with a higher learning rate and 300 iterations
instead of 3000 (about 62% validation accuracy in a few seconds); the graded copy keeps the
reference's hyperparams.py, so the progress run uses its declared settings. Checkpoints that are
missing, misshapen, NaN or pickled cost 3b.2 only; a train() that never updates fails the
progress run (3b.1) and, as the rubric requires progress, 3b.2 too; random weights fail
the threshold.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.parts.part1_numpy import checkpoint
from grader.core.results import gradescope
from grader.core.rubric import spec as rubric
from grader.data import prepare
from mutants import MUTANTS, REFERENCE, ROOT, set_hyperparams
from outputs import plain
from rubric_copies import checkpoint_mode

RUBRIC = rubric.load()
CHECK = RUBRIC.check("3b.2")
PROGRESS = RUBRIC.check("3b.1")
CKPT = CHECK.value("checkpoint")
THRESHOLD = CHECK.value("threshold", "synthetic")
# A fast student whose short run still learns clearly (hidden_size 10, learning rate 3e-3:
# the loss falls by about 60% in 300 iterations), for the checkpoints that must fail 3b.2.
SMALL = {"hidden_size": 10, "learning_rate": 3e-3}


_hyperparams = set_hyperparams  # mutants.py's


def _copy_reference(dest: Path) -> Path:
    shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("__pycache__", "checkpoints",
                                                                    "plots"))
    return dest


def _shapes(hidden: int) -> dict:
    return {"W1": (3072, hidden), "b1": (hidden,), "W2": (hidden, 10), "b2": (10,)}


@pytest.fixture(scope="module")
def checkpoint_grader(tmp_path_factory) -> Path | None:
    """A rubric file: grader/rubric.toml with mode = "checkpoint" for 3b (the grader
    itself is not copied: `grade --rubric` takes it)."""
    path = tmp_path_factory.mktemp("rubric") / "rubric.toml"
    path.write_text(checkpoint_mode("3b"))
    return path


@pytest.fixture(scope="module")
def reference_checkpoint(tmp_path_factory) -> Path:
    """The reference's checkpoint, written by `python ex2_FCnet.py best` on synthetic data."""
    work = tmp_path_factory.mktemp("reference-best")
    sub = _copy_reference(work / "sub")
    _hyperparams(sub, num_iters=300, learning_rate=3e-3)
    data = prepare.locate(None, RUBRIC.datasets["synthetic"])[0]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "ex2_FCnet.py", "best", "--data-dir", str(data),
                           "--plot-dir", str(work / "plots")], cwd=sub, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Network saved to" in proc.stdout
    path = sub / CKPT
    assert path.is_file()
    return path


def _text(test: dict) -> str:
    """A test's output as the text a student reads."""
    return plain(test["output"])


def grade_3b(rubric_file: Path | None, sub: Path, out: Path) -> dict:
    """Grades question 3b with a rubric file (None: the shipped one); returns check id ->
    test."""
    env = {k: v for k, v in os.environ.items() if k != "GRADER_DATA_DIR"}
    env["GRADER_CACHE"] = str(prepare.cache_dir())  # the synthetic data, prepared once
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(sub), "--out", str(out),
                           "--quiet", "--questions", "3b"]
                          + (["--rubric", str(rubric_file)] if rubric_file else []), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert results["extra_data"]["complete"], results["output"]
    return {t["number"]: t for t in results["tests"]}


def _submission(tmp_path: Path, reference_checkpoint: Path | None = None, **hp) -> Path:
    """The reference with changed hyperparameters, and the reference's checkpoint if given."""
    sub = _copy_reference(tmp_path / "sub")
    if hp:
        _hyperparams(sub, **hp)
    if reference_checkpoint is not None:
        (sub / CKPT).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(reference_checkpoint, sub / CKPT)
    return sub


def test_reference_checkpoint_earns_full_marks(checkpoint_grader, reference_checkpoint,
                                               tmp_path):
    sub = _submission(tmp_path, reference_checkpoint)
    tests = grade_3b(checkpoint_grader, sub, tmp_path / "out")
    for cid in ("3b.1", "3b.2"):
        assert tests[cid]["score"] == tests[cid]["max_score"], tests[cid]["output"]
        assert tests[cid]["extra_data"]["mode"] == "checkpoint"
        assert "Mode: checkpoint" in _text(tests[cid])
    accuracy = tests["3b.2"]["extra_data"]
    assert accuracy["judged"] == "test_accuracy"
    assert accuracy["test_accuracy"] >= THRESHOLD + 0.10  # clears it with margin
    assert accuracy["checkpoint"] == CKPT and accuracy["val_accuracy"] > 0.3
    # the progress run, with the reference's declared settings, clears both bars clearly
    run = tests["3b.1"]["extra_data"]
    assert run["progress_iters"] == PROGRESS.value("progress_iters", "synthetic")
    assert run["first_loss"] - run["last_quarter_loss"] >= \
        2 * PROGRESS.value("min_loss_drop", "synthetic") * run["first_loss"]
    assert run["test_accuracy"] >= run["min_test_accuracy"] + 0.10  # the grader's
    assert run["weights_changed"]
    assert len(run["loss_history"]) == run["progress_iters"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<svg" in html and "data:image/png;base64," in html  # curve and weight tiles


def test_noop_train_fails_the_progress_run(checkpoint_grader, reference_checkpoint, tmp_path):
    no_update = next(m for m in MUTANTS if m.name == "no_update")
    sub = no_update.write(tmp_path / "sub")
    (sub / CKPT).parent.mkdir(parents=True)
    shutil.copy(reference_checkpoint, sub / CKPT)
    tests = grade_3b(checkpoint_grader, sub, tmp_path / "out")
    run = tests["3b.1"]["extra_data"]
    assert tests["3b.1"]["score"] == 0 and "needs < " in _text(tests["3b.1"])
    assert run["first_loss"] - run["last_quarter_loss"] < \
        0.5 * PROGRESS.value("min_loss_drop", "synthetic") * run["first_loss"]
    assert run["test_accuracy"] <= 0.1 + PROGRESS.value("min_acc_above_chance", "synthetic") / 2
    assert not run["weights_changed"]
    assert "train() never changed the arrays in self.params" in _text(tests["3b.1"])
    # a good checkpoint is not credited without training code that learns
    assert tests["3b.2"]["score"] == 0
    assert tests["3b.2"]["extra_data"]["test_accuracy"] > THRESHOLD
    assert "Not credited" in _text(tests["3b.2"])


def test_template_fails_both(checkpoint_grader, tmp_path):
    tests = grade_3b(checkpoint_grader, ROOT / "student_template", tmp_path / "out")
    assert tests["3b.1"]["score"] == 0 and "not implemented yet" in _text(tests["3b.1"])
    assert tests["3b.2"]["score"] == 0 and "not found in your submission" in _text(tests["3b.2"])


def _nan_checkpoint(path: Path) -> None:
    arrays = {k: np.zeros(s) for k, s in _shapes(SMALL["hidden_size"]).items()}
    arrays["W2"][3, 4] = np.nan
    np.savez(path, **arrays)


def _pickled_entry(path: Path) -> None:
    arrays = {k: np.zeros(s) for k, s in _shapes(SMALL["hidden_size"]).items()}
    arrays["W1"] = np.array([{"W1": "payload"}], dtype=object)
    np.savez(path, **arrays)


def _np_save_object(path: Path) -> None:
    with open(path, "wb") as fh:  # np.save of an object array: a pickle in an .npy
        np.save(fh, np.array([{"W1": "payload"}], dtype=object), allow_pickle=True)


def _plain_pickle(path: Path) -> None:
    path.write_bytes(pickle.dumps({k: np.zeros(s) for k, s in _shapes(10).items()}))


BROKEN = {  # name -> (writes the checkpoint, or None for none; phrase in 3b.2's output)
    "missing": (None, "not found in your submission"),
    "nan": (_nan_checkpoint, "W2: 1 entry is NaN or inf"),
    "pickled_entry": (_pickled_entry, "W1: holds Python objects (pickled)"),
    "np_save_object": (_np_save_object, "a pickled array of Python objects (np.save)"),
    "plain_pickle": (_plain_pickle, "holds a pickle, which the grader never loads"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_checkpoint_costs_the_accuracy_check_only(checkpoint_grader, tmp_path, name):
    write, phrase = BROKEN[name]
    sub = _submission(tmp_path, **SMALL)
    if write is not None:
        (sub / CKPT).parent.mkdir(parents=True)
        write(sub / CKPT)
    tests = grade_3b(checkpoint_grader, sub, tmp_path / "out")
    assert tests["3b.1"]["score"] == 1, tests["3b.1"]["output"]
    output = _text(tests["3b.2"])
    assert tests["3b.2"]["score"] == 0
    assert phrase in output, output
    assert "Expected: W1 (3072, 10), b1 (10,), W2 (10, 10), b2 (10,)" in output
    assert "python ex2_FCnet.py best" in output  # the hint


def test_checkpoint_of_other_settings_is_refused_with_shapes(checkpoint_grader,
                                                             reference_checkpoint, tmp_path):
    sub = _submission(tmp_path, reference_checkpoint, **SMALL)  # hidden_size 150 -> 10
    tests = grade_3b(checkpoint_grader, sub, tmp_path / "out")
    assert tests["3b.1"]["score"] == 1
    assert tests["3b.2"]["score"] == 0
    assert "W1: expected shape (3072, 10), got (3072, 150)" in _text(tests["3b.2"])


def test_random_weights_fail_the_threshold(checkpoint_grader, tmp_path):
    sub = _submission(tmp_path, **SMALL)
    (sub / CKPT).parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(sub / CKPT, **{k: 1e-2 * rng.standard_normal(s)
                            for k, s in _shapes(SMALL["hidden_size"]).items()})
    tests = grade_3b(checkpoint_grader, sub, tmp_path / "out")
    assert tests["3b.1"]["score"] == 1
    test = tests["3b.2"]
    assert test["score"] == 0 and test["extra_data"]["test_accuracy"] < THRESHOLD - 0.2
    assert f"test accuracy {100 * test['extra_data']['test_accuracy']:.1f}% (needs > " \
        f"{100 * THRESHOLD:.1f}%)" in _text(test) and "Hint:" in _text(test)


def test_retrain_mode_says_so(tmp_path):
    """The shipped rubric grades 3b by retraining, and the output and results.json say so."""
    tests = grade_3b(None, ROOT / "student_template", tmp_path / "out")
    for test in tests.values():
        assert test["extra_data"]["mode"] == "retrain"
        assert "Mode: retrain" in _text(test)


# -- grader/checkpoint.py on its own: what a submitted file may hold -------------------------

def _load(tmp_path: Path, write) -> str:
    path = tmp_path / CKPT
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path)
    found, problem = checkpoint.load(tmp_path, CKPT, _shapes(4), max_mb=1)
    assert (found is None) == bool(problem)
    return problem


def _arrays(**changes):
    arrays = {k: np.ones(s) for k, s in _shapes(4).items()}
    arrays.update(changes)
    return arrays


@pytest.mark.parametrize("write, phrase", [
    (lambda p: np.savez(p, **_arrays(extra=np.zeros(1))), "(unexpected extra)"),
    (lambda p: np.savez(p, W1=np.ones((3072, 4))), "(missing b1, W2, b2)"),
    (lambda p: np.savez(p, **_arrays(b2=np.array(["a"] * 10))), "b2: expected an array of numbers"),
    (lambda p: np.savez(p, **_arrays(b1=np.ones((1, 4)))), "b1: expected shape (4,), got (1, 4)"),
    (lambda p: np.savez(p, **_arrays(b1=np.array([np.inf, 0, 0, np.nan]))), "2 entries are NaN"),
    (lambda p: np.savez_compressed(p, **_arrays(W1=np.zeros((3072, 400)))), "expands to 9 MB"),
    (lambda p: p.write_bytes(b"\0" * (2 * 1024 * 1024)), "above the grader's limit of 1 MB"),
    (lambda p: p.write_text("W1 = [[0.1]]"), "is not an .npz file"),
    (lambda p: np.save(open(p, "wb"), np.ones(3)), "holds a single array (np.save)"),
    (lambda p: os.symlink("/etc/hostname", p), "is not a regular file"),
    (lambda p: p.mkdir(), "is not a regular file"),
])
def test_checkpoint_file_problems(tmp_path, write, phrase):
    assert phrase in _load(tmp_path, write)


def test_checkpoint_folder_linked_out_of_the_submission(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    np.savez(outside / "two_layernet.npz", **_arrays())
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / Path(CKPT).parent).symlink_to(outside)
    found, problem = checkpoint.load(sub, CKPT, _shapes(4), max_mb=1)
    assert found is None and "not inside your submission" in problem


def test_good_checkpoint_loads_as_float64(tmp_path):
    arrays = _arrays(W1=np.full((3072, 4), 0.5, dtype=np.float32))
    assert _load(tmp_path, lambda p: np.savez(p, **arrays)) == ""
    found, _ = checkpoint.load(tmp_path, CKPT, _shapes(4), max_mb=1)
    assert found.path == CKPT and set(found.arrays) == {"W1", "b1", "W2", "b2"}
    assert found.arrays["W1"].dtype == np.float64 and found.arrays["W1"][0, 0] == 0.5
    assert checkpoint.describe(_shapes(4)).startswith("W1 (3072, 4), b1 (4,)")
