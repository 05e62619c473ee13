"""Files of a submission that the grader reads as data (checkpoints), never runs.

A submitted path is read only when it is a regular file that really lies inside the
submission folder: a symlink, a folder, or a path through a symlinked folder that leads out
of the submission (to the grader's own files, say) is refused with a reason.
"""
from __future__ import annotations

from pathlib import Path

MB = 2 ** 20


def file_of(submission: Path, relpath: str) -> tuple[Path | None, str]:
    """(the file's path, '') or (None, why it cannot be read), the reason phrased to follow
    the file's name: "model.ckpt is not found in your submission"."""
    root = Path(submission).resolve()
    path = root / relpath
    if not path.exists() and not path.is_symlink():
        return None, "is not found in your submission"
    if path.is_symlink() or not path.is_file():
        return None, "is not a regular file (a symlink or a folder?)"
    if root not in path.resolve().parents:  # a folder on the way is a symlink out
        return None, "is not inside your submission folder"
    return path, ""


def read_capped(submission: Path, relpath: str, max_mb: float) -> tuple[bytes | None, str]:
    """(the file's bytes, '') or (None, '<relpath> <what is wrong>'), refusing a file over
    max_mb megabytes before reading it."""
    path, problem = file_of(submission, relpath)
    if path is None:
        return None, f"{relpath} {problem}"
    size = path.stat().st_size
    if size > max_mb * MB:
        return None, f"{relpath} is {size / MB:.1f} MB, over the {max_mb:g} MB cap"
    return path.read_bytes(), ""
