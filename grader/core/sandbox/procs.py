"""Reading Linux's /proc: the process ids there, a process's parent and start time, the
tree below a process; and killing such a tree."""
from __future__ import annotations

import os
import signal

from .lockdown import die_with_parent  # noqa: F401 - batch workers start with it too


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


def process_tree(root: int) -> list[int]:
    """root and its descendants, through /proc/PID/task/TID/children (cheap; misses a
    process that left the tree, which the token scan finds)."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                    stack.extend(int(x) for x in fh.read().split())
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every living descendant of pid, found by parent ids (a full /proc scan: it also finds
    what process_tree's children lists miss once a parent has died); [] where none."""
    children: dict[int, list[int]] = {}
    for entry in pids():
        try:
            ppid = parent_and_start(entry)[0]
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(entry)
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int) -> None:
    """Kills a grader's process group (pid leads it: started with start_new_session) and
    its descendants: its sandbox children run in sessions of their own, so killing the
    group alone would leave them running. Stopped first, so none starts another."""
    for sig, targets in ((signal.SIGSTOP, ()), (signal.SIGKILL, descendants(pid)),
                         (signal.SIGKILL, descendants(pid))):
        for target in targets:
            try:
                os.kill(target, sig)
            except OSError:
                pass
        try:
            os.killpg(pid, sig)
        except OSError:
            pass
