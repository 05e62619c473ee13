"""Part 4's public self-check (selfcheck_files/part4_cnn.py and part4_convnet.py, run by the
archive's selfcheck.py) against the grader: the reference passes 6a.1, 6b.1, 6d.1, 7b.1
and 7b.2 and the template fails them, as in the grader; every structure and theory mutant
of seed 003 and every 7b mutant of the ConvNet fails the public check it loses in the
grader and passes the others of its files; the correct variants pass, notebooks included;
top-level code is not run, as in the grader. Slow: side by side with the grader's public
checks on every mutant and variant."""
from __future__ import annotations

import pytest

import mutants_part4_cnn as cnn
import mutants_part4_convnet as convnet
from selfcheck_runs import disagreements, selfcheck

pytest.importorskip("torch")
TEMPLATE = cnn.ROOT / "student_template"
PUBLIC = ("6a.1", "6b.1", "6d.1", "7b.1", "7b.2")
CNN_MUTANTS = [m for m in cnn.MUTANTS if set(m.loses) & set(PUBLIC)]
CONVNET_MUTANTS = [m for m in convnet.MUTANTS if set(m.loses) & set(PUBLIC)]
CONVNET_VARIANTS = [v for v in convnet.VARIANTS if "trains" not in v.name] + [
    convnet.Mutant("tensor_relu", ((convnet.FORWARD, convnet.FORWARD.replace(
        "self.relu1(self.conv(x))", "self.conv(x).relu()")),), (), "x.relu(), a Tensor method")]


def outcomes(folder) -> dict:
    return {c: v for c, v in selfcheck(folder, "4").items() if c in PUBLIC}


def test_reference_passes_and_template_fails():
    assert all(p for p, _ in selfcheck(cnn.REFERENCE, "4").values())
    template = outcomes(TEMPLATE)
    assert list(template) == list(PUBLIC)
    assert not any(p for p, _ in template.values())
    assert all("not implemented yet" in m.lower() for _, m in template.values()), template


@pytest.mark.slow
def test_template_agrees_with_the_grader():
    assert disagreements(TEMPLATE, "4") == {}


@pytest.mark.parametrize("mutant", CNN_MUTANTS + CONVNET_MUTANTS, ids=lambda m: m.name)
def test_mutant_fails_its_public_check(mutant, tmp_path):
    found = outcomes(mutant.write(tmp_path))
    public = [c for c in mutant.loses if c in PUBLIC]
    for cid in public:
        assert not found[cid][0], (mutant.name, found[cid][1])
    kept = {"theory.py": ("6a.1", "6d.1"), "build_net.py": ("6b.1",),
            "convnet_mnist.py": ("7b.1", "7b.2")}[mutant.file]
    for cid in set(kept) - set(public):  # the other public checks of its files still pass
        assert found[cid][0], (mutant.name, found[cid][1])


def test_mutant_hints(tmp_path):
    by_name = {m.name: m for m in CNN_MUTANTS}
    found = outcomes(by_name["bias_gradients_without_the_2"].write(tmp_path / "a"))
    assert "factor of 2" in found["6d.1"][1]
    found = outcomes(by_name["formula_without_floor"].write(tmp_path / "b"))
    assert "round the division down" in found["6a.1"][1]
    found = outcomes(by_name["relu_on_output"].write(tmp_path / "c"))
    assert "ReLU after the output block" in found["6b.1"][1]
    found = outcomes(by_name["average_pooling"].write(tmp_path / "d"))
    assert "average pooling" in found["6b.1"][1]


def test_variants_pass(tmp_path):
    found = outcomes(cnn.write_variant(tmp_path / "cnn", cnn.VARIANT_BUILD_NET))
    assert found["6b.1"][0], found["6b.1"][1]
    for variant in CONVNET_VARIANTS:  # convnet_mnist.ipynb alone among them
        found = outcomes(variant.write(tmp_path / variant.name))
        assert found["7b.1"][0] and found["7b.2"][0], (variant.name, found)


def test_top_level_code_is_not_run_as_in_the_grader(tmp_path):
    folder = cnn.write_variant(tmp_path, cnn.PUBLIC_STYLE_BUILD_NET)  # loads a .mat at import
    theory = folder / "theory.py"
    theory.write_text(theory.read_text() + "\nwhile True:\n    pass\n")
    found = outcomes(folder)
    for cid in ("6a.1", "6b.1", "6d.1"):
        assert found[cid][0], found[cid]


SIDE_BY_SIDE = CNN_MUTANTS + CONVNET_MUTANTS + CONVNET_VARIANTS


@pytest.mark.slow
@pytest.mark.parametrize("submission", SIDE_BY_SIDE, ids=lambda m: m.name)
def test_selfcheck_and_grader_agree(submission, tmp_path):
    assert disagreements(submission.write(tmp_path), "4") == {}
