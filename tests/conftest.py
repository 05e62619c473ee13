"""Shared set-up of the grader's tests: an importable grader package, importable helpers
and small limits.

tests/core/ tests the core, tests/parts/<part>/ each part (units, mutant catalogues,
end-to-end runs), tests/support/ holds helpers every folder uses (grading.py: the one way to
grade a submission in-process). The catalogues and helpers are imported by module name
across folders (Part 1's `mutants.apply_edits`, support's `grading.grade`), so support/
and every part's folder are on sys.path.
"""
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in [HERE / "support", *sorted((HERE / "parts").iterdir())]:
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

try:
    import grader  # noqa: F401 - normally installed with `pip install -e .`
except ImportError:
    sys.path.insert(0, str(HERE.parent))

from grader.core.rubric import spec as rubric  # noqa: E402
from sandbox_python import sandbox_python  # noqa: E402,F401 - a fixture


@pytest.fixture
def tiny_limits():
    """The rubric's sandbox limits, shrunk so a misbehaving child is stopped quickly."""
    return rubric.load().limits.replace(wall_seconds=5, cpu_seconds=4, memory_mb=1024,
                                        max_output_mb=2)


# The modules that grade whole submissions (minutes in all) start first, so the test
# workers (pytest-xdist) finish together instead of one of them running a long tail alone.
LONG_FIRST = ("test_gradescope_layout.py", "test_e2e_part1.py", "test_part2_e2e.py",
              "test_part4_cnn_e2e.py", "test_part4_convnet_e2e.py", "test_part3_e2e.py",
              "test_budgets.py", "test_hostile.py")


def pytest_collection_modifyitems(config, items):
    """Orders the collected tests: LONG_FIRST's modules first, the rest as collected."""
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
