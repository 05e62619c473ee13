"""CIFAR-10 python batches, in the layout torchvision uses (cifar-10-batches-py/).

Each batch is a pickle of a dict with `data` (10000 x 3072 uint8: 1024 red, then 1024
green, then 1024 blue values, each a 32 x 32 image row-major) and `labels` (10000 ints);
batches.meta holds `label_names`. The set is "real" only when every file matches the
published md5. These pickles come from the dataset or from grader/data/synthetic.py,
never from a submission.
"""
from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import DataError

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
SYNTHETIC_MARK = "grader_synthetic"  # key in batches.meta of the generated stand-in


@dataclass(frozen=True)
class Batch:
    """One batch file, images flattened in HWC order like the handout's loader."""

    X: np.ndarray  # (N, 3072) uint8, each row a 32 x 32 x 3 image flattened
    y: np.ndarray  # (N,) int64 labels in [0, 10)


def md5(path: Path, opener=open) -> str:
    """Hex md5 of a file, read in chunks; opener=gzip.open: of its decompressed bytes."""
    with opener(path, "rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            raw = pickle.load(fh, encoding="latin1")
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def read_meta(root: Path) -> dict:
    """The batches.meta dict (str keys)."""
    return _unpickle(root / META_FILE)


def is_synthetic(root: Path) -> bool:
    """Whether the folder holds the grader's generated stand-in."""
    return SYNTHETIC_MARK in read_meta(root)


def mismatched(folder: Path, table: dict[str, str]) -> list[str]:
    """Names in table (file name -> md5) missing from folder or not matching their md5."""
    return [name for name, digest in table.items()
            if not (folder / name).is_file() or md5(folder / name) != digest]


def verify(root: Path) -> list[str]:
    """Names of the files whose md5 differs from the published one (empty: real)."""
    missing = [n for n in MD5 if not (root / n).is_file()]
    if missing:
        raise DataError(f"{root} lacks {', '.join(missing)}; expected the CIFAR-10 python "
                        "batches (run ci/setup.sh or pass --data-dir)")
    return mismatched(root, MD5)


def load_batch(path: Path) -> Batch:
    """Reads one batch file; images stay uint8."""
    raw = _unpickle(path)
    try:
        data = np.asarray(raw["data"], dtype=np.uint8)
        labels = np.asarray(raw["labels"], dtype=np.int64)
    except KeyError as exc:
        raise DataError(f"{path} has no {exc} entry; not a CIFAR-10 batch") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{path}: data {data.shape}, labels {labels.shape}; expected "
                        "(N, 3072) and (N,)")
    hwc = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(data), 3072)
    return Batch(np.ascontiguousarray(hwc), labels)


def load_train(root: Path) -> Batch:
    """All five training batches, concatenated (uint8)."""
    batches = [load_batch(root / name) for name in TRAIN_FILES]
    return Batch(np.concatenate([b.X for b in batches]), np.concatenate([b.y for b in batches]))


def load_test(root: Path) -> Batch:
    """The test batch (uint8)."""
    return load_batch(root / TEST_FILE)
