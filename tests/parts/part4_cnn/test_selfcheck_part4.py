"""The students' Part 4 self-check (selfcheck_part4.py, shipped in their archive): the
reference passes 6a.1, 6b.1, 6d.1, 7b.1 and 7b.2, the template fails all five, every
structure and theory mutant of seed 003 and every 7b mutant of the ConvNet fails the public
check of its question, and the correct variants pass."""
import importlib.util

import pytest

import mutants_part4_cnn as cnn
import mutants_part4_convnet as convnet

ROOT = cnn.ROOT
SELFCHECK = ROOT / "grader" / "parts" / "part4_cnn" / "selfcheck_part4.py"
TEMPLATE = ROOT / "student_template"
PUBLIC = ("6a.1", "6b.1", "6d.1", "7b.1", "7b.2")
CNN_MUTANTS = [m for m in cnn.MUTANTS if set(m.loses) & set(PUBLIC)]
CONVNET_MUTANTS = [m for m in convnet.MUTANTS if set(m.loses) & set(PUBLIC)]
CONVNET_VARIANTS = [v for v in convnet.VARIANTS if not v.notebook and "trains" not in v.name] + [
    convnet.Mutant("tensor_relu", ((convnet.FORWARD, convnet.FORWARD.replace(
        "self.relu1(self.conv(x))", "self.conv(x).relu()")),), (), "x.relu(), a Tensor method")]


@pytest.fixture(scope="module")
def selfcheck():
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("selfcheck_part4", SELFCHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outcomes(selfcheck, folder) -> dict:
    return {cid: (passed, message) for cid, passed, message in selfcheck.run_all(folder)}


def test_reference_passes_and_template_fails(selfcheck, capsys):
    assert all(p for p, _ in outcomes(selfcheck, cnn.REFERENCE).values())
    template = outcomes(selfcheck, TEMPLATE)
    assert list(template) == list(PUBLIC)
    assert not any(p for p, _ in template.values())
    assert all("Not implemented yet" in m for _, m in template.values()), template
    assert selfcheck.main([str(cnn.REFERENCE)]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 public checks passed" in out and "Gradescope only" in out
    assert selfcheck.main([str(TEMPLATE)]) == 1


@pytest.mark.parametrize("mutant", CNN_MUTANTS + CONVNET_MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_its_public_check(selfcheck, mutant, tmp_path):
    found = outcomes(selfcheck, mutant.write(tmp_path))
    public = [c for c in mutant.loses if c in PUBLIC]
    for cid in public:
        assert not found[cid][0], (mutant.name, found[cid][1])
    # the other public checks of the files it leaves intact still pass
    kept = {"theory.py": ("6a.1", "6d.1"), "build_net.py": ("6b.1",),
            "convnet_mnist.py": ("7b.1", "7b.2")}[mutant.file]
    for cid in set(kept) - set(public):
        assert found[cid][0], (mutant.name, found[cid][1])


def test_mutant_hints(selfcheck, tmp_path):
    by_name = {m.name: m for m in CNN_MUTANTS}
    found = outcomes(selfcheck, by_name["bias_gradients_without_the_2"].write(tmp_path / "a"))
    assert "factor of 2" in found["6d.1"][1]
    found = outcomes(selfcheck, by_name["formula_without_floor"].write(tmp_path / "b"))
    assert "round the division down" in found["6a.1"][1]
    found = outcomes(selfcheck, by_name["relu_on_output"].write(tmp_path / "c"))
    assert "ReLU after the output block" in found["6b.1"][1]
    found = outcomes(selfcheck, by_name["average_pooling"].write(tmp_path / "d"))
    assert "average pooling" in found["6b.1"][1]


def test_variants_pass(selfcheck, tmp_path):
    found = outcomes(selfcheck, cnn.write_variant(tmp_path / "cnn", cnn.VARIANT_BUILD_NET))
    assert found["6b.1"][0], found["6b.1"][1]
    for variant in CONVNET_VARIANTS:
        found = outcomes(selfcheck, variant.write(tmp_path / variant.name))
        assert found["7b.1"][0] and found["7b.2"][0], (variant.name, found)


def test_code_run_at_import_is_named(selfcheck, tmp_path, monkeypatch):
    monkeypatch.setattr(selfcheck, "TIME_LIMIT_S", 1)
    folder = cnn.write_variant(tmp_path, cnn.PUBLIC_STYLE_BUILD_NET)  # loads a .mat at import
    theory = folder / "theory.py"
    theory.write_text(theory.read_text() + "\nwhile True:\n    pass\n")
    found = outcomes(selfcheck, folder)
    for cid in ("6a.1", "6b.1", "6d.1"):
        assert not found[cid][0] and "__main__" in found[cid][1], found[cid]
