"""grader/data: the synthetic stand-in, the CIFAR-10 loader, locating and preparing data."""
import os
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from grader.data import cifar, prepare, synthetic
from grader.core.errors import DataError
from grader.core.rubric.spec import DatasetSpec

ROWS, SEED = 50, 3
SPEC = DatasetSpec(kind="synthetic", num_train=200, num_val=40, num_test=30,
                   rows_per_batch=ROWS, seed=SEED)
FILES = {*cifar.TRAIN_FILES, cifar.TEST_FILE, cifar.META_FILE}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """A generated cifar-10-batches-py folder (shared: tests must not change it)."""
    return synthetic.generate(tmp_path_factory.mktemp("synth"), rows_per_batch=ROWS, seed=SEED)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    where = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE", str(where))
    return where


def _raw(path):
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="latin1")


def test_generate_writes_every_batch(synth):
    assert synth.name == "cifar-10-batches-py"
    assert {p.name for p in synth.iterdir()} == FILES
    meta = cifar.read_meta(synth)
    assert meta["label_names"] == synthetic.LABEL_NAMES
    assert meta[cifar.SYNTHETIC_MARK]["seed"] == SEED
    assert cifar.is_synthetic(synth)


def test_load_batch_is_uint8_hwc(synth):
    batch = cifar.load_batch(synth / "data_batch_2")
    assert batch.X.dtype == np.uint8 and batch.X.shape == (ROWS, 3072)
    assert batch.y.dtype == np.int64 and batch.y.shape == (ROWS,)
    assert batch.y.min() >= 0 and batch.y.max() < 10
    chw = np.asarray(_raw(synth / "data_batch_2")["data"])
    for i, row, col, channel in [(7, 5, 11, 2), (0, 0, 0, 0), (49, 31, 30, 1)]:
        assert batch.X[i, (row * 32 + col) * 3 + channel] == chw[i, channel * 1024 + row * 32 + col]
    np.testing.assert_array_equal(batch.X.reshape(ROWS, 32, 32, 3),
                                  chw.reshape(ROWS, 3, 32, 32).transpose(0, 2, 3, 1))


def test_images_carry_class_signal(synth):
    train = cifar.load_train(synth)
    assert train.X.shape == (5 * ROWS, 3072)
    assert len(np.unique(train.y)) == 10
    assert train.X.std() > 10  # not a constant image


def test_generation_is_deterministic(synth, tmp_path):
    again = synthetic.generate(tmp_path, rows_per_batch=ROWS, seed=SEED)
    for name in FILES:
        assert (again / name).read_bytes() == (synth / name).read_bytes(), name
    other = synthetic.generate(tmp_path / "other", rows_per_batch=ROWS, seed=SEED + 1)
    assert (other / "data_batch_1").read_bytes() != (synth / "data_batch_1").read_bytes()


def test_verify_flags_every_synthetic_file(synth):
    assert sorted(cifar.verify(synth)) == sorted(cifar.MD5)


def test_locate_recognises_the_synthetic_folder(synth, cache):
    root, kind, note = prepare.locate(synth.parent, SPEC)
    assert (root, kind) == (synth, "synthetic")
    assert "Synthetic" in note
    assert not cache.exists()  # nothing generated


def test_locate_generates_when_no_data(cache, tmp_path):
    root, kind, note = prepare.locate(tmp_path / "nothing", SPEC)
    assert kind == "synthetic" and "SYNTHETIC" in note
    assert root.is_relative_to(cache) and cifar.is_synthetic(root)
    assert {p.name for p in root.iterdir()} == FILES
    assert prepare.locate(None, SPEC)[0] == root  # generated once, then reused


def _corrupted(synth, tmp_path):
    """A copy of the batches claiming to be CIFAR-10 (no synthetic mark)."""
    root = tmp_path / "data" / cifar.FOLDER
    root.mkdir(parents=True)
    for name in FILES - {cifar.META_FILE}:
        (root / name).write_bytes((synth / name).read_bytes())
    with open(root / cifar.META_FILE, "wb") as fh:
        pickle.dump({"label_names": synthetic.LABEL_NAMES}, fh)
    return root


