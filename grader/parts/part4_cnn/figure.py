"""Problem 1 of 6d as data: one instance of the network (Network) and the handout's figure,
the public instance (figure_network); hidden instances are drawn in cases.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Network:
    """One instance of problem 1: z1 = W1 x + b1, y = W2 ReLU(z1) + b2, L = ||t - y||^2."""

    name: str
    x: np.ndarray  # (n0,)
    W1: np.ndarray  # (n1, n0)
    b1: np.ndarray  # (n1,)
    W2: np.ndarray  # (n2, n1)
    b2: np.ndarray  # (n2,)
    t: np.ndarray  # (n2,)
    seed: int | None = None  # hidden instances: derived from the rubric seed

    def arrays(self) -> dict[str, np.ndarray]:
        """The instance's arrays keyed "name/field", for one probe call."""
        return {f"{self.name}/{k}": getattr(self, k) for k in ("x", "W1", "b1", "W2", "b2", "t")}

    def args(self) -> tuple[np.ndarray, ...]:
        return self.x, self.W1, self.b1, self.W2, self.b2, self.t

    def sizes(self) -> str:
        return f"{self.x.size} inputs, {self.b1.size} hidden units, {self.b2.size} outputs"


def figure_network() -> Network:
    """The handout's figure: 2 inputs, 2 hidden ReLU units (one of them off), 2 outputs;
    fixed numbers, so the student can check it by hand."""
    return Network("figure", np.array([1.0, -2.0]),
                   np.array([[0.5, -1.0], [1.5, 1.0]]), np.array([0.25, -0.5]),
                   np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([0.1, -0.2]),
                   np.array([1.0, 0.5]))
