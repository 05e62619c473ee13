"""Plain values a submitted file declares at top level, read with ast, never run.

Handouts declare settings and answers as top-level assignments (`hidden_size = [50]`,
`learning_rate = 1e-3`, `input_size = 32 * 32 * 3`, `v = [4, 0, 11]`), or as the keys of
one top-level dict (`SETTINGS = {"eta": 1e-3, ...}`, later `SETTINGS["eta"] = 0.01`). A
plain value is a number, a list or tuple of plain values (nested: matrices), arithmetic on
numbers, or a name assigned a plain value before; `None` too where the caller allows it (an
answer left blank), and strings, True/False, None and dicts in settings (`allow_text`).
Anything else (a call, a comprehension, a value read from a file) is unreadable, with its
line, so nothing in the file ever executes.
"""
from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from pathlib import Path

from ..rubric.spec import is_number
from .source import SourceError, notebook_source, where

MAX_SOURCE = 1 << 20  # bytes of a file read at most
MAX_ITEMS = 64  # entries of one list or tuple
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
        ast.Mod: operator.mod}
UNREADABLE = type("Unreadable", (), {"__repr__": lambda self: "UNREADABLE"})()  # not plain data


def evaluate(node: ast.AST, known: dict, allow_none: bool = False, allow_text: bool = False):
    """The value of a plain expression (lists for lists and tuples); ValueError otherwise.
    allow_none: `None` too; allow_text: strings, True/False, None, and dicts of plain values
    too (settings such as {"optimizer": "adam", "eta": 1e-3})."""
    if isinstance(node, ast.Constant) and (
            is_number(node.value) or (allow_none and node.value is None)
            or (allow_text and (node.value is None or isinstance(node.value, (str, bool))))):
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
    if allow_text and isinstance(node, ast.Dict) and len(node.keys) <= MAX_ITEMS and all(
            isinstance(k, ast.Constant) and isinstance(k.value, (str, int)) for k in node.keys):
        return {k.value: evaluate(v, known, allow_none, allow_text)
                for k, v in zip(node.keys, node.values)}
    raise ValueError("not a plain value")


@dataclass(frozen=True)
class Assigned:
    """Every top-level assignment of one name (or of one key of a settings dict)."""

    lines: tuple[int, ...]  # 1-based lines in the parsed text, in order; the last one counts
    value: object  # the last assignment's plain value, or UNREADABLE

    @property
    def readable(self) -> bool:
        return self.value is not UNREADABLE


def assignments(text: str, container: str = "", allow_none: bool = False,
                allow_text: bool = False) -> tuple[dict[str, Assigned], Assigned | None]:
    """({name: Assigned} of the top-level assignments of `text`, None), or with a container
    ({key: Assigned} of the keys of its last top-level `container = {...}` and of the
    `container["key"] = ...` after it, the container's own Assigned: its value is a dict of
    its plain keys when it was assigned a dict display, else the plain value or UNREADABLE;
    None when never assigned). SyntaxError when `text` does not parse."""
    names, keys, wholes = {}, {}, {}  # name, key or container -> (its lines, last value)
    known: dict = {}  # readable top-level names, for names used in later values

    def value_of(node: ast.AST):
        try:
            return evaluate(node, known, allow_none, allow_text)
        except (ValueError, TypeError, RecursionError):
            return UNREADABLE

    def record(table: dict, key: str, line: int, value):
        table[key] = (table[key][0] if key in table else [], value)
        table[key][0].append(line)
        return value

    for stmt in ast.parse(text).body:
        if isinstance(stmt, ast.Assign):
            targets, node = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, node = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if container and isinstance(target, ast.Name) and target.id == container:
                keys = {}
                if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(
                        k.value, str) for k in node.keys):
                    for key, entry in zip(node.keys, node.values):
                        record(keys, key.value, entry.lineno, value_of(entry))
                    value = {k: v for k, (_, v) in keys.items() if v is not UNREADABLE}
                else:  # a name or an expression: its keys all count from this line
                    value = value_of(node)
                    for key, entry in (value.items() if isinstance(value, dict) else ()):
                        if isinstance(key, str):
                            record(keys, key, stmt.lineno, entry)
                record(wholes, container, stmt.lineno, value)
            elif (container in wholes and isinstance(wholes[container][1], dict)
                  and isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                  and target.value.id == container and isinstance(target.slice, ast.Constant)
                  and isinstance(target.slice.value, str)):
                record(keys, target.slice.value, stmt.lineno, value_of(node))
            elif isinstance(target, ast.Name):
                known[target.id] = record(names, target.id, stmt.lineno, value_of(node))
                if known[target.id] is UNREADABLE:
                    del known[target.id]
    done = {k: Assigned(tuple(lines), value) for k, (lines, value) in
            (keys if container else names).items()}
    return done, (Assigned(tuple(wholes[container][0]), wholes[container][1])
                  if container in wholes else None)


def parse_source(submission: Path, module: str, parse, missing: str = "",
                 unparsable: str = "") -> tuple[object, str, tuple, str]:
    """Finds `module`.py (else `module`.ipynb, its code cells joined) in the submission, a
    regular file, and applies parse(text), which raises SyntaxError (or ValueError) on text
    that does not parse: (its result, the file's name, notebook cells, '') or (None, the
    file's name, cells, what is wrong: not found (`missing` when given), a notebook that
    does not open, or text that does not parse, with its line and `unparsable` after it)."""
    found = [path for path in (Path(submission) / (module + suffix) for suffix in (".py", ".ipynb"))
             if path.is_file() and not path.is_symlink()]
    if not found:
        return None, f"{module}.py", (), missing or (
            f"{module}.py (or {module}.ipynb) not found: submit it under the handout's name")
    with open(found[0], "rb") as fh:
        raw, name, cells = fh.read(MAX_SOURCE), found[0].name, ()
    try:
        text, cells = notebook_source(raw) if name.endswith(".ipynb") else (
            raw.decode("utf-8", errors="replace"), ())
    except SourceError as exc:
        return None, name, (), f"{name} does not open: {exc}"
    try:
        return parse(text), name, cells, ""
    except (SyntaxError, ValueError, RecursionError, MemoryError, SourceError) as exc:
        line = getattr(exc, "lineno", None)
        return None, name, cells, (f"{name} does not parse"
                                   + (f" ({where(line, cells)})" if line else "") + unparsable)


__all__ = ["Assigned", "SourceError", "UNREADABLE", "assignments", "evaluate", "is_number",
           "parse_source"]
