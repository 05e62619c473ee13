"""grader/cases.py: hidden cases are derived from the seed and check id, reproducibly."""
import numpy as np

from grader.parts.part1_numpy import cases

BASE = 20260531


def _same(a, b):
    assert a.name == b.name and a.reg == b.reg and a.seed == b.seed
    assert set(a.params) == set(b.params) == {"W1", "b1", "W2", "b2"}
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)


def test_same_seed_gives_identical_cases():
    for first, second in zip(cases.hidden_cases(BASE, "1a.2", 5),
                             cases.hidden_cases(BASE, "1a.2", 5)):
        _same(first, second)


def test_seed_is_derived_and_recorded():
    case = cases.hidden_case(BASE, "1b.2", 3)
    assert case.seed == cases.case_seed(BASE, "1b.2", 3)
    assert 0 <= case.seed < 2 ** 32
    assert len({cases.case_seed(BASE, "1b.2", i) for i in range(20)}) == 20
    assert cases.case_seed(BASE, "1b.2", 0) != cases.case_seed(BASE + 1, "1b.2", 0)


def test_check_ids_give_different_cases():
    a, b = cases.hidden_case(BASE, "1a.2", 0), cases.hidden_case(BASE, "1b.2", 0)
    assert a.seed != b.seed
    assert a.X.shape != b.X.shape or not np.array_equal(a.X, b.X)
    assert a.params["W1"].shape != b.params["W1"].shape or not np.array_equal(
        a.params["W1"], b.params["W1"])


def test_regularisation_strengths_cycle():
    n = len(cases.HIDDEN_REGS)
    regs = [c.reg for c in cases.hidden_cases(BASE, "2d.2", 2 * n)]
    assert regs == list(cases.HIDDEN_REGS) * 2
    assert regs[0] != 0.05  # the first hidden case never reuses the toy's reg


def test_hidden_cases_are_consistent_networks():
    for i, case in enumerate(cases.hidden_cases(BASE, "1a.2", 8)):
        N, D = case.X.shape
        H = case.params["W1"].shape[1]
        C = case.params["W2"].shape[1]
        assert case.name == f"hidden{i}"
        assert case.params["W1"].shape == (D, H) and case.params["b1"].shape == (H,)
        assert case.params["W2"].shape == (H, C) and case.params["b2"].shape == (C,)
        assert case.y.shape == (N,) and case.y.min() >= 0 and case.y.max() < C
        assert np.any(case.params["b1"] != 0)  # non-zero biases, unlike the toy


def test_arrays_are_keyed_by_case():
    case = cases.toy_case(0.05)
    arrays = case.arrays()
    assert set(arrays) == {f"toy/{k}" for k in ("W1", "b1", "W2", "b2", "X", "y", "reg")}
    assert arrays["toy/reg"].shape == () and float(arrays["toy/reg"]) == 0.05
    np.testing.assert_array_equal(arrays["toy/X"], case.X)
