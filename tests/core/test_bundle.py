"""The students' archive (grader/bundle.py) and the self-check it ships.

What the archive holds, exactly; that no solution code, hidden seed or expected value of a
hidden case is in it (checked here with the grader's own code, independently of audit());
that audit() refuses planted leaks; and that selfcheck.py, run from the extracted archive,
passes the reference, fails the template kindly and catches the catalogue's bugs.
"""
from __future__ import annotations

import ast
import difflib
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.core.handout import bundle
from grader.core.rubric import spec as rubric
from grader.parts.part1_numpy import cases, netmath
from mutants import BROKEN, MUTANTS, REFERENCE, ROOT

RUBRIC = rubric.load()
PART1 = ROOT / "grader" / "parts" / "part1_numpy"
TEMPLATE = ROOT / "student_template"
MEMBERS = ["assignment1/README.md", "assignment1/algo_train.py", "assignment1/backprop_answers.py",
           "assignment1/build_net.py", "assignment1/convnet_answers.py",
           "assignment1/convnet_mnist.py", "assignment1/ex2_FCnet.py",
           "assignment1/ex2_pytorch.py", "assignment1/hyperparams.py", "assignment1/main.py",
           "assignment1/network_template.py", "assignment1/selfcheck.py",
           "assignment1/selfcheck_part2.py", "assignment1/selfcheck_part3.py",
           "assignment1/selfcheck_part4.py", "assignment1/sgd.py", "assignment1/staticcheck.py",
           "assignment1/theory.py", "assignment1/two_layernet.py"]
SELFCHECK_IDS = ["1a.1", "1b.1", "1c.2", "2d.1", "3a.1", "3a.2"]
# Checks of the self-check that rely on the student's own loss(): a wrong loss (1b) may
# fail them there, with a note saying so, while the grader uses its own math.
OWN_LOSS = {"2d.1", "3a.1"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return bundle.build_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="module")
def members(archive) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


@pytest.fixture(scope="module")
def texts(members) -> dict[str, str]:
    return {name: data.decode("utf-8") for name, data in members.items()}


