"""Gradescope end to end: the uploaded zip, unpacked into a simulated /autograder, grades."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from grader import gradescope

ROOT = Path(__file__).resolve().parents[1]


def _build(tmp_path):
    out = tmp_path / "autograder.zip"
    subprocess.run(["bash", str(ROOT / "ci" / "build_autograder_zip.sh"), str(out)],
                   check=True, capture_output=True, timeout=120)
    return out


def test_zip_has_gradescope_files_at_its_root_and_no_reference(tmp_path):
    names = zipfile.ZipFile(_build(tmp_path)).namelist()
    assert "setup.sh" in names and "run_autograder" in names
    assert "grader/rubric.toml" in names and "pyproject.toml" in names
    assert not [n for n in names if n.startswith(("reference/", "student_template/", "tests/"))]


def _autograder(tmp_path, submission):
    root = tmp_path / "autograder"
    zipfile.ZipFile(_build(tmp_path)).extractall(root / "source")
    shutil.copytree(submission, root / "submission")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                   capture_output=True, timeout=600, check=True)
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_a_submission(tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "student_template", sub)
    results = _autograder(tmp_path, sub)
    assert gradescope.validate(results) == []
    assert results["extra_data"]["complete"]
    assert results["score"] == 0 and len(results["tests"]) > 10
    assert results["output_format"] == "md"
    assert {t["output_format"] for t in results["tests"]} == {"md"}
    assert all(t["output"].startswith(("**Failed**", "**Not graded")) for t in results["tests"])


def test_run_autograder_leaves_results_when_the_grader_cannot_start(tmp_path):
    root = tmp_path / "autograder"
    zipfile.ZipFile(_build(tmp_path)).extractall(root / "source")
    (root / "source" / "grader" / "__main__.py").write_text("raise SystemExit(3)\n")
    (root / "submission").mkdir()
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True,
                   capture_output=True, timeout=120)
    results = json.loads((root / "results" / "results.json").read_text())
    assert gradescope.validate(results) == []
    assert "Grader error, contact course staff" in results["output"]
