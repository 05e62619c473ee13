"""Batch grading (`python -m grader grade-all`): discovery, safe extraction, isolation of
one bad submission, the gradebook, the summary page and resume."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from grader.core.batch import jobs as batch
from grader.core.submission import uploads as batch_inputs
from grader.core.results import gradescope
from grader.core.sandbox import uid_slots

MARKERS = batch.RUBRIC.submission_files  # the files that mark a submission's folder
from mutants import BROKEN, MUTANTS, REFERENCE, ROOT

QUESTIONS = "1a,1b"  # fast: four checks, about 2 s per submission
FULL = 8.0  # points of 1a and 1b
HANG = "import numpy as np\nwhile True:\n    pass\n"


def _copy_reference(dest: Path) -> Path:
    shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _zip_folder(folder: Path, archive: Path, top: str) -> Path:
    """Zips folder's files under the top-level folder `top/` (a student's usual zip)."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(folder)}")
    return archive


def grade_all(subs: Path, out: Path, *extra: str, timeout: int = 300
              ) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "grader", "grade-all", str(subs), "--out", str(out),
           "--questions", QUESTIONS, *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    text = (out / "gradebook.csv").read_text()
    return {row["student"]: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory):
    """A batch folder: correct, mutant, nested zip, import-time crash, `..` zip."""
    tmp = tmp_path_factory.mktemp("batch")
    subs = tmp / "subs"
    subs.mkdir()
    _copy_reference(subs / "alice")
    next(m for m in MUTANTS if m.name == "hard_coded_toy_answer").write(subs / "bob")
    _zip_folder(REFERENCE, subs / "carol.zip", "carol_hw2")
    next(b for b in BROKEN if b.name == "import_time_crash").write(subs / "dave")
    with zipfile.ZipFile(subs / "mallory.zip", "w") as zf:
        for name in ("two_layernet.py", "hyperparams.py"):
            zf.write(REFERENCE / name, name)
        zf.writestr("../evil", "escaped")
        zf.writestr("/tmp/evil_absolute", "escaped")
    (subs / "notes.txt").write_text("not a submission")
    return subs


EXPECTED = {"alice": FULL, "bob": FULL - 2, "carol": FULL, "dave": 0.0, "mallory": FULL}


@pytest.fixture(scope="module")
def first_run(batch_folder):
    out = batch_folder.parent / "out1"
    proc = grade_all(batch_folder, out)
    return out, proc


def test_gradebook_has_one_row_per_student_with_the_right_totals(first_run):
    out, proc = first_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = gradebook(out)
    assert set(rows) == set(EXPECTED)
    header = (out / "gradebook.csv").read_text().splitlines()[0].split(",")
    assert header[4:12] == ["1a.1", "1a.2", "1b.1", "1b.2", "1a total", "1b total", "total",
                            "out of"]
    for student, total in EXPECTED.items():
        assert float(rows[student]["total"]) == total, rows[student]
        assert rows[student]["status"] == "ok"
    assert rows["bob"]["1a.2"] == "0" and rows["bob"]["1b total"] == "4"
    assert "'..' paths skipped" in rows["mallory"]["note"]
    assert proc.stderr.count("] ") >= len(EXPECTED) and "[5/5]" in proc.stderr


