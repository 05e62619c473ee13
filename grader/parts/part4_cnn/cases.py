"""The cases of 6a and 6d: the public ones the rubric lists or the handout's figure
fixes, and hidden ones derived from the rubric seed and the check id (case_seed), so a
regrade draws the same."""
from __future__ import annotations

import numpy as np

from .figure import Network, figure_network  # noqa: F401 - 6d's public case
from ...core.rubric.spec import case_seed

MIN_MARGIN = 0.1  # |z1| of every hidden unit at least this: the ReLU's kink is never hit


def hidden_size_cases(base_seed: int, check_id: str, count: int) -> np.ndarray:
    """(count, 4) int64 rows (h_in, kernel, padding, stride): h_in 5-64, kernel 1-7,
    padding 0 to min(3, kernel // 2 + 1), stride 1-4, every output at least 1; the first
    half of them with a stride that does not divide h_in + 2p - k evenly (there the floor
    changes the answer)."""
    rng = np.random.default_rng(case_seed(base_seed, check_id, 0))
    rows: list[list[int]] = []
    while len(rows) < count:
        h, k = int(rng.integers(5, 65)), int(rng.integers(1, 8))
        p, s = int(rng.integers(0, min(3, k // 2 + 1) + 1)), int(rng.integers(1, 5))
        span = h + 2 * p - k
        if span < 0:
            continue
        uneven = span % s != 0
        if len(rows) < (count + 1) // 2 and not uneven:
            continue  # the first half: cases where the floor changes the answer
        rows.append([h, k, p, s])
    return np.array(rows, dtype=np.int64)


def _network(name: str, rng: np.random.Generator, n0: int, n1: int, n2: int,
             seed: int | None = None) -> Network:
    """A random instance with some hidden units off (z1 < 0) and none near the kink."""
    while True:
        x = rng.normal(0.0, 1.0, n0)
        W1, b1 = rng.normal(0.0, 1.0, (n1, n0)), rng.normal(0.0, 0.5, n1)
        z1 = W1 @ x + b1
        if np.all(np.abs(z1) > MIN_MARGIN) and (z1 > 0).any() and (z1 < 0).any():
            break
    W2, b2 = rng.normal(0.0, 1.0, (n2, n1)), rng.normal(0.0, 0.5, n2)
    t = rng.normal(0.0, 1.0, n2)
    return Network(name, x, W1, b1, W2, b2, t, seed)


def hidden_networks(base_seed: int, check_id: str, count: int) -> list[Network]:
    """count random instances of other sizes (2-6 inputs, 2-6 hidden units, 1-4 outputs)."""
    found = []
    for i in range(count):
        seed = case_seed(base_seed, check_id, i)
        rng = np.random.default_rng(seed)
        n0, n1, n2 = int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 5))
        found.append(_network(f"case{i}", rng, n0, n1, n2, seed))
    return found
