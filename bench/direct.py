"""The student work of a full Part 1 grade, run directly (no sandbox, no judging).

The denominator of the grader's overhead: the same calls of the student's TwoLayerNet on
the same inputs the probes use, in this process.
"""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

from grader.parts.part1_numpy import cases
from grader.core.rubric import spec as rubric
from grader.data import prepare
from grader.parts.part1_numpy.hyperparams import read as read_hyperparams

RUBRIC = rubric.load()


def _module(submission: Path):
    spec = importlib.util.spec_from_file_location("direct_two_layernet",
                                                  submission / "two_layernet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _net(module, case):
    D, H = case.params["W1"].shape
    net = module.TwoLayerNet(D, H, case.params["W2"].shape[1])
    net.params.update({k: v.copy() for k, v in case.params.items()})
    return net


def run_direct(submission: Path, results: dict) -> float:
    """Seconds the student calls of a full grade take when run directly."""
    module = _module(submission)
    start = time.perf_counter()
    seed = RUBRIC.seed
    for check, count in (("1a.2", 4), ("1b.2", 4), ("2d.2", 3)):
        for case in [cases.toy_case(0.05)] + cases.hidden_cases(seed, check, count):
            net = _net(module, case)
            net.loss(case.X)
            net.loss(case.X, y=case.y, reg=case.reg)
    N, D, H, C = RUBRIC.check("1c.1").value("batch")
    rng = np.random.RandomState(0)
    big = cases.Case("big", cases.random_network(rng, D, H, C), 10 * rng.randn(N, D),
                     np.zeros(N, dtype=int), 0.0)
    net = _net(module, big)
    for _ in range(1 + RUBRIC.check("1c.1").value("repeats")):
        net.loss(big.X)
    toy = cases.toy_case()
    _net(module, toy).train(toy.X, toy.y, toy.X, toy.y, learning_rate=0.1, reg=5e-6,
                            num_iters=100, verbose=False)
    for check in ("3a.2", "3a.3"):
        settings = results_settings(results, check)
        if settings:
            n = 100
            case = cases.Case("sgd", cases.random_network(rng, 6, 8, 4), rng.randn(n, 6),
                              rng.randint(0, 4, size=n), 0.0)
            _net(module, case).train(case.X, case.y, case.X, case.y, verbose=False, **settings)
    hp, _ = read_hyperparams(submission, RUBRIC.check("3b.1"))
    data = prepare.load(None, dict(RUBRIC.datasets))
    np.random.seed(seed)
    net = module.TwoLayerNet(3072, hp["hidden_size"], 10)
    net.train(np.load(data.files["X_train"], mmap_mode="c"), data.load("y_train"),
              data.load("X_val"), data.load("y_val"), learning_rate=hp["learning_rate"],
              learning_rate_decay=hp["learning_rate_decay"], reg=hp["reg"],
              num_iters=hp["num_iters"], batch_size=hp["batch_size"], verbose=False)
    return time.perf_counter() - start


def results_settings(results: dict, check: str) -> dict | None:
    """The train() settings a graded SGD-step check used (from results.json)."""
    for test in results["tests"]:
        if test["number"] == check:
            return test["extra_data"].get("settings")
    return None
