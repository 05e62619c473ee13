"""The layout: the core names no question, parts hold what they know, and the rubric of a
run (not the one on disk at import) is what the suites grade with."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from grader.core.rubric import spec as rubric

ROOT = Path(__file__).resolve().parents[2]
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


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every `import`/`from ... import` in a grader module,
    relative imports resolved against the module's package, names imported from a package
    counted as its submodules when they are files or folders there."""
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, module))
            folder = ROOT.joinpath(*module.split("."))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names
                      if (folder / f"{alias.name}.py").is_file() or (folder / alias.name).is_dir()]
    return found


def test_the_core_names_no_question_and_imports_no_part():
    found = []
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        name = path.relative_to(CORE).as_posix()
        for node in _code_strings(tree):
            if QUESTION_ID.search(node.value):
                found.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
        for line, module in _imports(path):
            if module == "grader.parts" or module.startswith("grader.parts."):
                found.append(f"{name}:{line}: imports {module}")
    assert not found, "\n".join(found)
    assert any(QUESTION_ID.search(q.id) for q in RUBRIC.questions)  # the pattern matches


def test_the_guard_resolves_relative_imports(tmp_path):
    """`from ...parts import x` inside grader/core/<package>/ is seen as grader.parts."""
    sample = CORE / "handout" / "bundle.py"
    fake = ROOT / "grader" / "core" / "handout" / "_guard_sample.py"
    try:
        fake.write_text("from ...parts import part1_numpy\nfrom ..errors import GraderError\n")
        modules = [m for _, m in _imports(fake)]
    finally:
        fake.unlink()
    assert "grader.parts" in modules and "grader.parts.part1_numpy" in modules
    assert "grader.core.errors" in modules and sample.is_file()


def test_the_grader_has_no_import_cycles():
    """Module-level imports between grader modules form no cycle (imports inside functions
    count too: they hide a cycle rather than remove it)."""
    modules = {}
    for path in (ROOT / "grader").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        modules[name] = path
    graph = {name: {m for _, m in _imports(path) if m in modules and m != name}
             for name, path in modules.items()}
    for name in graph:  # a package's __init__ is imported with each submodule: no edge
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


def test_every_suite_lives_in_the_part_of_its_question():
    """Each automatic check has exactly one @graded (or judged) test, in a part's folder."""
    graded: dict[str, list[str]] = {}
    for path in (ROOT / "grader" / "parts").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("graded", "judged"):
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
