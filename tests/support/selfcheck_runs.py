"""The students' self-check beside the grader, for the tests: the archive built once and
extracted (selfcheck.py and selfcheck_files/ as students get them), the self-check of a
part run in-process on a folder, and the grader's public checks on the same folder
(cli.run_grading with public checks only, one grading per folder), so a test can compare
their verdicts check by check."""
from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from grader.core.cli import run_grading
from grader.core.handout.bundle import FOLDER, build_bundle
from grader.core.rubric.spec import load

RUBRIC = load()
GRADED = ("passed", "failed")  # a check the grader judged (not skipped, not pending)


@lru_cache(maxsize=1)
def extracted() -> Path:
    """The students' archive, built and extracted once per test process: its folder."""
    out = Path(tempfile.mkdtemp(prefix="bundle_"))
    with zipfile.ZipFile(build_bundle(out)) as archive:
        archive.extractall(out)
    return out / FOLDER


@lru_cache(maxsize=1)
def runner():
    """The archive's selfcheck.py, imported as `selfcheck` (the part checks import it)."""
    spec = importlib.util.spec_from_file_location("selfcheck", extracted() / "selfcheck.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["selfcheck"] = module
    spec.loader.exec_module(module)
    return module


_ARCHIVE_MODULES: dict = {}  # the archive's `grader` package, while the grader's is in use


@contextmanager
def archive_modules():
    """The archive's `grader` package (selfcheck_files/grader/, with the stand-ins of the
    grader's math) in sys.modules instead of the grader's own, as students run it; the
    grader's back afterwards, the archive's kept for the next time."""
    own = {n: m for n, m in sys.modules.items() if n == "grader" or n.startswith("grader.")}
    for name in own:
        del sys.modules[name]
    sys.modules.update(_ARCHIVE_MODULES)
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n == "grader" or n.startswith("grader.")]:
            _ARCHIVE_MODULES[name] = sys.modules.pop(name)
        sys.modules.update(own)


def selfcheck(folder: Path, part: str) -> dict[str, tuple[bool, str]]:
    """{check id: (passed, message)} of the self-check of one part (1 to 4) on folder."""
    for name in RUBRIC.submission_files:  # no module of a previous folder is reused
        sys.modules.pop(Path(name).stem, None)
    check = runner()
    spec = check.public()
    with archive_modules():
        results = check.run_part(spec["parts"][part], check.Student(Path(folder).resolve()),
                                 spec)
    return {cid: (passed, message) for cid, passed, message in results}


def handed_in(folder: Path, check_id: str) -> bool:
    """Whether folder holds every file of the check's question (X.py or X.ipynb)."""
    files = RUBRIC.question(RUBRIC.check(check_id).question).files
    return all((folder / f).is_file() or (folder / f).with_suffix(".ipynb").is_file()
               for f in files)


def graded(folder: Path, checks) -> dict[str, tuple[bool, str]]:
    """{check id: (full marks, message)} of the grader's public checks among `checks` that
    it judged on folder (a quick grading leaves the dataset trainings out)."""
    questions = {RUBRIC.check(c).question for c in checks}
    run = run_grading(Path(folder), None, questions, None, public_only=True, full=False,
                      progress=False)
    assert not run.grader_error, run.grader_error
    return {r.check_id: (r.score == r.max_score, r.message) for r in run.results
            if r.check_id in checks and r.status in GRADED}


def judged_by_the_grader(check_id: str) -> bool:
    """Whether the self-check runs the grader's own judge for the check (its part's
    selfcheck.py concludes it with func(grading, check, feedback)), so that its message
    must be the grader's."""
    module = runner().public()["checks"][check_id]["module"]
    with archive_modules():
        func = runner().shipped(f"grader.parts.{module}.selfcheck").CHECKS[check_id]
    return len(inspect.signature(func).parameters) == 3


def _timings_aside(message: str) -> str:
    """The message with what a clock decides left out: the seconds of a time limit (the
    self-check gives a call the check's ceiling, the grader a budget from the reference's
    cost) and 2d.1's timings (the self-check's baseline is the student's own loss(X), the
    grader's the reference's forward pass, so only the grader may say how it counted it)."""
    message = re.sub(r"; loss\(X\) counted as [^\n]*? it\.", ".", message)
    message = re.sub(r"best of \d+ and \d+ calls", "best of N and N calls", message)
    return re.sub(r"[\d.]+(x| ms| s)\b", r"N\1", message)


def disagreements(folder: Path, part: str) -> dict[str, str]:
    """{check id: both verdicts and messages} where the self-check of `part` and the grader
    disagree on folder, over the checks whose files folder holds (all when it holds none)
    and the grader judged: their verdicts, and for a check the self-check concludes with
    the grader's own judge, their messages too."""
    folder = Path(folder)
    everything = selfcheck(folder, part)
    mine = {c: v for c, v in everything.items() if handed_in(folder, c)} or everything
    theirs = graded(folder, set(mine))
    assert theirs, f"the grader judged none of {sorted(mine)}"
    return {c: f"self-check {mine[c]}\ngrader {theirs[c]}" for c in theirs
            if mine[c][0] != theirs[c][0] or judged_by_the_grader(c) and
            _timings_aside(mine[c][1]) != _timings_aside(theirs[c][1])}
