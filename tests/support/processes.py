"""Watching processes from a test: whether one still runs, and waiting for a condition."""
from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether pid runs. A zombie does not count: a test process that made itself a
    subreaper, as an in-process grading does, inherits dead children and never reaps them."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for(predicate, timeout: float, what: str, every: float = 0.2):
    """predicate()'s first true value within timeout seconds; AssertionError naming what
    was awaited when none comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
