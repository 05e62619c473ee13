"""grade-all's similarity report (grader/core/batch/similarity.py): copies rank above independent
solutions, starter code never counts, bad files become notes, the page escapes student
code, and the gradebook carries each student's top match. No grading: the module runs on
folders built here (about 1 s per test, most of it copydetect's tokeniser)."""
from __future__ import annotations

import ast
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from copydetect import CodeFingerprint, compare_files

from grader.core.batch import local as batch
from grader.core.batch import gradebook as batch_report
from grader.core.batch import similarity
from grader.core.batch.jobs import OK, BatchRow
from grader.core.errors import BatchError
from grader.core.submission.uploads import Submission

from mutants import REFERENCE, ROOT

TEMPLATE = ROOT / "student_template"
NET = "two_layernet.py"  # one file the rubric reads; its template has the TODO blocks
INDEPENDENT = ROOT / "tests" / "submissions" / "variant_student" / NET  # written unlike it
RENAMES = {"z2": "hidden_in", "a2": "hidden", "z3": "scores", "dz3": "dscores",
           "da2": "dhidden", "dz2": "dhidden_in", "probs": "p", "data_loss": "ce",
           "reg_loss": "penalty", "grads": "g", "idx": "rows", "loss_history": "losses"}


class _Rename(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = RENAMES.get(node.id, node.id)
        return node


def disguised(text: str) -> str:
    """text with its locals renamed, methods reordered (predict first) and reformatted by
    ast.unparse (other quotes and line breaks, comments gone): a disguised copy."""
    tree = _Rename().visit(ast.parse(text))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    cls.body.sort(key=lambda n: getattr(n, "name", "") != "predict")
    return ast.unparse(tree).replace("    ", "  ") + "\n"


def submission(root: Path, student: str, files: dict[str, str | bytes], name: str = "") \
        -> Submission:
    """A submission folder under root holding files (name -> text or bytes)."""
    folder = root / "subs" / student
    folder.mkdir(parents=True)
    for file, content in files.items():
        target = folder / file
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return Submission(student, folder, folder, name)


def report(subs, tmp_path: Path, template: Path = TEMPLATE, files=(NET,)):
    """(write_report's result, the page's HTML)."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    top = similarity.write_report(subs, out, template, files)
    return top, (out / similarity.PAGE).read_text()


def test_a_copy_ranks_above_a_disguised_copy_above_an_independent_solution(tmp_path):
    ref = (REFERENCE / NET).read_text()
    assert disguised(ref) != ref and "hidden_in" in disguised(ref)
    subs = [submission(tmp_path, "alice", {NET: ref}),
            submission(tmp_path, "bob", {NET: ref}),  # byte copy
            submission(tmp_path, "carol", {NET: disguised(ref)}),
            submission(tmp_path, "dave", {NET: INDEPENDENT.read_text()})]
    analysis = similarity.analyse(subs, (NET,), TEMPLATE, [])
    score = {(m.a, m.b): m.score for m in analysis.per_file[NET]}
    copy, renamed, independent = score[(0, 1)], score[(0, 2)], score.get((0, 3), 0.0)
    assert copy == pytest.approx(1.0)
    assert copy > renamed > independent, score
    assert renamed > 0.6 and independent < 0.3, score
    # the compact fingerprints give copydetect's own numbers and regions
    fps = [CodeFingerprint(NET, similarity.NOISE_T, similarity.GUARANTEE_T - similarity.NOISE_T
                           + 1, boilerplate=similarity._boilerplate(CodeFingerprint, TEMPLATE,
                                                                    NET, []),
                           fp=io.StringIO(text), language="python")
           for text in (ref, disguised(ref))]
    _, shares, slices = compare_files(*fps)
    m = analysis.matches[(NET, 0, 2)]
    assert (m.matched_a / m.own_a, m.matched_b / m.own_b) == pytest.approx(shares)
    assert m.score == pytest.approx((m.matched_a + m.matched_b) / (m.own_a + m.own_b))
    assert m.slices_a == tuple(map(tuple, slices[0].T.tolist()))
    assert [similarity.segments("abcdef", [(1, 3)])] == [[("a", False), ("bc", True),
                                                          ("def", False)]]
    top, _ = report(subs, tmp_path)
    assert top["alice"] == (1.0, "bob") and top["bob"] == (1.0, "alice")
    # one file compared: a student's top similarity is that pair's similarity in the file
    assert top["carol"][1] in ("alice", "bob") and top["carol"][0] == pytest.approx(renamed,
                                                                                     abs=1e-4)
    assert top["dave"][0] < 0.3


def test_an_archive_is_compared_with_students_only_and_named_as_such(tmp_path):
    """--compare-with: carol's disguised copy of the reference is found against the
    archived reference; two identical archived solutions are never paired; archive
    entries get no row and no report link."""
    ref = (REFERENCE / NET).read_text()
    subs = [submission(tmp_path, "carol", {NET: disguised(ref)}),
            submission(tmp_path, "dave", {NET: INDEPENDENT.read_text()})]
    old = tmp_path / "old"
    for entry in ("x", "y"):  # last year's two identical submissions
        (old / entry).mkdir(parents=True)
        (old / entry / NET).write_text(INDEPENDENT.read_text())
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchError, match="no solutions in it"):
        batch.find_archive([tmp_path / "empty"], tmp_path / "out")
    archive = batch.find_archive([REFERENCE, old], tmp_path / "out")
    assert [(a.student, a.path) for a in archive] == [
        ("reference", REFERENCE), ("old/x", old / "x"), ("old/y", old / "y")]
    analysis = similarity.analyse(subs + archive, (NET,), TEMPLATE, [], batch=2)
    assert all(a < 2 for (_, a, _) in analysis.matches)  # every pair has a student
    assert set(analysis.top) == {"carol", "dave"}
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    top = similarity.write_report(subs, out, TEMPLATE, (NET,), archive=archive)
    assert top["carol"][1] == "reference (archive)" and top["carol"][0] > 0.5
    assert top["dave"][0] == 1.0 and top["dave"][1] in ("old/x (archive)", "old/y (archive)")
    html = (out / similarity.PAGE).read_text()
    assert "2 submissions" in html and "compared also with 3 archived solutions" in html
    assert '(archive)</small>' in html and 'href="reference/report.html"' not in html


NETWORK = "network_template.py"  # a second file with code of the students' own
OWN_EXTRA = """

def alices_own_helper(values, scale, offset):
    kept = {}
    while len(kept) < scale * 3:
        kept[len(kept)] = [v ** offset for v in values if v % 7 == 2]
    return sorted(kept.items(), key=lambda item: -len(item[1]))[:offset]
"""


def test_similarity_is_one_symmetric_number_per_pair_and_per_file(tmp_path):
    """One measure, (matched_a + matched_b) / (own_a + own_b): the same whichever student
    comes first, per file and over all files; the overall value is the per-file values'
    mean weighted by the pair's own code, so a pair whose every file reads 100% reads 100%
    and a file only one of them wrote counts 0% (and is listed)."""
    ref = {name: (REFERENCE / name).read_text() for name in (NET, NETWORK)}
    files = (NET, NETWORK)
    subs = [submission(tmp_path, "alice", {NET: ref[NET] + OWN_EXTRA, NETWORK: ref[NETWORK]}),
            submission(tmp_path, "dave", dict(ref)),
            submission(tmp_path, "erin", dict(ref)),  # a byte copy of dave's two files
            submission(tmp_path, "carl", {NET: ref[NET]})]  # no network_template.py
    forward = similarity.analyse(subs, files, TEMPLATE, [])
    backward = similarity.analyse(subs[::-1], files, TEMPLATE, [])
    flip = {0: 3, 1: 2, 2: 1, 3: 0}

    def pairs(analysis, rename=lambda i: i):
        return {frozenset((rename(p.a), rename(p.b))): p.score for p in analysis.overall}

    assert pairs(forward) == pairs(backward, flip.get)  # symmetric: order changes nothing
    for name in files:
        assert {frozenset((m.a, m.b)): m.score for m in forward.per_file[name]} == {
            frozenset((flip[m.a], flip[m.b])): m.score for m in backward.per_file[name]}
    by_pair = {frozenset((p.a, p.b)): p for p in forward.overall}
    # alice wrote more than dave in two_layernet.py: one number for the pair, below 100%
    net = forward.matches[(NET, 0, 1)]
    assert net.matched_b == net.own_b and net.matched_a < net.own_a and 0.9 < net.score < 1
    whole = by_pair[frozenset((0, 1))]
    weights = {name: forward.matches[(name, 0, 1)].own_a + forward.matches[(name, 0, 1)].own_b
               for name in files}
    mean = sum(weights[n] * forward.matches[(n, 0, 1)].score for n in files) / sum(
        weights.values())
    assert whole.score == pytest.approx(mean) and net.score < whole.score < 1
    assert by_pair[frozenset((1, 2))].score == 1.0  # every file 100%: 100% overall
    assert all(forward.matches[(n, 1, 2)].score == 1.0 for n in files)
    # carl lacks network_template.py: his two_layernet.py reads 100%, the pair about half
    carl = by_pair[frozenset((1, 3))]
    assert forward.matches[(NET, 1, 3)].score == 1.0
    assert carl.own == sum(c.tokens for n in files for i, c in forward.codes[n].items()
                           if i in (1, 3))
    assert carl.score == pytest.approx(forward.matches[(NET, 1, 3)].matched / carl.own)
    assert carl.score < 0.6
    # the gradebook's column and the page read the same numbers, whoever is named first
    top, html = report(subs, tmp_path, files=files)
    assert top["dave"] == (1.0, "erin") and top["erin"] == (1.0, "dave")
    assert top["alice"] == (round(whole.score, 4), "dave")
    assert top["carl"] == (round(carl.score, 4), "dave")
    assert f"{NET}</a> {100 * net.score:.0f}%" in html  # the overall row's per-file cell
    assert f"alice and dave: {100 * net.score:.0f}% (matching" in html  # the file's view
    assert f"{NETWORK} 0% (only dave)" in html
    assert f"{net.matched_a} of {net.own_a} own tokens match" in html


def test_the_template_alone_is_not_copying(tmp_path):
    files = {name: (TEMPLATE / name).read_text() for name in (NET, "network_template.py")}
    subs = [submission(tmp_path, "alice", files), submission(tmp_path, "bob", files)]
    top, html = report(subs, tmp_path, files=tuple(files))
    assert top == {}
    assert "No two submissions share code beyond the starter code" in html
    # the default template folder is the repository's student_template/
    assert similarity.write_report(subs, tmp_path / "out", None, tuple(files)) == {}
    # the exclusion is what makes it so: without the template they are 100% alike
    empty = tmp_path / "no_template"
    empty.mkdir()
    top, html = report(subs, tmp_path, template=empty, files=tuple(files))
    assert top["alice"] == (1.0, "bob")
    assert "starter code not found" in html


def test_the_page_escapes_code_links_reports_and_lists_pairs(tmp_path):
    code = (REFERENCE / NET).read_text().replace(
        "import numpy as np\n", "import numpy as np\nBANNER = '<script>alert(1)</script>'\n")
    subs = [submission(tmp_path, "alice", {NET: code}, name="Alice A."),
            submission(tmp_path, "bob&co", {NET: code})]
    (tmp_path / "out" / "alice").mkdir(parents=True)
    (tmp_path / "out" / "alice" / "report.html").write_text("report")
    top, html = report(subs, tmp_path)
    assert top == {"alice": (1.0, "bob&co"), "bob&co": (1.0, "Alice A.")}
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="alice/report.html"' in html and "bob&amp;co" in html
    assert "Alice A." in html and "<mark>" in html and 'id="f0-1"' in html
    assert "http" not in html  # self-contained: no external resource


def test_bad_files_become_notes_and_a_notebook_stands_in(tmp_path, monkeypatch):
    ref = (REFERENCE / NET).read_text()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# mine"),
                                               nbformat.v4.new_code_cell(ref)])
    monkeypatch.setattr(similarity, "MAX_FILE_KB", 8)  # the reference is 4.7 KB
    subs = [submission(tmp_path, "alice", {NET: ref}),
            submission(tmp_path, "nbuser", {"two_layernet.ipynb": nbformat.writes(notebook)}),
            submission(tmp_path, "binary", {NET: b"\x00\x01import numpy\x00"}),
            submission(tmp_path, "huge", {NET: ref * 3}),
            submission(tmp_path, "latin", {NET: b"x = '\xe9t\xe9'\n"}),
            submission(tmp_path, "empty", {}),
            submission(tmp_path, "brokennb", {"two_layernet.ipynb": "{not json"}),
            submission(tmp_path, "linked", {})]
    (subs[-1].path / NET).symlink_to(REFERENCE / NET)  # staff would see the target's text
    subs.append(Submission("gone", tmp_path / "missing", tmp_path / "missing"))
    top, html = report(subs, tmp_path)
    assert top["nbuser"][1] == "alice" and top["nbuser"][0] > 0.9
    assert set(top) == {"alice", "nbuser"}
    for phrase in ("binary: two_layernet.py left out: binary content",
                   "huge: two_layernet.py left out: 14 KiB, over the 8 KiB cap",
                   "latin: two_layernet.py left out: cannot decode",
                   "brokennb: two_layernet.ipynb left out: not a readable notebook",
                   "linked: two_layernet.py left out: a symbolic link"):
        assert phrase.replace("'", "&#39;") in html, phrase
    assert "two_layernet.ipynb" in html and "(1 as a notebook)" in html


def test_it_never_raises(tmp_path, monkeypatch):
    ref = (REFERENCE / NET).read_text()
    one = [submission(tmp_path, "solo", {NET: ref})]
    top, html = report(one, tmp_path)
    assert top == {"solo": (0.0, "")} and "No two submissions share code" in html
    assert report([], tmp_path)[0] == {}
    lines = []  # an output folder that does not exist: nothing written, nothing raised
    assert similarity.write_report(one, tmp_path / "nowhere", TEMPLATE, (NET,),
                                   log=lines.append) == {"solo": (0.0, "")}
    assert "could not write" in lines[-1] and not (tmp_path / "nowhere").exists()

    def broken(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(similarity, "_shared_counts", broken)
    top, html = report(one, tmp_path)
    assert top == {} and "similarity could not be computed" in html and "simulated" in html
    monkeypatch.setattr(similarity, "render", broken)  # even the page: a bare one, escaped
    top, html = report(one, tmp_path)
    assert "could not be made" in html and "MemoryError: simulated" in html


def test_fingerprints_are_the_same_in_every_process():
    """copydetect's own k-gram hash is Python's hash(), salted per process: the gradebook's
    similarity would change between two runs on the same submissions."""
    script = ("from grader.core.batch.similarity import kgram_hashes; "
              "print(kgram_hashes(open(%r).read(), 25)[:50].tolist())" % str(REFERENCE / NET))
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(runs) == 1 and len(runs.pop().split(",")) == 50
    hashes = similarity.kgram_hashes("abcdefghij" * 5, 25)
    assert hashes.shape == (26,) and hashes[0] == hashes[10] and hashes[0] != hashes[1]
    assert similarity.kgram_hashes("short", 25).shape == (0,)


def test_graded_files_come_from_the_rubric():
    assert set(similarity.graded_files()) == set(batch_report.RUBRIC.submission_files)
    some = batch_report.RUBRIC.questions[0]
    assert similarity.graded_files([some.id]) == some.files
    assert similarity.graded_files([some.id], rubric=batch_report.RUBRIC) == some.files


def _row(student: str) -> BatchRow:
    return BatchRow(student, "", "", OK, {}, 1.0)


def test_the_gradebook_has_the_similarity_columns(tmp_path):
    rows = [_row("alice"), _row("bob"), _row("carol")]
    plain = list(csv.reader(io.StringIO(batch_report.gradebook_csv(rows, None))))
    assert not set(batch_report.SIMILARITY_COLUMNS) & set(plain[0])
    found = {"alice": (0.9731, "bob"), "bob": (0.9731, "=Alice")}
    table = list(csv.reader(io.StringIO(batch_report.gradebook_csv(rows, None, found))))
    header = table[0]
    assert header[-3:] == [*batch_report.SIMILARITY_COLUMNS, "note"]
    cells = {r[0]: r[-3:-1] for r in table[1:]}
    assert cells == {"alice": ["97.3", "bob"], "bob": ["97.3", "'=Alice"], "carol": ["", ""]}
    (tmp_path / "similarity.html").write_text("page")
    html = batch_report.render_summary(rows, None, "subs", tmp_path, found)
    assert 'href="similarity.html"' in html and "97%" in html and "max similarity" in html
