"""grader/parts/part1_numpy/hyperparams.py: BEST_HYPERPARAMS is read without running it, and
checked (grader/core/submission/settings.py reads it from hyperparams.SPEC)."""
import shutil
from pathlib import Path

import pytest

from grader.parts.part1_numpy import hyperparams
from grader.core.rubric import spec as rubric

CHECK = rubric.load().check("3b.1")
REFERENCE = Path(__file__).resolve().parents[3] / "reference" / "hyperparams.py"
GOOD = {"hidden_size": 100, "num_iters": 1000, "batch_size": 200, "learning_rate": 1e-3,
        "learning_rate_decay": 0.95, "reg": 0.25}
INTS = [s.name for s in hyperparams.SPEC.settings if s.kind == "whole"]
FLOATS = [s.name for s in hyperparams.SPEC.settings if s.kind == "number" and s.name != "std"]


def _submit(tmp_path, text):
    (tmp_path / "hyperparams.py").write_text(text)
    return tmp_path


def _with(**changes):
    values = {**GOOD, **changes}
    body = ", ".join(f"{k!r}: {v}" for k, v in values.items() if v is not None)
    return f"BEST_HYPERPARAMS = {{{body}}}\n"


def test_reference_is_accepted(tmp_path):
    shutil.copy(REFERENCE, tmp_path / "hyperparams.py")
    hp, problem = hyperparams.read(tmp_path, CHECK)
    assert problem == ""
    assert hp == {"hidden_size": 150, "num_iters": 3000, "batch_size": 200,
                  "learning_rate": 1e-3, "learning_rate_decay": 0.95, "reg": 0.25}
    assert INTS == ["hidden_size", "num_iters", "batch_size"] and len(FLOATS) == 3
    assert all(type(hp[k]) is int for k in INTS)
    assert all(type(hp[k]) is float for k in FLOATS)


def test_whole_floats_and_std_are_accepted(tmp_path):
    hp, problem = hyperparams.read(_submit(tmp_path, _with(hidden_size="100.0", std="1e-4")),
                                   CHECK)
    assert problem == "" and hp["hidden_size"] == 100 and hp["std"] == 1e-4


def test_names_and_arithmetic_are_read_as_in_every_part(tmp_path):
    """Drift fixed: Part 1 took literals only, the other parts plain values."""
    hp, problem = hyperparams.read(_submit(tmp_path, "REG = 0.1\n" + _with(reg="REG * 2")), CHECK)
    assert problem == "" and hp["reg"] == 0.2


def test_the_file_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    text = f"open({str(marker)!r}, 'w').close()\n" + _with()
    hp, problem = hyperparams.read(_submit(tmp_path, text), CHECK)
    assert problem == "" and hp is not None
    assert not marker.exists()


def test_last_assignment_wins(tmp_path):
    hp, _ = hyperparams.read(_submit(tmp_path, _with(reg=0.1) + _with(reg=0.5)), CHECK)
    assert hp["reg"] == 0.5
    hp, _ = hyperparams.read(_submit(tmp_path, _with(reg=0.1) + "BEST_HYPERPARAMS['reg'] = 0.3\n"),
                             CHECK)
    assert hp["reg"] == 0.3


def test_a_repeated_setting_is_named_in_3b1(tmp_path):
    """A setting assigned again below the dict is noted, and 3b.1's message says so (which
    assignment the grader used, and where the other one is)."""
    from grader.core.engine.context import Feedback
    from grader.core.engine.training import Trained
    from grader.core.sandbox.runner import Failure, ProbeRun
    from grader.parts.part1_numpy import training
    text = _with(reg=0.1) + "BEST_HYPERPARAMS['reg'] = 0.3  # a quick test\n"
    hp, _ = hyperparams.read(_submit(tmp_path, text), CHECK)
    note, = hp.notes
    assert "is assigned 2 times in hyperparams.py" in note and "0.3" in note, note
    crashed = ProbeRun({}, Failure("todo", "not implemented yet (NotImplementedError)"))
    verdict = training.judge_learned(Trained(rubric.load(), hp, run=crashed), CHECK, Feedback())
    assert verdict.fraction == 0 and ("Note: " + note) in verdict.message
    assert hp == {**GOOD, "reg": 0.3}  # still the plain values results.json records


