"""Failure signatures -> likely causes, for the gradient checks (2d).

Each function looks at what the student returned next to the true values and names the
most likely bug in the student's terms, or returns "" when no signature fits.
"""
from __future__ import annotations

import numpy as np

from .cases import Case


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-10))


def gradient_hint(name: str, got: np.ndarray, want: np.ndarray, case: Case,
                  relu_off: np.ndarray | None = None) -> str:
    """Why grads[name] may differ from the true gradient `want`."""
    n = case.X.shape[0]
    if not np.any(got) and np.any(want):
        return f"{name}'s gradient is all zeros: is it computed and stored in grads?"
    if _close(got, want * n):
        return f"{name}'s gradient is {n}x too large: average over the batch (divide by N)."
    if _close(got, -want):
        return f"{name}'s gradient has the wrong sign."
    if name.startswith("W") and case.reg:
        W = case.params[name]
        for factor, text in ((0.5, "the L2 gradient needs the factor 2: 2 * reg * W"),
                             (0.0, "the L2 term's gradient (2 * reg * W) is missing"),
                             (-1.0, "the L2 gradient's sign is wrong")):
            if _close(got, want + (factor - 1) * 2 * case.reg * W):
                return text + "."
    if relu_off is not None and _close(got, relu_off):
        return "the ReLU mask is missing: dz2 must be zero where z2 <= 0."
    if got.shape == want.shape and name.startswith("b"):
        return f"{name}: sum the upstream gradient over the batch axis (axis=0)."
    return ""
