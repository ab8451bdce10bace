"""Reference solution of notebook 06's exercise: clipping by the global gradient norm,
with torch's semantics (see :mod:`course_utils.lessons.clipping` for the rest of the lesson)."""

from __future__ import annotations

import numpy as np

from ..maths import gradnorm


def clip_grad_norm(grads, max_norm: float):
    """Rescale gradients so their global L2 norm is at most ``max_norm`` (torch semantics).

    Exactly what ``torch.nn.utils.clip_grad_norm_(params, max_norm)`` does (with its
    defaults ``norm_type=2``, ``error_if_nonfinite=False``), except that the inputs are not
    modified: new arrays are returned.

    ``scale = min(1, max_norm / (total_norm + 1e-6))`` multiplies every array, with NaN
    propagating: a NaN norm gives NaN everywhere, an infinite norm gives a scale of 0
    (so finite entries become 0 and infinite ones NaN), ``max_norm = 0`` gives zeros, and
    all-zero gradients stay zero.

    Args:
        grads: list/tuple of arrays (any shapes), or a single array.
        max_norm: the threshold, >= 0.

    Returns:
        (clipped, total_norm): ``clipped`` is a list of new arrays with the inputs' shapes
        (a single array if ``grads`` was one); ``total_norm`` is the norm *before*
        clipping, a float.
    """
    arrays, single = gradnorm.as_list(grads)
    total = gradnorm.global_norm(arrays)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.minimum(1.0, max_norm / (total + gradnorm.TORCH_EPS))  # np.minimum propagates NaN
        clipped = [g * scale for g in arrays]
    return (clipped[0] if single else clipped), total
