"""A scalar RNN for deriving BPTT by hand (notebook 02).

The model has one hidden unit and one input per step::

    h_t = tanh(w·h_{t-1} + u·x_t + b),   t = 1 … T,
    L   = Σ_t L_t,   L_t = ½ (h_t − y_t)².

Arrays are indexed from 0 in code: ``x[t-1]`` is x_t and ``h[t-1]`` is h_t, so
``h: (T,)`` holds h_1 … h_T and the initial state h_0 is passed separately.

The gradient dL/dw can be computed three ways, all here:

* :func:`course_utils.reference.nb02.scalar_bptt`: the backward recursion, O(T) (what notebook 03 codes in matrix form);
* :func:`path_contributions`: the explicit sum over paths, a (T, T) table whose entry
  (t, k) is the contribution of the loss at step t through the use of w at step k;
* :func:`torch_grads` and :func:`finite_difference_grads`: independent references.
"""

from __future__ import annotations

import numpy as np

PARAMS = ("w", "u", "b", "h0")


def forward(x, w, u, b, h0):
    """Hidden states of the scalar RNN.

    Args:
        x: (T,) inputs x_1 … x_T; w, u, b, h0: floats.

    Returns:
        h: (T,) hidden states h_1 … h_T.
    """
    x = np.asarray(x, dtype=float)
    h = np.empty_like(x)
    prev = h0
    for t in range(x.shape[0]):
        prev = np.tanh(w * prev + u * x[t] + b)
        h[t] = prev
    return h


def loss(x, y, w, u, b, h0) -> float:
    """``L = Σ_t ½ (h_t − y_t)²`` for inputs ``x: (T,)`` and targets ``y: (T,)``."""
    h = forward(x, w, u, b, h0)
    return float(0.5 * np.sum((h - np.asarray(y)) ** 2))


def previous_states(h, h0):
    """``(T,)`` array of h_0 … h_{T-1}: the state each step starts from."""
    return np.concatenate([[h0], h[:-1]])


def local_derivatives(h, w):
    """``∂h_t/∂h_{t-1} = w (1 − h_t²)`` for t = 1 … T, shape (T,)."""
    return w * (1.0 - np.asarray(h) ** 2)


def jacobian_products(h, w):
    """``P[t-1, k] = ∂h_t/∂h_k = Π_{j=k+1}^{t} w (1 − h_j²)`` for 0 ≤ k ≤ t, else 0.

    Args:
        h: (T,) states h_1 … h_T; w: float.

    Returns:
        P: (T, T+1); column k is the state h_k (k = 0 is h_0), row t−1 the state h_t.
        The diagonal entries ``P[t-1, t]`` (k = t) are 1.
    """
    T = len(h)
    d = local_derivatives(h, w)  # d[j-1] = ∂h_j/∂h_{j-1}
    P = np.zeros((T, T + 1))
    for t in range(1, T + 1):
        P[t - 1, t] = 1.0
        for k in range(t - 1, -1, -1):
            P[t - 1, k] = P[t - 1, k + 1] * d[k]  # multiply by ∂h_{k+1}/∂h_k
    return P


def path_contributions(x, y, w, u, b, h0, wrt: str = "w"):
    """The sum-over-paths form of dL/d``wrt`` as a table, for ``wrt`` in w, u, b.

    ``C[t-1, k-1] = ∂L_t/∂h_t · ∂h_t/∂h_k · ∂⁺h_k/∂wrt`` for 1 ≤ k ≤ t ≤ T (else 0), where
    ∂⁺h_k/∂w = (1 − h_k²) h_{k-1} is the *immediate* derivative (h_{k-1} held fixed);
    for u it is (1 − h_k²) x_k and for b it is (1 − h_k²). ``C.sum()`` is dL/d``wrt``.

    Returns:
        C: (T, T), lower triangular; row = the loss's step t, column = the step k where
        the parameter was used.
    """
    x = np.asarray(x, dtype=float)
    h = forward(x, w, u, b, h0)
    tanh_d = 1.0 - h**2
    immediate = {"w": tanh_d * previous_states(h, h0), "u": tanh_d * x, "b": tanh_d}[wrt]
    dLt_dht = h - np.asarray(y)
    P = jacobian_products(h, w)[:, 1:]  # P[t-1, k-1] = ∂h_t/∂h_k, k ≥ 1
    return dLt_dht[:, None] * P * immediate[None, :]


def torch_grads(x, y, w, u, b, h0) -> dict:
    """dL/dw, dL/du, dL/db, dL/dh0 by torch autograd in float64: ``{name: float}``."""
    import torch

    p = {k: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
         for k, v in zip(PARAMS, (w, u, b, h0))}
    xt = torch.as_tensor(np.asarray(x, dtype=float))
    yt = torch.as_tensor(np.asarray(y, dtype=float))
    h, total = p["h0"], 0.0
    for t in range(len(x)):
        h = torch.tanh(p["w"] * h + p["u"] * xt[t] + p["b"])
        total = total + 0.5 * (h - yt[t]) ** 2
    total.backward()
    return {k: float(v.grad) for k, v in p.items()}


def finite_difference_grads(x, y, w, u, b, h0, eps: float = 1e-6) -> dict:
    """Centred differences ``(L(θ+ε) − L(θ−ε)) / 2ε`` in float64 for w, u, b, h0."""
    base = dict(zip(PARAMS, (w, u, b, h0)))
    out = {}
    for k in PARAMS:
        plus, minus = dict(base), dict(base)
        plus[k] += eps
        minus[k] -= eps
        out[k] = (loss(x, y, **plus) - loss(x, y, **minus)) / (2 * eps)
    return out
