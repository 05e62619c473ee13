"""A student's definitions without their top-level work: parsed, never run.

Students hand in scripts that train at import (datasets with download=True, a top-level
training loop, torch.save, no ``__main__`` guard) or notebooks. ``definitions_only`` keeps
what the grader needs and blanks the rest line by line, so line numbers stay the student's.
Rules for module-level statements:

1. Kept: imports, the module docstring, ``__all__``, ``pass``, and function and class
   definitions with their decorators, unless a decorator, default or base class reads a
   name only dropped statements bind (the def would fail). ``from __future__`` stays first
   (one after other kept code, as in a later notebook cell, is dropped).
2. Assignments (``=``, annotated, augmented) are kept when they are plain settings (only
   literals, names, attributes, subscripts, operators, containers, conditional expressions)
   or when kept code reads a name they bind, transitively (``x[k] = v`` binds ``x``).
3. An assignment with a call that looks like data loading, training, I/O or shell work
   (``DENIED_CALLS``, or a ``download=`` keyword) is dropped; ``torch.device(...)``,
   ``nn.CrossEntropyLoss()`` or ``transforms.Compose([...])`` are kept when needed.
4. ``if __name__ == "__main__"`` is dropped; other ``if``/``try`` blocks are kept when they
   hold only imports, definitions, ``pass`` and assignments without denied calls. Loops,
   ``with`` blocks, bare expressions (``train()``, ``plt.show()``), ``del``, ``global``,
   ``assert``, ``raise`` and ``match`` are dropped, and so is any statement that reads, when
   run, a name only dropped statements bound before it (it would fail).
5. Names read by kept code but bound only by dropped statements are
   ``ModuleSource.skipped_names()``: the grader can tell the student which line it skipped.
"""
import ast
import bisect
import io
import json
import re
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path

# (part of a called dotted name, what it does in the student's terms): a call whose name
# contains the part is not run; a `download=` keyword counts as "download"
DENIED_CALLS = tuple((part, why) for why, parts in (
    ("dataset/file I/O", "datasets. DataLoader Subset ImageFolder CIFAR MNIST download "
                         "urlretrieve read_csv open load savez save"),
    ("training?", "fit train"), ("keyboard input", "input"),
    ("shell/network", "subprocess system requests urlopen")) for part in parts.split())
MAX_NOTES = 8  # notes() lists at most this many ranges, then "and N more"
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")  # %%magics whose body is Python
_PLAIN = (ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.BinOp,
          ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Tuple, ast.List, ast.Set,
          ast.Dict, ast.Starred, ast.JoinedStr, ast.FormattedValue)
_ASSIGNS = (ast.Assign, ast.AnnAssign, ast.AugAssign)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_DROPPED_KINDS = {  # statement type -> why it is not run
    **dict.fromkeys((ast.For, ast.AsyncFor, ast.While), "top-level loop (training?)"),
    **dict.fromkeys((ast.With, ast.AsyncWith), "top-level with-block (file I/O?)"),
    ast.If: "top-level if-block that runs code", ast.Try: "top-level try-block that runs code"}
_IPYTHON_LINE = re.compile(r"^\s*(?:!|%{1,2}[A-Za-z]|\w[\w.]*\s*=\s*(?:!|%[A-Za-z]))"
                           r"|get_ipython\(\)")
_LINE = re.compile(r".*?(?:\r\n|\r|\n)|.+$", re.S)  # a line and its break, as ast counts them


