"""The students' archive (grader/core/handout/bundle.py) and the data its self-check gets.

What the archive holds, exactly; that the self-check's data (public_checks.json) is
generated from the rubric and the grader's math, public checks only; that no solution
code, hidden seed or expected value of a hidden case is in it (checked here with the
grader's own code, independently of audit()); and that audit() refuses planted leaks. The
self-check itself is tested against the grader in tests/parts/*/test_selfcheck*.py and
tests/core/test_selfcheck_runner.py.
"""
from __future__ import annotations

import ast
import difflib
import importlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.core.handout import bundle, public_checks, recorded
from grader.core.rubric import spec as rubric
from grader.parts.part1_numpy import cases, netmath
from mutants import REFERENCE, ROOT

RUBRIC = rubric.load()
PART1 = ROOT / "grader" / "parts" / "part1_numpy"
TEMPLATE = ROOT / "student_template"
GENERATED = "assignment1/selfcheck_files/public_checks.json"
PACKAGE = "selfcheck_files/grader/"  # the public modules of the grader's package
PART_MODULES = {"part1_numpy": ("__init__", "selfcheck", "forward", "loss", "vectorised",
                                "gradients", "hints", "probing", "cases", "staticcheck",
                                "sgd", "probes"),
                "part2_mlp": ("__init__", "selfcheck", "structure", "settings", "probing", "probes"),
                "part3_scratch": ("__init__", "selfcheck"),
                "part4_cnn": ("__init__", "selfcheck", "output_size", "bias_gradients",
                              "structure", "figure", "probing", "probes"),
                "part4_convnet": ("__init__", "selfcheck", "layers", "settings", "probes")}
SHIPPED = ["selfcheck.py", "selfcheck_files/public_checks.json"] + [
    PACKAGE + m for m in bundle.CORE_MODULES] + [
    f"{PACKAGE}parts/{part}/{m}.py" for part, names in PART_MODULES.items() for m in names]
MEMBERS = sorted(f"assignment1/{name}" for name in
                 [p.name for p in TEMPLATE.iterdir() if p.is_file()] + SHIPPED)


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


# ---------------------------------------------------------------------------------------
# What the archive holds


def test_members_are_exactly_the_template_and_the_public_self_check(archive, members):
    assert list(members) == MEMBERS  # sorted, nothing else
    assert "assignment1/requirements.txt" in members
    sources = {f"assignment1/{name}": path for path, name in bundle.public_files().items()}
    for name, data in members.items():
        if name == GENERATED:
            assert data == public_checks.public_checks_json()
            continue
        source = sources.get(name, TEMPLATE / name.removeprefix("assignment1/"))
        assert data == source.read_bytes(), name
    with zipfile.ZipFile(archive) as zf:
        assert {i.date_time for i in zf.infolist()} == {bundle.ZIP_TIME}
        assert {i.external_attr >> 16 for i in zf.infolist()} == {0o644}
    again = bundle.build_bundle(archive.parent / "again")
    assert again.read_bytes() == archive.read_bytes()  # deterministic


def _grader_imports(tree: ast.Module, module: str) -> set[str]:
    """The grader modules a shipped module imports (relative imports resolved; those under
    `if TYPE_CHECKING:`, for annotations only, left out)."""
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", "") == "TYPE_CHECKING"
                   for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "grader"}
            continue
        base = module.split(".")[:len(module.split(".")) - node.level] if node.level else []
        name = ".".join(base + ([node.module] if node.module else []))
        if name.split(".")[0] == "grader":  # the module, and any module imported from it
            found |= {name} | {f"{name}.{a.name}" for a in node.names
                               if (ROOT / f"{name}.{a.name}".replace(".", "/")).with_suffix(
                                   ".py").is_file()}
    return found


def test_shipped_modules_import_only_shipped_modules_of_the_grader(texts):
    """The public probes and judges ship as the grader's package has them (relative
    imports work unchanged); each grader module they import ships too, or is a solution
    module whose results on the public cases come recorded instead, so the self-check
    imports neither pytest nor the sandbox's runner, nor any solution code; the runner
    itself imports no grader module."""
    shipped = {name.removeprefix(f"assignment1/{PACKAGE[:-7]}")[:-3].replace("/", ".")
               .removesuffix(".__init__") for name in texts
               if name.startswith(f"assignment1/{PACKAGE}") and name.endswith(".py")}
    assert {"grader.core.engine.judge", "grader.parts.part4_convnet.layers"} <= shipped
    recorded_math = set(json.loads(texts[GENERATED])["recorded"])  # stand-ins: results only
    assert recorded_math == {"grader.parts.part1_numpy.netmath", "grader.parts.part4_cnn.cnnmath"}
    assert not recorded_math & shipped
    shipped |= recorded_math
    for name, text in texts.items():
        if not name.endswith(".py") or "selfcheck_files/" not in name and \
                name != "assignment1/selfcheck.py":
            continue
        module = name.removeprefix(f"assignment1/{PACKAGE[:-7]}")[:-3].replace("/", ".")
        imported = _grader_imports(ast.parse(text), module.removesuffix(".__init__") + (
            ".__init__" if module.endswith("__init__") else ""))
        if not name.startswith(f"assignment1/{PACKAGE}"):
            assert not imported, (name, imported)
            continue
        assert imported <= shipped, (name, imported - shipped)


