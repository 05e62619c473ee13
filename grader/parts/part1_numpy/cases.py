"""Inputs of the Part 1 checks: the handout's toy problem and hidden random instances.

Hidden cases are derived, not global: each case's seed comes from the rubric's seed and
the check id (case_seed), so a regrade reproduces them exactly. Only inputs are made here;
expected values are computed by the judge from netmath.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.rubric.spec import case_seed  # noqa: F401 - the parts' one seed derivation

# The handout's published values, which netmath reproduces from the toy recipe
# (tests/parts/part1_numpy/test_netmath.py holds them to it).
TOY_PROBS = np.array([
    [0.36446210, 0.22911264, 0.40642526],
    [0.47590629, 0.17217039, 0.35192332],
    [0.43035767, 0.26164229, 0.30800004],
    [0.41583127, 0.29832280, 0.28584593],
    [0.36328815, 0.32279939, 0.31391246]])
TOY_LOSS = 1.30378789133
# Regularisation strengths of hidden cases, in turn: none is the toy's 0.05 until the
# fifth case, so a hard-coded reg cannot pass.
HIDDEN_REGS = (0.1, 0.0, 0.25, 0.01, 0.05)


@dataclass(frozen=True)
class Case:
    """One network and batch: the inputs a probe gets."""

    name: str  # "toy" or "hidden0", ...
    params: dict  # W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
    X: np.ndarray  # (N, D)
    y: np.ndarray  # (N,) int64 in [0, C)
    reg: float
    seed: int | None = None  # the derived seed of a hidden case

    def arrays(self) -> dict[str, np.ndarray]:
        """The case's inputs keyed "name/field", for the sandbox."""
        fields = {**self.params, "X": self.X, "y": self.y, "reg": np.float64(self.reg)}
        return {f"{self.name}/{k}": np.asarray(v) for k, v in fields.items()}


def toy_case(reg: float = 0.0) -> Case:
    """The handout's toy problem: TwoLayerNet(4, 10, 3, std=1e-1), 5 samples."""
    rng = np.random.RandomState(0)
    params = {"W1": 1e-1 * rng.randn(4, 10), "b1": np.zeros(10),
              "W2": 1e-1 * rng.randn(10, 3), "b2": np.zeros(3)}
    rng = np.random.RandomState(1)
    X = 10 * rng.randn(5, 4)
    return Case("toy", params, X, np.array([0, 1, 2, 2, 1]), reg)


def random_network(rng: np.random.RandomState, D: int, H: int, C: int,
                   std: float = 1e-1) -> dict:
    """Weights std * randn and non-zero biases, at the handout's scale."""
    return {"W1": std * rng.randn(D, H), "b1": std * rng.randn(H),
            "W2": std * rng.randn(H, C), "b2": std * rng.randn(C)}


def hidden_case(base: int, check_id: str, index: int) -> Case:
    """A random network and batch at the handout's scale (inputs like 10 * randn)."""
    seed = case_seed(base, check_id, index)
    rng = np.random.RandomState(seed)
    N, D, H, C = rng.randint(3, 13), rng.randint(3, 9), rng.randint(5, 16), rng.randint(2, 7)
    params = random_network(rng, D, H, C)
    X = 10 * rng.randn(N, D)
    y = rng.randint(0, C, size=N)
    reg = HIDDEN_REGS[index % len(HIDDEN_REGS)]
    return Case(f"hidden{index}", params, X, y, reg, seed)


def hidden_cases(base: int, check_id: str, count: int) -> list[Case]:
    """`count` hidden cases of one check."""
    return [hidden_case(base, check_id, i) for i in range(count)]
