"""Small numeric helpers shared by checks, tests and notebooks."""

from __future__ import annotations

import numpy as np


def rel_error(a, b) -> float:
    """Relative error ``‖a − b‖ / max(‖a‖, ‖b‖)`` (Frobenius norms), guarded against 0.

    Accepts numpy arrays, torch tensors, or scalars of the same shape. Returns 0.0 when
    both are exactly zero, and ``inf`` if either contains NaN/inf. Norm-based (not
    element-wise), so entries that are tiny in both arrays cannot dominate.
    """
    a = _as_array(a)
    b = _as_array(b)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    denom = max(np.linalg.norm(a), np.linalg.norm(b))
    if denom == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / denom)


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)
