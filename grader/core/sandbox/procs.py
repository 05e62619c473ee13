"""Reading Linux's /proc: the process ids there and a process's parent and start time."""
from __future__ import annotations

import ctypes
import os
import signal


def pids() -> list[int]:
    """Ids of the processes listed in /proc now ([] where /proc cannot be read)."""
    try:
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []


def parent_and_start(pid: int) -> tuple[int, int]:
    """(parent pid, start time in clock ticks since boot) from /proc/PID/stat; raises
    OSError, ValueError or IndexError when the process is gone or the line unreadable."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[19])


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_SIGKILL = int(signal.SIGKILL)
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: a forked child must not allocate


def die_with_parent() -> None:
    """Asks the kernel to SIGKILL this process when the thread that started it ends
    (prctl PR_SET_PDEATHSIG). For a child's preexec_fn, after any change of user (which
    clears the request): a grader whose batch worker is killed, or a student child whose
    grader is, must not run on unattended."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before the request: do as it asks
        os.kill(os.getpid(), _SIGKILL)
