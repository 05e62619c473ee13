"""Part 2's public self-check (selfcheck_files/part2_mlp.py, run by the archive's
selfcheck.py) against the grader: the reference passes 4a.1 and 4b.1 and the template fails
both, as in the grader; every mutant (GRADER_ONLY's too) fails the public check it loses in
the grader, every correct variant passes both, and a notebook alone is read. 4a.1 is also
compared side by side with the grader's public run (slow for the mutants); 4b.1's grader
verdicts come from its training run, which the quick public grading leaves out: the
catalogue's `loses` (held to the grader by test_part2_mutants.py) stands for them."""
from __future__ import annotations

import nbformat
import pytest

from mutants_part2 import GRADER_ONLY, MUTANTS, REFERENCE, VARIANTS
from selfcheck_runs import disagreements, selfcheck

pytest.importorskip("torch")
TEMPLATE = REFERENCE.parent.parent / "student_template"


def test_reference_passes_and_template_fails():
    assert all(p for p, _ in selfcheck(REFERENCE.parent, "2").values())
    template = selfcheck(TEMPLATE, "2")
    assert list(template) == ["4a.1", "4b.1"]
    assert not any(p for p, _ in template.values())
    assert all("not implemented yet" in m.lower() for _, m in template.values()), template


@pytest.mark.slow
def test_template_agrees_with_the_grader():
    assert disagreements(TEMPLATE, "2") == {}


@pytest.mark.parametrize("mutant", MUTANTS + GRADER_ONLY, ids=lambda m: m.name)
def test_mutant_fails_the_public_check_the_grader_fails(mutant, tmp_path):
    found = selfcheck(mutant.write(tmp_path), "2")
    for cid in mutant.loses:
        if cid in found:
            assert not found[cid][0], (mutant.name, found[cid][1])
    if mutant in MUTANTS and "4a.1" not in mutant.loses:  # a loop bug leaves 4a.1 alone
        assert found["4a.1"][0], (mutant.name, found["4a.1"][1])


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda m: m.name)
def test_variant_passes(variant, tmp_path):
    found = selfcheck(variant.write(tmp_path), "2")
    assert all(p for p, _ in found.values()), found


def test_a_notebook_alone_is_read_as_the_grader_reads_it(tmp_path):
    """ex2_pytorch.ipynb without ex2_pytorch.py: its definitions are checked, its
    top-level training (here: an endless loop) is not run, as in the grader."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(REFERENCE.read_text()),
                      nbformat.v4.new_code_cell("while True:\n    pass\n")]
    nbformat.write(notebook, tmp_path / "ex2_pytorch.ipynb")
    found = selfcheck(tmp_path, "2")
    assert all(p for p, _ in found.values()), found


STRUCTURE = [m for m in MUTANTS if "4a.1" in m.loses] + list(VARIANTS)


@pytest.mark.slow
@pytest.mark.parametrize("submission", STRUCTURE, ids=lambda m: m.name)
def test_selfcheck_and_grader_agree(submission, tmp_path):
    assert disagreements(submission.write(tmp_path), "2") == {}
