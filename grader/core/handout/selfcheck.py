#!/usr/bin/env python3
"""Self-check: the public checks of the assignment, run on your own code before you submit.

    python selfcheck.py                  # every part whose files are in this folder
    python selfcheck.py 2                # Part 2 only (parts 1 to 4; several may be given)
    python selfcheck.py 1 4 --folder F   # Parts 1 and 4 on the files in folder F

Each public check runs on its own (a crash or an endless loop in one does not stop the
others) and prints PASS or FAIL with what was expected, what your code gave and a hint,
then "N of M public checks passed" per part. Your files are read as the grader reads them:
a notebook (X.ipynb) stands in for a missing X.py, and where the grader runs definitions
only, top-level training and downloads are not run here either. Exit code 0 when every
check passes, 1 otherwise (2 for a wrong command line). Hidden checks and the trainings on
the real datasets are graded on Gradescope only; each part's report names them.

Needs the packages of requirements.txt (numpy; torch for Parts 2 and 4). The checks, their
thresholds and expected values come from the course's rubric, written into
selfcheck_files/public_checks.json when the handout was built.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
import textwrap
import traceback
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "selfcheck_files"  # the part checks and the grader's numpy-only helpers
TIME_LIMIT_S = 120  # per check, on POSIX systems (signal.alarm)
LIBRARIES = ("numpy", "scipy", "matplotlib", "nbformat", "torch", "torchvision")  # requirements


class Stop(Exception):
    """A check cannot go on; the message says why, in the student's terms."""


class TimedOut(BaseException):
    """A check ran past TIME_LIMIT_S (BaseException: `except Exception` cannot swallow it)."""


def public() -> dict:
    """The generated public data: checks, rubric values, expected values, install command."""
    return json.loads((FILES / "public_checks.json").read_text(encoding="utf-8"))


def shipped(name: str) -> types.ModuleType:
    """The module selfcheck_files/NAME.py (a part's checks or a grader helper), loaded once."""
    key = f"selfcheck_files.{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, FILES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # dataclasses look their module up by name
        spec.loader.exec_module(module)
    return sys.modules[key]


def describe(exc: BaseException, folder: Path, install: str) -> str:
    """What an exception raised while checking means, with its place in the student's file."""
    if isinstance(exc, Stop):
        return str(exc)
    if isinstance(exc, TimedOut):
        return (f"stopped after {TIME_LIMIT_S} s without finishing: an endless loop, or a "
                "loop that is far too slow?")
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in LIBRARIES:
        return (f"{exc.name} is not installed for this Python: install the handout's "
                f"packages with\n    {install}\nthen run this check again.")
    place, todo = "", str(exc) or "a TODO block"
    if isinstance(exc, SyntaxError) and exc.filename:
        place = f" ({Path(exc.filename).name}, line {exc.lineno})"
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.parent.resolve() == folder and path.name != "selfcheck.py":
            place = f" ({path.name}, line {frame.lineno})"
    if isinstance(exc, NotImplementedError):
        return f"Not implemented yet ({todo}){place}: fill in that TODO block, then run again."
    if isinstance(exc, SystemExit):
        return ("your code called sys.exit() or exit(): the graded functions must return "
                "their result, not exit")
    if isinstance(exc, ModuleNotFoundError):
        return (f"your code imports {exc.name!r}, which is not installed here{place}: "
                "install it, or remove the import (requirements.txt lists the packages the "
                "grader provides)")
    first = str(exc.msg if isinstance(exc, SyntaxError) else exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}{place}"


def _on_alarm(signum, frame):
    raise TimedOut()


def guarded(func, *args):
    """Calls func(*args) under the time limit; returns (value, None) or (None, exception)."""
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(TIME_LIMIT_S)
    try:
        return func(*args), None
    except BaseException as exc:  # noqa: BLE001 - SystemExit and TimedOut included
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, exc
    finally:
        if alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


