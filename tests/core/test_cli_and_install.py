"""The command line as staff and students use it: a non-editable install (as a
wheel or an image installs it) grades, `grade` finds files wrapped in a folder, and exit
codes follow the usual convention."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _grade(python: str, submission: Path, out: Path, cwd: Path) -> dict:
    proc = subprocess.run([python, "-m", "grader", "grade", str(submission), "--out", str(out),
                           "--questions", "1a", "--quiet"], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "results.json").read_text())


def test_non_editable_install_ships_what_grading_reads(tmp_path):
    """`pip install .` (no -e) carries the suites' pytest.ini, the rubric and the
    templates: the installed copy grades 1a of reference/ with full marks."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    python = str(venv / "bin" / "python")
    # from a copy of the tracked files: setuptools leaves build/ in the tree it builds, and
    # a stale build/ in the checkout would be installed by the next `pip install .`
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for rel in filter(None, tracked):
        if (ROOT / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, source / rel)
    proc = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(source)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode and "Could not find a version" in proc.stderr:
        pytest.skip("no package index for the build backend: " + proc.stderr[-300:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    where = subprocess.run([python, "-c", "import grader; print(grader.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    installed = Path(where.strip()).parent
    assert str(installed).startswith(str(venv)), where
    for shipped in ("parts/pytest.ini", "rubric.toml", "templates/report.html.j2"):
        assert (installed / shipped).is_file(), shipped
    result = _grade(python, ROOT / "reference", tmp_path / "out", tmp_path)
    assert result["score"] == 4, result["output"]


def test_grade_reads_a_folder_wrapped_as_students_zip_it(tmp_path):
    """An upload holding one folder with the files, __MACOSX/ and a dot-file beside it,
    is graded from that folder (as grade-all reads a batch entry)."""
    upload = tmp_path / "submission"
    inner = upload / "hw2 final"
    inner.mkdir(parents=True)
    shutil.copy(ROOT / "reference" / "two_layernet.py", inner)
    (upload / "__MACOSX" / "hw2 final").mkdir(parents=True)
    (upload / "__MACOSX" / "hw2 final" / "._two_layernet.py").write_bytes(b"\0\5\26\7")
    (upload / ".DS_Store").write_bytes(b"\0")
    result = _grade(sys.executable, upload, tmp_path / "out", tmp_path)
    assert result["score"] == 4, result["output"]


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_usage_errors_exit_2_and_name_the_valid_ids(tmp_path):
    """0 graded, 1 grader error, 2 usage error: a missing folder, an unknown id and a
    question graded by hand are usage errors that say what would be valid."""
    missing = _cli("grade", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    assert not (tmp_path / "o" / "results.json").exists()
    unknown = _cli("grade", "reference", "--out", str(tmp_path / "o"), "--questions", "9z")
    assert unknown.returncode == 2
    assert "unknown question ids: 9z" in unknown.stderr and "1a, 1b" in unknown.stderr
    by_hand = _cli("grade", "reference", "--out", str(tmp_path / "o"), "--questions", "2a")
    assert by_hand.returncode == 2, by_hand.stderr
    assert "2a is graded by hand" in by_hand.stderr and "pytest" not in by_hand.stderr
    version = _cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("python -m grader 0.")


def test_grade_names_its_outputs_and_check_fails_on_a_failed_check(tmp_path):
    graded = _cli("grade", "reference", "--out", str(tmp_path / "o"), "--questions", "1a",
                  "--quiet")
    assert graded.returncode == 0, graded.stderr[-2000:]
    last = graded.stdout.strip().splitlines()[-1]
    assert "4 / 4 points" in last and str(tmp_path / "o" / "report.html") in last
    passed = _cli("check", "reference", "--questions", "1a")
    assert passed.returncode == 0, passed.stdout[-2000:]
    failed = _cli("check", "student_template", "--questions", "1a")
    assert failed.returncode == 1 and "Score on public checks: 0" in failed.stdout


def test_an_upload_without_the_assignment_files_says_what_it_holds(tmp_path):
    """Nothing the rubric names, at the top or inside one wrapping folder: the headline
    lists what was expected and what was found, instead of a bare 'none submitted'."""
    upload = tmp_path / "upload"
    (upload / "hw" / "code").mkdir(parents=True)
    (upload / "hw" / "code" / "twolayer_net.py").write_text("x = 1\n")
    (upload / "notes.txt").write_text("hello\n")
    result = _grade(sys.executable, upload, tmp_path / "out", tmp_path)
    note = result["extra_data"]["upload_note"]
    assert "None of the assignment's files is in your upload" in note
    assert "two_layernet.py" in note and "Found: hw/, notes.txt" in note
    assert note in result["output"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "Found: nothing (an empty upload)" in _grade(sys.executable, empty, tmp_path / "o2",
                                                       tmp_path)["output"]
    complete = _grade(sys.executable, ROOT / "reference", tmp_path / "o3", tmp_path)
    assert "upload_note" not in complete["extra_data"]


def test_a_sandbox_that_cannot_start_is_a_grader_error_for_the_whole_run(tmp_path):
    """No check is failed (or passed) on the student's account when student code cannot
    be run here: every check says grader error, and the headline says so."""
    import os
    env = {**os.environ, "GRADER_ISOLATION": "require",
           "GRADER_SANDBOX_PYTHON": str(tmp_path / "no-such-python")}
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", "reference", "--out",
                           str(tmp_path / "out"), "--questions", "1a,1c,5f", "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["score"] == 0
    assert result["output"].startswith("**Grader error, contact course staff")
    assert "cannot be run in the sandbox" in result["output"]
    assert {t["extra_data"]["outcome"] for t in result["tests"]} == {"error"}
    assert all("contact course staff" in t["output"] for t in result["tests"])
