"""Part 1's public checks in the students' self-check. 1a.1, 1b.1, 1c.2 and 2d.1 are the
grader's own judges (forward.py, loss.py, vectorised.py, gradients.py) on its own probes,
with the results of its math on the toy problem recorded when the handout is built
(selfcheck_data.py). 3a.1 and 3a.2 judge with the grader's math on the parameters the
student's train() leaves, which cannot ship: they run here on the student's TwoLayerNet
with the rubric's settings (run.values), the toy problem's losses (run.data, generated
when the handout is built) and sgd.py's rules, and hold no solution.
"""
from __future__ import annotations

import numpy as np

from selfcheck import Stop

from . import forward, gradients, loss, netmath, probing, sgd, vectorised

CLASS = "TwoLayerNet"
NAMES = ("W1", "b1", "W2", "b2")
SGD_DATA_SEED = 2027  # the self-check's own data for 3a.2 (Gradescope uses other numbers)


def student_class(run):
    """The student's TwoLayerNet class."""
    cls = getattr(run.module(), CLASS, None)
    if cls is None:
        raise Stop(f"{run.check['files'][0]} defines no class {CLASS}")
    return cls


def toy_net(run):
    """A fresh student network holding the toy params, and the toy X (5, 4), y (5,)."""
    params = {k: np.array(v, dtype=np.float64) for k, v in run.data["params"].items()}
    np.random.seed(0)
    net = student_class(run)(4, 10, 3, std=1e-1)
    store = getattr(net, "params", None)
    try:
        for name in NAMES:
            store[name] = params[name].copy()
    except Exception:  # noqa: BLE001 - anything that is not a dict-like params
        raise Stop(f"{CLASS}(...).params should be a dict holding W1, b1, W2, b2 (got "
                   f"{type(store).__name__})") from None
    return net, np.array(run.data["X"]), np.array(run.data["y"])


def as_array(value, shape, what):
    """value as a finite float array of shape (a (1, H) bias is accepted), or raises Stop."""
    if value is None:
        raise Stop(f"{what}: nothing was returned (None); is a `return` missing?")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Stop(f"{what}: expected an array of numbers, got a {type(value).__name__}") \
            from None
    if arr.shape != tuple(shape):
        if arr.size == int(np.prod(shape)) and arr.squeeze().shape == tuple(
                s for s in shape if s != 1):
            arr = arr.reshape(shape)
        else:
            raise Stop(f"{what}: expected shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise Stop(f"{what}: some entries are NaN or inf (overflow in exp? log of 0? a "
                   "division by zero?)")
    return arr


def loss_and_grads(net, X, y, reg):
    """(loss as a float, grads as returned) of the student's loss(X, y, reg)."""
    out = net.loss(X.copy(), y=y.copy(), reg=reg)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Stop("loss(X, y, reg) should return a tuple (loss, grads); got "
                   f"{type(out).__name__}")
    return float(as_array(out[0], (), "the loss")), out[1]


def _loss_is_right(run) -> bool:
    """Whether the student's toy loss is the grader's at 1b's reg and at reg=0, so that
    3a.1 may use it (never raises)."""
    try:
        net, X, y = toy_net(run)
        got = [loss_and_grads(net, X, y, reg)[0] for reg in (run.data["reg"], 0.0)]
    except Exception:  # noqa: BLE001 - the loss does not even run
        return False
    return np.allclose(got, [run.data["loss"], run.data["loss_at_zero"]], rtol=1e-9, atol=0)


# 2d.1's cost gate times the grader's own forward pass (netmath.time_forward) as loss(X)'s
# baseline; that code does not ship, so the student's own loss(X) is the baseline here.
netmath.__file__ = str(probing.PROBES)


def toy_gradients(grading, check, feedback):
    try:
        backprop = gradients.measure_backprop(grading)
    except RuntimeError:  # loss(X) failed as the baseline: 2d.1 stops at loss(X, y) first
        backprop = (None, {})
    return gradients.judge_toy(grading, backprop, check, feedback)


def check_training(run):
    """3a.1: the handout's toy SGD run; the final loss on the toy data must be <= 0.02."""
    s = run.values
    net, X, y = toy_net(run)
    start = {name: np.array(net.params[name], copy=True) for name in NAMES}
    np.random.seed(0)
    stats = net.train(X.copy(), y.copy(), X.copy(), y.copy(),
                      learning_rate=s["learning_rate"], reg=s["reg"],
                      num_iters=s["num_iters"], verbose=False)
    if not isinstance(stats, dict):
        raise Stop("train() should return a dict with loss_history, train_acc_history and "
                   f"val_acc_history; got {type(stats).__name__}")
    missing = [k for k in ("loss_history", "train_acc_history", "val_acc_history")
               if k not in stats]
    if missing:
        raise Stop(f"the dict train() returns has no {', '.join(missing)}")
    for name in NAMES:
        try:
            as_array(net.params[name], start[name].shape, f"self.params[{name!r}] after train()")
        except Stop as exc:
            raise Stop(f"{exc}\nHint: training diverged? check the SGD step and 2d.") from None
    # The final loss as the grader's would be: your loss(reg=0) when it is the handout's on
    # the toy problem (1b), else the mean cross-entropy of your probabilities (1a); the L2
    # term is added here, so a reg that loss() ignores cannot change the verdict.
    weights = float(np.sum(net.params["W1"] ** 2) + np.sum(net.params["W2"] ** 2))
    if _loss_is_right(run):
        source, final = "your loss(X, y, reg=0)", loss_and_grads(net, X, y, 0.0)[0]
    else:
        probs = as_array(net.loss(X.copy()), (len(y), 3), "loss(X) after train()")
        source = "the mean cross-entropy of your loss(X) (your loss() is not yet the handout's)"
        final = float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-300)).mean())
    final += s["reg"] * weights
    line = (f"training loss after train(): {final:.4g} (needs <= {s['max_loss']:g}; "
            f"{source} on the toy data plus reg * (||W1||^2 + ||W2||^2) at reg={s['reg']:g})")
    if final <= s["max_loss"]:
        return True, line
    if all(np.array_equal(net.params[n], start[n]) for n in NAMES):
        hint = "train() did not change self.params: update them in place with the gradients"
    else:
        hint = ("check the SGD update (each parameter moves by -learning_rate * its gradient) "
                "and the gradients (2d)")
    return False, f"{line}\nHint: {hint}."