class SourceError(ValueError):
    """Input that does not parse as Python (or as a notebook); `line` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line  # line of the problem in the parsed text, when known


@dataclass(frozen=True)
class Skipped:
    """A top-level statement the grader did not run."""

    first_line: int  # 1-based first line in ModuleSource.text
    last_line: int  # 1-based last line, inclusive
    reason: str  # short, in the student's terms: "top-level loop (training?)"
    names: tuple[str, ...]  # names the statement would have bound at module level


@dataclass(frozen=True)
class ModuleSource:
    """Source safe to import: the student's definitions, on the student's line numbers."""

    text: str  # Python source; dropped statements are blank lines
    skipped: tuple[Skipped, ...]  # what was not run, in line order
    origin: str  # file name the text came from, for messages
    cells: tuple[tuple[int, int, int], ...] = ()  # notebook: (first line, last line, cell)

    def skipped_names(self) -> dict[str, int]:
        """Names the kept code reads that only skipped statements bind -> first such line."""
        body = ast.parse(self.text).body
        wanted = _reads(body) - set(_bound(body))
        found: dict[str, int] = {}
        for skip in self.skipped:
            for name in set(skip.names) & wanted:
                found.setdefault(name, skip.first_line)
        return found

    def where(self, line: int) -> str:
        """A line of `text` as the student sees it: "cell 3, line 4" or "line 40"."""
        return where(line, self.cells)

    def notes(self) -> list[str]:
        """One short line per range of skipped lines (adjacent ones merged), at most MAX_NOTES."""
        lines = _LINE.findall(self.text)
        groups: list[list[Skipped]] = []
        for skip in self.skipped:
            if groups and self._adjacent(groups[-1][-1], skip, lines):
                groups[-1].append(skip)
            else:
                groups.append([skip])
        notes = [self._note(group[0].first_line, max(s.last_line for s in group),
                            "; ".join(dict.fromkeys(s.reason for s in group))) for group in groups]
        if len(notes) > MAX_NOTES:
            notes[MAX_NOTES:] = [f"and {len(notes) - MAX_NOTES} more ranges not run"]
        return notes

    def _adjacent(self, before: Skipped, after: Skipped, lines: list[str]) -> bool:
        """Same cell, and only blank or comment lines between."""
        cell = [next((n for a, b, n in self.cells if a <= line <= b), None)
                for line in (before.last_line, after.first_line)]
        between = lines[before.last_line:after.first_line - 1]
        return cell[0] == cell[1] and all(x.strip()[:1] in ("", "#") for x in between)

    def _note(self, first: int, last: int, reason: str) -> str:
        start, end = self.where(first), self.where(last)
        span = start if first == last else (
            f"{start.replace('line', 'lines')}-{end.rsplit(' ', 1)[1]}")
        return f"{self.origin} {span} not run by the grader: {reason}"


def where(line: int, cells: tuple = ()) -> str:
    """A line of a notebook's joined code cells (notebook_source's cells) as the student
    sees it, "cell 3, line 4"; "line 40" for a .py file (no cells)."""
    for first, last, number in cells:
        if first <= line <= last:
            return f"cell {number}, line {line - first + 1}"
    return f"line {line}"


def definitions_only(source: str, origin: str, *, cells: tuple = ()) -> ModuleSource:
    """`source` with only what is safe to run at import (module rules), the rest blanked.

    `cells` (from notebook_source) maps lines to notebook cells. Raises SourceError when
    `source` does not parse or is too deeply nested for the parser.
    """
    located = ModuleSource("", (), origin, tuple(cells))
    try:
        with warnings.catch_warnings():  # invalid escapes etc. are the student's business
            warnings.simplefilter("ignore")
            body = ast.parse(source).body
            dropped = _plan(body)
            text = _blank(source, body, dropped) if dropped else source
            compile(text, origin, "exec", dont_inherit=True)
    except SyntaxError as err:
        where = located.where(err.lineno) if err.lineno else "?"
        raise SourceError(f"{origin} {where}: {err.msg}", err.lineno) from None
    except (RecursionError, MemoryError, ValueError) as err:
        raise SourceError(f"{origin}: cannot be parsed, too deeply nested or invalid "
                          f"({type(err).__name__}: {str(err)[:80]})") from None
    skipped = tuple(Skipped(_start(body[i]), body[i].end_lineno, why, tuple(_bound([body[i]])))
                    for i, why in sorted(dropped.items()))
    return ModuleSource(text, skipped, origin, tuple(cells))


def notebook_source(raw: str | bytes) -> tuple[str, tuple]:
    """The code cells of a .ipynb as one Python text, and (first, last, cell number) per cell.

    Each cell is preceded by a ``# %% cell N`` line (N counts all cells from 1). Markdown and
    raw cells are left out; IPython-only lines (``%magic``, ``!shell``, ``x = !cmd``,
    ``get_ipython()``) become blank (``pass`` when indented); a ``%%time``/``%%timeit``/
    ``%%capture``/``%%prun`` cell keeps its Python body, other ``%%`` cells are left out.
    Raises SourceError for a file that is not a notebook.
    """
    try:
        cells = _notebook_cells(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except Exception as err:  # nbformat and json raise many kinds for a broken file
        raise SourceError(f"not a readable notebook: {type(err).__name__}: {err}") from None
    out, spans = [], []
    for number, (kind, code) in enumerate(cells, start=1):
        if kind != "code" or not code.strip():
            continue
        lines = [line.rstrip("\r\n") for line in _LINE.findall(code)]
        if lines[0].startswith("%%"):
            if (lines[0][2:].split() or [""])[0] not in PYTHON_CELL_MAGICS:
                continue
            lines[0] = ""
        out.append(f"# %% cell {number}")
        spans.append((len(out) + 1, len(out) + len(lines), number))
        out += [_without_ipython(line) for line in lines]
    return "".join(line + "\n" for line in out), tuple(spans)


def read_definitions(path: Path) -> ModuleSource:
    """definitions_only of a .py file, or of a notebook's code cells (.ipynb)."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".ipynb":
        try:
            text, cells = notebook_source(data)
        except SourceError as err:
            raise SourceError(f"{path.name}: {err}") from None
        return definitions_only(text, path.name, cells=cells)
    try:  # UTF-8, with or without a BOM, unless a PEP 263 coding line says otherwise
        text = data.decode(tokenize.detect_encoding(io.BytesIO(data).readline)[0])
    except (SyntaxError, LookupError, UnicodeDecodeError) as err:
        raise SourceError(f"{path.name}: cannot decode the file: {err}") from None
    return definitions_only(text, path.name)


