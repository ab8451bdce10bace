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


def params_to_torch(params: LSTMParams, lstm) -> None:
    """Write numpy weights into a ``torch.nn.LSTM`` in place (``bias_ih_l0 = b``,
    ``bias_hh_l0 = 0``, so that they add up to ``b``)."""
    import torch

    _check_plain_lstm(lstm)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.as_tensor(params.Wx))
        lstm.weight_hh_l0.copy_(torch.as_tensor(params.Wh))
        if lstm.bias:
            lstm.bias_ih_l0.copy_(torch.as_tensor(params.b))
            lstm.bias_hh_l0.zero_()


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
# Gradient flow
# ---------------------------------------------------------------------------------------
def lstm_state_gradients(x, h0, c0, Wx, Wh, b, dhT, *, step_backward=None, dcT=None):
    """Gradient of a loss that depends only on ``h_T`` (and ``c_T``) with respect to every
    earlier state.

    Args:
        x: (N, T, D), h0, c0: (N, H), Wx, Wh, b: LSTM weights.
        dhT: (N, H) gradient of the loss with respect to ``h_T``.
        step_backward: the step backward to use (the student's, once it passes; default:
            the reference, :func:`course_utils.reference.nb07.lstm_step_backward`).
        dcT: optional (N, H) gradient of the loss with respect to ``c_T`` directly (not
            through ``h_T``); None means zero. With ``dhT = 0`` and ``dcT`` the rows of an
            identity matrix, ``dc`` holds the rows of the Jacobians ``∂c_T/∂c_k``.

    Returns:
        dh: (N, T + 1, H) with ``dh[:, k] = ∂L/∂h_k`` for k = 0 … T (k = T is ``dhT``),
        dc: (N, T + 1, H) with ``dc[:, k] = ∂L/∂c_k`` (total, through every path).
    """
    from ..reference import nb07

    step_backward = step_backward or nb07.lstm_step_backward
    h, c = nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    N, T, _ = x.shape
    H = h0.shape[1]
    dh = np.zeros((N, T + 1, H))
    dc = np.zeros((N, T + 1, H))
    dh[:, T] = dhT
    dh_t = dhT
    dc_t = np.zeros_like(dhT) if dcT is None else np.array(dcT, dtype=np.float64)
    # ∂L/∂c_T (total) = dcT + dhT ⊙ o_T ⊙ (1 − tanh²c_T); record it before stepping back.
    o_T = nb07.lstm_gates(x[:, -1], h[:, -2] if T > 1 else h0, Wx, Wh, b)[3]
    dc[:, T] = dc_t + dhT * o_T * (1 - np.tanh(c[:, -1]) ** 2)
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1] if t > 0 else h0
        c_prev = c[:, t - 1] if t > 0 else c0
        _, dh_t, dc_t, *_ = step_backward(dh_t, dc_t, x[:, t], h_prev, c_prev, Wx, Wh, b)
        dh[:, t] = dh_t
        # dc_t is ∂L/∂c_t through c_{t+1} only; add the path through h_t.
        if t > 0:
            o_t = nb07.lstm_gates(x[:, t - 1], h[:, t - 2] if t > 1 else h0, Wx, Wh, b)[3]
            dc[:, t] = dc_t + dh_t * o_t * (1 - np.tanh(c_prev) ** 2)
        else:
            dc[:, t] = dc_t  # c_0 does not feed h_0
    return dh, dc


def rnn_state_gradients(x, h0, Wxh, Whh, b, dhT):
    """Like :func:`lstm_state_gradients` for a tanh RNN: ``dh[:, k] = ∂L/∂h_k``, (N, T+1, H)."""
    from ..reference import nb01, nb03

    h = nb01.rnn_forward(x, h0, Wxh, Whh, b)
    N, T, _ = x.shape
    dh = np.zeros((N, T + 1, h0.shape[1]))
    dh[:, T] = dhT
    dh_t = dhT
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1] if t > 0 else h0
        _, dh_t, *_ = nb03.rnn_step_backward(dh_t, x[:, t], h_prev, h[:, t], Wxh, Whh)
        dh[:, t] = dh_t
    return dh


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