class Student:
    """The student's files in one folder, each imported once, read as the grader reads it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.modules: dict[str, types.ModuleType] = {}

    def path(self, filename: str) -> Path | None:
        """folder/filename, else the notebook standing in for it (X.ipynb), else None."""
        for path in (self.folder / filename, (self.folder / filename).with_suffix(".ipynb")):
            if path.is_file():
                return path
        return None

    def module(self, filename: str, definitions_only: bool) -> types.ModuleType:
        """The student's module of `filename`; definitions_only as the grader's top_level
        "skip" (its top-level training, downloads and file I/O not run). Raises Stop."""
        if filename in self.modules:
            return self.modules[filename]
        path = self.path(filename)
        if path is None:
            raise Stop(f"{filename} not found in {self.folder} (nor {Path(filename).stem}"
                       ".ipynb): run this next to your files, or pass --folder")
        text = path.read_text(encoding="utf-8", errors="replace")
        if definitions_only or path.suffix == ".ipynb":
            source = shipped("source")
            try:
                text = source.read_definitions(path).text
            except source.SourceError as exc:
                raise Stop(f"{path.name} could not be read: {exc}") from None
        name = Path(filename).stem
        sys.dont_write_bytecode = True  # no __pycache__ left in the student's folder
        if str(self.folder) not in sys.path:
            sys.path.insert(0, str(self.folder))  # their own helper modules import too
        module = types.ModuleType(name)
        module.__file__ = str(self.folder / filename)
        sys.modules[name] = module
        exec(compile(text, module.__file__, "exec"), module.__dict__)  # noqa: S102
        self.modules[filename] = module
        return module


class Run:
    """What a part's check gets: the student's files, the check's rubric values and the
    part's generated data (expected values of the public cases)."""

    def __init__(self, student: Student, check: dict, data: dict):
        self.student, self.check, self.data = student, check, data
        self.values = check["values"]  # the rubric's parameters of the check
        self.folder = student.folder

    def module(self, filename: str | None = None) -> types.ModuleType:
        """The student's module of `filename` (default: the question's first file)."""
        return self.student.module(filename or self.check["files"][0],
                                   self.check["top_level"] == "skip")


def run_part(part: dict, student: Student, spec: dict) -> list[tuple[str, bool, str]]:
    """(check id, passed, message) of every public check of one part the self-check runs."""
    results = []
    for cid in part["checks"]:
        check = spec["checks"][cid]
        func = getattr(shipped(check["module"]), "CHECKS")[cid]
        run = Run(student, check, spec["data"].get(check["module"], {}))
        outcome, failure = guarded(func, run)
        if failure is None:
            results.append((cid, *outcome))
        else:
            results.append((cid, False, describe(failure, student.folder, spec["install"])))
    return results


def render(number: str, part: dict, results: list, spec: dict, folder: Path) -> str:
    """One part's report: the header, one block per check, 'N of M passed', what is not here."""
    lines = textwrap.wrap(f"Self-check of Part {number} ({', '.join(part['files'])}) in "
                          f"{folder}: the public checks {', '.join(part['checks'])}.", 90)
    lines.append("")
    for cid, passed, message in results:
        check = spec["checks"][cid]
        title = getattr(shipped(check["module"]), "TITLES", {}).get(cid, check["name"])
        lines += textwrap.wrap(f"{'PASS' if passed else 'FAIL'}  {cid}  {title}", 92,
                               subsequent_indent=" " * 12)
        for text in message.splitlines():
            lines += textwrap.wrap(text, 92, initial_indent=" " * 6,
                                   subsequent_indent=" " * 8) or [""]
    passed = sum(p for _, p, _ in results)
    lines += ["", f"Part {number}: {passed} of {len(results)} public checks passed."
              + (" Well done." if passed == len(results) else ""), ""]
    return "\n".join(lines + textwrap.wrap(part["not_here"], 90)) + "\n"


def parser(spec: dict) -> argparse.ArgumentParser:
    """The command line, its --help listing every part's checks and the install command."""
    parts = "\n".join(f"  Part {n} ({', '.join(p['files'])}): {', '.join(p['checks'])}"
                      for n, p in spec["parts"].items())
    epilog = (f"public checks run here, per part:\n{parts}\n\nexit code: 0 when every check "
              "run passes, 1 when one fails, 2 for a wrong command line.\ninstall the "
              f"packages the self-check needs (once, in your environment):\n  {spec['install']}")
    cli = argparse.ArgumentParser(
        prog="python selfcheck.py", description=__doc__, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("parts", nargs="*", metavar="PART",
                     help="which parts to check, 1 to 4 (default: every part whose files "
                          "are in the folder)")
    cli.add_argument("--folder", type=Path, default=HERE,
                     help="the folder holding your files (default: this file's folder)")
    return cli


def main(argv=None) -> int:
    """Runs the chosen parts' public checks and prints their reports; 0 when all passed."""
    spec = public()
    cli = parser(spec)
    args = cli.parse_args(argv)
    for number in args.parts:
        if number not in spec["parts"]:
            cli.error(f"no part {number!r}: choose from {', '.join(spec['parts'])}")
    student = Student(args.folder.resolve())
    chosen = args.parts or [n for n, p in spec["parts"].items()
                            if any(student.path(f) for f in p["files"])] or list(spec["parts"])
    sys.modules.setdefault("selfcheck", sys.modules[__name__])  # `from selfcheck import Stop`
    ok = True
    for number in chosen:
        part = spec["parts"][number]
        results = run_part(part, student, spec)
        sys.stdout.flush()  # the student's own prints first
        print(render(number, part, results, spec, student.folder))
        ok = ok and all(p for _, p, _ in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