def test_non_synthetic_batches_must_match_md5(synth, tmp_path, cache):
    root = _corrupted(synth, tmp_path)
    with pytest.raises(DataError, match="md5") as err:
        prepare.locate(root.parent, SPEC)
    assert "data_batch_1" in str(err.value)


def test_missing_batch_is_named(synth, tmp_path, cache):
    root = _corrupted(synth, tmp_path)
    (root / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks data_batch_3"):
        prepare.locate(root.parent, SPEC)


def test_missing_batch_of_synthetic_data_is_named(synth, tmp_path, cache):
    root = tmp_path / cifar.FOLDER
    root.mkdir()
    for name in FILES - {"data_batch_4"}:
        (root / name).write_bytes((synth / name).read_bytes())
    with pytest.raises(DataError, match="data_batch_4"):
        prepare.prepare(root, "synthetic", "note", SPEC)


def test_not_a_batch_is_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as fh:
        pickle.dump({"labels": [1, 2]}, fh)
    with pytest.raises(DataError, match="no 'data' entry"):
        cifar.load_batch(path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="cannot read"):
        cifar.load_batch(path)


def test_prepare_writes_centred_float32(synth, cache):
    data = prepare.prepare(synth, "synthetic", "note", SPEC)
    assert data.kind == "synthetic" and data.num_classes == 10
    assert data.label_names == tuple(synthetic.LABEL_NAMES)
    sizes = {"train": SPEC.num_train, "val": SPEC.num_val, "test": SPEC.num_test}
    for split, n in sizes.items():
        X, y = data.load(f"X_{split}"), data.load(f"y_{split}")
        assert X.dtype == np.float32 and X.shape == (n, 3072), split
        assert y.dtype == np.int64 and y.shape == (n,), split
        assert Path(data.files[f"X_{split}"]).is_relative_to(cache)
    X_train = data.load("X_train")
    assert np.abs(X_train.mean(axis=0, dtype=np.float64)).max() < 1e-3
    # rows are the batches' rows in order, minus the training mean
    train = cifar.load_train(synth)
    mean = train.X[:SPEC.num_train].mean(axis=0)
    np.testing.assert_allclose(data.load("X_val")[0], train.X[SPEC.num_train] - mean,
                               atol=1e-3)
    np.testing.assert_array_equal(data.load("y_train"), train.y[:SPEC.num_train])
    np.testing.assert_array_equal(data.load("y_test"), cifar.load_test(synth).y[:SPEC.num_test])


def test_prepare_never_makes_float64_copies(synth, cache):
    # numpy reports its allocations to tracemalloc: a float64 copy of the training set
    # alone would take num_train * 3072 * 8 bytes (float32 chunks take half of that)
    tracemalloc.start()
    try:
        data = prepare.prepare(synth, "synthetic", "note", SPEC)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SPEC.num_train * 3072 * 8
    assert all(data.load(k).dtype == np.float32 for k in data.files if k.startswith("X_"))


def test_prepare_reuses_its_cache_across_processes(synth, cache):
    data = prepare.prepare(synth, "synthetic", "note", SPEC)
    stamp = os.stat(data.files["X_train"]).st_mtime_ns
    code = ("import sys; from grader.data import prepare; from grader.core.rubric.spec import DatasetSpec;"
            f"spec = DatasetSpec(**{SPEC.__dict__!r});"
            f"print(prepare.prepare(prepare.Path({str(synth)!r}), 'synthetic', 'n', spec)"
            ".files['X_train'])")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "random",
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == str(data.files["X_train"])
    assert os.stat(data.files["X_train"]).st_mtime_ns == stamp
    assert len(list((cache / "prepared").iterdir())) == 1