@pytest.fixture
def extracted(archive, tmp_path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    return tmp_path / "assignment1"


def selfcheck(folder: Path, *args: str, timeout: float = 120) -> tuple[int, dict, str]:
    """Runs folder/selfcheck.py from another directory: (exit code, {id: (status, message)},
    stdout)."""
    proc = subprocess.run([sys.executable, str(folder / "selfcheck.py"), *args],
                          cwd=folder.parent, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    checks, current = {}, None
    for line in proc.stdout.splitlines():
        head = re.match(r"(PASS|FAIL)  (\d[a-d]\.\d)  ", line)
        if head:
            current = head.group(2)
            checks[current] = (head.group(1), "")
        elif current and line.startswith("      "):
            checks[current] = (checks[current][0], checks[current][1] + line.strip() + " ")
        else:
            current = None
    return proc.returncode, checks, proc.stdout


def load_selfcheck():
    """Part 1's selfcheck.py as a module (it imports nothing of the grader)."""
    path = PART1 / "selfcheck.py"
    spec = importlib.util.spec_from_file_location("selfcheck_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------
# What the archive holds


def test_members_are_exactly_the_template_and_the_public_self_check(archive, members):
    assert list(members) == MEMBERS  # sorted, nothing else
    for name, data in members.items():
        base = name.removeprefix("assignment1/")
        source = {"selfcheck.py": PART1 / "selfcheck.py",
                  "selfcheck_part2.py": PART1.parent / "part2_mlp" / "selfcheck_part2.py",
                  "selfcheck_part3.py": PART1.parent / "part3_scratch" / "selfcheck.py",
                  "selfcheck_part4.py": PART1.parent / "part4_cnn" / "selfcheck_part4.py",
                  "sgd.py": PART1 / "sgd.py",
                  "staticcheck.py": PART1 / "staticcheck.py"}.get(base, TEMPLATE / base)
        assert data == source.read_bytes(), name
    with zipfile.ZipFile(archive) as zf:
        assert {i.date_time for i in zf.infolist()} == {bundle.ZIP_TIME}
        assert {i.external_attr >> 16 for i in zf.infolist()} == {0o644}
    again = bundle.build_bundle(archive.parent / "again")
    assert again.read_bytes() == archive.read_bytes()  # deterministic


def test_shipped_helpers_import_nothing_of_the_grader(texts):
    allowed = {"__future__", "argparse", "ast", "dataclasses", "importlib.util", "math",
               "pathlib", "signal", "sys", "textwrap", "time", "traceback", "numpy"}
    torch = {"torch", "torch.nn.functional", "torch.optim.optimizer"}  # Part 2's self-check
    for name, extra in (("assignment1/selfcheck.py", set()), ("assignment1/sgd.py", set()),
                        ("assignment1/staticcheck.py", set()),
                        ("assignment1/selfcheck_part2.py", torch),
                        ("assignment1/selfcheck_part3.py", {"inspect"}),
                        ("assignment1/selfcheck_part4.py", {"torch", "torch.nn.functional"})):
        tree = ast.parse(texts[name])
        imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imports |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert set(imports) <= allowed | extra, name


def test_cli_writes_the_bundle(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grader", "bundle", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "assignment1.zip").is_file()
    assert str(tmp_path / "assignment1.zip") in proc.stdout


# ---------------------------------------------------------------------------------------
# Nothing of the solution, nothing of a hidden case


def solution_lines() -> set[str]:
    """Lines of reference/two_layernet.py that the template does not have (and their code
    without a trailing comment)."""
    ref = (REFERENCE / "two_layernet.py").read_text().splitlines()
    given = (TEMPLATE / "two_layernet.py").read_text().splitlines()
    given_stripped = {line.strip() for line in given}
    lines = set()
    for line in difflib.ndiff(given, ref):
        text = line[2:].strip()
        if line.startswith("+ ") and text and text not in given_stripped:
            lines.update(t for t in (text, text.split("  #")[0].strip()) if len(t) >= 8)
    return lines


def test_no_reference_file_and_no_line_of_the_solution(texts, members):
    lines = solution_lines()
    assert len(lines) > 25 and "dz3 /= N" in lines  # the diff did find the solution
    for path in REFERENCE.glob("*.py"):
        if path.read_bytes() == (TEMPLATE / path.name).read_bytes():
            continue  # the driver ex2_FCnet.py is given: the same file in both folders
        assert path.read_bytes() not in members.values(), path.name
    for name, text in texts.items():
        leaked = sorted(line for line in lines if line in text)
        assert not leaked, f"{name} holds lines of the reference solution: {leaked}"
        flat = bundle._normalise(text)
        for qualname, body in bundle.function_bodies((REFERENCE / "two_layernet.py").read_text()).items():
            if qualname in ("TwoLayerNet.loss", "TwoLayerNet.train", "TwoLayerNet.predict"):
                assert body not in flat, f"{name} holds the reference's {qualname}"


def test_no_rubric_seed_nor_derived_seed(texts):
    seeds = {RUBRIC.seed}
    for check in RUBRIC.checks:
        seeds |= {cases.case_seed(RUBRIC.seed, check.id, i)
                  for i in range(max(1, check.get("cases", 1)))}
    assert len(seeds) > 10
    for name, text in texts.items():
        found = [s for s in seeds if str(s) in text]
        assert not found, f"{name} holds seeds {found}"
    assert "seed = " not in texts["assignment1/selfcheck.py"]


def hidden_expected_values() -> np.ndarray:
    """What the grader expects on the hidden cases of 1a, 1b and 2d, by its own code."""
    values = []
    for case in cases.hidden_cases(RUBRIC.seed, "1a.2", RUBRIC.check("1a.2").value("cases")):
        values.extend(netmath.probabilities(case.params, case.X).ravel())
    for case in cases.hidden_cases(RUBRIC.seed, "1b.2", RUBRIC.check("1b.2").value("cases")):
        values.append(netmath.loss(case.params, case.X, case.y, case.reg))
    for case in cases.hidden_cases(RUBRIC.seed, "2d.2", RUBRIC.check("2d.2").value("cases")):
        grads = netmath.loss_and_grads(case.params, case.X, case.y, case.reg)[1]
        values.extend(np.concatenate([g.ravel() for g in grads.values()]))
    values = np.asarray(values, dtype=np.float64)
    return values[np.abs(values) > 1e-12]


def significant(token: str) -> int:
    """How many significant digits a number as written has ("0.3644621" -> 7)."""
    mantissa = re.split("[eE]", token)[0].replace(".", "").lstrip("-+0")
    return len(mantissa)


def test_no_expected_value_of_a_hidden_case(texts):
    values = hidden_expected_values()
    assert len(values) > 100
    # 1. each value's first 8 significant digits, as Python would print them
    printed = {f"{v:.8g}" for v in values} | {f"{abs(v):.7e}"[:9].replace(".", "") for v in values}
    for name, text in texts.items():
        found = sorted(p for p in printed if p in text)
        assert not found, f"{name} holds digits of hidden expected values: {found}"
    # 2. any number written with 6 or more significant digits that is a hidden value rounded
    for name, text in texts.items():
        for token in re.findall(r"-?\d+\.\d+(?:[eE][-+]?\d+)?", text):
            k = significant(token)
            if k < 6:
                continue
            rounded = {float(f"{v:.{k - 1}e}") for v in values}
            assert float(token) not in rounded, f"{name}: {token} is a hidden expected value"


# ---------------------------------------------------------------------------------------
# audit(): passes the bundle, refuses planted leaks


def test_audit_passes_the_bundle(members):
    assert bundle.audit(members.items()) == []


def _with_reference_loss_reindented() -> bytes:
    body = bundle.function_bodies((REFERENCE / "two_layernet.py").read_text())["TwoLayerNet.loss"]
    return ("def helper(self, X, y, reg):\n" + "\n".join("  " + line for line in body.splitlines())
            ).encode()


PLANTED = {
    "reference two_layernet.py": (REFERENCE / "two_layernet.py").read_bytes(),
    "reference hyperparams.py": (REFERENCE / "hyperparams.py").read_bytes(),
    "reference loss(), re-indented": _with_reference_loss_reindented(),
    "one solution line": b"# shows how\ndz2 = da2 * (z2 > 0)\n",
    "grader netmath.py": (PART1 / "netmath.py").read_bytes(),
    "grader rubric.toml": (ROOT / "grader" / "rubric.toml").read_bytes(),
    "a grader function body": (
        "def f(x, h):\n" + "\n".join(
            "    " + line for line in
            bundle.function_bodies((PART1 / "netmath.py").read_text())[
                "numerical_gradient"].splitlines())).encode(),
    "rubric seed": f"SEED = {RUBRIC.seed}\n".encode(),
    "derived seed": f"case = {cases.case_seed(RUBRIC.seed, '1a.2', 0)}\n".encode(),
}


@pytest.mark.parametrize("what", PLANTED)
def test_audit_refuses_a_planted_leak(members, what):
    planted = dict(members)
    planted["assignment1/notes.py"] = PLANTED[what]
    problems = bundle.audit(planted.items())
    assert problems and all(p.startswith("assignment1/notes.py") for p in problems), problems


def test_build_refuses_a_leaking_template(monkeypatch, tmp_path):
    fake = tmp_path / "student_template"
    shutil.copytree(TEMPLATE, fake)
    shutil.copy(REFERENCE / "two_layernet.py", fake / "two_layernet.py")
    monkeypatch.setattr(bundle, "TEMPLATE", fake)
    with pytest.raises(bundle.GraderError, match="copy of reference/two_layernet.py"):
        bundle.build_bundle(tmp_path / "out")
    assert not (tmp_path / "out" / "assignment1.zip").exists()


# ---------------------------------------------------------------------------------------
# The self-check, run from the extracted archive


def test_selfcheck_passes_the_reference(extracted):
    for path in REFERENCE.glob("*.py"):
        shutil.copy(path, extracted / path.name)
    code, checks, out = selfcheck(extracted)
    assert code == 0, out
    assert list(checks) == SELFCHECK_IDS
    assert all(status == "PASS" for status, _ in checks.values()), out
    assert "6 of 6 public checks passed" in out
    assert "Gradescope only" in out and "hidden checks" in out and "CIFAR-10" in out
    assert not list(extracted.rglob("__pycache__"))  # nothing left in the student's folder


def test_selfcheck_fails_the_template_kindly(extracted):
    code, checks, out = selfcheck(extracted)
    assert code == 1
    assert list(checks) == SELFCHECK_IDS
    for cid, (status, message) in checks.items():
        assert status == "FAIL", cid
        assert message.startswith("Not implemented yet (question "), (cid, message)
        assert "TODO block" in message
    assert "0 of 6 public checks passed" in out and "Gradescope only" in out


def test_selfcheck_catches_gradients_not_averaged(extracted, tmp_path):
    mutant = next(m for m in MUTANTS if m.name == "not_averaged")  # dz3 /= N -> dz3 /= 1
    sub = mutant.write(tmp_path / "sub")
    code, checks, out = selfcheck(extracted, str(sub))  # a folder elsewhere, as an argument
    assert code == 1
    assert checks["2d.1"][0] == "FAIL"
    assert "5x too large: average over the batch" in checks["2d.1"][1]
    assert all(checks[c][0] == "PASS" for c in ("1a.1", "1b.1", "1c.2")), out


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_selfcheck_agrees_with_the_mutant_catalogue(extracted, tmp_path, mutant):
    """Every public check a mutant must lose, the self-check fails; every question it must
    keep, the self-check passes (except checks on the student's own loss when 1b fails)."""
    sub = mutant.write(tmp_path / "sub")
    _, checks, out = selfcheck(extracted, str(sub))
    for cid in SELFCHECK_IDS:
        status, message = checks[cid]
        if cid in mutant.loses:
            assert status == "FAIL", f"{cid} missed {mutant.bug}:\n{out}"
        elif cid.split(".")[0] in mutant.keeps:
            if cid in OWN_LOSS and status == "FAIL" and (
                    checks["1b.1"][0] == "FAIL" or "Note:" in checks["1b.1"][1]):
                assert "fix 1b first" in message, message
            else:
                assert status == "PASS", f"{cid} should pass ({mutant.bug}):\n{out}"


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_selfcheck_survives_a_broken_submission(extracted, tmp_path, broken):
    sub = broken.write(tmp_path / "sub")
    code, checks, out = selfcheck(extracted, str(sub))
    assert code == 1 and list(checks) == SELFCHECK_IDS
    for cid, (status, message) in checks.items():
        assert status == "FAIL" and broken.phrase in message, (cid, message)


HANGS_AND_EXITS = '''
import sys
import numpy as np
from reference_net import TwoLayerNet as Base


class TwoLayerNet(Base):
    def loss(self, X, y=None, reg=0.0):
        if y is not None and reg == 0.05:
            sys.exit(3)
        return super().loss(X, y, reg)

    def train(self, *args, **kwargs):
        while True:
            pass
'''


def test_one_check_hanging_or_exiting_does_not_stop_the_others(extracted, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(REFERENCE / "two_layernet.py", sub / "reference_net.py")
    (sub / "two_layernet.py").write_text(HANGS_AND_EXITS)
    runner = ("import importlib.util, sys\n"
              "spec = importlib.util.spec_from_file_location('selfcheck', sys.argv[1])\n"
              "module = importlib.util.module_from_spec(spec)\n"
              "sys.modules['selfcheck'] = module\n"
              "spec.loader.exec_module(module)\n"
              "module.TIME_LIMIT_S = 2\n"
              "raise SystemExit(module.main([sys.argv[2]]))\n")
    proc = subprocess.run([sys.executable, "-c", runner, str(extracted / "selfcheck.py"),
                           str(sub)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    statuses = {cid: status for status, cid in
                re.findall(r"^(PASS|FAIL)  (\S+)  ", proc.stdout, re.M)}
    assert statuses == {"1a.1": "PASS", "1b.1": "FAIL", "1c.2": "PASS", "2d.1": "FAIL",
                        "3a.1": "FAIL", "3a.2": "FAIL"}, proc.stdout
    assert proc.stdout.count("called sys.exit() or exit()") == 2
    assert "stopped after 2 s" in proc.stdout


# ---------------------------------------------------------------------------------------
# The self-check's numbers are the grader's


def test_selfcheck_numbers_agree_with_the_grader():
    sc = load_selfcheck()
    assert np.array_equal(np.array(sc.TOY_PROBS), cases.TOY_PROBS)
    assert sc.TOY_LOSS == cases.TOY_LOSS
    params, X, y = sc.toy_problem()
    toy = cases.toy_case()
    for name in netmath.PARAM_NAMES:
        assert np.array_equal(params[name], toy.params[name]), name
    assert np.array_equal(X, toy.X) and np.array_equal(y, toy.y)
    # what the grader's own math gives on the toy problem, within each check's tolerance
    s = sc.SETTINGS["1a.1"]
    probs = netmath.probabilities(toy.params, toy.X)
    assert np.all(np.abs(probs - np.array(sc.TOY_PROBS))
                  <= s["atol"] + s["rtol"] * np.abs(probs))
    s = sc.SETTINGS["1b.1"]
    want = netmath.loss(toy.params, toy.X, toy.y, s["reg"])
    assert abs(want - sc.TOY_LOSS) <= s["atol"] + s["rtol"] * abs(want)
    # every setting and title is the rubric's, and only public checks are run
    assert set(sc.SETTINGS) <= set(sc.TITLES) == set(SELFCHECK_IDS)
    for cid, settings in sc.SETTINGS.items():
        for key, value in settings.items():
            assert RUBRIC.check(cid).value(key) == value, (cid, key)
    for cid, title in sc.TITLES.items():
        assert RUBRIC.check(cid).public and RUBRIC.check(cid).name == title, cid
    assert [cid for cid, _ in sc.CHECKS] == SELFCHECK_IDS
    assert sc.TIME_LIMIT_S == RUBRIC.limits.wall_seconds
