"""The archive handed to students: student_template/ and the public self-check, audited.

build_bundle(out_dir) writes out_dir/assignment1.zip: `assignment1/` holds every file of
student_template/ (the stubs, the drivers, the handout README.md and requirements.txt), the
self-check runner selfcheck.py, under selfcheck_files/grader/ the grader's public modules
as its package has them (CORE_PUBLIC: the verdicts, the probe call, the kits, the rubric's
records, the submission readers; each part's PUBLIC_MODULES: its public checks, the probes
and judges they run, free of solution code) and selfcheck_files/public_checks.json,
generated from the rubric and the parts (public_checks.py). The zip is deterministic:
sorted entries, fixed timestamps and permissions. Before it is written, audit() reads
every member and refuses the build when one holds reference code, a grader module that is
not public, or the rubric's seed or a seed derived from it.
"""
from __future__ import annotations

import ast
import re
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from ..errors import GraderError
from .public_checks import PACKAGE, PARTS_DIR, literal_value, public_checks_json

ROOT = PACKAGE.parent
TEMPLATE = ROOT / "student_template"
REFERENCE = ROOT / "reference"
SHIPPED_PACKAGE = "selfcheck_files/grader"  # where the public modules of grader/ go
# The self-check runner, and the core modules the parts' public judges and probes use
# (numpy only): the verdicts, the public rubric's records, the probe call as the sandbox's
# child makes it and what it returns, the kits, and the submission readers.
CORE_MODULES = ("__init__.py", "core/__init__.py", "core/errors.py", "core/engine/__init__.py",
                "core/engine/judge.py", "core/rubric/__init__.py", "core/rubric/spec.py",
                "core/sandbox/__init__.py", "core/sandbox/child.py",
                "core/sandbox/probe_run.py", "core/sandbox/kits/__init__.py",
                "core/sandbox/kits/output_path.py",
                "core/sandbox/kits/layer_calls.py", "core/sandbox/kits/training.py",
                "core/submission/__init__.py", "core/submission/answers.py",
                "core/submission/source.py",
                "core/submission/declared.py", "core/submission/settings.py",
                "core/handout/__init__.py", "core/handout/recorded.py", "parts/__init__.py")
CORE_PUBLIC = {PACKAGE / "core" / "handout" / "selfcheck.py": "selfcheck.py",
               **{PACKAGE / m: f"{SHIPPED_PACKAGE}/{m}" for m in CORE_MODULES}}
