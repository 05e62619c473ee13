"""3a, in the grader's process: train() on the handout's toy problem (the final loss
recomputed by the grader from the returned parameters) and the SGD steps train() takes on
public and hidden cases, judged by sgd.py's rules from what the probes observed."""
from __future__ import annotations

import numpy as np

from . import netmath
from .cases import case_seed, random_network, toy_case
from .probing import DIVERGED, PROBES
from .sgd import Settings, StepLog, judge_steps, predictions_match
from ...core.engine.context import Feedback, GradingContext, failure_verdict
from ...core.engine.judge import Verdict, shaped
from ...core.rubric.spec import Check

NAMES = netmath.PARAM_NAMES


def _final_params(run, prefix: str, shapes: dict) -> tuple[dict, list[str]]:
    """({name: (shape) array or None}, problems) of the parameters train() left."""
    params, problems = {}, []
    for name in NAMES:
        got, problem = shaped(run.values.get(f"{prefix}/{name}"), shapes[name],
                              f"self.params[{name!r}] after train()", DIVERGED)
        params[name] = got
        if problem:
            problems.append(problem)
    return params, problems


def judge_toy_training(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """3a.1: the toy network trained with the check's settings; its training loss,
    recomputed by the grader, at most max_loss."""
    case = toy_case()
    settings = {k: check.value(k) for k in ("learning_rate", "reg", "num_iters")}
    run = grading.probe(PROBES, "train_toy", check.id, inputs=case.arrays(),
                        params={"settings": settings})
    stopped = failure_verdict(run, what="train() on the toy problem")
    if stopped is not None:
        return stopped
    params, problems = _final_params(run, "final", {k: v.shape for k, v in case.params.items()})
    if problems:
        return Verdict(0.0, "\n".join(problems))
    final = netmath.loss(params, case.X, case.y, settings["reg"])
    history = run.values.get("stats/loss_history")
    feedback.record(final_loss=final, loss_history=None if history is None else history[:1000])
    limit = check.value("max_loss")
    line = (f"training loss of the trained toy network (recomputed by the grader): "
            f"{final:.4f} (needs <= {limit:g})")
    if final <= limit:
        return Verdict(1.0, line)
    unchanged = all(np.array_equal(params[k], case.params[k]) for k in NAMES)
    hint = ("train() did not change self.params: update them in place with the gradients."
            if unchanged else "check the SGD update (params -= learning_rate * grads) and the "
            "gradients (2d).")
    return Verdict(0.0, f"{line}\nHint: {hint}")


def _flat_steps(run, name: str, prefix: str) -> np.ndarray:
    """(T, P): one logged quantity of every step, all parameters flattened side by side."""
    arrays = [np.asarray(run.values[f"{name}/{prefix}_{k}"], dtype=np.float64) for k in NAMES]
    return np.concatenate([a.reshape(a.shape[0], -1) for a in arrays], axis=1)


def _sgd_case(check: Check, index: int, seed: int):
    """(name, inputs, Settings, params, X_pred (20, D)) of one SGD-step case: public from
    the rubric, else random."""
    rng = np.random.RandomState(case_seed(seed, check.id, index))
    if check.public:
        N, D, H, C = check.value("shape")
        s = Settings(N, check.value("batch_size"), check.value("num_iters"),
                     check.value("learning_rate"), check.value("learning_rate_decay"))
    else:
        # N a multiple of the batch size: the handout's `it % iterations_per_epoch == 0`
        # decays only at whole epochs, which a fractional epoch length would never reach
        batch = int(rng.randint(5, 21))
        N, D, H, C = batch * rng.randint(6, 13), rng.randint(4, 9), rng.randint(6, 13), rng.randint(3, 6)
        s = Settings(N, batch, int(4 * N / batch) + 3, float(rng.uniform(0.01, 0.1)),
                     float(rng.uniform(0.3, 0.9)))
    params = random_network(rng, D, H, C)
    X = rng.randn(N, D)
    y = rng.randint(0, C, size=N)
    X_pred = rng.randn(20, D)
    name = "public" if check.public else f"hidden{index}"
    arrays = {**params, "X": X, "y": y, "X_pred": X_pred}
    return name, {f"{name}/{k}": v for k, v in arrays.items()}, s, params, X_pred


def judge_sgd_steps(grading: GradingContext, check: Check, feedback: Feedback) -> Verdict:
    """3a.2 (public settings) and 3a.3 (hidden random ones): every SGD step train() takes,
    observed; the share of sgd.py's rules it keeps."""
    name, inputs, s, params, X_pred = _sgd_case(check, 0, grading.rubric.seed)
    settings = {name: {"learning_rate": s.learning_rate, "learning_rate_decay":
                       s.learning_rate_decay, "reg": 0.0, "num_iters": s.num_iters,
                       "batch_size": s.batch_size}}
    feedback.record(settings=settings[name])
    run = grading.probe(PROBES, "train_steps", check.id, inputs=inputs,
                        params={"cases": [name], "settings": settings})
    stopped = failure_verdict(run, name, "train()")
    if stopped is not None:
        return stopped
    final, problems = _final_params(run, f"{name}/final", {k: v.shape for k, v in params.items()})
    if problems:
        return Verdict(0.0, "\n".join(problems))
    try:
        log = StepLog(_flat_steps(run, name, "before"), _flat_steps(run, name, "grad"),
                      np.concatenate([final[k].ravel() for k in NAMES]),
                      np.asarray(run.values[f"{name}/batch_sizes"]),
                      np.asarray(run.values[f"{name}/batch_rows"]))
    except (KeyError, ValueError) as exc:
        return Verdict(0.0, f"the SGD steps could not be read back ({exc}); do grads have "
                       "the parameters' shapes?")
    pred_ok = predictions_match(run.values.get(f"{name}/pred"), netmath.predict(final, X_pred))
    parts = judge_steps(log, s, check.value("min_coverage"), check.value("lr_rtol"), pred_ok)
    bad = [f"{part}: {problem}" for part, problem in parts if problem]
    good = [part for part, problem in parts if not problem]
    head = (f"train(learning_rate={s.learning_rate:.4g}, learning_rate_decay="
            f"{s.learning_rate_decay:.3g}, batch_size={s.batch_size}, num_iters={s.num_iters}) "
            f"on {s.num_train} rows")
    lines = [head] + bad + ([f"right: {', '.join(good)}"] if good else [])
    return Verdict(len(good) / len(parts), "\n".join(lines))