# --- which statements run -------------------------------------------------------------------

def _plan(body: list[ast.stmt]) -> dict[int, str]:
    """Index of each top-level statement not to run -> reason (rules in the module docstring)."""
    dropped, maybe = {}, []
    for i, stmt in enumerate(body):
        verdict = _first_look(stmt, i == 0)
        if verdict == "maybe":
            maybe.append(i)
            call = _denied(stmt) if isinstance(stmt, _ASSIGNS) else None
            if call:
                dropped[i] = f"calls {call}"
        elif verdict != "keep":
            dropped[i] = verdict
    binds = [set(_bound([stmt])) | _touched(stmt) for stmt in body]
    binders: dict[str, list[int]] = {}  # name -> statements binding it, in order
    for i, names in enumerate(binds):
        for name in names:
            binders.setdefault(name, []).append(i)
    reads_all = [_reads([stmt]) for stmt in body]
    while True:  # each round only drops more, so this ends
        wanted = _wanted(body, dropped, set(maybe), binders, reads_all)
        newly: dict[int, str] = {}
        for i in (i for i in maybe if i not in dropped):
            if not (_always(body[i]) or binds[i] & wanted):
                newly[i] = "not needed by the definitions"
                continue
            for name in sorted(_reads([body[i]], deferred=False)):
                earlier = binders.get(name, [])[:bisect.bisect_left(binders.get(name, []), i)]
                if earlier and all(j in dropped or j in newly for j in earlier):
                    newly[i] = f"uses {name} (line {body[earlier[0]].lineno}, not run)"
                    break
        if not newly:
            break
        dropped.update(newly)
    code_before = False
    for i in (i for i in range(len(body)) if i not in dropped):
        future = isinstance(body[i], ast.ImportFrom) and body[i].module == "__future__"
        if future and code_before:
            dropped[i] = "from __future__ import after other code"
        code_before = code_before or not (future or (i == 0 and _is_docstring(body[0])))
    return dropped


def _wanted(body: list, dropped: dict, maybe: set, binders: dict, reads_all: list) -> set[str]:
    """Names the statements still in play read: the sure ones', then what those need."""
    sure = [i for i in range(len(body))
            if i not in dropped and (i not in maybe or _always(body[i]))]
    wanted = set().union(*(reads_all[i] for i in sure))
    todo, seen = list(wanted), set(sure)
    while todo:  # a statement binding a wanted name makes what it reads wanted
        for i in binders.get(todo.pop(), ()):
            if i not in seen and i not in dropped:
                seen.add(i)
                todo += reads_all[i] - wanted
                wanted |= reads_all[i]
    return wanted