GENERATED = "selfcheck_files/public_checks.json"  # written by public_checks.py
FOLDER = "assignment1"  # the one top-level folder of the archive
ARCHIVE = "assignment1.zip"
# Never bundled from student_template/: caches and what running the driver there writes.
SKIPPED = {"__pycache__", ".pytest_cache", "plots", "datasets"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
MIN_BODY_CHARS = 80  # shorter function bodies are too generic to call a copy
MIN_LINE_CHARS = 12  # shorter lines ("return out") are too generic to call a copy


def public_files() -> dict[Path, str]:
    """Every public grader file: path in the grader -> name in the students' archive.

    The core's (CORE_PUBLIC), and each part's `PUBLIC_MODULES`, a literal of its
    __init__.py read as data (the core imports no part): those files of the part, with its
    __init__.py, where the grader's package has them."""
    found: dict[Path, str] = dict(CORE_PUBLIC)
    for init in sorted(PARTS_DIR.glob("*/__init__.py")):
        modules = literal_value(init, "PUBLIC_MODULES") or ()
        for file in ("__init__.py", *modules) if modules else ():
            found[init.parent / file] = f"{SHIPPED_PACKAGE}/parts/{init.parent.name}/{file}"
    return found


def _normalise(text: str) -> str:
    """The text's non-blank lines, stripped: indentation and blank lines do not hide a copy."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers of the module's, classes' and functions' docstrings."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def function_bodies(source: str) -> dict[str, str]:
    """{qualified name: normalised body without its docstring} of every function in source."""
    tree = ast.parse(source)
    lines = source.splitlines()
    skip = _docstring_lines(tree)
    bodies: dict[str, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first, last = child.body[0].lineno, child.body[-1].end_lineno
                text = "\n".join(lines[i - 1] for i in range(first, last + 1) if i not in skip)
                bodies[f"{prefix}{child.name}"] = _normalise(text)
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return bodies


@lru_cache(maxsize=1)
def _solution() -> tuple[dict[str, bytes], dict[str, str], frozenset[str]]:
    """What reference/ has that student_template/ lacks: whole files that differ from their
    template counterpart, function bodies that differ, and lines absent from the template."""
    if not REFERENCE.is_dir():
        raise GraderError(f"{REFERENCE} not found: the bundle is built, and audited against "
                          "the solution, from a full checkout of the repository")
    files, bodies, lines = {}, {}, set()
    for path in sorted(REFERENCE.glob("*.py")):
        twin = TEMPLATE / path.name
        data = path.read_bytes()
        if twin.is_file() and twin.read_bytes() == data:
            continue  # a given file (the driver), the same in the template
        files[f"reference/{path.name}"] = data
        source = data.decode()
        given = twin.read_text() if twin.is_file() else ""
        given_bodies = function_bodies(given) if given else {}
        for name, body in function_bodies(source).items():
            if body != given_bodies.get(name) and len(body) >= MIN_BODY_CHARS:
                bodies[f"reference/{path.name}: {name}"] = body
        given_lines = {line.strip() for line in given.splitlines()}
        docstrings = _docstring_lines(ast.parse(source))
        for number, line in enumerate(source.splitlines(), 1):
            line = line.strip()
            if number in docstrings or line in given_lines:
                continue
            code = line.split("  #")[0].strip()  # also without its trailing comment
            lines.update(t for t in (line, code)
                         if len(t) >= MIN_LINE_CHARS and t not in given_lines)
    return files, bodies, frozenset(lines)


@lru_cache(maxsize=1)
def _private_grader() -> tuple[dict[str, bytes], dict[str, str]]:
    """Every grader file that must not ship (all but the parts' public files), and its
    function bodies."""
    files, bodies = {}, {}
    public = set(public_files())
    for path in sorted(PACKAGE.rglob("*")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not path.is_file() or "__pycache__" in rel or rel.endswith(".pyc") or path in public:
            continue
        files[f"grader/{rel}"] = path.read_bytes()
        if path.suffix == ".py":
            for name, body in function_bodies(path.read_text()).items():
                if len(body) >= MIN_BODY_CHARS:
                    bodies[f"grader/{rel}: {name}"] = body
    return files, bodies


@lru_cache(maxsize=1)
def _seeds() -> tuple[str, ...]:
    """The rubric's base seed and every case seed derived from it, as decimal strings."""
    from ..rubric.spec import case_seed, load
    rubric = load()
    seeds = {rubric.seed}
    for check in rubric.checks:
        seeds.update(case_seed(rubric.seed, check.id, i)
                     for i in range(max(1, int(check.get("cases", 1)))))
    return tuple(str(s) for s in sorted(seeds) if s >= 1000)


def audit(names_and_bytes: Iterable[tuple[str, bytes]]) -> list[str]:
    """Why these (name, content) members must not go to students; [] when they may."""
    solution_files, solution_bodies, solution_lines = _solution()
    grader_files, grader_bodies = _private_grader()
    forbidden = {**solution_files, **grader_files}
    problems = []
    for name, data in names_and_bytes:
        for origin, content in forbidden.items():
            if data == content:
                problems.append(f"{name} is a copy of {origin}")
        text = data.decode("utf-8", errors="replace")
        flat = _normalise(text)
        for origin, body in {**solution_bodies, **grader_bodies}.items():
            if body in flat:
                problems.append(f"{name} contains the body of {origin}")
        member_lines = {line.strip() for line in text.splitlines()}
        member_lines |= {line.split("  #")[0].strip() for line in member_lines}
        for line in sorted(solution_lines & member_lines):
            problems.append(f"{name} contains a line of the solution: {line!r}")
        for seed in _seeds():
            if re.search(rf"(?<!\d){seed}(?!\d)", text):
                problems.append(f"{name} contains {seed}, the rubric's seed or a hidden "
                                "case's seed")
    return problems


def bundle_files() -> list[tuple[str, bytes]]:
    """The bundle's members, sorted: (name in the archive, content)."""
    if not TEMPLATE.is_dir():
        raise GraderError(f"{TEMPLATE} not found: build the bundle from the repository")
    members = {}
    for path in sorted(TEMPLATE.rglob("*")):
        rel = path.relative_to(TEMPLATE)
        if (any(p in SKIPPED or p.startswith(".") for p in rel.parts) or path.suffix == ".pyc"
                or path.is_symlink() or not path.is_file()):
            continue
        members[f"{FOLDER}/{rel.as_posix()}"] = path.read_bytes()
    for source, name in public_files().items():
        if f"{FOLDER}/{name}" in members:
            raise GraderError(f"student_template/{name} has the name of "
                              f"{source.relative_to(PACKAGE.parent)}, which the bundle adds: "
                              "rename it")
        members[f"{FOLDER}/{name}"] = source.read_bytes()
    members[f"{FOLDER}/{GENERATED}"] = public_checks_json()
    return sorted(members.items())


def build_bundle(out_dir: Path) -> Path:
    """Audits the members, then writes out_dir/assignment1.zip; returns its path."""
    members = bundle_files()
    problems = audit(members)
    if problems:
        raise GraderError("the student bundle was not written; it would hand out:\n  "
                          + "\n  ".join(problems))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ARCHIVE
    partial = out_dir / (ARCHIVE + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permissions below mean the same everywhere
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    partial.replace(path)
    return path