def test_missing_file(tmp_path):
    hp, problem = hyperparams.read(tmp_path, CHECK)
    assert hp is None and "hyperparams.py (or hyperparams.ipynb) not found" in problem


@pytest.mark.parametrize("text, words", [
    ("BEST_HYPERPARAMS = {\n  'reg': 0.1,,\n}\n", ["does not parse", "line 2"]),
    ("OTHER = {}\n", ["declares no top-level BEST_HYPERPARAMS = {...}"]),
    ("BEST_HYPERPARAMS = [1, 2]\n", ["should be a dict", "list"]),
    ("BEST_HYPERPARAMS = dict(hidden_size=100)\n", ["line 1", "literal dict"]),
    (_with(reg="float('0.1')"), ["line 1: the grader cannot read BEST_HYPERPARAMS['reg'] "
                                 "without running your code"]),
    (_with(reg=None), ["missing reg"]),
    (_with(momentum="0.9"), ["unknown momentum"]),
    (_with(hidden_size="-5"), ["'hidden_size'", "positive whole number", "-5"]),
    (_with(hidden_size="0"), ["'hidden_size'", "positive whole number"]),
    (_with(hidden_size="100.5"), ["'hidden_size'", "positive whole number", "100.5"]),
    (_with(hidden_size="'100'"), ["'hidden_size'", "positive whole number"]),
    (_with(hidden_size="True"), ["'hidden_size'", "positive whole number"]),
    (_with(reg="'0.1'"), ["BEST_HYPERPARAMS['reg'] should be a number >= 0, got '0.1'"]),
    (_with(learning_rate_decay="1.5"), ["learning_rate_decay", "(0, 1]", "1.5"]),
    (_with(learning_rate_decay="0"), ["learning_rate_decay", "(0, 1]"]),
    (_with(learning_rate="0"), ["BEST_HYPERPARAMS['learning_rate'] should be a number in (0, 10)"]),
    (_with(reg="-0.1"), ["BEST_HYPERPARAMS['reg'] should be a number >= 0, got -0.1"]),
    (_with(std="0"), ["BEST_HYPERPARAMS['std'] should be a number > 0, got 0"]),
    # literals that once crashed the grader instead of explaining the problem; values that
    # are not finite cannot be read as plain data
    (_with(hidden_size="1e400"), ["cannot read BEST_HYPERPARAMS['hidden_size']"]),
    (_with(reg="1e400"), ["cannot read BEST_HYPERPARAMS['reg']"]),
    (_with(reg="1" + "0" * 400), ["cannot read BEST_HYPERPARAMS['reg']"]),
    ("BEST_HYPERPARAMS = {[1]: 2}\n", ["literal dict"]),
])
def test_bad_declarations_are_explained(tmp_path, text, words):
    hp, problem = hyperparams.read(_submit(tmp_path, text), CHECK)
    assert hp is None
    for word in words:
        assert word in problem, (word, problem)


@pytest.mark.parametrize("key, limit", [("hidden_size", "max_hidden_size"),
                                        ("num_iters", "max_num_iters"),
                                        ("batch_size", "max_batch_size")])
def test_values_above_the_rubric_limits(tmp_path, key, limit):
    top = CHECK.value(limit)
    hp, problem = hyperparams.read(_submit(tmp_path, _with(**{key: str(top)})), CHECK)
    assert problem == "" and hp[key] == top
    hp, problem = hyperparams.read(_submit(tmp_path, _with(**{key: str(top + 1)})), CHECK)
    assert hp is None
    assert f"'{key}'" in problem and f"limit of {top}" in problem
