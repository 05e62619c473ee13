"""Machine-wide slots, each with its own uid for student code, when grading runs as root.

Two gradings at once on one machine must not run student code as the same user, or one
submission could signal or read the other's processes and files. Each grading claims the
lowest free slot i and runs student code as uid BASE + i. Claims are flock()s on files in a
folder only root can write, so they hold across every grader process of the machine: the
threads of one `grade-all -j N`, the workers of a Dask cluster, two batches started side by
side. The kernel drops a claim when its holder dies, so a killed worker frees its slot.
"""
from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import GraderError

# 65000-65533 are reserved (never given to a real account) on Debian and Ubuntu.
BASE = 65100
SLOTS = 65533 - BASE  # claims past this many at once wait for a free slot


def slot_folder() -> Path:
    """The folder of slot files: owned by this user, closed to others (raises GraderError
    when someone else made it, which would let them hold slots)."""
    folder = Path(tempfile.gettempdir()) / f"grader-uid-slots-{os.geteuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise GraderError(f"{folder} is not a private folder of uid {os.geteuid()}; remove "
                          "it so the grader can claim sandbox uids safely")
    return folder


@contextmanager
def claimed_uid(wait_s: float = 0.2) -> Iterator[str | None]:
    """Claims a slot for a grading's duration; yields its uid as a string when this process
    is root (the sandbox drops to it), else None (student code runs as this user)."""
    if os.geteuid() != 0:
        yield None
        return
    folder = slot_folder()
    while True:
        for slot in range(SLOTS):
            fd = os.open(folder / f"slot-{slot}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield str(BASE + slot)
            finally:
                os.close(fd)  # closing releases the lock
            return
        time.sleep(wait_s)
