"""Truncated backpropagation through time (TBPTT), in numpy and in PyTorch.

Notation (Williams and Peng 1990; Sutskever 2013, §2.8): **TBPTT(k1, k2)** processes the
sequence forward one step at a time and, every ``k1`` steps, runs BPTT over the last
``k2`` steps (``k2 >= k1``). The losses of the last ``k1`` steps are backpropagated, each
through at most ``k2`` steps; the hidden state is always carried forward. Special cases:

* ``k1 = k2 = k``: the common "chunked" or *stateful* TBPTT: cut the stream into chunks of
  ``k`` steps, carry the hidden state from chunk to chunk, never the gradient.
* ``k1 = k2 = T``: full BPTT (one update per sequence).

The loss used by the numpy functions is linear in the hidden states,
``L = Σ_t Σ_n ⟨dh[n, t], h[n, t]⟩``, so that ``dh: (N, T, H)`` is the per-step gradient
``∂L_t/∂h_t`` (exactly the ``dh`` argument of :func:`course_utils.reference.nb03.rnn_backward`). Any
real per-step loss (softmax, MSE) only changes how ``dh`` is computed.

Contents
--------
numpy       :func:`randomized_truncation_estimate`; the numpy TBPTT(k1, k2), checkpointed
            BPTT and the split by lag build on the solved step functions, so they are
            one floor up, in :mod:`course_utils.lessons.tbptt_numpy`.
torch       :func:`torch_rnn_step`, :func:`chunk_losses_torch` (chunked TBPTT),
            :func:`tbptt_torch` (general k1 ≤ k2), :func:`detach_state`,
            :func:`bptt_checkpointed_torch`.
updates     :func:`chunk_bounds`, :func:`update_times`, :func:`window_start`,
            :func:`windows`, :func:`path_grid` (which steps each
            update touches), :func:`sqrt_segment`.

Measuring them is in :mod:`course_utils.profiling`; notebook 05's experiments (memory and
time against T, the bias of truncation) in :mod:`course_utils.lessons.truncation_experiments`, its
figure and explorer in :mod:`course_utils.lessons.truncation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


# ---------------------------------------------------------------------------------------
# numpy
# ---------------------------------------------------------------------------------------
def chunk_bounds(T: int, k: int) -> list[tuple[int, int]]:
    """``[(0, k), (k, 2k), …]`` covering ``0 … T``; the last chunk may be shorter."""
    if k < 1:
        raise ValueError(f"chunk length must be >= 1, got {k}")
    return [(s, min(s + k, T)) for s in range(0, T, k)]


def update_times(T: int, k1: int) -> list[int]:
    """Steps after which TBPTT(k1, ·) updates: k1, 2·k1, …, and T if k1 does not divide T."""
    times = list(range(k1, T + 1, k1))
    if not times or times[-1] != T:
        times.append(T)
    return times


def window_start(prev: int, k1: int, k2: int) -> int:
    """The 0-based first step of the TBPTT(k1, k2) window of an update whose first injected
    loss is step ``prev`` (the previous update time): ``k2 - k1`` steps before it, or 0.
    For every update but a shorter last one this is ``t - k2`` (``t`` the update time)."""
    return max(0, prev - (k2 - k1))


def windows(T: int, k1: int, k2: int) -> list[tuple[int, int, int]]:
    """Every update of TBPTT(k1, k2) over ``T`` steps as ``(start, prev, t)``: it injects the
    losses of steps ``prev … t-1`` and backpropagates through steps ``start … t-1``."""
    times = update_times(T, k1)
    return [(window_start(prev, k1, k2), prev, t) for prev, t in zip([0] + times[:-1], times)]


def randomized_truncation_estimate(c, survival, rng, n_samples: int):
    """Unbiased randomized truncation (Tallec and Ollivier 2017), from per-lag terms ``c``.

    Draw a truncation length ``K`` with ``P(K > j) = survival[j]`` and return
    ``Σ_{j<K} c_j / survival[j]``: every kept term is re-weighted by the inverse of its
    probability of being kept, so the expectation is the full gradient ``Σ_j c_j``.

    Args:
        c: (T, ...) per-lag contributions (see
            :func:`course_utils.lessons.tbptt_numpy.contributions_by_lag`).
        survival: (T,) non-increasing probabilities with ``survival[0] = 1``.
        rng: numpy Generator; n_samples: number of independent estimates.

    Returns:
        (n_samples, ...) estimates, and (n_samples,) the sampled lengths K.
    """
    survival = np.asarray(survival, dtype=float)
    T = c.shape[0]
    # P(K = m) = survival[m-1] - survival[m] for m = 1 … T (survival[T] := 0)
    s = np.append(survival, 0.0)
    p = s[:-1] - s[1:]
    K = rng.choice(np.arange(1, T + 1), size=n_samples, p=p / p.sum())
    weighted = c / survival.reshape((-1,) + (1,) * (c.ndim - 1))
    cums = np.cumsum(weighted, axis=0)
    return cums[K - 1], K


# ---------------------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------------------
def torch_rnn_step(x_t, h, Wxh, Whh, b):
    """The course's RNN step in torch: x_t (N, D), h (N, H) -> (N, H)."""
    import torch

    return torch.tanh(x_t @ Wxh.T + h @ Whh.T + b)