def test_public_checks_are_the_rubrics(texts):
    """Every check the self-check runs is a public one, with the rubric's name, question,
    files and values; every other check of a part is named as not checked here."""
    data = json.loads(texts[GENERATED])
    assert data["rubric_version"] == RUBRIC.version
    run_here = {cid for part in data["parts"].values() for cid in part["checks"]}
    assert run_here == set(data["checks"])
    for cid, check in data["checks"].items():
        graded = RUBRIC.check(cid)
        question = RUBRIC.question(graded.question)
        assert graded.visibility == "visible" and check["name"] == graded.name, cid
        assert check["files"] == list(question.files) and str(question.part) in data["parts"]
        assert check["values"] == json.loads(json.dumps(dict(graded.params),
                                                        default=public_checks._jsonable)), cid
        assert cid in data["parts"][str(question.part)]["checks"]
    for graded in RUBRIC.checks:
        part = data["parts"].get(str(RUBRIC.question(graded.question).part))
        if part and graded.id not in run_here:
            assert f"{graded.id} ({graded.name})" in part["not_here"], graded.id


def test_generated_expected_values_are_the_graders(texts):
    data = json.loads(texts[GENERATED])["data"]
    toy = cases.toy_case(reg=RUBRIC.check("1b.1").value("reg"))
    part1 = data["part1_numpy"]
    recorded_math = json.loads(texts[GENERATED])["recorded"]["grader.parts.part1_numpy.netmath"]
    toy_probs = recorded.decode(recorded_math[recorded.digest(
        "probabilities", (cases.toy_case().params, cases.toy_case().X))])
    assert np.allclose(toy_probs, cases.TOY_PROBS, rtol=0, atol=1e-8)
    assert part1["loss"] == pytest.approx(cases.TOY_LOSS, abs=1e-10)
    assert part1["loss"] == netmath.loss(toy.params, toy.X, toy.y, toy.reg)
    at_2d = cases.toy_case(reg=RUBRIC.check("2d.1").value("reg"))
    for name, grad in netmath.loss_and_grads(at_2d.params, at_2d.X, at_2d.y, at_2d.reg)[1].items():
        numerical = recorded.decode(recorded_math[recorded.digest("numerical_gradient", (
            lambda: None, at_2d.params[name], RUBRIC.check("2d.1").value("step")))])
        assert netmath.rel_error(numerical, grad) < 1e-8, name


def test_recorded_results_are_the_graders_math(texts):
    """Each call a part's public judges make of its solution module (selfcheck_data's
    recorded()) has the math's own result in the archive, and the stand-in the self-check
    imports instead gives it back for the same arguments, and nothing for others."""
    data = json.loads(texts[GENERATED])["recorded"]
    for part in ("part1_numpy", "part4_cnn"):
        calls = importlib.import_module(f"grader.parts.{part}.selfcheck_data").recorded(RUBRIC)
        for name, listed in calls.items():
            module = importlib.import_module(f"grader.parts.{part}.{name}")
            stand_in = recorded.stand_in(module.__name__, data[module.__name__])
            assert len(data[module.__name__]) == len({recorded.digest(f, a) for f, a in listed})
            for function, args in listed:
                if args is None:  # a constant
                    want, got = getattr(module, function), getattr(stand_in, function)
                else:
                    want = getattr(module, function)(*args)
                    got = getattr(stand_in, function)(*args)
                assert type(got) is type(want), (function, got)
                assert json.dumps(recorded.encode(got)) == json.dumps(recorded.encode(want))
            function = next(f for f, args in listed if args is not None)
            with pytest.raises(recorded.NotRecorded):
                getattr(stand_in, function)(np.zeros(3))


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
    assert str(RUBRIC.seed) not in texts["assignment1/selfcheck_files/public_checks.json"]


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


