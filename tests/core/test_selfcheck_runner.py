"""The students' self-check runner (grader/core/handout/selfcheck.py, the archive's
selfcheck.py), run from the extracted archive as students run it: one header and one
"N of M public checks passed" line per part, every part alike; a complete --help; exit
codes 0, 1 and 2; without torch, the torch checks say to install it with the handout's
command; and the handout's requirements.txt covers every import of the shipped files."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from grader.core.handout import public_checks
from selfcheck_runs import RUBRIC, extracted

ROOT = Path(__file__).resolve().parents[2]
NO_TORCH = ("import runpy, sys\n"
            "sys.modules['torch'] = sys.modules['torchvision'] = None\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def run(*args: str, prefix=(), timeout: float = 300) -> subprocess.CompletedProcess:
    """python [prefix] selfcheck.py ARGS from outside the archive's folder."""
    proc = subprocess.run([sys.executable, *prefix, str(extracted() / "selfcheck.py"), *args],
                          cwd=extracted().parent, capture_output=True, text=True,
                          timeout=timeout)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def test_every_part_reports_alike_and_the_exit_code_says_all_passed():
    reference = run("--folder", str(ROOT / "reference"))
    assert reference.returncode == 0, reference.stdout
    template = run()  # the handout's own stubs, next to selfcheck.py
    assert template.returncode == 1
    spec = public_checks.generate(RUBRIC)
    for number, part in spec["parts"].items():
        count = len(part["checks"])
        assert f"Self-check of Part {number} (" in reference.stdout
        assert f"Part {number}: {count} of {count} public checks passed. Well done." \
            in reference.stdout
        assert f"Part {number}: 0 of {count} public checks passed." in template.stdout
    heads = re.findall(r"^Self-check of Part (\d) ", template.stdout, re.M)
    assert heads == sorted(spec["parts"])
    assert template.stdout.count("Not checked here (graded on Gradescope") == len(heads)


def test_one_part_and_a_wrong_part():
    only = run("3", "--folder", str(ROOT / "reference"))
    assert only.returncode == 0 and re.findall(r"^Self-check of Part (\d)", only.stdout,
                                               re.M) == ["3"]
    wrong = run("5")
    assert wrong.returncode == 2 and "no part '5'" in wrong.stderr


def test_help_is_complete():
    proc = run("--help")
    assert proc.returncode == 0
    text = proc.stdout
    assert "python selfcheck.py 1 4 --folder F" in text  # the whole description
    assert "the trainings on\nthe real datasets are graded on Gradescope only" in text
    for number, part in public_checks.generate(RUBRIC)["parts"].items():
        assert f"Part {number} (" in text and ", ".join(part["checks"]) in text
    assert "exit code: 0" in text and public_checks.INSTALL in text


def test_without_torch_the_torch_checks_say_install_it():
    proc = run("2", "4", "--folder", str(ROOT / "reference"), prefix=("-c", NO_TORCH))
    assert proc.returncode == 1
    failed = re.findall(r"^FAIL  (\S+)", proc.stdout, re.M)
    assert set(failed) == {"4a.1", "4b.1", "6b.1", "7b.1", "7b.2"}, proc.stdout
    assert proc.stdout.count("torch is not installed for this Python") == len(failed)
    assert proc.stdout.count(public_checks.INSTALL) == len(failed)
    assert "loads data or trains" not in proc.stdout
    assert "PASS  6a.1" in proc.stdout and "PASS  7a.1" in proc.stdout  # numpy only


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
              and not n.level}
    return {n.split(".")[0] for n in names}


def test_requirements_cover_every_import_of_the_handout():
    """requirements.txt (no network install here): every third-party import of the shipped
    self-check files and of the handout's own files is listed; torch comes from the CPU
    wheel index; and the handout's README gives the install command."""
    folder = extracted()
    lines = [line.strip() for line in (folder / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    listed = {re.split(r"[<>=!~\[ ]", line)[0].lower() for line in lines
              if not line.startswith("-")}
    local = {p.stem for p in folder.rglob("*.py")} | {"selfcheck", "selfcheck_files", "grader"}
    local |= {f"grader_kit_{p.stem}" for p in folder.glob("selfcheck_files/grader/core/sandbox/kits/*.py")}
    for path in sorted(folder.rglob("*.py")):
        third_party = _imports(path) - set(sys.stdlib_module_names) - local
        assert third_party <= listed, (path.name, third_party - listed)
    assert public_checks.INSTALL in (folder / "README.md").read_text()


def test_the_tests_run_the_archives_modules():
    """selfcheck_runs runs the self-check in-process on the archive's own `grader` modules
    (the grader's math as recorded stand-ins), not the grader's, and gives those back."""
    import grader.parts.part4_cnn.output_size  # noqa: F401 - the grader's own, imported
    import selfcheck_runs
    assert selfcheck_runs.selfcheck(ROOT / "reference", "4")["6a.1"][0]
    archive = selfcheck_runs._ARCHIVE_MODULES
    assert archive["grader.parts.part4_cnn.cnnmath"].__doc__.startswith("Recorded results")
    assert Path(archive["grader.parts.part4_cnn.output_size"].__file__).is_relative_to(extracted())
    assert Path(sys.modules["grader.parts.part4_cnn.output_size"].__file__).is_relative_to(ROOT)