def detach_state(h):
    """Detach a hidden state from the graph: a tensor, ``None``, or a tuple/list of them.

    This is the whole of "truncation" in PyTorch: the returned tensors have the same
    values but no history, so the next backward pass stops here.
    """
    import torch

    if h is None:
        return None
    if isinstance(h, torch.Tensor):
        return h.detach()
    return type(h)(detach_state(v) for v in h)


def chunk_losses_torch(step: Callable, x, h0, loss_at: Callable, k: int):
    """The chunks of stateful TBPTT(k, k) in PyTorch, lazily: yields ``(loss, e, h)``.

    Each chunk starts from the detached state of the previous one (``h = h.detach()``:
    the truncation; the new graph starts here), runs ``k`` steps and yields the sum of
    their losses (a scalar tensor with its graph: the caller backpropagates it before
    asking for the next chunk), the step ``e`` at which the chunk ends and the state there.

    Args: as in :func:`tbptt_torch`.
    """
    h = h0
    for s, e in chunk_bounds(x.shape[1], k):
        h = h.detach()  # ← the truncation: the new graph starts here
        loss = 0.0
        for t in range(s, e):
            h = step(x[:, t], h)
            loss = loss + loss_at(h, t)
        yield loss, e, h


def tbptt_torch(step: Callable, params, x, h0, loss_at: Callable, k1: int, k2: int | None = None,
                on_update: Callable | None = None):
    """TBPTT(k1, k2) with PyTorch autograd, for any k1 <= k2.

    * ``k1 == k2`` is the stateful idiom (:func:`chunk_losses_torch`): run ``k1`` steps,
      ``backward``, then ``h = h.detach()`` so the next chunk's graph starts at a leaf.
    * ``k1 < k2``: keep the last ``k2`` *detached* states; at every update time ``t``,
      re-run the forward pass from the state ``k2`` steps back (with a graph), take the
      losses of the last ``k1`` steps and backpropagate. This costs ``k2/k1`` forward
      passes per step but memory only for ``k2`` steps, and it is simple to get right.

    Args:
        step: ``step(x_t, h) -> h_next``, e.g. ``lambda x_t, h: torch_rnn_step(x_t, h, *params)``.
        params: the tensors (``requires_grad=True``) whose gradients are wanted.
        x: (N, T, D) tensor; h0: (N, H) tensor.
        loss_at: ``loss_at(h_t, t) -> scalar tensor``, the loss at step t (0-based).
        k1, k2: as in the module docstring; ``k2=None`` means ``k2 = k1``.
        on_update: called as ``on_update(grads, t)`` after each update (e.g. to take an
            optimizer step); ``grads`` is a tuple like ``params``.

    Returns:
        list of per-update gradient tuples, and the final state (detached).
    """
    import torch

    k2 = k1 if k2 is None else k2
    if not 1 <= k1 <= k2:
        raise ValueError(f"need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    params = tuple(params)
    out = []

    def update(loss, t):
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        out.append(grads)
        if on_update is not None:
            on_update(grads, t)

    if k1 == k2:
        h_last = h0
        for loss, e, h_last in chunk_losses_torch(step, x, h0, loss_at, k1):  # noqa: B007
            update(loss, e)
        return out, h_last.detach()
    return out, _tbptt_windows_torch(step, x, h0, loss_at, k1, k2, update)


def _tbptt_windows_torch(step, x, h0, loss_at, k1, k2, update):
    """TBPTT(k1 < k2) for :func:`tbptt_torch`: calls ``update(loss, t)`` at every update
    time; returns the final state (detached)."""
    import torch

    states = [h0.detach()]  # states[i] = detached h after i steps (only the last k2 needed)
    freed = 0
    for s, prev, t_upd in windows(x.shape[1], k1, k2):
        # advance the detached forward state to t_upd
        h = states[-1]
        with torch.no_grad():
            for t in range(len(states) - 1, t_upd):
                h = step(x[:, t], h)
                states.append(h)
        h = states[s].detach()
        loss = 0.0
        for t in range(s, t_upd):
            h = step(x[:, t], h)
            if t >= prev:
                loss = loss + loss_at(h, t)
        update(loss, t_upd)
        keep_from = window_start(t_upd, k1, k2)  # the next window starts at or after this
        for i in range(freed, keep_from):  # forget states no window will need again
            states[i] = None
        freed = max(freed, keep_from)
    return states[-1].detach()


def bptt_checkpointed_torch(step: Callable, x, h0, loss_at: Callable, segment: int):
    """Full BPTT with ``torch.utils.checkpoint`` over segments of ``segment`` steps.

    Each segment's forward pass runs without storing its activations; in the backward
    pass it is recomputed from the segment's input state. Gradients are exact.

    Returns:
        the total loss (a scalar tensor with a graph: call ``.backward()`` on it).
    """
    from torch.utils.checkpoint import checkpoint

    def run(h, s, e):
        loss = h.new_zeros(())
        for t in range(s, e):
            h = step(x[:, t], h)
            loss = loss + loss_at(h, t)
        return h, loss

    # The reentrant variant recomputes each segment with ordinary autograd during the
    # backward pass, so the memory it uses there is visible to SavedTensorTracker. It needs
    # an input that requires grad: let h0 be one (its gradient is simply not used).
    h = h0 if h0.requires_grad else h0.detach().requires_grad_(True)
    total = 0.0
    for s, e in chunk_bounds(x.shape[1], segment):
        h, loss = checkpoint(run, h, s, e, use_reentrant=True)
        total = total + loss
    return total


# ---------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------
def sqrt_segment(T: int) -> int:
    """The segment length ≈ √T that balances stored boundaries and one recomputed segment."""
    return max(1, int(round(math.sqrt(T))))


# ---------------------------------------------------------------------------------------
# figure
# ---------------------------------------------------------------------------------------
def path_grid(T: int, k1: int, k2: int) -> np.ndarray:
    """What TBPTT(k1, k2) does at each update, as a (U, T) integer grid.

    Row u is the u-th update; entry 2 = the loss at that step is backpropagated in this
    update, 1 = the gradient flows through this step (but its loss is not injected),
    0 = not touched (the forward state passes, no gradient).
    """
    ws = windows(T, k1, k2)
    grid = np.zeros((len(ws), T), dtype=int)
    for u, (s, prev, t) in enumerate(ws):
        grid[u, s:t] = 1
        grid[u, prev:t] = 2
    return grid


# ---------------------------------------------------------------------------------------
# full vs truncated vs checkpointed: one forward+backward pass, measured
# ---------------------------------------------------------------------------------------
METHODS = ("full BPTT", "truncated", "checkpointed")


# ---------------------------------------------------------------------------------------
# the bias: a dependency longer than k2 is not learned
# ---------------------------------------------------------------------------------------
