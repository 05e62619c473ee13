"""The grader's own math for 6a and 6d (numpy only): what the student's theory.py must
return, computed in the grader's process and never sent to the sandbox."""
from __future__ import annotations

import numpy as np


def conv_output_size(h_in: int, kernel: int, padding: int, stride: int) -> int:
    """Equation (5) of the handout: floor((h_in + 2p - (k - 1) - 1) / s + 1)."""
    return int(np.floor((h_in + 2 * padding - (kernel - 1) - 1) / stride + 1))


def conv_output_sizes(cases: np.ndarray) -> np.ndarray:
    """cases: (M, 4) int rows (h_in, kernel, padding, stride); returns (M,) int64 sizes."""
    cases = np.asarray(cases, dtype=np.int64)
    h, k, p, s = cases.T
    return np.floor_divide(h + 2 * p - (k - 1) - 1, s) + 1


def size_variants(cases: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(what a student did, the sizes (M,) it gives) for the common wrong versions of
    equation (5) on cases (M, 4) rows (h_in, kernel, padding, stride)."""
    h, k, p, s = np.asarray(cases, dtype=np.int64).T
    span = h + 2 * p - (k - 1) - 1
    return [
        ("the division is rounded up (ceil); equation (5) rounds it down: floor(... / s) + 1, "
         "or (h_in + 2p - k) // s + 1", -(-span // s) + 1),
        ("the division is rounded to the nearest whole number (round); equation (5) rounds it "
         "down: floor(... / s) + 1, or (h_in + 2p - k) // s + 1",
         np.floor(span / s + 0.5).astype(np.int64) + 1),
        ("the + 1 is missing: floor((h_in + 2p - k) / s) + 1", span // s),
        ("the padding is added once; it pads both sides: h_in + 2p", (h + p - k) // s + 1),
        ("the stride is ignored: the division by s is missing", span + 1),
        ("the kernel term is h_in + 2p - k + 1 before the division; equation (5) divides "
         "h_in + 2p - (k - 1) - 1 = h_in + 2p - k, then adds 1", (span + 1) // s + 1),
    ]


def forward(x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray,
            b2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z1 (n1,), y (n2,)) of z1 = W1 x + b1, y = W2 ReLU(z1) + b2; x: (n0,), W1: (n1, n0),
    b1: (n1,), W2: (n2, n1), b2: (n2,)."""
    z1 = W1 @ x + b1
    return z1, W2 @ np.maximum(z1, 0.0) + b2


def loss(x, W1, b1, W2, b2, t) -> float:
    """L = ||t - y||^2 (no 1/2, as the handout writes it)."""
    _, y = forward(x, W1, b1, W2, b2)
    return float(np.sum((t - y) ** 2))


def bias_gradients(x, W1, b1, W2, b2, t) -> tuple[np.ndarray, np.ndarray]:
    """(dL/db1 (n1,), dL/db2 (n2,)) of L = ||t - y||^2: dL/db2 = -2 (t - y), and
    dL/db1 = W2^T dL/db2 times the ReLU's derivative (1 where z1 > 0, else 0)."""
    z1, y = forward(x, W1, b1, W2, b2)
    db2 = -2.0 * (t - y)
    return (W2.T @ db2) * (z1 > 0), db2
