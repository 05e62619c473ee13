"""The students' Part 2 self-check (selfcheck_part2.py, shipped in their archive): the
reference passes 4a.1 and 4b.1, the template fails both, every Part 2 mutant fails the
public check of its question (4a.1 or 4b.1) and every correct variant passes both."""
import importlib.util

import pytest

from mutants_part2 import MUTANTS, REFERENCE, ROOT, VARIANTS

SELFCHECK = ROOT / "grader" / "parts" / "part2_mlp" / "selfcheck_part2.py"
TEMPLATE = ROOT / "student_template"


@pytest.fixture(scope="module")
def selfcheck():
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("selfcheck_part2", SELFCHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outcomes(selfcheck, folder) -> dict:
    return {cid: (passed, message) for cid, passed, message in selfcheck.run_all(folder)}


def test_reference_passes_and_template_fails(selfcheck, capsys):
    assert all(p for p, _ in outcomes(selfcheck, REFERENCE.parent).values())
    template = outcomes(selfcheck, TEMPLATE)
    assert not any(p for p, _ in template.values())
    assert all("Not implemented yet" in m for _, m in template.values())
    assert selfcheck.main([str(REFERENCE.parent)]) == 0
    assert "2 of 2 public checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_its_public_check(selfcheck, mutant, tmp_path):
    found = outcomes(selfcheck, mutant.write(tmp_path))
    public = [c for c in mutant.loses if c in found]
    assert public, mutant.loses
    for cid in public:
        assert not found[cid][0], (mutant.name, found[cid][1])
    if "4a.1" not in mutant.loses:  # a loop bug leaves the structure check alone
        assert found["4a.1"][0], (mutant.name, found["4a.1"][1])


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda m: m.name)
def test_variant_passes(selfcheck, variant, tmp_path):
    found = outcomes(selfcheck, variant.write(tmp_path))
    assert all(p for p, _ in found.values()), found


def test_training_at_import_is_named(selfcheck, tmp_path, monkeypatch):
    monkeypatch.setattr(selfcheck, "TIME_LIMIT_S", 1)
    (tmp_path / "ex2_pytorch.py").write_text(REFERENCE.read_text() + "\nwhile True:\n    pass\n")
    found = outcomes(selfcheck, tmp_path)
    assert all("__main__" in m and not p for p, m in found.values())
