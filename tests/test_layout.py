"""The layout: the core names no question, parts hold what they know, and the rubric of a
run (not the one on disk at import) is what the suites grade with."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from grader.core import rubric

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "grader" / "core"
RUBRIC = rubric.load()
IDS = sorted({q.id for q in RUBRIC.questions} | {c.id for c in RUBRIC.checks}, key=len,
             reverse=True)
QUESTION_ID = re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, IDS)) + r")(?![\w])")


def _code_strings(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of a module that are not docstrings."""
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docs]


def test_the_core_names_no_question_and_imports_no_part():
    found = []
    for path in sorted(CORE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in _code_strings(tree):
            if QUESTION_ID.search(node.value):
                found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and "parts." in (node.module or ""):
                found.append(f"{path.name}:{node.lineno}: imports {node.module}")
    assert not found, "\n".join(found)
    assert any(QUESTION_ID.search(q.id) for q in RUBRIC.questions)  # the pattern matches


def test_every_suite_lives_in_the_part_of_its_question():
    """Each automatic check has exactly one @graded test, in a part's folder."""
    graded: dict[str, list[str]] = {}
    for path in (ROOT / "grader" / "parts").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "graded":
                graded.setdefault(node.args[0].value, []).append(path.parent.name)
    assert sorted(graded) == sorted(c.id for c in RUBRIC.checks)
    assert all(len(places) == 1 for places in graded.values()), graded


def test_a_changed_rubric_is_graded_without_copying_the_package(tmp_path):
    """grade --rubric FILE: points, visibility and a threshold come from that file."""
    text = (ROOT / "grader" / "rubric.toml").read_text()
    toml = tmp_path / "rubric.toml"
    changed = text.replace('id = "1b.1"\n  name = "toy problem: loss with reg=0.05 is '
                           '1.30378789133"\n  points = 2\n  visibility = "visible"',
                           'id = "1b.1"\n  name = "toy problem: loss with reg=0.05 is '
                           '1.30378789133"\n  points = 3\n  visibility = "hidden"')
    changed = changed.replace('id = "1b"\ntitle = "Cross-entropy loss with L2 regularisation"'
                              '\npart = 1\npoints = 4', 'id = "1b"\ntitle = "Cross-entropy '
                              'loss with L2 regularisation"\npart = 1\npoints = 5')
    assert changed != text
    toml.write_text(changed)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(ROOT / "reference"),
                           "--out", str(out), "--quiet", "--questions", "1b",
                           "--rubric", str(toml)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tests = {t["number"]: t for t in json.loads((out / "results.json").read_text())["tests"]}
    assert tests["1b.1"]["max_score"] == 3 and tests["1b.1"]["score"] == 3
    assert tests["1b.1"]["visibility"] == "hidden"
    assert tests["1b.2"]["max_score"] == 2
