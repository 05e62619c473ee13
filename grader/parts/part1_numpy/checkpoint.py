"""Reads a checkpoint a student submits: named arrays in an .npz, in the grader's process.

The file is read as data only: np.load(allow_pickle=False) after its size and the sizes
its zip entries expand to are checked, so a pickle, a zip bomb or a symlink out of the
submission is refused with a message, never loaded. The caller says which arrays it
expects (names and shapes); anything else is a problem in the student's terms.
"""
from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ...core.submission.files import file_of

_MB = 1024 * 1024
_MAX_ENTRIES = 100  # zip entries read; a checkpoint holds a handful of arrays
# what reading a damaged or hostile file may raise (never a grader error)
_READ_ERRORS = (OSError, ValueError, EOFError, RuntimeError, NotImplementedError,
                zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class Checkpoint:
    """The arrays of a valid checkpoint."""

    path: str  # relative to the submission, as the rubric names it
    arrays: Mapping[str, np.ndarray]  # name -> finite float64 array of the expected shape
    size_mb: float  # size of the file, MiB


def describe(expected: Mapping[str, Sequence[int]]) -> str:
    """'W1 (3072, 150), b1 (150,), ...': what a checkpoint must hold."""
    return ", ".join(f"{name} {tuple(shape)}" for name, shape in expected.items())


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


def _headers(path: Path, max_bytes: int) -> tuple[dict | None, str]:
    """name -> (shape, dtype) of each .npy entry, from headers only; or (None, problem).

    Nothing is unpickled and no array is allocated: the sizes the zip entries expand to
    are capped first, then each entry's header is parsed.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > _MAX_ENTRIES:
                return None, f"holds {len(infos)} entries; a checkpoint holds a few arrays"
            expanded = sum(info.file_size for info in infos)
            if expanded > max_bytes:
                return None, (f"expands to {expanded / _MB:.0f} MB, above the grader's limit "
                              f"of {max_bytes / _MB:.0f} MB")
            headers = {}
            for info in infos:
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with archive.open(info) as fh:
                    reader = _HEADER_READERS.get(np.lib.format.read_magic(fh))
                    if reader is None:
                        return None, f"entry {name!r} is not an array np.savez wrote"
                    shape, _, dtype = reader(fh)
                headers[name] = (tuple(shape), dtype)
            return headers, ""
    except zipfile.BadZipFile:
        return None, _not_a_zip(path)
    except _READ_ERRORS as exc:
        return None, f"cannot be read as an .npz file ({type(exc).__name__}: {str(exc)[:200]})"


def _not_a_zip(path: Path) -> str:
    """What a file that is no zip holds, as far as its first bytes tell."""
    savez = "save each array by name with np.savez(path, name=array, ...)"
    with open(path, "rb") as fh:
        head = fh.read(6)
        if head == b"\x93NUMPY":
            fh.seek(0)
            try:
                reader = _HEADER_READERS.get(np.lib.format.read_magic(fh))
                pickled = reader is not None and reader(fh)[2].hasobject
            except _READ_ERRORS:
                pickled = False
            what = "a pickled array of Python objects" if pickled else "a single array"
            return f"holds {what} (np.save), which the grader does not load; {savez}"
    if head[:1] == b"\x80":
        return f"holds a pickle, which the grader never loads; {savez}"
    return f"is not an .npz file; {savez}"


def _header_problem(name: str, header: tuple, shape: Sequence[int]) -> str:
    got_shape, dtype = header
    if dtype.hasobject:
        return f"{name}: holds Python objects (pickled), which the grader never loads"
    if dtype.kind not in "fiu":
        return f"{name}: expected an array of numbers, got dtype {dtype}"
    if got_shape != tuple(shape):
        return f"{name}: expected shape {tuple(shape)}, got {got_shape}"
    return ""


def load(submission: Path, relpath: str, expected: Mapping[str, Sequence[int]],
         max_mb: float) -> tuple[Checkpoint | None, str]:
    """(checkpoint, '') or (None, what is wrong: expected vs got), for one .npz file.

    expected: array name -> shape, in the order messages list them. Arrays must be real
    numbers of exactly these shapes, all finite; no other arrays may be present.
    """
    path, problem = file_of(submission, relpath)
    if path is None:
        return None, f"{relpath} {problem}"
    size = path.stat().st_size
    max_bytes = int(max_mb * _MB)
    if size > max_bytes:
        return None, f"{relpath} is {size / _MB:.0f} MB, above the grader's limit of {max_mb:g} MB"
    headers, problem = _headers(path, max_bytes)
    if headers is None:
        return None, f"{relpath} {problem}"
    missing = [n for n in expected if n not in headers]
    extra = [n for n in headers if n not in expected]
    if missing or extra:
        got = ", ".join(list(headers)[:10]) or "no arrays"
        return None, (f"{relpath} holds {got}; expected exactly {', '.join(expected)}"
                      + (f" (missing {', '.join(missing)})" if missing else "")
                      + (f" (unexpected {', '.join(extra[:10])})" if extra else ""))
    problems = [p for p in (_header_problem(n, headers[n], s) for n, s in expected.items()) if p]
    if problems:
        return None, f"{relpath}: " + "; ".join(problems)
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for name in expected:
                arrays[name] = np.asarray(npz[name], dtype=np.float64)
    except _READ_ERRORS as exc:
        return None, (f"{relpath} cannot be read as an .npz file "
                      f"({type(exc).__name__}: {str(exc)[:200]})")
    for name, value in arrays.items():
        bad = int(np.sum(~np.isfinite(value)))
        if bad:
            problems.append(f"{name}: {bad} entr{'y is' if bad == 1 else 'ies are'} NaN or inf")
    if problems:
        return None, f"{relpath}: " + "; ".join(problems)
    return Checkpoint(relpath, arrays, size / _MB), ""
