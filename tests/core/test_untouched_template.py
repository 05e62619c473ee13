"""grade-all flags a submission that hands in the starter code unchanged (issue 23): its
graded files hold student_template/'s code, up to line endings, whitespace and comments (a
notebook by its code cells). The flag is a gradebook column, a mark on summary.html and a
row note; scores and status stay as graded. No grading: the rows are made here (seconds)."""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import nbformat

from grader.core.batch import gradebook, local, similarity
from grader.core.batch.jobs import OK, BatchRow
from grader.core.submission.uploads import Submission

from mutants import REFERENCE, ROOT

TEMPLATE = ROOT / "student_template"
FILES = ("two_layernet.py", "hyperparams.py", "network_template.py")
NET = FILES[0]


def _folder(root: Path, student: str, files: dict[str, str | bytes]) -> Submission:
    folder = root / student
    folder.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, newline="")
    return Submission(student, folder, folder)


def _reformatted(text: str) -> str:
    """text as another editor saves it: CRLF line ends, two-space indents, trailing blanks,
    extra blank lines and comments."""
    lines = []
    for line in text.splitlines():
        body = line.lstrip(" ")
        indent = (len(line) - len(body)) // 2
        lines.append(" " * indent + body + "   ")
        if body.startswith("def "):
            lines.append("")
            lines.append(" " * (indent + 2) + "# my notes: nothing done yet")
    return "\r\n".join(lines) + "\r\n"


def _notebook(text: str) -> str:
    """text as a notebook: a markdown cell, a magic, the code split over two cells."""
    head, tail = text.split("\nclass ", 1)
    cells = [nbformat.v4.new_markdown_cell("# Exercise 2"),
             nbformat.v4.new_code_cell("%matplotlib inline\n" + head),
             nbformat.v4.new_code_cell("class " + tail)]
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))


def test_the_starter_code_is_found_however_it_is_saved(tmp_path):
    starter = {name: (TEMPLATE / name).read_text() for name in FILES}
    edited = dict(starter, **{NET: starter[NET].replace("grads = {}", "grads = {'W1': 0}")})
    subs = [_folder(tmp_path, "same", starter),
            _folder(tmp_path, "resaved", {n: _reformatted(t) for n, t in starter.items()}),
            _folder(tmp_path, "notebook", {NET[:-3] + ".ipynb": _notebook(starter[NET])}),
            _folder(tmp_path, "one_file", {"hyperparams.py": starter["hyperparams.py"]}),
            _folder(tmp_path, "edited", edited),  # one statement of its own
            _folder(tmp_path, "reference", {n: (REFERENCE / n).read_text() for n in FILES}),
            _folder(tmp_path, "nothing", {"notes.txt": "no code"}),
            _folder(tmp_path, "binary", dict(starter, **{NET: b"\x00\x01"})),
            Submission("gone", tmp_path / "missing", tmp_path / "missing")]
    assert _reformatted(starter[NET]) != starter[NET]
    found = similarity.untouched_templates(subs, FILES, TEMPLATE)
    assert found == {"same": FILES, "resaved": FILES, "notebook": ("two_layernet.ipynb",),
                     "one_file": ("hyperparams.py",)}
    assert similarity.untouched_templates(subs[:1], FILES) == {"same": FILES}  # default
    # a file with no copy in the starter code is never the starter code
    assert similarity.untouched_templates(subs[:1], FILES, tmp_path / "nowhere") == {}


def _row(student: str, note: str = "") -> BatchRow:
    return BatchRow(student, "", "", OK, {"1a.1": 0.0, "1a.2": 0.0}, 1.0, False, note)


def test_grade_all_flags_the_row_and_keeps_the_grade(tmp_path, monkeypatch):
    subs_dir = tmp_path / "subs"
    subs_dir.mkdir()
    shutil.copytree(TEMPLATE, subs_dir / "untouched")
    shutil.copytree(REFERENCE, subs_dir / "done", ignore=shutil.ignore_patterns("__pycache__"))
    subs = local.find_submissions(subs_dir, tmp_path / "out")
    graded = {}

    def grade(job):  # stands in for a grading: every check 0 points, a note of its own
        graded[job.submission.student] = _row(job.submission.student, "from the grader")
        return graded[job.submission.student]

    monkeypatch.setattr(local, "grade_in_slot", grade)
    rows = {r.student: r for r in local.run_batch(subs, tmp_path / "out", questions=("1a",))}
    flagged, done = rows["untouched"], rows["done"]
    assert flagged.untouched_template and not done.untouched_template
    assert flagged.note == ("from the grader; untouched template: two_layernet.py is the "
                            "starter code (student_template/) unchanged, comments and "
                            "whitespace aside")
    assert (flagged.status, flagged.scores) == (OK, graded["untouched"].scores)
    assert done == graded["done"]

    table = list(csv.DictReader(io.StringIO(gradebook.gradebook_csv(list(rows.values()),
                                                                     ("1a",)))))
    assert {r["student"]: r[gradebook.UNTOUCHED] for r in table} == {"done": "",
                                                                     "untouched": "yes"}
    assert list(table[0])[-2:] == [gradebook.UNTOUCHED, "note"]
    assert "untouched template:" in table[1]["note"]
    html = gradebook.render_summary(list(rows.values()), ("1a",), "subs", tmp_path / "out")
    assert "1 untouched template</span>" in html
    assert html.count('<small class="attention">untouched template</small>') == 1
