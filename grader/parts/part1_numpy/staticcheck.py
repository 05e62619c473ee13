"""Static checks of student source, by parsing it (never running it).

loops_over_samples finds Python loops over the rows of a batch in TwoLayerNet.loss (and
the methods of the class it calls): `for i in range(N)` where N = X.shape[0], `for x in X`,
comprehensions over X or y, np.apply_along_axis / np.vectorize.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finding:
    """One loop over samples."""

    line: int  # line number in the file
    code: str  # the loop's header, as written


def _sample_names(func: ast.FunctionDef, batch_args: set[str]) -> set[str]:
    """Names bound to the batch size: N = X.shape[0], N, D = X.shape, N = len(X)."""
    names: set[str] = set()
    for node in ast.walk(func):
        if not isinstance(node, ast.Assign):
            continue
        value = node.value
        for target in node.targets:
            if isinstance(target, ast.Name) and _is_count(value, batch_args):
                names.add(target.id)
            if (isinstance(target, ast.Tuple) and target.elts
                    and isinstance(target.elts[0], ast.Name)
                    and isinstance(value, ast.Attribute) and value.attr == "shape"
                    and _mentions(value.value, batch_args)):
                names.add(target.elts[0].id)
    return names


def _is_count(node: ast.AST, batch: set[str]) -> bool:
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
        index = node.slice
        return (node.value.attr == "shape" and _mentions(node.value.value, batch)
                and isinstance(index, ast.Constant) and index.value == 0)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
        return bool(node.args) and _mentions(node.args[0], batch)
    return False


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _over_samples(iterable: ast.AST, batch: set[str], counts: set[str]) -> bool:
    if _mentions(iterable, counts) or _is_count(iterable, batch):
        return True
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
        if iterable.func.id in ("range", "enumerate", "zip", "reversed"):
            return any(_over_samples(a, batch, counts) for a in iterable.args)
        if iterable.func.id == "len":
            return _is_count(iterable, batch)
    return isinstance(iterable, ast.Name) and iterable.id in batch


def _called_methods(func: ast.FunctionDef) -> set[str]:
    return {n.func.attr for n in ast.walk(func) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
            and n.func.value.id == "self"}


def loops_over_samples(source: str, class_name: str, method: str) -> list[Finding]:
    """Loops over samples in class_name.method and the methods it calls (SyntaxError raises)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name),
               None)
    if cls is None:
        return []
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    todo, seen, findings = [method], set(), []
    while todo:
        name = todo.pop()
        if name in seen or name not in methods:
            continue
        seen.add(name)
        func = methods[name]
        todo.extend(_called_methods(func))
        args = [a.arg for a in func.args.args[1:]]
        batch = set(args[:2]) if name == method else set(args)  # X and y of loss()
        batch |= {"X", "y"}
        counts = _sample_names(func, batch)
        for node in ast.walk(func):
            loop_iters = []
            if isinstance(node, (ast.For, ast.AsyncFor)):
                loop_iters = [node.iter]
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                loop_iters = [g.iter for g in node.generators]
            elif isinstance(node, ast.While) and _mentions(node.test, counts):
                loop_iters = [node.test]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("apply_along_axis", "vectorize")):
                loop_iters = [node]
            if any(_over_samples(it, batch, counts) or isinstance(it, ast.Call)
                   and getattr(it.func, "attr", "") in ("apply_along_axis", "vectorize")
                   for it in loop_iters):
                findings.append(Finding(node.lineno, lines[node.lineno - 1].strip()))
    return sorted(set(findings), key=lambda f: f.line)


def read_source(submission: Path, filename: str) -> str | None:
    """The text of a submitted file (at most 1 MB), or None when it is missing."""
    path = Path(submission) / filename
    if not path.is_file() or path.is_symlink():
        return None
    with open(path, "rb") as fh:
        return fh.read(1 << 20).decode("utf-8", errors="replace")
