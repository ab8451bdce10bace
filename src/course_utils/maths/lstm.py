"""Numpy reference implementation of an LSTM layer, batch-first, in PyTorch's layout.

The equations (column vectors), with ``σ`` the logistic sigmoid::

    a_t = W_x x_t + W_h h_{t-1} + b                     (4H pre-activations)
    i_t = σ(a_t[0:H])      input gate
    f_t = σ(a_t[H:2H])     forget gate
    g_t = tanh(a_t[2H:3H]) candidate (cell input)
    o_t = σ(a_t[3H:4H])    output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

Gate order **i, f, g, o** and shapes ``Wx: (4H, D)``, ``Wh: (4H, H)``, ``b: (4H,)`` are
those of ``torch.nn.LSTM`` (``weight_ih_l0``, ``weight_hh_l0``); torch keeps two biases,
``bias_ih_l0`` and ``bias_hh_l0``, that simply add up to our ``b``. The names ``Wx`` and
``Wh`` (where the RNN modules say ``Wxh`` and ``Whh``) are short on purpose: each stacks the
weights of four gates, so no single "to h" target fits, and the gate is read off the row
block (:func:`gate_slice`).

The backward functions take everything they need explicitly and recompute the gates
(no opaque cache), so each can be checked on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GATE_ORDER = ("i", "f", "g", "o")


def sigmoid(z):
    """Numerically stable logistic function (no overflow warning for large |z|)."""
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------------------------------
# Parameters and torch interoperability
# ---------------------------------------------------------------------------------------
@dataclass
class LSTMParams:
    """Weights of one LSTM layer: Wx (4H, D), Wh (4H, H), b (4H,), gate order i, f, g, o."""

    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray

    def as_tuple(self):
        return self.Wx, self.Wh, self.b

    @property
    def hidden_size(self) -> int:
        return self.Wh.shape[1]


def gate_slice(gate: str, H: int) -> slice:
    """Rows of Wx, Wh, b that belong to ``gate`` ('i', 'f', 'g' or 'o')."""
    k = GATE_ORDER.index(gate)
    return slice(k * H, (k + 1) * H)


def init_lstm_params(D: int, H: int, rng: np.random.Generator, *, forget_bias: float = 0.0,
                     dtype=np.float64) -> LSTMParams:
    """Random weights drawn like ``torch.nn.LSTM``, then the forget-gate block of ``b`` set
    to ``forget_bias`` (e.g. 1.0, Jozefowicz et al. 2015) unless it is 0, in which case the
    random bias is kept.

    Like torch: ``Wx: (4H, D)`` and ``Wh: (4H, H)`` uniform(−k, k) with k = 1/√H, and
    ``b: (4H,)`` the sum of two such uniforms (torch draws ``bias_ih_l0`` and
    ``bias_hh_l0`` separately and the LSTM adds them), so ``b`` has a triangular
    distribution on (−2k, 2k) with standard deviation k·√(2/3).
    """
    k = 1.0 / np.sqrt(H)
    Wx = rng.uniform(-k, k, size=(4 * H, D))
    Wh = rng.uniform(-k, k, size=(4 * H, H))
    b = rng.uniform(-k, k, size=(4 * H,)) + rng.uniform(-k, k, size=(4 * H,))
    p = LSTMParams(Wx=Wx.astype(dtype), Wh=Wh.astype(dtype), b=b.astype(dtype))
    if forget_bias:
        p.b[gate_slice("f", H)] = forget_bias
    return p


def _check_plain_lstm(lstm):
    if lstm.num_layers != 1 or lstm.bidirectional or getattr(lstm, "proj_size", 0):
        raise ValueError("expected a 1-layer, unidirectional torch.nn.LSTM without projection")


def params_from_torch(lstm) -> LSTMParams:
    """Copy a single-layer, unidirectional ``torch.nn.LSTM`` into numpy arrays.

    No reordering or transposing is needed: torch stores the gates as i, f, g, o with
    ``weight_ih_l0: (4H, D)`` and ``weight_hh_l0: (4H, H)``. ``b = bias_ih_l0 + bias_hh_l0``.
    """
    _check_plain_lstm(lstm)
    Wx = lstm.weight_ih_l0.detach().cpu().numpy().copy()
    Wh = lstm.weight_hh_l0.detach().cpu().numpy().copy()
    if lstm.bias:
        b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().cpu().numpy().copy()
    else:
        b = np.zeros(Wx.shape[0], dtype=Wx.dtype)
    return LSTMParams(Wx, Wh, b)


def grads_from_torch(lstm) -> LSTMParams:
    """The gradients stored in a ``torch.nn.LSTM`` after ``backward()``, in the numpy
    layout. ``bias_ih_l0.grad`` and ``bias_hh_l0.grad`` are equal (the biases add up), and
    each equals our ``db``."""
    _check_plain_lstm(lstm)
    dWx = lstm.weight_ih_l0.grad.detach().cpu().numpy().copy()
    dWh = lstm.weight_hh_l0.grad.detach().cpu().numpy().copy()
    db = lstm.bias_ih_l0.grad.detach().cpu().numpy().copy()
    return LSTMParams(dWx, dWh, db)


# ---------------------------------------------------------------------------------------
# Chrono initialisation (Tallec & Ollivier 2018)
# ---------------------------------------------------------------------------------------
def chrono_forget_bias(H: int, T_max: float, rng: np.random.Generator) -> np.ndarray:
    """Forget-gate biases of chrono initialisation: ``b_f = log(u)``, ``u ~ U(1, T_max − 1)``.

    Tallec & Ollivier, "Can recurrent neural networks warp time?", ICLR 2018. A forget gate
    held at ``f = σ(b_f)`` has characteristic time ``1/(1 − σ(b_f)) = 1 + e^{b_f} = 1 + u``,
    so the H units' timescales are spread uniformly over ``[2, T_max]``.

    Args:
        H: number of units; T_max: the longest timescale wanted (> 2), e.g. the task's
        known horizon; rng: numpy Generator (the only source of randomness).

    Returns:
        b_f: (H,) float64, each in ``[0, log(T_max − 1)]``.
    """
    if not T_max > 2:
        raise ValueError(f"chrono initialisation needs T_max > 2, got {T_max}")
    return np.log(rng.uniform(1.0, T_max - 1.0, size=H))


def chrono_init(target, T_max: float, rng: np.random.Generator) -> np.ndarray:
    """Chrono initialisation of an LSTM's gate biases, in place: forget-gate bias
    ``b_f = log(u)``, ``u ~ U(1, T_max − 1)`` (see :func:`chrono_forget_bias`), and
    input-gate bias ``b_i = −b_f``; every weight and the g and o biases are left as they are.

    Args:
        target: an :class:`LSTMParams` (its ``b: (4H,)``, gate order i, f, g, o: the input
            gate is ``b[0:H]``, the forget gate ``b[H:2H]``), or a single-layer
            ``torch.nn.LSTM``. torch uses the same gate order (i, f, g, o) and keeps two
            bias vectors, ``bias_ih_l0`` and ``bias_hh_l0`` (each ``(4H,)``), whose **sum**
            is the effective bias; this sets ``bias_ih_l0[H:2H] = b_f``,
            ``bias_ih_l0[0:H] = −b_f`` and zeroes ``bias_hh_l0[0:2H]``, so that the effective
            biases are exactly ``b_f`` and ``−b_f``.
        T_max: longest timescale (> 2), e.g. the known horizon of the task.
        rng: numpy Generator; the same seed gives the same biases.

    Returns:
        b_f: (H,) the forget-gate biases that were set (float64).
    """
    if isinstance(target, LSTMParams):
        H = target.hidden_size
        b_f = chrono_forget_bias(H, T_max, rng)
        target.b[gate_slice("f", H)] = b_f
        target.b[gate_slice("i", H)] = -b_f
        return b_f
    import torch

    _check_plain_lstm(target)
    if not target.bias:
        raise ValueError("chrono initialisation sets biases: the LSTM has bias=False")
    H = target.hidden_size
    b_f = chrono_forget_bias(H, T_max, rng)
    bf_t = torch.as_tensor(b_f, dtype=target.bias_ih_l0.dtype)
    with torch.no_grad():
        target.bias_ih_l0[gate_slice("f", H)] = bf_t
        target.bias_ih_l0[gate_slice("i", H)] = -bf_t
        target.bias_hh_l0[: 2 * H] = 0.0
    return b_f


# ---------------------------------------------------------------------------------------
# The cell state's gradient, path by path
# ---------------------------------------------------------------------------------------
def forget_products(f):
    """Products of forget gates, the diagonal of the direct path's Jacobian.

    Args:
        f: (N, T, H) forget gates ``f_1 … f_T``.

    Returns:
        P: (N, T + 1, H) with ``P[:, k] = ∏_{t=k+1}^{T} f_t`` for k = 0 … T
        (``P[:, T] = 1``, the empty product), so that the direct path from ``c_k`` to
        ``c_T`` has Jacobian ``diag(P[n, k])``.
    """
    f = np.asarray(f, dtype=np.float64)
    N, _, H = f.shape
    suffix = np.cumprod(f[:, ::-1], axis=1)[:, ::-1]
    return np.concatenate([suffix, np.ones((N, 1, H))], axis=1)