def _first_look(stmt: ast.stmt, first: bool) -> str:
    """'keep', 'maybe' (decided by need and safety) or the reason to drop `stmt`."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass)) or (
            first and _is_docstring(stmt)) or (
            isinstance(stmt, _ASSIGNS) and "__all__" in _bound([stmt])):
        return "keep"
    if isinstance(stmt, ast.If) and _is_main_test(stmt.test):
        return "the __main__ block"
    if isinstance(stmt, (*_ASSIGNS, *_DEFS)) or (
            isinstance(stmt, (ast.If, ast.Try)) and _admissible(stmt)):
        return "maybe"
    if isinstance(stmt, ast.Expr):
        return "top-level call" if isinstance(stmt.value, ast.Call) else "top-level expression"
    return _DROPPED_KINDS.get(type(stmt), f"top-level {type(stmt).__name__.lower()} statement")


def _admissible(stmt: ast.stmt) -> bool:
    """Only imports, definitions, pass and assignments without denied calls, in any if/try."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass, *_DEFS)):
        return True
    if isinstance(stmt, _ASSIGNS):
        return not _denied(stmt)
    if isinstance(stmt, ast.If):
        parts, tests = stmt.body + stmt.orelse, [stmt.test]
    elif isinstance(stmt, ast.Try):
        parts = [*stmt.body, *stmt.orelse, *stmt.finalbody, *(s for h in stmt.handlers
                                                              for s in h.body)]
        tests = [h.type for h in stmt.handlers if h.type]
    else:
        return False
    return not any(_denied(t) for t in tests) and all(_admissible(s) for s in parts)


def _always(stmt: ast.stmt) -> bool:
    """Kept whether or not needed: a definition, a plain setting or an admissible if/try."""
    return isinstance(stmt, (ast.If, ast.Try, *_DEFS)) or all(
        isinstance(node, _PLAIN) for node in ast.walk(stmt) if isinstance(node, ast.expr))


def _denied(node: ast.AST) -> str | None:
    """'dotted.name (why)' of the first call in `node` that looks like data, training or I/O."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):
            continue  # its body does not run here
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            keywords = "".join(" download" for k in node.keywords if k.arg == "download")
            for part, why in DENIED_CALLS:
                if part in name + keywords:
                    return f"{name} ({why})"
        stack.extend(ast.iter_child_nodes(node))
    return None


def _dotted(func: ast.expr) -> str:
    """`torchvision.datasets.CIFAR10` for a call's function; `(...)` stands for a non-name."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    parts.append(func.id if isinstance(func, ast.Name) else "(...)")
    return ".".join(reversed(parts))


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _is_main_test(test: ast.expr) -> bool:
    """`__name__ == "__main__"`, either way round."""
    if not (isinstance(test, ast.Compare) and [type(op) for op in test.ops] == [ast.Eq]):
        return False
    sides = {getattr(n, "id", getattr(n, "value", None)) for n in (test.left, *test.comparators)}
    return {"__name__", "__main__"} <= sides


# --- names read and bound -------------------------------------------------------------------

def _reads(nodes: list, deferred: bool = True) -> set[str]:
    """Module-level names `nodes` read when run (and, if `deferred`, when their functions run)."""
    found, stack = set(), list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                found.add(node.id)
        elif isinstance(node, _FUNCS):  # defaults, decorators, annotations run now
            args = node.args
            stack += [*getattr(node, "decorator_list", []), *args.defaults,
                      *(n for n in (*args.kw_defaults, getattr(node, "returns", None),
                                    *(a.annotation for a in _params(args))) if n)]
            if deferred:
                body = node.body if isinstance(node.body, list) else [node.body]
                local = {a.arg for a in _params(args)} | set(_bound(body))
                declared = {n for s in body for x in ast.walk(s) if isinstance(x, ast.Global)
                            for n in x.names}
                found |= _reads(body) - (local - declared)
        elif isinstance(node, _COMPS):  # its loop variables are its own
            targets = set(_bound([g.target for g in node.generators]))
            found |= _reads(list(ast.iter_child_nodes(node)), deferred) - targets
        else:
            stack.extend(ast.iter_child_nodes(node))
    return found


def _params(args: ast.arguments) -> list[ast.arg]:
    return [*args.posonlyargs, *args.args, *args.kwonlyargs,
            *(a for a in (args.vararg, args.kwarg) if a)]


def _bound(nodes: list) -> dict[str, int]:
    """Names `nodes` bind in their own scope -> first line binding each."""
    found, stack = {}, list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.setdefault(node.id, node.lineno)
        elif isinstance(node, _DEFS):
            found.setdefault(node.name, node.lineno)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in (a for a in node.names if a.name != "*"):
                found.setdefault(alias.asname or alias.name.split(".")[0], node.lineno)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.setdefault(node.name, node.lineno)
        if not isinstance(node, (*_DEFS, ast.Lambda, *_COMPS)):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return found


def _touched(stmt: ast.stmt) -> set[str]:
    """Names an assignment changes in place: `config` in `config["lr"] = 0.1`."""
    found = set()
    for node in getattr(stmt, "targets", [getattr(stmt, "target", None)]):
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
            if isinstance(node, ast.Name):
                found.add(node.id)
    return found


