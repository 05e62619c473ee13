"""Part 1's public self-check (the part's selfcheck.py as the archive ships it, run by the
archive's selfcheck.py) against the grader: the reference passes every check and the template fails
every one kindly, as in the grader; each mutant of the catalogue fails the public checks it
loses in the grader and passes those of the questions it keeps; a broken submission, a
hang or an exit costs the checks it touches only. Marked slow: the self-check and the
grader's public checks side by side on every mutant, variant and broken submission."""
from __future__ import annotations

import shutil

import pytest

from mutants import BROKEN, MUTANTS, REFERENCE, VARIANTS
from selfcheck_runs import disagreements, extracted, judged_by_the_grader, runner, selfcheck

PUBLIC = ["1a.1", "1b.1", "1c.2", "2d.1", "3a.1", "3a.2"]
TEMPLATE = REFERENCE.parent / "student_template"


def test_reference_passes_and_template_fails_kindly():
    assert {c: p for c, (p, _) in selfcheck(REFERENCE, "1").items()} == dict.fromkeys(PUBLIC, True)
    found = selfcheck(TEMPLATE, "1")
    assert list(found) == PUBLIC
    for cid, (passed, message) in found.items():
        assert not passed
        if judged_by_the_grader(cid):  # the grader's message (test_..._agree: the same)
            assert "not implemented yet (NotImplementedError) [two_layernet.py:" in message
            assert "Hint: this part of the template is still a stub" in message
        else:
            assert message.startswith("Not implemented yet (question "), message
            assert "TODO block" in message
    assert not list(extracted().rglob("__pycache__"))  # nothing written beside the files


@pytest.mark.slow
def test_reference_and_template_agree_with_the_grader():
    assert disagreements(REFERENCE, "1") == {}
    assert disagreements(TEMPLATE, "1") == {}


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_fails_what_the_grader_fails(mutant, tmp_path):
    found = selfcheck(mutant.write(tmp_path / "sub"), "1")
    for cid, (passed, message) in found.items():
        if cid in mutant.loses:
            assert not passed, f"{cid} missed {mutant.bug}: {message}"
        elif cid.split(".")[0] in mutant.keeps:
            assert passed, f"{cid} should pass ({mutant.bug}): {message}"


def test_gradients_not_averaged_are_named(tmp_path):
    mutant = next(m for m in MUTANTS if m.name == "not_averaged")  # dz3 /= N -> dz3 /= 1
    found = selfcheck(mutant.write(tmp_path / "sub"), "1")
    assert not found["2d.1"][0]
    assert "5x too large: average over the batch" in found["2d.1"][1]


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_broken_submission_fails_every_check_with_its_cause(broken, tmp_path):
    found = selfcheck(broken.write(tmp_path / "sub"), "1")
    assert list(found) == PUBLIC
    for cid, (passed, message) in found.items():
        # a file that does not parse: 1c.2 reads it before it runs anything (the grader's)
        assert not passed and (broken.phrase in message or "does not parse" in message), \
            (cid, message)


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


def test_one_check_hanging_or_exiting_does_not_stop_the_others(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(REFERENCE / "two_layernet.py", sub / "reference_net.py")
    (sub / "two_layernet.py").write_text(HANGS_AND_EXITS)
    monkeypatch.setattr(runner(), "TIME_LIMIT_S", 2)
    found = selfcheck(sub, "1")
    assert {c: p for c, (p, _) in found.items()} == {
        "1a.1": True, "1b.1": False, "1c.2": True, "2d.1": False, "3a.1": False, "3a.2": False}
    messages = "\n".join(m for _, m in found.values())
    for cid in ("1b.1", "2d.1"):  # the grader's words
        assert "called sys.exit(3); graded functions must return" in found[cid][1]
    assert "stopped after 2 s" in messages


SIDE_BY_SIDE = list(MUTANTS) + list(VARIANTS) + list(BROKEN)


@pytest.mark.slow
@pytest.mark.parametrize("submission", SIDE_BY_SIDE, ids=[s.name for s in SIDE_BY_SIDE])
def test_selfcheck_and_grader_agree(submission, tmp_path):
    assert disagreements(submission.write(tmp_path / "sub"), "1") == {}


def test_gradients_with_a_wrong_loss_say_fix_1b_first(tmp_path):
    mutant = next(m for m in MUTANTS if m.name == "summed_loss_and_gradients")
    passed, message = selfcheck(mutant.write(tmp_path / "sub"), "1")["2d.1"]
    assert not passed and "the loss is wrong too (1b)" in message
    assert "Hint: fix 1b first" in message and "too large" not in message
