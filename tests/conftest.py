"""Shared set-up of the grader's tests: an importable grader package and small limits."""
import sys
from pathlib import Path

import pytest

try:
    import grader  # noqa: F401 - normally installed with `pip install -e .`
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.core import rubric  # noqa: E402
from sandbox_python import sandbox_python  # noqa: E402,F401 - a fixture


@pytest.fixture
def tiny_limits():
    """The rubric's sandbox limits, shrunk so a misbehaving child is stopped quickly."""
    return rubric.load().limits.replace(wall_seconds=5, cpu_seconds=4, memory_mb=1024,
                                        max_output_mb=2)