# --- text -----------------------------------------------------------------------------------

def _blank(source: str, body: list[ast.stmt], dropped: dict[int, str]) -> str:
    """`source` with the dropped statements blanked and every line kept in place."""
    lines = _LINE.findall(source)
    kept_lines = {n for i, s in enumerate(body) if i not in dropped
                  for n in range(_start(s), s.end_lineno + 1)}
    for i in sorted(dropped, reverse=True):  # right to left keeps columns valid
        stmt = body[i]
        first, last = _start(stmt), stmt.end_lineno
        if not kept_lines & set(range(first, last + 1)):
            for n in range(first, last + 1):
                lines[n - 1] = _ending(lines[n - 1])
            continue
        # on a line with a kept statement (`import os; train()`): `pass` in its place, and
        # backslash continuations when kept code follows on its last line
        head = lines[first - 1].encode()[:stmt.col_offset].decode()
        tail = lines[last - 1].encode()[stmt.end_col_offset:].decode()
        if first == last:
            lines[first - 1] = head + "pass" + tail
            continue
        more = tail.strip()[:1] not in ("", "#")
        lines[first - 1] = head + ("pass \\" if more else "pass") + _ending(lines[first - 1])
        for n in range(first + 1, last):
            lines[n - 1] = ("\\" if more else "") + _ending(lines[n - 1])
        lines[last - 1] = " " * stmt.end_col_offset + tail if more else _ending(tail)
    return "".join(lines)


def _start(stmt: ast.stmt) -> int:
    """First line of a statement, decorators included."""
    return min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])


def _ending(line: str) -> str:
    """Only the line break of `line` ('' on a last line without one)."""
    return line[len(line.rstrip("\r\n")):]


def _notebook_cells(text: str) -> list[tuple[str, str]]:
    """(cell type, source) per cell, read with nbformat when installed, else as plain JSON."""
    try:
        import nbformat
    except ImportError:
        notebook = json.loads(text)
        cells = notebook["cells"] if "cells" in notebook else notebook["worksheets"][0]["cells"]
    else:
        with warnings.catch_warnings():  # e.g. cells without ids, from older Jupyter versions
            warnings.simplefilter("ignore")
            cells = nbformat.reads(text, as_version=4).cells
    sources = (c.get("source", c.get("input", "")) for c in cells)  # "input": nbformat 3
    return [(c["cell_type"], s if isinstance(s, str) else "".join(s))
            for c, s in zip(cells, sources)]


def _without_ipython(line: str) -> str:
    """`line`, or nothing (`pass` when indented) for an IPython-only line."""
    if not _IPYTHON_LINE.search(line):
        return line
    indent = line[:len(line) - len(line.lstrip())]
    return indent + "pass" if indent else ""


def prepare_sources(folder: Path, skip_top_level: bool, noted: tuple[str, ...] = ()
                    ) -> tuple[list[str], dict]:
    """Readies a sandbox copy's Python files for import, in place: a notebook (X.ipynb)
    becomes X.py holding its code cells' definitions (unless X.py exists), and with
    skip_top_level every X.py keeps its definitions only (read_definitions: no
    top-level training, downloads or file I/O). Returns the notes for the student (lines
    not run) and {module name: {name: line}} of the names only skipped lines assign.
    noted: module names (file stems) whose lines not run are worth a note (the files the
    question reads); empty: every file's."""
    notes: list[str] = []
    skipped: dict[str, dict[str, int]] = {}
    for path in sorted(folder.rglob("*")):
        is_notebook = path.suffix == ".ipynb"
        if path.is_symlink() or not path.is_file() or not (
                is_notebook or (skip_top_level and path.suffix == ".py")):
            continue
        target = path.with_suffix(".py")
        if is_notebook and target.exists():
            notes.append(f"{path.name} not read: {target.name} is graded instead")
            continue
        try:
            module = read_definitions(path)
        except SourceError as exc:
            if is_notebook:
                notes.append(f"{path.name} could not be read as a notebook: {exc}")
            continue  # a .py that does not parse: its import reports the SyntaxError
        if module.text != path.read_text(encoding="utf-8", errors="replace") or is_notebook:
            target.write_text(module.text, encoding="utf-8")
        if not noted or target.stem in noted:
            notes.extend(module.notes())
        if module.skipped_names():
            skipped[target.stem] = module.skipped_names()
    return notes, skipped
