"""Every repository path the docs and the grader's docstrings and comments name exists.

The sources: README.md, the student handout (student_template/README.md), bench/*.md, the
rubric's comments, the ci/ scripts and every grader/**/*.py (docstrings, comments and
strings alike). A path is named from the
repository root (grader/..., tests/..., reference/..., student_template/..., bench/...,
ci/..., .ci/...) or, inside the grader, from grader/ (core/x/y.py). Placeholders and
globs (tests/parts/<part>/, test_*.py) name no file and are left out.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("grader", "tests", "reference", "student_template", "bench", "ci", ".ci")
# A path starts at a word boundary that is not inside another path, and ends before any
# character a placeholder or a glob would continue it with.
PATH = re.compile(r"(?<![\w./<-])((?:%s)/[\w.-]+(?:/[\w.-]+)*/?|core/\w+(?:/[\w.]+)*\.py)"
                  r"(?![\w/<*{])" % "|".join(re.escape(t) for t in TOPS))


def sources(root: Path) -> list[Path]:
    """The files whose named paths must exist."""
    return ([root / "README.md", root / "student_template" / "README.md",
             root / "grader" / "rubric.toml"] + sorted((root / "bench").glob("*.md"))
            + sorted(p for d in ("ci", ".ci") for p in (root / d).iterdir() if p.is_file())
            + sorted((root / "grader").rglob("*.py")))


def named_paths(text: str) -> list[str]:
    """The repository paths a text names, relative to the root (grader/core/... for a
    core/... path), trailing punctuation dropped."""
    found = []
    for match in PATH.finditer(text):
        path = match.group(1).rstrip(".,:;")
        found.append("grader/" + path if path.startswith("core/") else path)
    return found


def missing(root: Path, files: list[Path]) -> tuple[int, list[str]]:
    """(how many paths the files name, 'file: path' for each that does not exist under
    root)."""
    count, absent = 0, []
    for source in files:
        for path in named_paths(source.read_text(encoding="utf-8")):
            count += 1
            if not (root / path).exists():
                absent.append(f"{source.name}: {path}")
    return count, sorted(set(absent))


def test_every_named_path_exists():
    count, absent = missing(ROOT, sources(ROOT))
    assert count > 100, f"only {count} paths found: the matcher no longer sees them"
    assert not absent, "paths named that do not exist:\n" + "\n".join(absent)


def test_the_matcher_finds_paths_and_only_paths():
    text = ("See grader/core/sandbox/runner.py, core/engine/judge.py and `tests/parts/"
            "part1_numpy/mutants.py`; ci/setup.sh. Not paths: tests/parts/<part>/, "
            "grader/**/*.py, tests/test_*.py, out/reference/results.json, a/grader/x.py.")
    assert named_paths(text) == ["grader/core/sandbox/runner.py", "grader/core/engine/judge.py",
                                 "tests/parts/part1_numpy/mutants.py", "ci/setup.sh"]


def test_a_made_up_path_is_reported(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text(encoding="utf-8")
                      + "\nSee grader/core/no_such_module.py and core/engine/no_such.py.\n")
    count, absent = missing(ROOT, [readme])
    assert count > 100
    assert absent == ["README.md: grader/core/engine/no_such.py",
                      "README.md: grader/core/no_such_module.py"]
