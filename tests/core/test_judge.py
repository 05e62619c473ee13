"""grader/judge.py: values are shaped and compared with messages in the student's terms."""
import numpy as np
import pytest

from grader.core.engine import judge


def test_shaped_accepts_the_right_shape():
    arr, problem = judge.shaped([[1, 2], [3, 4]], (2, 2), "W")
    assert problem == "" and arr.dtype == np.float64 and arr.shape == (2, 2)


@pytest.mark.parametrize("shape", [(1, 5), (5, 1), (1, 1, 5)])
def test_shaped_accepts_extra_unit_axes(shape):
    value = np.arange(5.0).reshape(shape)
    arr, problem = judge.shaped(value, (5,), "b1")
    assert problem == ""
    np.testing.assert_array_equal(arr, np.arange(5.0))


@pytest.mark.parametrize("value, expected", [
    (np.zeros((5, 3)), (3, 5)),
    (np.zeros(6), (2, 3)),
    (np.zeros((2, 5)), (5,)),
    (np.zeros(4), (5,)),
])
def test_shaped_rejects_wrong_shapes(value, expected):
    arr, problem = judge.shaped(value, expected, "probs")
    assert arr is None
    assert problem == f"probs: expected shape {expected}, got {value.shape}"


@pytest.mark.parametrize("bad, count", [(np.nan, "1 entry is"), (np.inf, "1 entry is"),
                                        (-np.inf, "1 entry is")])
def test_shaped_rejects_nan_and_inf(bad, count):
    value = np.ones((2, 3))
    value[1, 2] = bad
    arr, problem = judge.shaped(value, (2, 3), "probs")
    assert arr is None
    assert f"probs: {count} NaN or inf" in problem
    assert judge.NAN_HINT in problem
    value[0, 0] = np.nan
    _, problem = judge.shaped(value, (2, 3), "probs", nan_hint="exploding gradients?")
    assert "2 entries are NaN or inf (exploding gradients?)" in problem


@pytest.mark.parametrize("value", [np.array([object(), 1], dtype=object),
                                   np.array(["a", "b"]), np.array([1 + 2j, 3j])])
def test_shaped_rejects_non_numbers(value):
    arr, problem = judge.shaped(value, (2,), "y")
    assert arr is None and problem.startswith("y: expected numbers, got an array of dtype")


def test_shaped_rejects_nothing():
    assert judge.shaped(None, (2,), "loss") == (None, "loss: nothing was returned")


def test_shaped_accepts_ints_and_bools():
    arr, problem = judge.shaped(np.array([1, 0], dtype=np.int32), (2,), "pred")
    assert problem == "" and arr.dtype == np.float64


def test_compare_within_tolerance():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert judge.compare(expected * (1 + 1e-9), expected, 1e-8, 0.0, "W1") == ""
    assert judge.compare(expected + 5e-9, expected, 0.0, 1e-8, "W1") == ""


def test_compare_reports_index_and_values():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    got = expected.copy()
    got[1, 0] = 3.5
    got[0, 1] = 2.001
    message = judge.compare(got, expected, 1e-6, 1e-8, "probs")
    assert message.startswith("probs: expected 3, got 3.5 at (1, 0)")
    assert "max abs difference 0.5" in message
    assert "2 of 4 entries off" in message


def test_compare_scalars():
    message = judge.compare(np.float64(1.5), np.float64(1.25), 1e-9, 1e-10, "loss")
    assert message.startswith("loss: expected 1.25, got 1.5 ")
    assert "1 of 1 entries off" in message
    assert judge.compare(np.float64(1.25), np.float64(1.25), 1e-9, 1e-10, "loss") == ""


def test_verdicts_and_fractions():
    assert judge.Verdict(1.0, "").passed and not judge.Verdict(0.75, "x").passed
    assert judge.fraction_of([], 4) == 1.0
    assert judge.fraction_of(["W1"], 4) == 0.75
    assert judge.fraction_of(["a", "b", "c"], 2) == 0.0
    assert judge.fraction_of([], 0) == 1.0
    assert judge.accuracy_line("validation accuracy", 0.512, 0.48) == \
        "validation accuracy 51.2% (needs > 48.0%)"
    assert judge.accuracy_line("train accuracy", 0.5) == "train accuracy 50.0%"


def test_changed_entries_compares_the_weights_left_with_those_built():
    built = {"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)}
    assert judge.changed_entries(dict(built), built) == (0, 2)
    assert judge.changed_entries({**built, "fc.bias": np.full(2, 1e-9)}, built) == (1, 2)
    # missing, reshaped or extra entries: missing and reshaped count as changed
    assert judge.changed_entries({"fc.weight": np.ones((3, 2)), "other": 1}, built) == (2, 2)
    values = {"state/fc.bias": 1, "initial/fc.bias": 2, "steps": 3}
    assert judge.prefixed(values, "state/") == {"fc.bias": 1}
