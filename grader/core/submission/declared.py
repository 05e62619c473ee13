"""Plain values a submitted file declares at top level, read with ast, never run.

Handouts declare settings and answers as top-level assignments (`hidden_size = [50]`,
`learning_rate = 1e-3`, `input_size = 32 * 32 * 3`, `v = [4, 0, 11]`). A plain value is a
number, a list or tuple of plain values (nested: matrices), arithmetic on numbers, or a
name assigned a plain value before; `None` too where the caller allows it (an answer left
blank). Anything else (a call, a comprehension, a value read from a file) is refused with
its line, so nothing in the file ever executes.
"""
from __future__ import annotations

import ast
import math
import operator
from pathlib import Path

from .source import SourceError, notebook_source, where

MAX_SOURCE = 1 << 20  # bytes of a file read at most
MAX_ITEMS = 64  # entries of one list or tuple
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
        ast.Mod: operator.mod}


def is_number(value) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def evaluate(node: ast.AST, known: dict, allow_none: bool = False, allow_text: bool = False):
    """The value of a plain expression (lists for lists and tuples); ValueError otherwise.
    allow_none: `None` too; allow_text: strings too, and dicts of plain values (settings
    dicts such as {"optimizer": "adam", "eta": 1e-3})."""
    if isinstance(node, ast.Constant) and (is_number(node.value)
                                           or (allow_none and node.value is None)
                                           or (allow_text and isinstance(node.value, str))):
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = evaluate(node.operand, known)
        if is_number(value):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = evaluate(node.left, known), evaluate(node.right, known)
        if is_number(left) and is_number(right):
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
                raise ValueError("exponent too large")
            try:
                result = _OPS[type(node.op)](left, right)
            except (ZeroDivisionError, OverflowError) as exc:
                raise ValueError(str(exc)) from None
            if is_number(result):
                return result
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= MAX_ITEMS:
        return [evaluate(e, known, allow_none, allow_text) for e in node.elts]
    if allow_text and isinstance(node, ast.Dict) and len(node.keys) <= MAX_ITEMS \
            and None not in node.keys:
        return {evaluate(k, known, allow_none, allow_text): evaluate(v, known, allow_none, allow_text)
                for k, v in zip(node.keys, node.values)}
    raise ValueError("not a plain value")


def declared(text: str, allow_none: bool = False) -> tuple[dict, dict, dict]:
    """({name: value}, {name: line}, {name: line of an unreadable value}) of the top-level
    assignments of `text` (the last one of each name wins). SyntaxError when it does not
    parse."""
    values, lines, unreadable = {}, {}, {}
    for stmt in ast.parse(text).body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            try:
                values[target.id] = evaluate(value, values, allow_none)
                unreadable.pop(target.id, None)
            except (ValueError, RecursionError):
                values.pop(target.id, None)
                unreadable[target.id] = stmt.lineno
            lines[target.id] = stmt.lineno
    return values, lines, unreadable


def read_source(submission: Path, module: str, suffixes=(".py", ".ipynb")
                ) -> tuple[str, str, tuple] | None:
    """(text, file name, notebook cells) of `module` + the first suffix found as a regular
    file (a notebook's code cells joined, notebook_source's cells), else None. SourceError
    when a notebook does not parse."""
    for suffix in suffixes:
        path = Path(submission) / (module + suffix)
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as fh:
                raw = fh.read(MAX_SOURCE)
            if suffix == ".ipynb":
                text, cells = notebook_source(raw)
                return text, path.name, cells
            return raw.decode("utf-8", errors="replace"), path.name, ()
    return None


def parse_source(submission: Path, module: str, parse) -> tuple[object, str, tuple, str]:
    """Finds `module`.py (else `module`.ipynb) in the submission and applies parse(text),
    which raises SyntaxError (or ValueError) on text that does not parse: (its result, the
    file's name, notebook cells, '') or (None, the file's name, cells, what is wrong: not
    found, a notebook that does not open, or text that does not parse, with its line)."""
    try:
        found = read_source(submission, module)
    except SourceError as exc:
        return None, f"{module}.ipynb", (), f"{module}.ipynb does not open: {exc}"
    if found is None:
        return None, f"{module}.py", (), (f"{module}.py (or {module}.ipynb) not found: submit "
                                          "it under the handout's name")
    text, name, cells = found
    try:
        return parse(text), name, cells, ""
    except (SyntaxError, ValueError, RecursionError, MemoryError, SourceError) as exc:
        line = getattr(exc, "lineno", None)
        return None, name, cells, (f"{name} does not parse"
                                   + (f" ({where(line, cells)})" if line else ""))


__all__ = ["SourceError", "declared", "evaluate", "is_number", "parse_source", "read_source"]
