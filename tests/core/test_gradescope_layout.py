"""Gradescope end to end: the uploaded zip, unpacked into a simulated /autograder, grades."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader.core.results import gradescope
from grader.core.rubric import spec as rubric

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = rubric.load()
# graded with torch in the sandbox (Parts 2 and 4); 6a and 6d run theory.py (numpy), 7c
# reads an answers file in the grader
TORCH_QUESTIONS = {"4a", "4b", "4c", "6b", "6c", "7b", "7d"}


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


def _autograder(tmp_path, submission, root=None, **env_vars):
    """Unpacks the zip into ROOT/source and runs run_autograder as Gradescope would. By
    default student code runs as the grader's user (this interpreter lives in a private
    folder); the isolation test passes a world-readable ROOT and interpreter."""
    root = root or tmp_path / "autograder"
    zipfile.ZipFile(_build(tmp_path)).extractall(root / "source")
    shutil.copytree(submission, root / "submission")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_ISOLATION": "auto",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env_vars}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                   capture_output=True, timeout=600, check=True)
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_a_submission(tmp_path):
    """The numpy parts' stubs (the torch parts' files left out: each torch call costs the
    sandbox seconds of `import torch`, and the templates of Parts 2 and 4 score zero in
    their own end-to-end suites): every question graded, none earns a point."""
    sub = tmp_path / "sub"
    sub.mkdir()
    for name in ("two_layernet.py", "hyperparams.py", "network_template.py",
                 "backprop_answers.py"):
        shutil.copy(ROOT / "student_template" / name, sub / name)
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


ATTACK = """
# Appended by the test: what a hostile submission tries as it is imported. Each outcome
# goes to the test through a Unix socket (the child can write no file outside its folder).
import os as _os, socket as _socket
_ROOT = {root!r}
_LOG = {log!r}
def _try(name, action):
    try:
        action()
        outcome = "DONE"
    except OSError as exc:
        outcome = type(exc).__name__
    with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as _s:
        _s.connect(_LOG)
        _s.sendall(f"{{name}} {{outcome}} uid={{_os.getuid()}}".encode())
_try("forge", lambda: open(_ROOT + "/results/results.json", "w").write('{{"score": 100}}'))
_try("marker", lambda: open(_ROOT + "/results/pwned", "w").write("x"))
_try("rubric", lambda: open(_ROOT + "/source/grader/rubric.toml").read())
_try("netmath", lambda: open(_ROOT + "/source/grader/parts/part1_numpy/netmath.py").read())
"""


def _listen(path: Path) -> tuple[list[str], "threading.Thread"]:
    """A Unix socket at path every user may connect to, collecting one message per
    connection in a list (until the socket is closed)."""
    import socket
    import threading
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o777)
    server.listen(64)
    got: list[str] = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                got.append(conn.recv(4096).decode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    thread.server = server
    return got, thread


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")
def test_as_root_student_code_runs_unprivileged_and_reference_keeps_full_marks(
        tmp_path, sandbox_python):
    """The whole Gradescope run with isolation required: the reference with attacks
    appended still gets every point, and every attack is refused."""
    top = Path(tempfile.mkdtemp(prefix="autograder-sim-"))  # /tmp: others may pass through
    # the socket lies in the sandbox interpreter's folder, which every child sees
    log = Path(sandbox_python).parents[1] / f"attack-{os.getpid()}.sock"
    log.unlink(missing_ok=True)
    messages, listener = _listen(log)
    try:
        os.chmod(top, 0o755)
        root = top / "autograder"
        sub = tmp_path / "sub"
        shutil.copytree(ROOT / "reference", sub)
        with open(sub / "two_layernet.py", "a") as fh:
            fh.write(ATTACK.format(root=str(root), log=str(log)))
        results = _autograder(tmp_path, sub, root, GRADER_ISOLATION="require",
                              GRADER_SANDBOX_PYTHON=sandbox_python)
        assert gradescope.validate(results) == []
        sandbox = results["extra_data"]["sandbox"]  # a uid of the grading's own (a slot)
        assert sandbox.startswith("separate process as uid 65") and ", unprivileged;" in sandbox
        # The interpreter the unprivileged user runs here has numpy but no torch (a pyenv
        # under a 0700 /root cannot be shared): the torch questions are the grader's fault
        # there, said so, never the student's; every numpy question keeps full marks.
        torch_checks = {c.id for c in RUBRIC.checks if c.question in TORCH_QUESTIONS}
        lost = {t["number"]: t["output"] for t in results["tests"]
                if t["score"] != t["max_score"] and t["number"] not in torch_checks}
        assert not lost
        for test in results["tests"]:
            if test["number"] in torch_checks:
                assert test["extra_data"]["outcome"] == "error", test
                assert "contact course staff" in test["output"]
                assert "torch, which the grader provides, is not installed" in test["output"]
        assert results["score"] == sum(c.points for c in RUBRIC.checks
                                       if c.id not in torch_checks)
        assert not (root / "results" / "pwned").exists()
        outcomes = {}
        for message in messages:
            name, outcome = message.split(" ", 1)
            outcomes.setdefault(name, set()).add(outcome)
        # a private mount namespace leaves the child no /tmp of the machine (this simulated
        # /autograder lies there): not found; else refused
        hidden = "FileNotFoundError" if "private /tmp" in results["extra_data"]["sandbox"] \
            else "PermissionError"
        uid = int(sandbox.split("as uid ")[1].split(",")[0])
        assert outcomes == {name: {f"{hidden} uid={uid}"}
                            for name in ("forge", "marker", "rubric", "netmath")}
    finally:
        listener.server.close()
        log.unlink(missing_ok=True)
        shutil.rmtree(top, ignore_errors=True)
