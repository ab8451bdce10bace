"""Numpy building blocks of a vanilla (Elman) RNN layer, batch-first: its parameters and
their initialisation, fast loop-hoisted versions of the forward and backward passes (the
exercises' own solutions, the references, live in :mod:`course_utils.reference`), the
affine output layer and the input Jacobians' norms.

The course's weight layout is the mathematical (and PyTorch) one::

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)        (column vectors)

so ``Wxh`` is (H, D), ``Whh`` is (H, H) and ``b`` is (H,). With a batch of row vectors
``x_t: (N, D)`` this reads ``h_t = tanh(x_t @ Wxh.T + h_{t-1} @ Whh.T + b)``, and the
step Jacobian is ``∂h_t/∂h_{t-1} = diag(1 − h_t²) · Whh``.

``torch.nn.RNN`` uses the same layout (``weight_ih_l0`` is (H, D), ``weight_hh_l0`` is
(H, H)) but keeps two biases, ``bias_ih_l0`` and ``bias_hh_l0``, that simply add up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RNNParams:
    """Weights of one RNN layer in the course layout: Wxh (H, D), Whh (H, H), b (H,)."""

    Wxh: np.ndarray
    Whh: np.ndarray
    b: np.ndarray

    def as_tuple(self):
        return self.Wxh, self.Whh, self.b


def init_rnn_params(D: int, H: int, rng: np.random.Generator, *, scale: float | None = None,
                    dtype=np.float64) -> RNNParams:
    """Random weights, from the distribution of ``torch.nn.RNN``'s: uniform(−k, k) with
    k = 1/√H. One difference: torch has two biases (``bias_ih``, ``bias_hh``), each uniform,
    so their sum is not; here the one bias ``b`` is uniform(−k, k).

    Args:
        D: input size; H: hidden size; rng: a numpy Generator.
        scale: if given, use uniform(−scale, scale) instead of k = 1/√H.
    """
    k = 1.0 / np.sqrt(H) if scale is None else scale
    return RNNParams(
        Wxh=rng.uniform(-k, k, size=(H, D)).astype(dtype),
        Whh=rng.uniform(-k, k, size=(H, H)).astype(dtype),
        b=rng.uniform(-k, k, size=(H,)).astype(dtype),
    )


def params_from_torch(rnn) -> RNNParams:
    """Copy a single-layer, unidirectional ``torch.nn.RNN`` (tanh) into numpy arrays.

    The two torch biases are summed into one: ``b = bias_ih_l0 + bias_hh_l0``.
    """
    if rnn.num_layers != 1 or rnn.bidirectional or rnn.nonlinearity != "tanh":
        raise ValueError("params_from_torch expects a 1-layer, unidirectional tanh nn.RNN")
    W_ih = rnn.weight_ih_l0.detach().cpu().numpy().copy()
    W_hh = rnn.weight_hh_l0.detach().cpu().numpy().copy()
    if rnn.bias:
        b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().cpu().numpy().copy()
    else:
        b = np.zeros(W_hh.shape[0], dtype=W_hh.dtype)
    return RNNParams(W_ih, W_hh, b)


# ---------------------------------------------------------------------------------------
# Fast versions (notebook 03, "making it fast"): everything that does not depend on the
# recurrence is hoisted out of the time loop and done as one big matrix product.
# ---------------------------------------------------------------------------------------
def rnn_forward_fast(x, h0, Wxh, Whh, b):
    """Same result as :func:`reference.nb01.rnn_forward`, with the input projection hoisted out of the loop.

    ``x @ Wxh.T + b`` is computed for all N·T positions in one matrix product; the loop
    only does the part that truly depends on the previous step, ``h_{t-1} @ Whh.T``.

    Args:
        x: (N, T, D), h0: (N, H), Wxh: (H, D), Whh: (H, H), b: (H,).

    Returns:
        h: (N, T, H) hidden states ``h_1 … h_T``.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    dtype = np.result_type(x, h0, Wxh, Whh, b)
    # time-major buffers keep each step's slice contiguous
    a = (x.reshape(N * T, D) @ Wxh.T + b).reshape(N, T, H).transpose(1, 0, 2).copy()
    h = np.empty((T, N, H), dtype=dtype)
    WhhT = np.ascontiguousarray(Whh.T)
    h_prev = h0
    for t in range(T):
        at = a[t]
        at += h_prev @ WhhT
        h_prev = np.tanh(at, out=h[t])
    return h.transpose(1, 0, 2)


