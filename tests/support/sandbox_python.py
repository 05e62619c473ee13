"""A Python that an unprivileged user can run, for the uid-drop tests.

The grader's own interpreter may live in a private folder (here: pyenv under a 0700
/root), which `nobody` cannot enter, as on no Gradescope image. The system Python with a
virtual environment in /tmp stands in for Gradescope's /usr/bin/python3; it is built once
and reused. Under CI a failure to build it fails the tests instead of skipping them.
"""
import fcntl
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

SYSTEM_PYTHON = Path("/usr/bin/python3")
SANDBOX_PYTHON = Path(f"/tmp/grader-sandbox-python-numpy{np.__version__}") / "bin" / "python"


def _build() -> str:
    """Builds the virtual environment once; test workers running in parallel (xdist) take
    turns through a lock file, so only the first builds it."""
    with open(f"{SANDBOX_PYTHON.parents[1]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked()


def _build_locked() -> str:
    venv = SANDBOX_PYTHON.parents[1]
    if not SANDBOX_PYTHON.exists():
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(venv)], check=True,
                       capture_output=True, timeout=300)
    probe = subprocess.run([str(SANDBOX_PYTHON), "-c", "import numpy"], capture_output=True)
    if probe.returncode:
        subprocess.run([str(SANDBOX_PYTHON), "-m", "pip", "install", "--quiet",
                        f"numpy=={np.__version__}"], check=True, capture_output=True,
                       timeout=600)
    os.chmod(venv, 0o755)
    return str(SANDBOX_PYTHON)


@pytest.fixture(scope="session")
def sandbox_python() -> str:
    """Path of an interpreter with numpy that every user may run."""
    if os.geteuid() != 0:
        pytest.skip("the uid drop needs root")
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} is missing: no interpreter outside a private folder")
    try:
        return _build()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        message = f"cannot build {SANDBOX_PYTHON}: {exc} {detail.decode(errors='replace')[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
