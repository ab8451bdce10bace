"""Gradient clipping (notebook 06): clip by norm and by value, the cliff, a guarded trainer.

Contents
--------
* :func:`global_norm`, :func:`clip_grad_value`, :func:`angle_deg` (from
  :mod:`course_utils.maths.gradnorm`; clipping by norm is the exercise:
  :func:`course_utils.reference.nb06.clip_grad_norm`): clipping a *list* of gradient
  arrays (one per parameter) the way ``torch.nn.utils.clip_grad_norm_`` /
  ``clip_grad_value_`` do, but returning new arrays.
* :func:`cliff_states`, :func:`cliff_loss_and_grad`, :func:`descend`: the single-unit RNN whose loss surface has
  a cliff (after Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
  neural networks", section 3), and plain / clipped gradient descent on it.
* :func:`delayed_copy_batches`, :func:`init_regression_rnn`, :func:`regression_loss_and_grads`:
  a small numpy RNN + linear read-out trained with the course's BPTT (:mod:`course_utils.maths.rnn`)
  to output its input from ``lag`` steps ago; :func:`latch_batches`, a task whose solution
  needs an attractor (remember the sign of the first input for T steps), so that training
  crosses a bifurcation: a cliff; :func:`regression_hidden_states` and
  :func:`readout_curvature` look inside it; :func:`hessian_lambda_max` (Lanczos on
  finite-difference Hessian-vector products) and :func:`sharpness_along_run` measure the
  curvature that decides whether plain SGD is stable (``lr · λ_max < 2``).
* :func:`is_divergent` and :func:`train_sgd` (on :func:`course_utils.training.fit`): plain SGD with
  optional norm clipping that records every loss and gradient norm and *stops with a clear
  message* as soon as the run has diverged (the loss or the gradient norm is not finite, or
  above ``DIVERGENCE_BOUND``), instead of printing NaN forever.

**What "diverged" means here.** A run diverges when its loss or its gradient norm is not
finite *or exceeds a large bound* (``DIVERGENCE_BOUND`` = 1e10). The bound matters for
reproducibility: once a run has blown up, its numbers are chaotic, and the step at which
float64 finally overflows to inf depends on how the CPU's BLAS kernels round (on one
machine a run overflowed at step 113, on another it reached a loss of 1e65 and stayed
finite for 200 steps). Crossing 1e10 happens within a few steps of the blow-up, on every
machine; the step of overflow is not a property of the maths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..history import History
from ..maths.gradnorm import (  # noqa: F401  (notebook 06 calls them clipping.<name>)
    TORCH_EPS,
    angle_deg,
    clip_grad_value,
    flatten,
    global_norm,
)
from ..maths.jacobians import orthogonal_init
from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03
from ..training import Schedule, SGDUpdate, fit

DIVERGENCE_BOUND = 1e10  # a loss or gradient norm above this counts as diverged


# ---------------------------------------------------------------------------------------
# Clipping
# ---------------------------------------------------------------------------------------
def _clip_grad_norm(grads, max_norm: float):
    """The reference :func:`course_utils.reference.nb06.clip_grad_norm` (notebook 06's
    exercise, so it does not live here, where the notebook's namespace would show it)."""
    from ..reference.nb06 import clip_grad_norm

    return clip_grad_norm(grads, max_norm)


# ---------------------------------------------------------------------------------------
# The cliff: a single-unit RNN without inputs
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cliff:
    """The single-unit RNN ``h_t = tanh(w h_{t-1} + b)``, ``h_0``, loss ``(h_T − target)²``."""

    T: int = 50
    h0: float = 0.5
    target: float = 0.7


def cliff_states(w, b, cliff: Cliff = Cliff()) -> np.ndarray:
    """The states ``h_0, h_1, ..., h_T`` of the single-unit RNN ``h_t = tanh(w h_{t-1} + b)``.

    Args:
        w, b: arrays of any broadcastable shapes S (or floats).

    Returns:
        array of shape (T + 1, *S): ``[h_0, ..., h_T]`` (``h_0 = cliff.h0`` everywhere).
    """
    w, b = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(b, dtype=float))
    hs = [np.full(w.shape, cliff.h0)]
    for _ in range(cliff.T):
        hs.append(np.tanh(w * hs[-1] + b))
    return np.array(hs)


