"""The grader's private data cache: where prepared arrays live and how they are checked.

Every folder made here is 0700, and its name carries a salted digest, never a seed. A
prepared folder's done.json holds the sha256 of its arrays, computed when they were written;
`state` checks them again on every load. CIFAR-10 (prepare.py) and MNIST (mnist.py) share
these helpers.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class PreparedData:
    """A dataset ready for grading."""

    kind: str  # "real", "synthetic" (CIFAR-10's stand-in) or "subset" (MNIST's real subset)
    note: str  # one line for the feedback: which data, how verified
    files: dict  # X_train, y_train, X_val, y_val, X_test, y_test -> .npy path (MNIST: no val)
    num_classes: int  # 10
    label_names: tuple  # class names, index = label
    dataset: str = "cifar10"  # which dataset: "cifar10" or "mnist" (the rubric's names)

    def load(self, name: str) -> np.ndarray:
        """One prepared array, memory-mapped read-only."""
        return np.load(self.files[name], mmap_mode="r", allow_pickle=False)


def cache_dir() -> Path:
    """Where generated and prepared data live ($GRADER_CACHE, else .cache/ in the repo)."""
    env = os.environ.get("GRADER_CACHE")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".cache" / "grader"


def private(path: Path) -> Path:
    """path (a folder the grader made in its cache), closed to other users; returns it."""
    with suppress(PermissionError):  # a shared cache someone else created: leave it
        os.chmod(path, 0o700)
    return path


def folder_name(prefix: str, key: str) -> str:
    """prefix-DIGEST: a name that says which data a cache folder holds without saying its
    seed (salted with the cache's own secret, made once, readable by the grader only)."""
    secret = ensure(cache_dir()) / "secret"
    try:
        salt = secret.read_bytes()
    except FileNotFoundError:
        salt = b""
    if len(salt) < 16:
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
        salt = secret.read_bytes()
    return f"{prefix}-{hashlib.sha256(salt + key.encode()).hexdigest()[:16]}"


def digests(files: dict[str, Path]) -> dict[str, str]:
    """name -> sha256 of each prepared file."""
    found = {}
    for name, path in files.items():
        with open(path, "rb", buffering=0) as fh:
            found[name] = hashlib.file_digest(fh, "sha256").hexdigest()
    return found


def state(where: Path, key: str, files: dict[str, Path]) -> str:
    """"ready" when where/done.json is for key and every file still has the digest it had
    when written; "absent" when it was never prepared (or for another key); "changed"."""
    try:
        done = json.loads((where / "done.json").read_text())
    except (OSError, ValueError):
        return "absent"
    if not isinstance(done, dict) or done.get("key") != key:
        return "absent"
    try:
        return "ready" if done.get("sha256") == digests(files) else "changed"
    except OSError:
        return "changed"


def write_once(where: Path, prefix: str, write: Callable[[Path], None]) -> None:
    """Fills the cache folder `where`: write(tmp) fills a new folder (prefix-...) in the
    cache, which then becomes `where`; when another process wrote `where` meanwhile, its
    copy stays and this one is removed."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=ensure(cache_dir())))
    write(tmp)
    try:
        os.replace(tmp, where)
    except OSError:  # another process wrote it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


def finish(tmp: Path, key: str, files: dict[str, Path], where: Path) -> None:
    """Writes tmp/done.json (the key and the sha256 of each file, as tmp holds them) and
    moves tmp to where."""
    local = {name: tmp / path.name for name, path in files.items()}
    (tmp / "done.json").write_text(json.dumps({"key": key, "sha256": digests(local)}))
    shutil.rmtree(where, ignore_errors=True)
    os.replace(tmp, where)


def refuse_changed(where: Path, kind: str) -> None:
    """DataError for real data whose prepared arrays no longer match their digests."""
    raise DataError(f"{where}: the prepared {kind} arrays no longer match the digests taken "
                    "when they were written (modified after preparation); remove that folder "
                    "to prepare them again from the verified download")


def ensure(path: Path) -> Path:
    """path, created (with its parents) when missing, and closed to other users when the
    grader made it (children never read the cache)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        private(path)
    return path


def set_modes(where: Path, files: dict[str, Path]) -> None:
    """The folders closed to other users (0700: a sandbox child gets the files it needs
    bound or linked into its own folder, never by these paths); training and validation
    arrays readable by everyone (what a bound or linked file needs), the test split by the
    grader only (it never enters a child)."""
    for folder in (where.parent, where):  # folders the grader made; never $GRADER_CACHE itself
        private(folder)
    for name, path in files.items():
        with suppress(PermissionError):
            os.chmod(path, 0o600 if name.endswith("_test") else 0o644)
