"""Finds the data to grade with and prepares it for the sandbox: CIFAR-10 here, MNIST in
grader/data/mnist.py (`load(..., dataset="mnist")` dispatches to it).

Real CIFAR-10 is used when `cifar-10-batches-py/` under the data folder passes the md5
check; otherwise the grader's synthetic stand-in is generated (once, cached). Prepared
splits are float32 .npy files, mean-image subtracted like the handout's preprocessing,
written chunk by chunk from the uint8 images: no float64 copy of the training set is
ever made, and the sandbox memory-maps them.

The cache is the grader's alone: every folder it makes there is 0700, and the data folder
and the cache are registered with grader/core/sandbox/isolation.py, which keeps sandbox children
out of both (a child gets each file it needs bound or linked into its own folder).
Folder names carry a salted digest, never a seed. Each prepared folder's done.json holds
the sha256 of its arrays, computed when they were written; every load checks them again
(about 1.2 s for real CIFAR-10's 626 MB): a synthetic or subset folder that no longer
matches is prepared again, real data is refused.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ..core.sandbox import isolation
from ..core.errors import DataError
from ..core.rubric.spec import DatasetSpec
from . import cifar, mnist, synthetic
from .cache import (SPLITS, PreparedData, cache_dir, ensure, finish, folder_name, refuse_changed,
                    set_modes, state, write_once)


CIFAR_ROWS_PER_BATCH = 10000
_CHUNK = 2000  # images mean-centred at a time



def locate(data_dir: Path | None, synth: DatasetSpec) -> tuple[Path, str, str]:
    """(batches folder, kind, note) of the data to use."""
    if data_dir is not None and (Path(data_dir) / cifar.FOLDER).is_dir():
        root = Path(data_dir) / cifar.FOLDER
        if cifar.is_synthetic(root):
            return root, "synthetic", f"Synthetic CIFAR-format data from {root}."
        bad = cifar.verify(root)
        if bad:
            raise DataError(f"{root}: {', '.join(bad)} do not match the published CIFAR-10 "
                            "md5 checksums; download it again (ci/setup.sh) or remove it to "
                            "grade on synthetic data")
        return root, "real", "CIFAR-10 (every batch file matches the published md5)."
    where = cache_dir() / folder_name(
        "synthetic", f"v{synthetic.GENERATOR_VERSION}-{synth.seed}-{synth.rows_per_batch}")
    root = where / cifar.FOLDER
    if not (root / cifar.META_FILE).exists():
        write_once(where, "synthetic-",
                   lambda tmp: synthetic.generate(tmp, synth.rows_per_batch, synth.seed))
    looked = f" in {data_dir}" if data_dir else ""
    return root, "synthetic", (
        f"No CIFAR-10 found{looked}: graded on the grader's SYNTHETIC stand-in in CIFAR-10 "
        "format (calibrated thresholds; these accuracies are not CIFAR-10 accuracies).")



def _write_centred(dest: Path, images: np.ndarray, mean: np.ndarray) -> None:
    out = np.lib.format.open_memmap(dest, mode="w+", dtype=np.float32, shape=images.shape)
    for start in range(0, len(images), _CHUNK):
        out[start:start + _CHUNK] = images[start:start + _CHUNK] - mean
    out.flush()
    del out



def prepare(root: Path, kind: str, note: str, spec: DatasetSpec) -> PreparedData:
    """Splits the batches like the handout and writes the float32 arrays (cached)."""
    meta = cifar.read_meta(root)
    key = f"{kind}-{spec.num_train}-{spec.num_val}-{spec.num_test}"
    if kind == "synthetic":
        key += "-" + json.dumps(meta[cifar.SYNTHETIC_MARK], sort_keys=True)
    # a stable digest (not hash(), which differs per process) so the cache is reused
    name = folder_name("prepared", f"{root.resolve()}\n{key}") if kind == "synthetic" else key
    where = cache_dir() / "prepared" / name.replace(" ", "")
    files = {f"{a}_{s}": where / f"{a}_{s}.npy" for s in SPLITS for a in ("X", "y")}
    labels = tuple(meta.get("label_names", ()))
    found = state(where, key, files)
    if found == "changed" and kind == "real":
        refuse_changed(where, "CIFAR-10")
    if found != "ready":
        train, test = cifar.load_train(root), cifar.load_test(root)
        n_tr, n_val = spec.num_train, spec.num_val
        if n_tr + n_val > len(train.y) or spec.num_test > len(test.y):
            raise DataError(f"{root} has {len(train.y)} training and {len(test.y)} test rows; "
                            f"the rubric asks for {n_tr}+{n_val} and {spec.num_test}")
        mean = np.zeros(3072)
        for start in range(0, n_tr, _CHUNK):
            mean += train.X[start:min(start + _CHUNK, n_tr)].sum(axis=0, dtype=np.float64)
        mean = (mean / n_tr).astype(np.float32)
        tmp = Path(tempfile.mkdtemp(prefix="prep-", dir=ensure(where.parent)))
        parts = {"train": (train.X[:n_tr], train.y[:n_tr]),
                 "val": (train.X[n_tr:n_tr + n_val], train.y[n_tr:n_tr + n_val]),
                 "test": (test.X[:spec.num_test], test.y[:spec.num_test])}
        for split, (X, y) in parts.items():
            _write_centred(tmp / f"X_{split}.npy", X, mean)
            np.save(tmp / f"y_{split}.npy", y.astype(np.int64))
        finish(tmp, key, files, where)
    set_modes(where, files)
    return PreparedData(kind, note, files, 10, labels)



def load(data_dir: Path | None, specs: dict, dataset: str = "cifar10") -> PreparedData:
    """The data to grade with: CIFAR-10 (the default; real if present and verified, else
    synthetic, split as the rubric's `specs` say) or MNIST (real if present and verified,
    else a real 5,000-digit subset; grader/data/mnist.py)."""
    isolation.keep_private(cache_dir())  # no child reads the cache or the data folder
    if data_dir is not None:
        isolation.keep_private(Path(data_dir))
    if dataset == "mnist":
        return mnist.load(data_dir)
    if dataset != "cifar10":
        raise DataError(f"unknown dataset {dataset!r}; the grader prepares cifar10 and mnist")
    root, kind, note = locate(data_dir, specs["synthetic"])
    return prepare(root, kind, note, specs[split_for(root, kind, specs)])



def split_for(root: Path, kind: str, specs: dict) -> str:
    """Which rubric split fits: a synthetic set of CIFAR-10's size is split like CIFAR-10."""
    if kind == "real":
        return "real"
    rows = cifar.read_meta(root)[cifar.SYNTHETIC_MARK].get("rows_per_batch")
    return "real" if rows == CIFAR_ROWS_PER_BATCH else "synthetic"
