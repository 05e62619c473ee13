"""Where seed 003's probes are, the classes its CNN tells apart, and what its judges say
when every case of a run failed alike."""
from __future__ import annotations

from pathlib import Path

from ...core.engine.judge import Verdict, failure_verdict

PROBES = Path(__file__).with_name("probes.py")  # the sandbox side of seed 003
NUM_CLASSES = 10


def same_failure(run, names: list[str], what: str) -> Verdict | None:
    """The failure of the first case, with its hint, when every case stopped with the same
    message (a stub, a missing function): said once, not once per case; else None."""
    failures = [run.case_failure(n) for n in names]
    if not failures or any(f is None for f in failures) or \
            len({f.message for f in failures}) != 1:
        return None
    return failure_verdict(run, names[0], what=what)