def cliff_loss_and_grad(w, b, cliff: Cliff = Cliff()):
    """Loss and gradient of the single-unit RNN over a grid (or at one point).

    The unit runs ``h_t = tanh(w h_{t-1} + b)`` for ``T`` steps from ``h_0`` (no inputs:
    the course's RNN with H = 1 and D = 0) and the loss is ``L = (h_T − target)²``. The
    gradient is computed by BPTT, vectorised over the grid.

    Args:
        w, b: arrays of any broadcastable shapes S (or floats).
        cliff: the constants T, h0, target.

    Returns:
        (L, dL_dw, dL_db): three arrays of the broadcast shape S.
    """
    w, b = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(b, dtype=float))
    hs = cliff_states(w, b, cliff)
    loss = (hs[-1] - cliff.target) ** 2
    dh = 2.0 * (hs[-1] - cliff.target)
    dw = np.zeros(w.shape)
    db = np.zeros(w.shape)
    for t in range(cliff.T, 0, -1):
        da = dh * (1.0 - hs[t] ** 2)  # through the tanh of step t
        dw += da * hs[t - 1]
        db += da
        dh = da * w  # to h_{t-1}
    return loss, dw, db


def descend(start, lr: float, steps: int, max_norm: float | None = None,
            cliff: Cliff = Cliff()):
    """Gradient descent on the cliff, optionally with norm clipping.

    Args:
        start: (w, b) starting point; lr: learning rate; steps: number of steps.
        max_norm: clip each step's gradient to this norm (None: plain gradient descent).

    Returns:
        dict with ``path`` (steps+1, 2) of (w, b), ``loss`` (steps+1,) and ``grad_norm``
        (steps+1,), the gradient norm at each point before clipping.
    """
    p = np.array(start, dtype=float)
    path, losses, norms = [p.copy()], [], []
    for k in range(steps + 1):
        loss, dw, db = cliff_loss_and_grad(p[0], p[1], cliff)
        g = np.array([float(dw), float(db)])
        losses.append(float(loss))
        norms.append(float(np.linalg.norm(g)))
        if k == steps:
            break
        if max_norm is not None:
            g, _ = _clip_grad_norm(g, max_norm)
        p = p - lr * g
        path.append(p.copy())
    return dict(path=np.array(path), loss=np.array(losses), grad_norm=np.array(norms))


# ---------------------------------------------------------------------------------------
# A small RNN regression task trained with the course's numpy BPTT
# ---------------------------------------------------------------------------------------
def delayed_copy_batches(seed: int, N: int = 32, T: int = 50, lag: int = 10) -> Iterator:
    """Endless batches of the delayed-copy task: output at step t the input of step t − lag.

    Yields:
        (x, y): x (N, T, 1) standard normal; y (N, T, 1) with ``y[:, t] = x[:, t − lag]``
        for t >= lag and 0 before. Predicting 0 everywhere gives MSE ≈ (T − lag) / T.
    """
    rng = np.random.default_rng(seed)
    while True:
        x = rng.normal(size=(N, T, 1))
        y = np.zeros_like(x)
        y[:, lag:] = x[:, :-lag]
        yield x, y


def latch_batches(seed: int, N: int = 32, T: int = 50, noise: float = 0.1) -> Iterator:
    """Endless batches of the latch task: remember the sign of the first input.

    Each sequence starts with ``s = ±1`` (equally likely) plus Gaussian noise of standard
    deviation ``noise`` at every step, and the target at *every* step is ``s``. Predicting 0
    gives MSE 1. Holding ``s`` for T steps needs two attractors (a state near ``+a`` and one
    near ``−a``); while training creates them the final state changes abruptly with the
    weights: the loss surface has a cliff (Pascanu et al. 2013, section 3).

    Yields:
        (x, y): x (N, T, 1), y (N, T, 1).
    """
    rng = np.random.default_rng(seed)
    while True:
        s = rng.choice([-1.0, 1.0], size=(N, 1, 1))
        x = rng.normal(size=(N, T, 1)) * noise
        x[:, :1] += s
        yield x, np.repeat(s, T, axis=1)