def test_outputs_per_student_and_summary_page(first_run):
    out, _ = first_run
    for student in EXPECTED:
        results = json.loads((out / student / "results.json").read_text())
        assert gradescope.validate(results) == []
        assert results["extra_data"]["complete"]
        assert (out / student / "report.html").is_file()
    crash = json.loads((out / "dave" / "results.json").read_text())
    assert "ZeroDivisionError" in crash["tests"][0]["output"]
    html = (out / "summary.html").read_text()
    for student in EXPECTED:
        assert f'href="{student}/report.html"' in html
    assert "<svg" in html and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_compare_with_adds_archived_solutions_to_the_similarity_only(first_run, batch_folder,
                                                                    tmp_path):
    """A rerun on a copy of the graded batch resumes every grade and compares it with
    reference/ too; a --compare-with folder without solutions stops before any grading."""
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = grade_all(batch_folder, out, "--compare-with", str(empty))
    assert proc.returncode == 2 and "no solutions in it" in proc.stderr
    assert "resuming" not in proc.stderr
    proc = grade_all(batch_folder, out, "--compare-with", str(REFERENCE))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming: 5 of 5" in proc.stderr and "and 1 archived solutions" in proc.stderr
    html = (out / "similarity.html").read_text()
    assert "compared also with 1 archived solution" in html and "(archive)</small>" in html
    rows = gradebook(out)
    assert set(rows) == set(EXPECTED)  # the archive is not a student
    assert {s: r["total"] for s, r in rows.items()} == {
        s: r["total"] for s, r in gradebook(first_run[0]).items()}


def test_zip_member_with_dotdot_does_not_escape(first_run, batch_folder):
    out, _ = first_run
    assert not (out / "work" / "evil").exists() and not (out / "evil").exists()
    assert not Path("/tmp/evil_absolute").exists()
    assert not list(batch_folder.parent.rglob("evil"))
    assert (out / "work" / "mallory" / "two_layernet.py").is_file()


def test_second_run_resumes_and_force_with_two_jobs_gives_the_same_gradebook(first_run,
                                                                           batch_folder):
    out, _ = first_run
    before = {s: (out / s / "results.json").stat().st_mtime_ns for s in EXPECTED}
    start = time.monotonic()
    proc = grade_all(batch_folder, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - start < 15
    assert f"resuming: {len(EXPECTED)} of {len(EXPECTED)}" in proc.stderr
    assert before == {s: (out / s / "results.json").stat().st_mtime_ns for s in EXPECTED}
    assert gradebook(out) == gradebook(first_run[0])

    out2 = batch_folder.parent / "out2"
    proc = grade_all(batch_folder, out2, "-j", "2", "--force")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out2 / "gradebook.csv").read_text() == (out / "gradebook.csv").read_text()


