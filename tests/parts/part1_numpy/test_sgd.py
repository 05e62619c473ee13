"""grader/sgd.py: the SGD steps train() took are judged from synthetic step logs.

Each log is made by simulating SGD on random parameter and gradient vectors, with one
deliberate deviation from the handout's train() per test.
"""
import numpy as np
import pytest

from grader.parts.part1_numpy import cases, netmath
from grader.parts.part1_numpy.sgd import Settings, StepLog, judge_steps, predictions_match, step_rates

SETTINGS = Settings(num_train=100, batch_size=10, num_iters=50, learning_rate=0.05,
                    learning_rate_decay=0.5)
PARTS = ["update", "learning rate", "decay", "batch size", "sampling"]


def simulate(s=SETTINGS, lr_at=None, batch_size=None, rows=None, momentum=0.0, seed=0):
    """A StepLog of SGD on random vectors; lr_at(t) gives each step's learning rate."""
    rng = np.random.RandomState(seed)
    per_epoch = max(s.num_train // s.batch_size, 1)
    lr_at = lr_at or (lambda t: s.learning_rate * s.learning_rate_decay ** (t // per_epoch))
    batch = batch_size or s.batch_size
    theta = rng.randn(12)
    before, grads, velocity = [], [], np.zeros(12)
    for t in range(s.num_iters):
        g = rng.randn(12)
        before.append(theta.copy())
        grads.append(g)
        velocity = momentum * velocity - lr_at(t) * g
        theta = theta + velocity
    if rows is None:
        rows = np.concatenate([rng.choice(s.num_train, batch) for _ in range(s.num_iters)])
    return StepLog(np.array(before), np.array(grads), theta,
                   np.full(s.num_iters, batch), rows)


def problems(log, s=SETTINGS, pred_ok=None):
    parts = judge_steps(log, s, min_coverage=0.5, lr_rtol=1e-6, pred_ok=pred_ok)
    assert [p for p, _ in parts] == PARTS + (["predict"] if pred_ok is not None else [])
    return {part: problem for part, problem in parts if problem}


def test_correct_sgd_passes_every_part():
    assert problems(simulate()) == {}
    assert problems(simulate(), pred_ok=True) == {}


def test_decay_right_after_each_epoch_check_passes():
    # the handout's loop decays when it % iterations_per_epoch == 0, i.e. also after step 0
    s = SETTINGS
    log = simulate(lr_at=lambda t: s.learning_rate * s.learning_rate_decay ** ((t + 9) // 10))
    assert problems(log) == {}


def test_step_rates_recovers_the_learning_rates():
    rates, residual = step_rates(simulate())
    np.testing.assert_allclose(rates, 0.05 * 0.5 ** (np.arange(50) // 10), rtol=1e-12)
    assert residual < 1e-10


def test_ignored_learning_rate_fails():
    found = problems(simulate(lr_at=lambda t: 1e-3))
    assert set(found) == {"learning rate", "decay"}
    assert "used learning rate 0.001, expected 0.05" in found["learning rate"]
    assert "cannot check the decay" in found["decay"]


def test_missing_decay_fails():
    found = problems(simulate(lr_at=lambda t: SETTINGS.learning_rate))
    assert set(found) == {"decay"}
    assert "once per epoch" in found["decay"]


def test_decay_every_iteration_fails():
    s = Settings(num_train=100, batch_size=10, num_iters=50, learning_rate=0.05,
                 learning_rate_decay=0.9)
    found = problems(simulate(s, lr_at=lambda t: 0.05 * 0.9 ** t), s)
    assert set(found) == {"decay"}
    assert "step 3 (epoch 0.3)" in found["decay"]
    # with SETTINGS' decay of 0.5 the rate soon vanishes; the decay is still caught
    assert "decay" in problems(simulate(lr_at=lambda t: 0.05 * 0.5 ** t))


def test_batches_from_the_first_rows_fail_sampling():
    rows = np.tile(np.arange(10), SETTINGS.num_iters)
    found = problems(simulate(rows=rows))
    assert set(found) == {"sampling"}
    assert "only 10 of the 100 training rows" in found["sampling"]


def test_unknown_rows_do_not_count_as_covered():
    rows = np.full(SETTINGS.num_iters * SETTINGS.batch_size, -1)
    assert set(problems(simulate(rows=rows))) == {"sampling"}


def test_wrong_batch_size_fails():
    found = problems(simulate(batch_size=20))
    assert set(found) == {"batch size"}
    assert found["batch size"] == "batches of [20] rows, expected 10"


def test_momentum_is_not_the_sgd_update():
    found = problems(simulate(momentum=0.9))
    assert "update" in found and "params -= learning_rate * grads" in found["update"]


def test_no_update_at_all():
    log = simulate(lr_at=lambda t: 0.0)
    found = problems(log)
    assert found["update"] == "no parameter update observed after the loss calls"
    assert "learning rate" in found


def test_wrong_predict_fails():
    assert problems(simulate(), pred_ok=False) == {
        "predict": "predict(X) differs from the argmax of the network's scores"}


def test_predictions_match():
    rng = np.random.RandomState(2)
    params = cases.random_network(rng, 5, 7, 4)
    X = 10 * rng.randn(30, 5)
    expected = netmath.predict(params, X)
    pred = expected.copy()
    assert predictions_match(pred, expected)
    assert predictions_match(pred.astype(np.float64), expected)
    wrong = pred.copy()
    wrong[3] = (wrong[3] + 1) % 4
    assert not predictions_match(wrong, expected)
    assert not predictions_match(None, expected)
    assert not predictions_match(pred[:-1], expected)
    assert not predictions_match(pred.reshape(-1, 1), expected)
    assert not predictions_match(np.full(30, np.nan), expected)


@pytest.mark.parametrize("seed", range(3))
def test_other_settings_pass(seed):
    s = Settings(num_train=250, batch_size=32, num_iters=40, learning_rate=0.02,
                 learning_rate_decay=0.9)
    per_epoch = 250 / 32
    log = simulate(s, lr_at=lambda t: 0.02 * 0.9 ** int(t // per_epoch), seed=seed)
    assert problems(log, s) == {}