def forget_gates(x, h0, c0, Wx, Wh, b):
    """The forget gates of the forward pass: (N, T, H), ``f_1 … f_T`` (x: (N, T, D),
    h0, c0: (N, H), weights as in :func:`init_lstm_params`)."""
    from ..reference import nb07

    x = np.asarray(x, dtype=np.float64)
    N, T, D = x.shape
    H = h0.shape[1]
    h, _ = nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    h_prev = np.concatenate([np.asarray(h0, dtype=np.float64)[:, None], h[:, :-1]], axis=1)
    f = nb07.lstm_gates(x.reshape(N * T, D), h_prev.reshape(N * T, H), Wx, Wh, b)[1]
    return f.reshape(N, T, H)


def direct_cell_gradients(x, h0, c0, Wx, Wh, b, dc_T):
    """The share of ``∂L/∂c_k`` that travels the direct path ``c_k → c_{k+1} → … → c_T``.

    The gradient of a loss at the end with respect to an earlier cell state is a sum over
    paths. The direct path multiplies by the forget gates only; every other path leaves the
    cell state at some step through ``h`` (``c_t → h_t → gates_{t+1} → c_{t+1}``, a *mixed*
    path) and meets ``W_h`` and the gates' derivatives there. This returns the direct
    path's term alone,

        ``direct[:, k] = dc_T ⊙ ∏_{t=k+1}^{T} f_t``,

    so that ``∂L/∂c_k − direct[:, k]`` is what all mixed paths together carry.

    Args:
        x: (N, T, D), h0, c0: (N, H), Wx: (4H, D), Wh: (4H, H), b: (4H,): the sequence
            and weights of the forward pass.
        dc_T: (N, H) the total gradient ``∂L/∂c_T`` (e.g. ``dc[:, T]`` of
            :func:`lstm_state_gradients`).

    Returns:
        direct: (N, T + 1, H), ``direct[:, T] = dc_T``.
    """
    P = forget_products(forget_gates(x, h0, c0, Wx, Wh, b))
    return np.asarray(dc_T, dtype=np.float64)[:, None, :] * P


def cell_step_jacobians(x, h0, c0, Wx, Wh, b):
    """One-step Jacobians of the cell state through every path, ``K_t = ∂c_t/∂c_{t−1}``.

    ``c_{t−1}`` reaches ``c_t`` directly (factor ``diag(f_t)``) and through
    ``h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1})``, which feeds the gates of step t (the mixed
    path; ``o_{t−1}`` does not depend on ``c_{t−1}``). So

        ``K_t = diag(f_t) + M_t``,  ``M_t = (∂c_t/∂h_{t−1}) diag(o_{t−1} ⊙ (1 − tanh² c_{t−1}))``,

    with ``∂c_t/∂h_{t−1} = diag(c_{t−1} f(1−f)) W_f + diag(g i(1−i)) W_i + diag(i(1−g²)) W_g``
    (``W_i, W_f, W_g`` the row blocks of ``Wh``). At t = 1, ``h_0`` is given, not computed
    from ``c_0``, so ``M_1 = 0``.

    Args:
        x: (N, T, D), h0, c0: (N, H), Wx: (4H, D), Wh: (4H, H), b: (4H,).

    Returns:
        K: (N, T, H, H) with ``K[:, t − 1] = ∂c_t/∂c_{t−1}`` (rows: units of c_t);
        f: (N, T, H) the forget gates, so that ``K − diag(f)`` is the mixed part ``M``.
    """
    from ..reference import nb07

    x = np.asarray(x, dtype=np.float64)
    h0, c0 = (np.asarray(a, dtype=np.float64) for a in (h0, c0))
    N, T, D = x.shape
    H = h0.shape[1]
    h, c = nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)          # h_{t-1}
    c_prev = np.concatenate([c0[:, None], c[:, :-1]], axis=1)          # c_{t-1}
    i, f, g, o = (a.reshape(N, T, H) for a in nb07.lstm_gates(
        x.reshape(N * T, D), h_prev.reshape(N * T, H), Wx, Wh, b))
    Wi, Wf, Wg = (Wh[gate_slice(k, H)] for k in "ifg")
    dc_dh = ((c_prev * f * (1 - f))[..., None] * Wf + (g * i * (1 - i))[..., None] * Wi
             + (i * (1 - g**2))[..., None] * Wg)                         # (N, T, H, H)
    # ∂h_{t-1}/∂c_{t-1} = o_{t-1} (1 − tanh² c_{t-1}) for t ≥ 2; zero at t = 1
    dh_dc = np.zeros((N, T, H))
    dh_dc[:, 1:] = o[:, :-1] * (1 - np.tanh(c_prev[:, 1:]) ** 2)
    K = dc_dh * dh_dc[:, :, None, :]
    K[..., np.arange(H), np.arange(H)] += f
    return K, f
