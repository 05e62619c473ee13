"""Machine-wide slots, each with its own uid for student code, when grading runs as root.

Two gradings at once on one machine must not run student code as the same user, or one
submission could signal or read the other's processes and files; two gradings one after the
other must not either, or one could leave a file the next reads. Each grading claims the
first free slot i after the one claimed last (round a ring) and runs student code as uid
BASE + i. Claims are flock()s on files in a folder only root can write (/run/grader-uid-
slots), so they hold across every grader process of the machine: the
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

from ..errors import GraderError

# 65000-65533 are reserved (never given to a real account) on Debian and Ubuntu.
BASE = 65100
SLOTS = 65533 - BASE  # claims past this many at once wait for a free slot


_RUN = Path("/run")  # root alone may create folders here: nobody can take the name first


def _private(folder: Path) -> bool:
    """Whether folder is a real folder of this user, closed to everyone else."""
    info = folder.lstat()
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() \
        and not info.st_mode & 0o077


def slot_folder() -> Path:
    """The folder of slot files, owned by this user and closed to others: /run/grader-uid-
    slots as root (only root can create it there), else <TMPDIR>/grader-uid-slots-UID. A
    name someone else took first (a child can create files in /tmp) is passed over for the
    next candidate, the same one in every grader of the machine; GraderError when all are
    taken."""
    me = os.geteuid()
    temp = Path(tempfile.gettempdir())
    candidates = [temp / f"grader-uid-slots-{me}"] + [temp / f"grader-uid-slots-{me}.{i}"
                                                      for i in range(1, 10)]
    if me == 0 and os.access(_RUN, os.W_OK):
        candidates.insert(0, _RUN / "grader-uid-slots")
    for folder in candidates:
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        try:
            if _private(folder):
                return folder
        except OSError:
            continue
    raise GraderError(f"{candidates[-1]} and the names before it are not private folders of "
                      f"uid {me}; remove them so the grader can claim sandbox uids safely")


def _next_start(folder: Path) -> int:
    """The slot after the one claimed last (a counter in folder), so consecutive gradings
    get different uids even when one slot is free each time."""
    fd = os.open(folder / "next", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 32)
        try:
            start = int(raw.decode() or 0) % SLOTS
        except ValueError:
            start = 0
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str((start + 1) % SLOTS).encode())
        return start
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def claimed_uid(wait_s: float = 0.2) -> Iterator[str | None]:
    """Claims a slot for a grading's duration; yields its uid as a string when this process
    is root (the sandbox drops to it), else None (student code runs as this user). Slots
    are tried from the one after the last claimed, round the ring: two gradings one after
    the other never share a uid."""
    if os.geteuid() != 0:
        yield None
        return
    folder = slot_folder()
    start = _next_start(folder)
    while True:
        for offset in range(SLOTS):
            slot = (start + offset) % SLOTS
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