def rnn_backward_fast(dh, x, h0, h, Wxh, Whh):
    """Same result as :func:`reference.nb03.rnn_backward`, with the weight gradients hoisted out of the loop.

    The loop only carries the gradient backwards (``da_t = (dh_t + carry) ⊙ (1 − h_t²)``,
    ``carry = da_t @ Whh``) and stores every ``da_t``; then ``dx``, ``dWxh``, ``dWhh`` and
    ``db`` are each one matrix product (or sum) over all N·T positions.

    Args and returns: as :func:`reference.nb03.rnn_backward` (dh: (N, T, H) per-step gradients).
    """
    N, T, D = x.shape
    H = h0.shape[1]
    dtype = np.result_type(dh, x, h0, h, Wxh, Whh)
    hT = h.transpose(1, 0, 2)           # (T, N, H) views
    dhT = dh.transpose(1, 0, 2)
    gate = 1.0 - hT * hT                # tanh'(a_t) for all steps at once, (T, N, H)
    da = np.empty((T, N, H), dtype=dtype)
    carry = np.zeros((N, H), dtype=dtype)
    for t in range(T - 1, -1, -1):
        np.multiply(dhT[t] + carry, gate[t], out=da[t])
        carry = da[t] @ Whh
    da_flat = da.transpose(1, 0, 2).reshape(N * T, H)     # (N·T, H), batch-first order
    dx = (da_flat @ Wxh).reshape(N, T, D)
    dWxh = da_flat.T @ x.reshape(N * T, D)
    h_prev = np.concatenate([h0[None], hT[:-1]], axis=0)  # (T, N, H): h_0 … h_{T-1}
    dWhh = da.reshape(T * N, H).T @ h_prev.reshape(T * N, H)
    db = da.sum(axis=(0, 1))
    return dx, carry, dWxh, dWhh, db


# ---------------------------------------------------------------------------------------
# An affine read-out applied at every time step (for the tiny models of notebook 03)
# ---------------------------------------------------------------------------------------
def affine_forward(h, W, c):
    """``y = h @ W.T + c`` on the last axis.

    Args:
        h: (..., H) hidden states (e.g. (N, T, H) or (N, H)); W: (V, H); c: (V,).

    Returns:
        y: (..., V).
    """
    return h @ W.T + c


def affine_backward(dy, h, W):
    """Backward pass of :func:`affine_forward`.

    Args:
        dy: (..., V) gradient of the loss w.r.t. ``y``; h: (..., H); W: (V, H).

    Returns:
        dh (..., H), dW (V, H), dc (V,): weight gradients summed over all leading axes.
    """
    V, H = W.shape
    dh = dy @ W
    dW = dy.reshape(-1, V).T @ h.reshape(-1, H)
    dc = dy.reshape(-1, V).sum(axis=0)
    return dh, dW, dc


# ---------------------------------------------------------------------------------------
# How far an input reaches: the derivative of later states by torch autograd (notebook 01)
# ---------------------------------------------------------------------------------------
def input_jacobian_norms(x, h0, Wxh, Whh, b, k: int = 0, *, threads: int | None = 1):
    """Spectral norms of ∂h_t/∂x_k for every later step t, by torch autograd in float64.

    Time steps are 1-based as in the notes (inputs x_1 … x_T, states h_1 … h_T); arrays are
    0-based, so ``x[:, k]`` holds x_{k+1}. The tanh recurrence is rebuilt in torch and
    differentiated exactly with forward-mode autograd (one pass per input unit).

    Args:
        x: (N, T, D) inputs, batch-first; h0: (N, H) initial states.
        Wxh: (H, D), Whh: (H, H), b: (H,) the RNN's weights.
        k: 0-based array index of the input step to differentiate by (default 0: x_1).
        threads: torch threads while differentiating (restored afterwards); 1 is fastest
            for these many tiny operations, more threads only add overhead.

    Returns:
        norms: (N, T) float64 array; ``norms[n, t - 1]`` is ‖∂h_t/∂x_{k+1}‖₂ (the largest
        singular value of the (H, D) Jacobian) for sequence n; 0 for the steps t ≤ k,
        which x_{k+1} cannot reach.
    """
    import torch

    x = np.asarray(x, dtype=np.float64)
    N, T, D = x.shape
    if not 0 <= k < T:
        raise ValueError(f"k must be an array index 0 <= k < T = {T}, got {k}")
    xt, h0t = torch.from_numpy(x), torch.from_numpy(np.asarray(h0, dtype=np.float64))
    Wxh_t, Whh_t, b_t = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (Wxh, Whh, b))

    def states(xk):  # (N, D) -> (N, T, H): the whole forward pass, with x[:, k] replaced
        h, out = h0t, []
        for t in range(T):
            xs = xk if t == k else xt[:, t]
            h = torch.tanh(xs @ Wxh_t.T + h @ Whh_t.T + b_t)
            out.append(h)
        return torch.stack(out, dim=1)

    from ..runtime import torch_threads

    with torch_threads(threads):
        # J[n, t, :, d] = ∂h_{t+1}[n] / ∂x_{k+1}[n, d]: one forward-mode pass per input unit d
        columns = []
        for d in range(D):
            tangent = torch.zeros(N, D, dtype=torch.float64)
            tangent[:, d] = 1.0
            _, dh = torch.func.jvp(states, (xt[:, k],), (tangent,))
            columns.append(dh)
        J = torch.stack(columns, dim=-1)  # (N, T, H, D)
        return torch.linalg.matrix_norm(J, ord=2).numpy()


