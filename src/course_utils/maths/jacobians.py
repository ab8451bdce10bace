"""The maths of vanishing and exploding gradients: step Jacobians, their products and
norms, the spectrum of ``Whh`` and the Pascanu bound, and initialisers for ``Whh``.

Notebook 04's experiments, figures and explorer built on these are in
:mod:`course_utils.lessons.vanishing`. Everything here follows the course layout (batch-first,
row vectors)::

    h_t = f(x_t @ Wxh.T + h_{t-1} @ Whh.T + b)        h: (N, T, H) holds h_1 … h_T

The step Jacobian is ``J_t = ∂h_t/∂h_{t-1} = diag(f'(a_t)) · Whh`` (H, H), and for
every nonlinearity used here ``f'`` can be read off the *output* ``h_t``:

==========  ============  =====================  ============================
name        f(a)          f'(a) from h = f(a)     γ = sup f'  (Pascanu et al.)
==========  ============  =====================  ============================
tanh        tanh(a)       1 − h²                  1
sigmoid     1/(1+e^−a)    h (1 − h)               1/4
relu        max(0, a)     1[h > 0]                1
linear      a             1                       1
==========  ============  =====================  ============================

The product over a window is ``∂h_t/∂h_k = J_t J_{t−1} ⋯ J_{k+1}``; its norm is bounded by
``∏ ‖J_s‖ ≤ (γ σ_max(Whh))^{t−k}`` (Pascanu, Mikolov & Bengio, 2013): gradients are
guaranteed to vanish when ``σ_max < 1/γ``, and can only explode when ``σ_max > 1/γ``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAMMA = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "linear": 1.0}
NONLINEARITIES = tuple(GAMMA)


# ---------------------------------------------------------------------------------------
# Nonlinearities and a forward pass that supports them all
# ---------------------------------------------------------------------------------------
def activate(a, nonlinearity: str = "tanh"):
    """Apply the nonlinearity ``f`` to pre-activations ``a`` (any shape)."""
    if nonlinearity == "tanh":
        return np.tanh(a)
    if nonlinearity == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if nonlinearity == "relu":
        return np.maximum(a, 0.0)
    if nonlinearity == "linear":
        return a
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose from {NONLINEARITIES}")


def derivative_from_output(h, nonlinearity: str = "tanh"):
    """``f'(a)`` written in terms of the output ``h = f(a)`` (same shape as ``h``).

    tanh: ``1 − h²``; sigmoid: ``h(1 − h)``; relu: ``1[h > 0]``; linear: ones.
    """
    if nonlinearity == "tanh":
        return 1.0 - h**2
    if nonlinearity == "sigmoid":
        return h * (1.0 - h)
    if nonlinearity == "relu":
        return (h > 0).astype(np.result_type(h, np.float64))
    if nonlinearity == "linear":
        return np.ones_like(h)
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose from {NONLINEARITIES}")


def forward(x, h0, Wxh, Whh, b, nonlinearity: str = "tanh"):
    """Run an RNN with any of :data:`NONLINEARITIES` (``tanh`` equals ``reference.nb01.rnn_forward``).

    Args:
        x: (N, T, D) inputs; h0: (N, H) initial state; Wxh: (H, D); Whh: (H, H); b: (H,).

    Returns:
        h: (N, T, H), the states h_1 … h_T.
    """
    N, T, _ = x.shape
    xw = x @ Wxh.T + b  # (N, T, H): the input projection, hoisted out of the loop
    h = np.empty((N, T, Whh.shape[0]), dtype=np.result_type(x, h0, Whh))
    h_prev = h0
    for t in range(T):
        h_prev = activate(xw[:, t] + h_prev @ Whh.T, nonlinearity)
        h[:, t] = h_prev
    return h


# ---------------------------------------------------------------------------------------
# Jacobians
# ---------------------------------------------------------------------------------------
def step_jacobian(h_next, Whh, nonlinearity: str = "tanh"):
    """The Jacobian of one step, ``∂h_t/∂h_{t−1} = diag(f'(a_t)) · Whh``.

    Args:
        h_next: (..., H) the step's *output* h_t (f' is read off it); any leading axes.
        Whh: (H, H).

    Returns:
        J: (..., H, H) with ``J[..., i, j] = ∂h_t[i] / ∂h_{t−1}[j]``.
    """
    return derivative_from_output(h_next, nonlinearity)[..., :, None] * Whh


def renormalise(P, log_scale):
    """Scale each matrix of a product to Frobenius norm 1, keeping its scale as a logarithm.

    Args:
        P: (N, H, K) a batch of matrices; log_scale: (N,) log10 of the scale so far.

    Returns:
        ``(P / ‖P‖_F, log_scale + log10 ‖P‖_F)`` per batch entry; a matrix that is exactly
        zero stays zero and its scale becomes −inf. ``‖P‖_F`` is summed from squares, so
        a matrix whose entries are all far below 1e-150 would count as zero; renormalised
        every step, a product stays near norm 1.
    """
    fro = np.linalg.norm(P, axis=(1, 2))
    alive = fro > 0
    with np.errstate(divide="ignore"):
        log_scale = log_scale + np.log10(np.where(alive, fro, 0.0))
    return np.where(alive[:, None, None], P / np.where(alive, fro, 1.0)[:, None, None], 0.0), log_scale


def jacobian_log_norms(h, Whh, nonlinearity: str = "tanh", ord=2):
    """``log10 ‖∂h_T/∂h_{T−ℓ}‖`` for every lag ℓ = 1 … T, in one backward sweep.

    The product is built right to left, ``P_ℓ = P_{ℓ−1} · J_{T−ℓ+1}``, and renormalised
    after every step (:func:`renormalise`), so neither 1e-400 nor 1e+400 under- or
    overflows.

    Args:
        h: (N, T, H) states h_1 … h_T; Whh: (H, H).
        ord: matrix norm: 2 (spectral, the default) or "fro".

    Returns:
        (N, T): entry ``[:, ℓ−1]`` is the log10 norm at lag ℓ (−inf where the product is
        exactly zero, e.g. every ReLU unit off).
    """
    N, T, H = h.shape
    J = step_jacobian(h, Whh, nonlinearity)
    P = np.broadcast_to(np.eye(H, dtype=J.dtype), (N, H, H)).copy()
    log_scale = np.zeros(N)
    stack = np.empty((N, T, H, H), dtype=J.dtype)
    logs = np.empty((N, T))
    for lag in range(1, T + 1):
        P, log_scale = renormalise(P @ J[:, T - lag], log_scale)
        stack[:, lag - 1] = P
        logs[:, lag - 1] = log_scale
    if ord == "fro":
        return logs
    with np.errstate(divide="ignore"):
        return logs + np.log10(np.linalg.norm(stack, ord, axis=(-2, -1)))


def step_log_norms(h, Whh, nonlinearity: str = "tanh"):
    """``log10 ‖J_t‖₂`` for every step: (N, T), entry ``[:, t−1]`` for ∂h_t/∂h_{t−1}."""
    with np.errstate(divide="ignore"):
        return np.log10(np.linalg.norm(step_jacobian(h, Whh, nonlinearity), 2, axis=(-2, -1)))


def batch_mean_log10(log_norms):
    """``log10`` of the batch *mean* of the norms, ``log10(mean_n 10^{log_norms[n]})``,
    computed without under- or overflow. (N, T) → (T,). A product that is exactly zero
    (−inf) counts as 0 in the mean."""
    log_norms = np.atleast_2d(log_norms)
    top = np.max(log_norms, axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log10(np.mean(10.0 ** (log_norms - safe), axis=0))


def rate_from_log_norms(log_norms, lag: int | None = None) -> float:
    """Measured per-step factor ``(mean_n ‖∂h_T/∂h_{T−ℓ}‖)^{1/ℓ}``.

    Each sequence's norm is at most ``(γσ_max)^ℓ``, so this rate is at most ``γσ_max``.

    Args:
        log_norms: (N, T) or (T,) from :func:`jacobian_log_norms`.
        lag: ℓ (default: the largest, T).
    """
    curve = batch_mean_log10(log_norms)
    lag = curve.shape[0] if lag is None else lag
    return float(10 ** (curve[lag - 1] / lag))


# ---------------------------------------------------------------------------------------
# Spectra and bounds
# ---------------------------------------------------------------------------------------
@dataclass
class Spectrum:
    """Singular values (descending) and eigenvalues of a square matrix, with summaries."""

    singular_values: np.ndarray
    eigenvalues: np.ndarray

    @property
    def sigma_max(self) -> float:
        """Largest singular value = spectral norm ‖W‖₂."""
        return float(self.singular_values[0])

    @property
    def spectral_radius(self) -> float:
        """Largest |eigenvalue| (never more than ``sigma_max``)."""
        return float(np.abs(self.eigenvalues).max())


def spectrum(W) -> Spectrum:
    """:class:`Spectrum` of ``W: (H, H)``."""
    return Spectrum(np.linalg.svd(W, compute_uv=False), np.linalg.eigvals(W))


def pascanu_bound(Whh, nonlinearity: str = "tanh") -> float:
    """``γ · σ_max(Whh)``: no step Jacobian can have a larger norm (Pascanu et al. 2013)."""
    return GAMMA[nonlinearity] * spectrum(Whh).sigma_max


def regime(Whh, nonlinearity: str = "tanh") -> str:
    """Pascanu et al.'s conditions: 'vanishing guaranteed' if σ_max < 1/γ, else
    'exploding possible' (σ_max > 1/γ is necessary, not sufficient, for explosion)."""
    return ("vanishing guaranteed" if spectrum(Whh).sigma_max < 1.0 / GAMMA[nonlinearity]
            else "exploding possible")


# ---------------------------------------------------------------------------------------
# Initialisers for Whh
# ---------------------------------------------------------------------------------------
def gaussian_init(H: int, scale: float, rng: np.random.Generator):
    """``scale · G / √H`` with G standard normal (H, H): spectral radius ≈ scale and
    σ_max ≈ 2·scale for large H (circular and quarter-circle laws)."""
    return scale * rng.normal(size=(H, H)) / np.sqrt(H)


def orthogonal_init(H: int, rng: np.random.Generator, gain: float = 1.0):
    """``gain · Q`` with Q a uniformly random orthogonal matrix (QR of a Gaussian, signs
    fixed): every singular value and every |eigenvalue| equals ``gain``."""
    Q, R = np.linalg.qr(rng.normal(size=(H, H)))
    return gain * Q * np.sign(np.diag(R))


def identity_init(H: int, gain: float = 1.0):
    """``gain · I`` (with ReLU this is the IRNN of Le, Jaitly & Hinton, 2015)."""
    return gain * np.eye(H)


def with_spectral_radius(W, rho: float):
    """``W`` rescaled so that its spectral radius is exactly ``rho``."""
    return W * (rho / spectrum(W).spectral_radius)


def init_whh(kind: str, H: int, scale: float, rng: np.random.Generator):
    """Whh by name: 'gaussian' (spectral radius ≈ scale), 'orthogonal' (gain scale),
    'identity' (scale · I)."""
    if kind == "gaussian":
        return gaussian_init(H, scale, rng)
    if kind == "orthogonal":
        return orthogonal_init(H, rng, scale)
    if kind == "identity":
        return identity_init(H, scale)
    raise ValueError(f"unknown init {kind!r}; choose gaussian, orthogonal or identity")