def init_regression_rnn(D: int, H: int, O: int, seed: int, *, whh_scale: float = 1.0):
    """Parameters ``[Wxh (H, D), Whh (H, H), b (H,), Why (O, H), by (O,)]``.

    ``Whh`` is a random orthogonal matrix times ``whh_scale`` (all its singular values equal
    ``whh_scale``); ``Wxh`` and ``Why`` are Gaussian with variance 1/fan-in; biases are 0.
    """
    rng = np.random.default_rng(seed)
    Whh = orthogonal_init(H, rng, whh_scale)
    return [rng.normal(size=(H, D)) / np.sqrt(D), Whh, np.zeros(H),
            rng.normal(size=(O, H)) / np.sqrt(H), np.zeros(O)]


PARAM_NAMES = ("Wxh", "Whh", "b", "Why", "by")


def regression_loss_and_grads(params, batch):
    """Mean squared error of an RNN with a linear read-out, and its gradients by BPTT.

    ``h = rnn_forward(x, 0, Wxh, Whh, b)``, ``y_hat = h @ Why.T + by``,
    ``L = mean((y_hat − y)²)`` over N, T and outputs.

    Args:
        params: [Wxh (H, D), Whh (H, H), b (H,), Why (O, H), by (O,)].
        batch: (x (N, T, D), y (N, T, O)).

    Returns:
        (loss: float, grads: list of arrays shaped like ``params``).
    """
    Wxh, Whh, b, Why, by = params
    x, y = batch
    h0 = np.zeros((x.shape[0], Whh.shape[0]))
    with np.errstate(over="ignore", invalid="ignore"):
        h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
        err = h @ Why.T + by - y
        loss = float(np.mean(err**2))
        dout = 2.0 * err / err.size
        dWhy = np.einsum("nto,nth->oh", dout, h)
        dby = dout.sum(axis=(0, 1))
        _, _, dWxh, dWhh, db = _nb03.rnn_backward(dout @ Why, x, h0, h, Wxh, Whh)
    return loss, [dWxh, dWhh, db, dWhy, dby]


def regression_hidden_states(params, x) -> np.ndarray:
    """The hidden states h: (N, T, H) of the regression RNN for inputs x: (N, T, D), h_0 = 0.

    params: [Wxh (H, D), Whh (H, H), b (H,), Why (O, H), by (O,)] as in
    :func:`regression_loss_and_grads`.
    """
    Wxh, Whh, b = params[:3]
    with np.errstate(over="ignore", invalid="ignore"):
        return _nb01.rnn_forward(x, np.zeros((x.shape[0], Whh.shape[0])), Wxh, Whh, b)


def readout_curvature(params, x, O: int = 1) -> float:
    """Largest eigenvalue of the Hessian of :func:`regression_loss_and_grads`'s loss with
    respect to the read-out (``Why``, ``by``), the other weights held fixed.

    The loss is ``mean((h @ Why.T + by − y)²)`` over N·T·O entries, quadratic in the
    read-out, so this block of the Hessian is exact and constant:
    ``2 Fᵀ F / (N T O)`` per output with ``F = [h, 1]`` of shape (N·T, H + 1). Plain gradient
    descent on a quadratic is stable only if ``lr · λ_max < 2``; and the full Hessian's largest
    eigenvalue is at least this block's, so ``lr · readout_curvature > 2`` means plain SGD
    is locally unstable there.

    Args:
        params: [Wxh (H, D), Whh (H, H), b (H,), Why (O, H), by (O,)]; x: (N, T, D) inputs.
        O: number of outputs (the loss averages over them too).

    Returns:
        λ_max as a float.
    """
    h = regression_hidden_states(params, x)
    F = np.concatenate([h.reshape(-1, h.shape[-1]), np.ones((h.shape[0] * h.shape[1], 1))], 1)
    return float(np.linalg.eigvalsh(2.0 * F.T @ F / (F.shape[0] * O)).max())


