"""ci/setup.sh's choice of interpreter: a Python >= 3.11 of the distribution, never an
older python3 (Gradescope's default image, Ubuntu 22.04, has 3.10). The whole image build
on a clean Debian is tests/test_clean_system.py (slow)."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYENV = Path.home() / ".pyenv" / "versions"


def _pick(bindir: Path) -> subprocess.CompletedProcess:
    env = {"PATH": str(bindir), "GRADER_SETUP_PICK_ONLY": "1"}  # only these interpreters
    return subprocess.run(["/bin/bash", str(ROOT / "ci" / "setup.sh")], env=env,
                          capture_output=True, text=True, timeout=60)


def _bin_with(tmp_path: Path, links: dict[str, Path]) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(parents=True)
    for name, target in links.items():
        (bindir / name).symlink_to(target)
    return bindir


@pytest.mark.skipif(not (PYENV / "3.10.13" / "bin" / "python3.10").exists(),
                    reason="needs pyenv's Python 3.10")
def test_python_3_10_as_python3_is_passed_over(tmp_path):
    """python3 is 3.10 (as on Ubuntu 22.04): with no newer interpreter on PATH the script
    reports none (and, for real, installs python3.11); with python3.11 beside it, that one
    is chosen."""
    py310 = PYENV / "3.10.13" / "bin" / "python3.10"
    only_old = _pick(_bin_with(tmp_path / "a", {"python3": py310}))
    assert only_old.returncode == 1 and only_old.stdout.strip() == "none"
    py311 = PYENV / "3.11.7" / "bin" / "python3.11"
    both = _bin_with(tmp_path / "b", {"python3": py310, "python3.11": py311})
    chosen = _pick(both)
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.strip() == str(both / "python3.11")


def test_python3_of_3_11_or_newer_is_used_as_is(tmp_path):
    import sys
    bindir = _bin_with(tmp_path, {"python3": Path(sys.executable)})
    chosen = _pick(bindir)
    assert chosen.returncode == 0 and chosen.stdout.strip() == str(bindir / "python3")


def test_setup_never_installs_into_the_system_python():
    text = (ROOT / "ci" / "setup.sh").read_text()
    installs = [line for line in text.splitlines() if "pip install" in line
                and not line.lstrip().startswith("#")]
    assert installs and all('"$PREFIX/bin/python" -m pip' in line for line in installs)
    assert "--break-system-packages" not in text
    assert os.access(ROOT / "ci" / "run_autograder", os.R_OK)
