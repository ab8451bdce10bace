"""Gradient norms and clipping, on plain lists of numpy arrays (one array per parameter).

* :func:`global_norm`: the L2 norm of all gradients together;
* :func:`clip_grad_value`: clip every entry, like ``torch.nn.utils.clip_grad_value_``;
* :func:`flatten`, :func:`angle_deg`: how far clipping turns a gradient.

Clipping by norm is notebook 06's exercise (:func:`course_utils.reference.nb06.clip_grad_norm`,
built on these). Notebook 06 uses them as ``clipping.global_norm`` and so on: the lesson
module :mod:`course_utils.lessons.clipping` imports them from here.
"""

from __future__ import annotations

import numpy as np

TORCH_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_ divides by (total_norm + 1e-6)


def as_list(grads):
    """(list of arrays, was_single): a single array is treated as a list of one."""
    if isinstance(grads, np.ndarray):
        return [grads], True
    return list(grads), False


def global_norm(grads) -> float:
    """The L2 norm of all gradients together, as if concatenated into one vector.

    Args:
        grads: a list/tuple of arrays of any shapes, or a single array.

    Returns:
        ``sqrt(sum of squares of every entry)`` as a float (0.0 for an empty list; NaN or
        inf if an entry is NaN or inf).
    """
    arrays, _ = as_list(grads)
    if not arrays:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        per_array = [np.linalg.norm(np.ravel(g)) for g in arrays]
        return float(np.linalg.norm(per_array))


def clip_grad_value(grads, clip_value: float):
    """Clip every entry to ``[-clip_value, clip_value]`` (like ``clip_grad_value_``).

    Args:
        grads: list/tuple of arrays or a single array; clip_value: > 0.

    Returns:
        new array(s), same structure as ``grads``.
    """
    arrays, single = as_list(grads)
    clipped = [np.clip(g, -clip_value, clip_value) for g in arrays]
    return clipped[0] if single else clipped


def flatten(grads) -> np.ndarray:
    """Concatenate a list of arrays (or one array) into one 1-D vector."""
    arrays, _ = as_list(grads)
    return np.concatenate([np.ravel(g) for g in arrays]) if arrays else np.zeros(0)


def angle_deg(a, b) -> float:
    """Angle in degrees between two gradients (lists of arrays, flattened and concatenated).

    Returns 0.0 if either is all zeros. Computed with ``arctan2(‖a×b‖, a·b)`` in the plane
    of the two vectors, which stays accurate for tiny angles (``arccos`` of a cosine near 1
    would not).
    """
    u, v = flatten(a), flatten(b)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        return 0.0
    u, v = u / nu, v / nv
    cos = float(u @ v)
    sin = float(np.linalg.norm(v - cos * u))
    return float(np.degrees(np.arctan2(sin, cos)))