def hessian_lambda_max(params, loss_and_grads: Callable, batch, *, iters: int = 30,
                       eps: float = 1e-5, seed: int = 0) -> float:
    """Largest (algebraic) eigenvalue of the Hessian of the loss on one batch, all parameters.

    Lanczos with full re-orthogonalisation on Hessian-vector products taken by central
    finite differences of the gradient, ``H v ≈ (g(θ + εv) − g(θ − εv)) / 2ε``; the largest
    eigenvalue of the ``iters × iters`` tridiagonal matrix approximates λ_max from below
    (it converges fast for the extreme eigenvalue). Plain gradient descent is locally stable
    along every direction only if ``lr · λ_max < 2``.

    Args:
        params: list of arrays; loss_and_grads: ``f(params, batch) -> (loss, grads)``.
        iters: Lanczos steps (at most the number of parameters); eps: finite-difference step.
        seed: for the random starting vector.

    Returns:
        λ_max as a float.
    """
    shapes = [p.shape for p in params]
    sizes = [p.size for p in params]
    theta = np.concatenate([np.ravel(p) for p in params]).astype(float)

    def unflat(v):
        return [a.reshape(s) for a, s in zip(np.split(v, np.cumsum(sizes)[:-1]), shapes)]

    def hvp(v):
        gp = flatten(loss_and_grads(unflat(theta + eps * v), batch)[1])
        gm = flatten(loss_and_grads(unflat(theta - eps * v), batch)[1])
        return (gp - gm) / (2 * eps)

    n = min(iters, theta.size)
    rng = np.random.default_rng(seed)
    v = rng.normal(size=theta.size)
    V = [v / np.linalg.norm(v)]
    alphas, betas = [], []
    for j in range(n):
        w = hvp(V[j])
        alphas.append(float(V[j] @ w))
        for u in V:  # full re-orthogonalisation
            w = w - (u @ w) * u
        beta = float(np.linalg.norm(w))
        if j == n - 1 or beta < 1e-10:
            break
        betas.append(beta)
        V.append(w / beta)
    Tm = np.diag(alphas) + np.diag(betas[: len(alphas) - 1], 1) + np.diag(betas[: len(alphas) - 1], -1)
    return float(np.linalg.eigvalsh(Tm).max())


def sharpness_along_run(params: Sequence[np.ndarray], loss_and_grads: Callable, batches, *,
                        lr: float, steps: int, every: int, max_norm: float | None = None,
                        clip_fn: Callable | None = None, iters: int = 30) -> dict:
    """Replay the run of :func:`train_sgd` (same updates) and measure ``lr · λ_max``.

    Every ``every`` steps (from step 0) it takes :func:`hessian_lambda_max` on that step's
    batch at the current weights, before the update. It stops at ``steps`` or at the first
    divergent step (:func:`is_divergent`).

    Returns:
        dict with ``step`` (the steps measured) and ``lr_lambda`` (``lr · λ_max`` there).
    """
    update = SGDUpdate([np.array(p, dtype=float, copy=True) for p in params], loss_and_grads,
                       lr=lr, norm_of=global_norm, clip=max_norm,
                       clip_norm=clip_fn or _clip_grad_norm)
    out = dict(step=[], lr_lambda=[])
    for k, batch in zip(range(steps), iter(batches)):
        if k % every == 0:
            out["step"].append(k)
            out["lr_lambda"].append(lr * hessian_lambda_max(update.params, loss_and_grads,
                                                            batch, iters=iters))
        loss, _ = update.forward(batch, None)
        if is_divergent(loss, update.backward()):
            break
        update.step()
    return {key: np.array(val) for key, val in out.items()}


# ---------------------------------------------------------------------------------------
# The training loop with non-finite detection
# ---------------------------------------------------------------------------------------
def is_divergent(loss: float, grad_norm: float, bound: float = DIVERGENCE_BOUND) -> bool:
    """True if a training step shows divergence: the loss or the gradient norm is NaN or
    inf, or larger than ``bound`` (default ``DIVERGENCE_BOUND`` = 1e10; pass ``math.inf``
    to stop only on non-finite values). Scalars in, a bool out."""
    values = np.array([loss, grad_norm], dtype=float)
    return bool(not np.all(np.isfinite(values)) or np.any(values > bound))