def test_a_local_dask_cluster_gives_the_same_gradebook(first_run, batch_folder):
    """`--scheduler local:2`: the same rows as the local pool, the crash and the `..` zip
    included (the worker-death and Ctrl-C cases are in test_batch_dask.py)."""
    out, _ = first_run
    out3 = batch_folder.parent / "out3"
    proc = grade_all(batch_folder, out3, "--scheduler", "local:2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "grading on a local Dask cluster of 2 worker processes" in proc.stderr
    assert f"[{len(EXPECTED)}/{len(EXPECTED)}]" in proc.stderr
    assert (out3 / "gradebook.csv").read_text() == (out / "gradebook.csv").read_text()
    for student in EXPECTED:
        assert gradescope.validate(json.loads((out3 / student / "results.json").read_text())) == []


def _processes_under(folder: Path) -> list[int]:
    """Processes whose working directory lies under folder (the sandbox children)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and str(folder) in os.readlink(f"/proc/{entry}/cwd"):
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_hanging_submission_times_out_and_the_batch_moves_on(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    hang = _copy_reference(subs / "aaron")  # graded first with -j 1
    text = (hang / "two_layernet.py").read_text()
    (hang / "two_layernet.py").write_text(text.replace("import numpy as np\n", HANG, 1))
    _copy_reference(subs / "zoe")
    out = tmp_path / "out"
    start = time.monotonic()
    proc = grade_all(subs, out, "--timeout", "15")  # zoe needs a few s on a loaded machine
    assert time.monotonic() - start < 40  # the sandbox alone would wait 60 s per call
    assert proc.returncode == 1  # something needs a look
    assert "aaron (timed out)" in proc.stderr
    rows = gradebook(out)
    assert rows["aaron"]["status"] == "timed out" and float(rows["aaron"]["total"]) == 0
    assert rows["zoe"]["status"] == "ok" and float(rows["zoe"]["total"]) == FULL
    results = json.loads((out / "aaron" / "results.json").read_text())
    assert gradescope.validate(results) == [] and not results["extra_data"]["complete"]
    assert results["output"].startswith("Grading stopped: grader timed out after 15 s")
    time.sleep(0.5)
    assert _processes_under(tmp_path) == []  # the sandbox child was killed too


# -- discovery, without grading ------------------------------------------------------------

METADATA = """---
:submission_111:
  :submitters:
  - :name: Alice Smith
    :sid: '1001'
    :email: alice@example.edu
  :created_at: 2026-11-20 10:00:00.000000000 -08:00
  :score: 8.0
  :results:
    tests:
    - name: not a submitter
submission_222:
  :submitters:
  - :name: 'Bob O''Neil'
    :email: bob@example.edu
  - :name: Carol
    :email: carol@example.edu
"""


def _export(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    root.mkdir()
    (root / "submission_metadata.yml").write_text(METADATA)
    _copy_reference(root / "submission_111" / "hw2")  # nested one level
    _copy_reference(root / "submission_222")
    return root


@pytest.mark.parametrize("with_pyyaml", [True, False], ids=["pyyaml", "hand-parser"])
def test_gradescope_export_names_and_emails(tmp_path, monkeypatch, with_pyyaml):
    if not with_pyyaml:
        monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    subs = batch_inputs.discover(_export(tmp_path), tmp_path / "work", markers=MARKERS)
    assert [s.student for s in subs] == ["submission_111", "submission_222"]
    assert subs[0].name == "Alice Smith" and subs[0].email == "alice@example.edu"
    assert subs[0].path.name == "hw2"  # the folder holding two_layernet.py
    assert subs[1].name == "Bob O'Neil, Carol"
    assert subs[1].email == "bob@example.edu; carol@example.edu"


def test_unreadable_metadata_falls_back_to_folder_names(tmp_path):
    root = _export(tmp_path)
    (root / "submission_metadata.yml").write_text("{{{ not yaml\n")
    subs = batch_inputs.discover(root, tmp_path / "work", markers=MARKERS)
    assert [(s.student, s.name) for s in subs] == [("submission_111", ""), ("submission_222", "")]


def test_extraction_skips_symlinks_and_stops_at_the_cap(tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/two_layernet.py", "x = 1\n")
        link = zipfile.ZipInfo("a/link")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("a/zeros.bin", b"\0" * (3 << 20))  # compresses to almost nothing
        zf.writestr("__MACOSX/a/._two_layernet.py", "resource fork")
    note = batch_inputs.extract_zip(archive, tmp_path / "x", cap_mb=1)
    assert "1 symlink(s) skipped" in note and "1 MB cap" in note
    assert (tmp_path / "x" / "a" / "two_layernet.py").read_text() == "x = 1\n"
    assert not (tmp_path / "x" / "a" / "link").exists()
    assert not (tmp_path / "x" / "a" / "zeros.bin").exists()
    assert batch_inputs.submission_root(tmp_path / "x", ("two_layernet.py",)) == tmp_path / "x" / "a"
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    assert "could not be extracted" in batch_inputs.extract_zip(bad, tmp_path / "y")


def test_a_notebook_only_submission_is_found_inside_its_wrapper_folder(tmp_path):
    """A student who hands in the ConvNet notebook only (convnet_mnist.ipynb, no .py) in a
    wrapping folder is graded from the folder holding the notebook."""
    inner = tmp_path / "ann" / "ann_hw" / "code"
    inner.mkdir(parents=True)
    (inner / "convnet_mnist.ipynb").write_text("{}")
    assert batch_inputs.submission_root(tmp_path / "ann", MARKERS) == inner
    found = batch_inputs.discover(tmp_path, tmp_path / "work", markers=MARKERS)
    assert [(s.student, s.path) for s in found] == [("ann", inner)]


def test_student_folder_names_are_safe_and_unique(tmp_path):
    assert batch_inputs.safe_name("../al ice") == "al_ice"
    assert batch_inputs.safe_name("work") == "work_"
    assert batch_inputs.safe_name("...") == "submission"
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    _zip_folder(REFERENCE, subs / "alice.zip", "x")
    found = batch_inputs.discover(subs, tmp_path / "work", markers=MARKERS)
    assert [s.student for s in found] == ["alice", "alice-2"]


def test_grader_killed_before_writing_anything_gets_a_stand_in(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where grade_one's TMPDIR goes
    sub = batch_inputs.Submission("amy", REFERENCE, REFERENCE)
    job = batch.Job(sub, tmp_path / "amy", ("1a",), None, timeout_s=0.05)
    row = batch.grade_one(job)
    assert row.status == batch.TIMED_OUT and row.scores == {}
    results = json.loads((tmp_path / "amy" / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert "grader timed out after 0.05 s" in results["output"]
    assert [t["number"] for t in results["tests"]] == ["1a.1", "1a.2"]
    assert (tmp_path / "amy" / "report.html").is_file()
    assert list(scratch.iterdir()) == []  # the grader's TMPDIR was removed


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")
@pytest.mark.parametrize("pool", [("-j", "2"), ("--scheduler", "local:2")], ids=["threads", "dask"])
def test_as_root_each_pool_slot_runs_student_code_as_its_own_user(tmp_path, sandbox_python, pool):
    """Two submissions graded at once never share a uid, whether two threads of this
    machine or two Dask workers grade them: neither can signal or read the other's
    processes and files. OUT here lies in pytest's private folder: the sandbox folders go
    to the system's temporary folder, so the drop still works."""
    # the uid each grading's children ran as is in its results.json (sandbox line)
    subs = tmp_path / "subs"
    for name in ("ann", "ben", "cat"):
        _copy_reference(subs / name)
    env = {**os.environ, "GRADER_ISOLATION": "require",
           "GRADER_SANDBOX_PYTHON": sandbox_python}
    proc = subprocess.run([sys.executable, "-m", "grader", "grade-all", str(subs), "--out",
                           str(tmp_path / "out"), "--questions", QUESTIONS, *pool],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    book = gradebook(tmp_path / "out")
    assert {float(book[s]["total"]) for s in ("ann", "ben", "cat")} == {FULL}
    uids = {}
    for student in ("ann", "ben", "cat"):
        line = json.loads((tmp_path / "out" / student / "results.json").read_text())[
            "extra_data"]["sandbox"]  # "separate process as uid 65123, unprivileged; ..."
        uids[student] = re.search(r"as uid (\d+),", line).group(1)
    # slots are machine-wide (another test may hold one), so which uid is free varies;
    # ann and ben started side by side, each with a slot uid of its own, and the slots
    # rotate, so cat (graded after one of them) has yet another
    assert len(set(uids.values())) == 3, uids
    assert all(uid_slots.BASE <= int(u) < uid_slots.BASE + uid_slots.SLOTS
               for u in uids.values())


def test_a_rubric_copy_grades_the_batch_and_sets_its_gradebook(tmp_path):
    """grade-all --rubric FILE: the graders, the gradebook's points and the summary follow
    the copy (1a.1 worth 4 points instead of 2)."""
    from rubric_copies import SHIPPED, with_setting
    text = with_setting(SHIPPED.read_text(), "1a", "points = 4", "points = 6")
    copy = tmp_path / "rubric.toml"
    copy.write_text(with_setting(text, "1a", "points = 2", "points = 4"))
    subs = tmp_path / "subs"
    _copy_reference(subs / "ann")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grader", "grade-all", str(subs), "--out", str(out),
           "--questions", "1a", "--rubric", str(copy)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = gradebook(out)["ann"]
    assert (row["1a.1"], row["1a.2"], row["total"], row["out of"]) == ("4", "2", "6", "6")
    assert json.loads((out / "ann" / "results.json").read_text())["score"] == 6
    assert "of 6" in (out / "summary.html").read_text()