def _spied_net(cls, params, rows, log):
    """A student network holding params whose loss() logs every call with labels:
    (all params flattened before the call, the grads it returned flattened, batch rows)."""
    np.random.seed(0)
    D, H = params["W1"].shape
    net = cls(D, H, params["W2"].shape[1], std=1e-1)
    for name in NAMES:
        net.params[name] = params[name].copy()
    original = net.loss

    def spy(*args, **kwargs):
        before = np.concatenate([np.ravel(net.params[k]).astype(np.float64) for k in NAMES])
        out = original(*args, **kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if y is not None and isinstance(out, tuple) and len(out) == 2:
            grads = np.concatenate([as_array(out[1][k], np.shape(params[k]), f"grads[{k!r}]")
                                    .ravel() for k in NAMES])
            log.append((before, grads, [rows.get(np.asarray(r, dtype=np.float64).tobytes(), -1)
                                        for r in X]))
        return out

    net.loss = spy  # train() calls self.loss(X_batch, y=y_batch, reg=reg): found first
    return net


def check_sgd_steps(run):
    """3a.2: every step train() takes is params -= lr * grads, with the given learning
    rate decayed once per epoch, batches of batch_size rows from the whole set; predict()
    is the argmax of the scores. Judged by the grader's own rules (sgd.py)."""
    s = run.values
    N, D, H, C = s["shape"]
    draws = np.random.RandomState(SGD_DATA_SEED)
    params = {"W1": 0.1 * draws.randn(D, H), "b1": 0.1 * draws.randn(H),
              "W2": 0.1 * draws.randn(H, C), "b2": 0.1 * draws.randn(C)}
    X, y, X_pred = draws.randn(N, D), draws.randint(0, C, size=N), draws.randn(20, D)
    log = []
    net = _spied_net(student_class(run), params, {X[i].tobytes(): i for i in range(N)}, log)
    settings = sgd.Settings(N, s["batch_size"], s["num_iters"], s["learning_rate"],
                            s["learning_rate_decay"])
    net.train(X.copy(), y.copy(), X.copy(), y.copy(), learning_rate=s["learning_rate"],
              learning_rate_decay=s["learning_rate_decay"], reg=0.0,
              num_iters=s["num_iters"], batch_size=s["batch_size"], verbose=False)
    if not log:
        raise Stop("train() never called self.loss(X_batch, y=y_batch, reg=reg), so its SGD "
                   "steps could not be observed\nHint: compute each step's loss and "
                   "gradients with self.loss, as the template does.")
    final = {k: as_array(net.params[k], np.shape(params[k]), f"self.params[{k!r}] after "
                         "train()") for k in NAMES}
    step_log = sgd.StepLog(np.stack([e[0] for e in log]), np.stack([e[1] for e in log]),
                           np.concatenate([final[k].ravel() for k in NAMES]),
                           np.array([len(e[2]) for e in log]),
                           np.array([i for e in log for i in e[2]], dtype=np.int64))
    net.loss = type(net).loss.__get__(net)  # predict() and the scores, unobserved
    pred = net.predict(X_pred.copy())
    pred = None if pred is None else np.asarray(pred).ravel()
    try:  # predict() against your own scores (1a judges them); Gradescope uses its own
        scores = as_array(net.loss(X_pred.copy()), (len(X_pred), C), "loss(X) after train()")
        pred_ok = pred is not None and sgd.predictions_match(pred, np.argmax(scores, axis=1))
    except Stop:  # no scores to compare with: predict() is judged on Gradescope only
        pred_ok = pred is not None
    parts = sgd.judge_steps(step_log, settings, s["min_coverage"], s["lr_rtol"], pred_ok)
    head = (f"train(learning_rate={s['learning_rate']:g}, learning_rate_decay="
            f"{s['learning_rate_decay']:g}, batch_size={s['batch_size']}, num_iters="
            f"{s['num_iters']}) on {N} rows")
    bad = [f"{part}: {problem}" for part, problem in parts if problem]
    good = [part for part, problem in parts if not problem]
    return not bad, "\n".join([head] + bad + ([f"right: {', '.join(good)}"] if good else []))


CHECKS = {"1a.1": forward.judge_toy, "1b.1": loss.judge_toy, "1c.2": vectorised.judge_loops,
          "2d.1": toy_gradients, "3a.1": check_training, "3a.2": check_sgd_steps}