def train_sgd(params: Sequence[np.ndarray], loss_and_grads: Callable, batches, *, lr: float,
              steps: int, max_norm: float | None = None, clip_fn: Callable | None = None,
              name: str = "training", verbose: bool = True,
              diverge_above: float = DIVERGENCE_BOUND) -> History:
    """Plain SGD with optional gradient-norm clipping; stops as soon as the run diverges.

    At every step: draw a batch, compute ``loss, grads = loss_and_grads(params, batch)``,
    record the loss and the global gradient norm; if either is NaN or inf or above
    ``diverge_above`` (:func:`is_divergent`), stop and report it (updating with such a
    gradient would only throw the weights further, and soon turn every weight into NaN);
    otherwise clip (if ``max_norm`` is given) and update ``p ← p − lr · g``.

    Args:
        params: list of float arrays (not modified; the result is in ``history.params``).
        loss_and_grads: ``f(params, batch) -> (loss, grads)``, grads shaped like params.
        batches: an iterator of batches (e.g. :func:`delayed_copy_batches`).
        lr: learning rate; steps: number of updates.
        max_norm: clipping threshold (None: no clipping).
        clip_fn: ``f(grads, max_norm) -> (clipped, total_norm)``, e.g. the exercise's.
        name: used in the messages.
        verbose: print a one-line summary (or the reason for stopping) at the end.
        diverge_above: the bound of :func:`is_divergent` (``math.inf``: stop only on NaN/inf).

    Returns:
        a :class:`course_utils.history.History`: ``loss[k]`` and ``grad_norm[k]`` are the
        loss and the gradient norm (before clipping) at step k, ``clipped[k]`` whether
        clipping shortened it; ``stopped_at`` is the step at which the run diverged (None
        if it ran to the end), with ``message`` saying why; ``params`` are the final
        parameters.
    """
    update = SGDUpdate([np.array(p, dtype=float, copy=True) for p in params], loss_and_grads,
                       lr=lr, norm_of=global_norm, clip=max_norm,
                       clip_norm=clip_fn or _clip_grad_norm)
    hist = fit(update, iter(batches), schedule=Schedule(steps=steps), history=History(name=name),
               diverged=lambda h: _divergence(h, name, diverge_above))
    hist.result = update.params
    if verbose:
        if hist.diverged:
            print(hist.message)
        else:
            print(f"{name}: {steps} steps, loss {hist.loss[0]:.3f} -> {hist.final_loss():.3f} "
                  f"(mean of the last 20 steps).")
    return hist


def _divergence(hist, name: str, bound: float) -> str | None:
    """The message of :func:`train_sgd` when its last step diverged, else None."""
    loss, norm, k = hist.losses[-1], hist.grad_norms[-1], hist.n_updates - 1
    if not is_divergent(loss, norm, bound):
        return None
    if not (np.isfinite(loss) and np.isfinite(norm)):
        what = (f"the loss is {loss}" if not np.isfinite(loss)
                else f"the gradient norm is {norm}") + " (not finite)"
    else:
        what = (f"the loss is {loss:.1e}" if loss > bound
                else f"the gradient norm is {norm:.1e}") + f" (above {bound:.0e})"
    return (f"{name}: stopped at step {k}: {what}. Training diverged; further updates would "
            "soon produce inf and NaN. Lower the learning rate or clip the gradients.")


def first_spike(norms, factor: float = 20.0) -> int | None:
    """The first step ``k >= 1`` whose gradient norm exceeds ``factor`` times the median of
    the norms of steps ``0 … k−1`` (None if there is none): where a run first meets a cliff."""
    norms = np.asarray(norms, dtype=float)
    for k in range(1, len(norms)):
        if norms[k] > factor * np.median(norms[:k]):
            return k
    return None


def percentile_threshold(norms, q: float) -> float:
    """The ``q``-th percentile (0–100) of the finite gradient norms recorded in a run."""
    norms = np.asarray(norms, dtype=float)
    return float(np.percentile(norms[np.isfinite(norms)], q))
