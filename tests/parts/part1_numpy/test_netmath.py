"""grader/netmath.py reproduces the handout's published values and its own gradients."""
import numpy as np
import pytest

from grader.parts.part1_numpy import cases, netmath


@pytest.fixture
def toy():
    return cases.toy_case(reg=0.05)


def test_toy_probabilities_match_the_handout(toy):
    probs = netmath.probabilities(toy.params, toy.X)
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs, cases.TOY_PROBS, rtol=0, atol=1e-7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)


def test_toy_loss_matches_the_handout(toy):
    assert abs(netmath.loss(toy.params, toy.X, toy.y, 0.05) - cases.TOY_LOSS) < 1e-10
    assert cases.TOY_LOSS == 1.30378789133
    # the regularisation is reg * (||W1||^2 + ||W2||^2): without it the loss is lower
    no_reg = netmath.loss(toy.params, toy.X, toy.y, 0.0)
    reg = 0.05 * (np.sum(toy.params["W1"] ** 2) + np.sum(toy.params["W2"] ** 2))
    assert no_reg + reg == pytest.approx(cases.TOY_LOSS, abs=1e-10)


def test_loss_is_mean_cross_entropy(toy):
    probs = netmath.probabilities(toy.params, toy.X)
    expected = -np.mean(np.log(probs[np.arange(5), toy.y]))
    assert netmath.loss(toy.params, toy.X, toy.y, 0.0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("case", [cases.toy_case(0.05), cases.hidden_case(1, "t.1", 0),
                                  cases.hidden_case(1, "t.1", 2)],
                         ids=["toy", "hidden0", "hidden2"])
@pytest.mark.parametrize("name", netmath.PARAM_NAMES)
def test_analytic_gradients_match_numerical(case, name):
    params = {k: v.copy() for k, v in case.params.items()}
    _, grads = netmath.loss_and_grads(params, case.X, case.y, case.reg)
    assert grads[name].shape == params[name].shape
    numeric = netmath.numerical_gradient(
        lambda: netmath.loss(params, case.X, case.y, case.reg), params[name], 1e-5)
    assert netmath.rel_error(grads[name], numeric) < 1e-8
    np.testing.assert_array_equal(params[name], case.params[name])  # restored in place


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = netmath.numerical_gradient(lambda: float(np.sum(x ** 3)), x, 1e-5)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)


def test_rel_error_is_the_handout_formula():
    x = np.array([1.0, 2.0, 0.0, 1e-12])
    y = np.array([1.5, 2.0, 0.0, -1e-12])
    expected = max(0.5 / 2.5, 0.0, 0.0, 2e-12 / 1e-8)
    assert netmath.rel_error(x, y) == pytest.approx(expected, rel=1e-12)
    assert netmath.rel_error(x, x) == 0.0
    assert netmath.rel_error(np.array([1.0]), np.array([-1.0])) == 1.0


@pytest.mark.parametrize("chunk", [1, 7, 2000])
def test_predict_is_argmax_in_any_chunks(chunk):
    rng = np.random.RandomState(4)
    params = cases.random_network(rng, 6, 9, 5)
    X = (10 * rng.randn(53, 6)).astype(np.float32)
    expected = np.argmax(netmath.probabilities(params, X.astype(np.float64)), axis=1)
    pred = netmath.predict(params, X, chunk=chunk)
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, expected)
    y = expected.copy()
    y[:10] = (y[:10] + 1) % 5
    assert netmath.accuracy(params, X, y) == pytest.approx(43 / 53)
