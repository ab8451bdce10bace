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
numpy       :func:`tbptt_k1k2_numpy` (general; k1 = k2 is notebook 05's exercise,
            :func:`course_utils.reference.nb05.truncated_bptt`),
            :func:`checkpointed_bptt_numpy` (exact gradients, √T memory),
            :func:`contributions_by_lag`, :func:`randomized_truncation_estimate`.
torch       :func:`torch_rnn_step`, :func:`tbptt_torch` (general k1 ≤ k2),
            :func:`bptt_checkpointed_torch`, :class:`SavedTensorTracker`.
measuring   :func:`measure_numpy`, :func:`measure_torch`, :func:`compare_memory_time`
            (full vs truncated vs checkpointed, numpy or torch), :func:`format_table`,
            :func:`plot_memory_time`, :class:`torch_threads`.
bias        :func:`delayed_recall_vs_k` (accuracy on delayed recall vs truncation length),
            :func:`train_k1k2` (TBPTT(k1, k2) training of a torch RNN on one stream).
figure      :func:`draw_tbptt_paths`, :func:`path_grid`.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from . import rnn
from .reference import nb01 as _nb01
from .reference import nb03 as _nb03


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


def tbptt_k1k2_numpy(x, h0, Wxh, Whh, b, dh, k1, k2):
    """General TBPTT(k1, k2) with k1 <= k2: every k1 steps, backpropagate k2 steps.

    At each update time ``t`` (see :func:`update_times`) the losses of steps
    ``t-k1 … t-1`` (0-based) are backpropagated through steps ``max(0, t-k2) … t-1``;
    the state entering that window is treated as a constant. (If k1 does not divide T,
    the last update injects fewer than k1 losses and its window starts ``k2 - k1`` steps
    before its first loss, so that k1 = k2 gives exactly the chunks of :func:`reference.nb05.truncated_bptt`.)

    Args:
        x: (N, T, D); h0: (N, H); Wxh (H, D); Whh (H, H); b (H,); dh: (N, T, H).
        k1: steps between updates; k2: steps backpropagated (k2 >= k1).

    Returns:
        dWxh (U, H, D), dWhh (U, H, H), db (U, H): one gradient per update (U updates),
        and h_last (N, H).
    """
    if not 1 <= k1 <= k2:
        raise ValueError(f"need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    N, T, _ = x.shape
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)  # forward values (a real implementation
    # keeps only the last k2 of them; here we slice them for clarity)
    gx, gh, gb = [], [], []
    prev = 0
    for t in update_times(T, k1):
        s = max(0, prev - (k2 - k1))  # = t - k2, except for a shorter last update
        h_in = h0 if s == 0 else h[:, s - 1]
        dh_win = np.zeros_like(dh[:, s:t])
        first_loss = prev  # losses not yet used: steps prev … t-1
        dh_win[:, first_loss - s:] = dh[:, first_loss:t]
        _, _, dWxh, dWhh, db = _nb03.rnn_backward(dh_win, x[:, s:t], h_in, h[:, s:t], Wxh, Whh)
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
        prev = t
    return np.stack(gx), np.stack(gh), np.stack(gb), h[:, -1]


def checkpointed_bptt_numpy(x, h0, Wxh, Whh, b, dh, segment):
    """Exact BPTT that stores only the states at segment boundaries (gradient checkpointing).

    Forward: keep ``h`` only every ``segment`` steps (about T/segment states). Backward:
    for each segment, last to first, recompute its states from the stored boundary and
    backpropagate through it, carrying ``dh`` into the previous segment. With
    ``segment ≈ √T`` memory is O(√T) instead of O(T), for one extra forward pass.

    Returns:
        dWxh (H, D), dWhh (H, H), db (H,), equal to full BPTT's (up to rounding).
    """
    bounds = chunk_bounds(x.shape[1], segment)
    starts = []
    h_prev = h0
    for s, e in bounds:  # forward, storing boundary states only
        starts.append(h_prev)
        for t in range(s, e):
            h_prev = _nb01.rnn_step_forward(x[:, t], h_prev, Wxh, Whh, b)
    dWxh, dWhh = np.zeros_like(Wxh), np.zeros_like(Whh)
    db = np.zeros_like(b)
    carry = np.zeros_like(h0)
    for (s, e), h_in in zip(reversed(bounds), reversed(starts)):
        h = _nb01.rnn_forward(x[:, s:e], h_in, Wxh, Whh, b)  # recompute this segment
        dh_seg = dh[:, s:e].copy()
        dh_seg[:, -1] += carry
        _, carry, gx, gh, gb = _nb03.rnn_backward(dh_seg, x[:, s:e], h_in, h, Wxh, Whh)
        dWxh += gx
        dWhh += gh
        db += gb
    return dWxh, dWhh, db


def contributions_by_lag(x, h0, Wxh, Whh, b, dh_last):
    """Split the gradient of a loss at the *last* step into one term per lag.

    With ``L = ⟨dh_last, h_T⟩``, ``∂L/∂Whh = Σ_{j=0}^{T-1} c_j`` where ``c_j`` is the term
    from step ``T-j`` (the path that goes back ``j`` steps). Truncating at ``k`` keeps
    ``c_0 … c_{k-1}``.

    Args:
        x: (N, T, D), h0 (N, H), weights as usual; dh_last: (N, H).

    Returns:
        c: (T, H, H) with ``c[j]`` the lag-``j`` contribution to ∂L/∂Whh.
    """
    N, T, _ = x.shape
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    c = np.zeros((T,) + Whh.shape)
    g = dh_last
    for j in range(T):
        t = T - 1 - j
        h_prev = h[:, t - 1] if t > 0 else h0
        _, g, _, dWhh, _ = _nb03.rnn_step_backward(g, x[:, t], h_prev, h[:, t], Wxh, Whh)
        c[j] = dWhh
    return c


def randomized_truncation_estimate(c, survival, rng, n_samples: int):
    """Unbiased randomized truncation (Tallec and Ollivier 2017), from per-lag terms ``c``.

    Draw a truncation length ``K`` with ``P(K > j) = survival[j]`` and return
    ``Σ_{j<K} c_j / survival[j]``: every kept term is re-weighted by the inverse of its
    probability of being kept, so the expectation is the full gradient ``Σ_j c_j``.

    Args:
        c: (T, ...) per-lag contributions (see :func:`contributions_by_lag`).
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


def tbptt_torch(step: Callable, params, x, h0, loss_at: Callable, k1: int, k2: int | None = None,
                on_update: Callable | None = None):
    """TBPTT(k1, k2) with PyTorch autograd, for any k1 <= k2.

    * ``k1 == k2`` is the stateful idiom: run ``k1`` steps, ``backward``, then
      ``h = h.detach()`` so the next chunk's graph starts at a leaf.
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
    T = x.shape[1]
    params = tuple(params)
    out = []
    if k1 == k2:
        h = h0
        for s, e in chunk_bounds(T, k1):
            h = h.detach()  # ← the truncation: the new graph starts here
            loss = 0.0
            for t in range(s, e):
                h = step(x[:, t], h)
                loss = loss + loss_at(h, t)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            out.append(grads)
            if on_update is not None:
                on_update(grads, e)
        return out, h.detach()
    states = [h0.detach()]  # states[i] = detached h after i steps (only the last k2 needed)
    prev = freed = 0
    for t_upd in update_times(T, k1):
        # advance the detached forward state to t_upd
        h = states[-1]
        with torch.no_grad():
            for t in range(len(states) - 1, t_upd):
                h = step(x[:, t], h)
                states.append(h)
        s = max(0, prev - (k2 - k1))  # = t_upd - k2, except for a shorter last update
        h = states[s].detach()
        loss = 0.0
        for t in range(s, t_upd):
            h = step(x[:, t], h)
            if t >= prev:
                loss = loss + loss_at(h, t)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        out.append(grads)
        if on_update is not None:
            on_update(grads, t_upd)
        keep_from = max(0, t_upd - (k2 - k1))  # the next window starts at or after this
        for i in range(freed, keep_from):  # forget states no window will need again
            states[i] = None
        freed = max(freed, keep_from)
        prev = t_upd
    return out, states[-1].detach()


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


class SavedTensorTracker:
    """Measure the memory autograd keeps for the backward pass (bytes of saved tensors).

    Use as a context manager around forward *and* backward. Every tensor autograd saves
    goes through ``torch.autograd.graph.saved_tensors_hooks``; the tracker counts its
    bytes (views counted by their own size, a tensor saved twice counted once) while it
    is alive and records the peak. When a graph is freed (after ``backward``) its saved
    tensors are released and the live count drops, so ``live`` after the block tells
    whether a graph is still being held. Recomputed segments of
    ``torch.utils.checkpoint`` (non-reentrant) are counted too.

    Attributes: ``peak`` and ``live`` (bytes), ``n_saved`` (tensors packed).
    """

    def __init__(self):
        self.live = 0
        self.peak = 0
        self.n_saved = 0
        self._count: dict = {}
        self._ctx = None

    def _pack(self, t):
        key = (t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.dtype)
        nbytes = t.numel() * t.element_size()
        tracker = self

        class _Held:
            __slots__ = ("tensor", "key")

            def __del__(self):
                tracker._release(self.key)

        held = _Held()
        held.tensor, held.key = t, key
        n, _ = self._count.get(key, (0, nbytes))
        if n == 0:
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        self._count[key] = (n + 1, nbytes)
        self.n_saved += 1
        return held

    def _release(self, key):
        n, nbytes = self._count[key]
        if n == 1:
            del self._count[key]
            self.live -= nbytes
        else:
            self._count[key] = (n - 1, nbytes)

    @staticmethod
    def _unpack(held):
        return held.tensor

    def __enter__(self):
        import torch

        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        return False


# ---------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------
def _min_times(fn: Callable, repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``fn()``, each the minimum over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def measure_numpy(fn: Callable, repeat: int = 1) -> dict:
    """Peak memory allocated by ``fn()`` (tracemalloc, which sees numpy's buffers) and time.

    Returns ``{"peak_bytes", "wall_s", "cpu_s"}``; times are the minimum over ``repeat``
    untraced runs (tracing slows Python down), memory is from one traced run.
    """
    wall, cpu = _min_times(fn, repeat)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    if not was_tracing:
        tracemalloc.stop()
    return {"peak_bytes": peak - base, "wall_s": wall, "cpu_s": cpu}


def measure_torch(fn: Callable, repeat: int = 1) -> dict:
    """Peak bytes of autograd-saved tensors during ``fn()`` (forward + backward) and time.

    Returns ``{"peak_bytes", "live_after", "wall_s", "cpu_s"}`` (min over ``repeat``).
    """
    wall, cpu = _min_times(fn, repeat)
    with SavedTensorTracker() as tr:
        fn()
    return {"peak_bytes": tr.peak, "live_after": tr.live, "wall_s": wall, "cpu_s": cpu}


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
    times = update_times(T, k1)
    grid = np.zeros((len(times), T), dtype=int)
    prev = 0
    for u, t in enumerate(times):
        grid[u, max(0, prev - (k2 - k1)):t] = 1
        grid[u, prev:t] = 2
        prev = t
    return grid


def draw_tbptt_paths(T: int = 12, variants=((12, 12), (4, 4), (2, 6)), axes=None):
    """Draw which steps each TBPTT(k1, k2) variant backpropagates through.

    One panel per ``(k1, k2)`` in ``variants``; rows are updates (top to bottom), columns
    time steps. Dark cells: losses injected at that update; light cells: steps the
    gradient flows back through; white: only the forward state passes. A red bar marks
    where each update's backward pass is cut (the state entering the window is a
    constant, as after ``detach``). Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if axes is None:
        heights = [len(update_times(T, k1)) + 1.2 for k1, _ in variants]
        _, axes = plt.subplots(len(variants), 1, figsize=(0.55 * T + 2.5, 0.45 * sum(heights) + 1),
                               gridspec_kw={"height_ratios": heights})
    axes = np.atleast_1d(axes)
    cmap = ListedColormap(["white", "#9ecae1", "#08519c"])
    for ax, (k1, k2) in zip(axes, variants):
        grid = path_grid(T, k1, k2)
        U = grid.shape[0]
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=2, aspect="auto",
                  extent=(0.5, T + 0.5, U + 0.5, 0.5))
        prev = 0
        for u, t in enumerate(update_times(T, k1), start=1):
            s = max(0, prev - (k2 - k1))
            prev = t
            ax.plot([s + 0.5, s + 0.5], [u - 0.45, u + 0.45], color="#d62728", lw=3)
            ax.annotate("", xy=(s + 0.6, u), xytext=(t + 0.4, u),
                        arrowprops=dict(arrowstyle="-|>", color="black", lw=1.0))
        ax.set_xticks(range(1, T + 1))
        ax.set_yticks(range(1, U + 1))
        ax.set_yticklabels([f"update at t={t}" for t in update_times(T, k1)], fontsize=8)
        ax.set_xticks(np.arange(0.5, T + 1), minor=True)
        ax.set_yticks(np.arange(0.5, U + 1), minor=True)
        ax.grid(which="minor", color="#bbbbbb", lw=0.6)
        ax.tick_params(which="minor", length=0)
        name = "full BPTT" if k1 == k2 == T else f"TBPTT(k1={k1}, k2={k2})"
        ax.set_title(f"{name}: every {k1} steps, backpropagate {k2} steps", fontsize=11)
    axes[-1].set_xlabel("time step t (the hidden state is carried forward through every step)")
    handles = [Patch(fc="#08519c", label="loss L_t injected in this update"),
               Patch(fc="#9ecae1", label="gradient flows back through step t"),
               Patch(fc="white", ec="#bbbbbb", label="no gradient (forward only)"),
               Patch(fc="#d62728", label="cut: incoming state is a constant (detach)")]
    axes[0].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.25), ncol=2,
                   fontsize=9, frameon=False)
    axes[0].figure.tight_layout()
    return axes


# ---------------------------------------------------------------------------------------
# full vs truncated vs checkpointed: one forward+backward pass, measured
# ---------------------------------------------------------------------------------------
METHODS = ("full BPTT", "truncated", "checkpointed")


def _problem(T, N, D, H, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = rnn.init_rnn_params(D, H, rng)
    x = rng.normal(size=(N, T, D)).astype(dtype)
    dh = (rng.normal(size=(N, T, H)) / np.sqrt(N * T * H)).astype(dtype)
    h0 = np.zeros((N, H), dtype=dtype)
    return x, h0, p.Wxh.astype(dtype), p.Whh.astype(dtype), p.b.astype(dtype), dh


def numpy_pass(method: str, x, h0, Wxh, Whh, b, dh, k: int):
    """One forward+backward pass over ``x`` with ``method`` (one of :data:`METHODS`).

    ``"truncated"`` consumes each chunk's gradient at once (adds it to a running total, as
    an optimizer step would) so nothing grows with T. Returns (dWxh, dWhh, db) summed.
    """
    if method == "full BPTT":
        h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
        return _nb03.rnn_backward(dh, x, h0, h, Wxh, Whh)[2:]
    if method == "checkpointed":
        return checkpointed_bptt_numpy(x, h0, Wxh, Whh, b, dh, sqrt_segment(x.shape[1]))
    if method == "truncated":
        total = [np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(b)]
        h_prev = h0
        for s, e in chunk_bounds(x.shape[1], k):
            h = _nb01.rnn_forward(x[:, s:e], h_prev, Wxh, Whh, b)
            g = _nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_prev, h, Wxh, Whh)[2:]
            total = [a + gi for a, gi in zip(total, g)]
            h_prev = h[:, -1]
        return tuple(total)
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


def torch_pass(method: str, x, h0, params, dh, k: int):
    """The torch version of :func:`numpy_pass` (tensors; params require grad).

    Gradients end up in ``p.grad``; the per-step loss is ``⟨dh_t, h_t⟩``.
    """
    step = lambda x_t, h: torch_rnn_step(x_t, h, *params)
    loss_at = lambda h, t: (h * dh[:, t]).sum()
    if method == "full BPTT":
        h, loss = h0, 0.0
        for t in range(x.shape[1]):
            h = step(x[:, t], h)
            loss = loss + loss_at(h, t)
        loss.backward()
    elif method == "checkpointed":
        bptt_checkpointed_torch(step, x, h0, loss_at, sqrt_segment(x.shape[1])).backward()
    elif method == "truncated":
        h = h0
        for s, e in chunk_bounds(x.shape[1], k):
            h = h.detach()
            loss = 0.0
            for t in range(s, e):
                h = step(x[:, t], h)
                loss = loss + loss_at(h, t)
            loss.backward()  # gradients accumulate in p.grad (an optimizer would step here)
    else:
        raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


def compare_memory_time(Ts, *, backend: str = "numpy", N: int = 16, D: int = 8, H: int = 64,
                        k: int = 50, repeat: int = 1, seed: int = 0, methods=METHODS) -> list[dict]:
    """Measure peak memory and time of one forward+backward pass for each T and method.

    numpy: peak bytes allocated (``tracemalloc``), float64. torch: peak bytes of tensors
    autograd saves for backward (:class:`SavedTensorTracker`), float32. The inputs and the
    loss gradients ``dh`` are created before measuring and are not counted.

    Returns:
        a list of ``{"T", "method", "peak_bytes", "wall_s", "cpu_s"}`` rows.
    """
    rows = []
    for T in Ts:
        if backend == "numpy":
            prob = _problem(T, N, D, H, seed)
            for m in methods:
                r = measure_numpy(lambda m=m, prob=prob: numpy_pass(m, *prob, k), repeat=repeat)
                rows.append({"T": T, "method": m, **{key: r[key] for key in ("peak_bytes", "wall_s", "cpu_s")}})
        elif backend == "torch":
            with torch_threads(1):
                rows += _torch_rows(T, N, D, H, k, repeat, seed, methods)
        else:
            raise ValueError("backend must be 'numpy' or 'torch'")
    return rows


def _torch_rows(T, N, D, H, k, repeat, seed, methods):
    import torch

    arrays = _problem(T, N, D, H, seed, np.float32)
    x, h0, Wxh, Whh, b, dh = (torch.from_numpy(a) for a in arrays)
    params = [w.clone().requires_grad_(True) for w in (Wxh, Whh, b)]
    rows = []
    for m in methods:
        def fn(m=m):
            for p in params:
                p.grad = None
            torch_pass(m, x, h0, params, dh, k)

        fn()  # warm-up (the first checkpoint call is slow)
        r = measure_torch(fn, repeat=repeat)
        rows.append({"T": T, "method": m, **{key: r[key] for key in ("peak_bytes", "wall_s", "cpu_s")}})
    return rows


class torch_threads:
    """Context manager: run torch with ``n`` intra-op threads, then restore the setting.

    Tiny RNN steps are dominated by overhead; one thread is faster and gives steadier
    timings on a busy machine.
    """

    def __init__(self, n: int = 1):
        self.n = n

    def __enter__(self):
        import torch

        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.old)
        return False


def format_table(rows, *, unit: str = "MB") -> str:
    """Rows of :func:`compare_memory_time` as a text table (memory in MB, time in ms)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    Ts = list(dict.fromkeys(r["T"] for r in rows))
    by = {(r["T"], r["method"]): r for r in rows}
    head = f"{'T':>6} | " + " | ".join(f"{m:>24}" for m in methods)
    lines = [head, f"{'':>6} | " + " | ".join(f"{'peak MB   wall ms   cpu ms':>24}" for _ in methods),
             "-" * len(head)]
    for T in Ts:
        cells = []
        for m in methods:
            r = by[(T, m)]
            cells.append(f"{r['peak_bytes'] / 1e6:7.2f} {r['wall_s'] * 1e3:9.1f} {r['cpu_s'] * 1e3:8.1f}")
        lines.append(f"{T:>6} | " + " | ".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)


def plot_memory_time(rows, axes=None, *, title: str = ""):
    """Two panels: peak memory vs T and time vs T, one line per method. Returns the axes."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == m]
        Ts = [r["T"] for r in rs]
        axes[0].plot(Ts, [r["peak_bytes"] / 1e6 for r in rs], "o-", label=m)
        axes[1].plot(Ts, [r["cpu_s"] * 1e3 for r in rs], "o-", label=m)
    axes[0].set_ylabel("peak memory (MB)")
    axes[1].set_ylabel("CPU time (ms)")
    for ax, what in zip(axes, ("memory", "time")):
        ax.set_xlabel("sequence length T")
        ax.set_title(f"{title}{what} of one forward + backward pass")
        ax.legend()
        ax.grid(alpha=0.3)
    axes[0].figure.tight_layout()
    return axes


# ---------------------------------------------------------------------------------------
# the bias: a dependency longer than k2 is not learned
# ---------------------------------------------------------------------------------------
def train_k1k2(model, x, y, *, loss_fn: Callable, optimizer, k1: int, k2: int,
               clip: float | None = None):
    """Train a one-layer ``SequenceModel(cell="rnn")`` on one stream with TBPTT(k1, k2).

    Every ``k1`` steps, the last ``k2`` steps are re-run from the *detached* state that
    entered them (the cut), with a graph, and the losses of the newest ``k1`` steps are
    backpropagated: the loss at a step reaches back between ``k2 - k1 + 1`` and ``k2``
    steps. The states of the stream are those of the forward pass at the weights of the
    moment (as in :func:`tbptt_torch`); with ``k1 == k2`` this is chunked TBPTT, the same
    updates as ``training.train_tbptt(..., k=k1)``.

    Args:
        model: ``course_utils.training.SequenceModel`` with ``cell="rnn"`` (it uses
            ``model.rnn`` and ``model.head``).
        x: (N, T, D), y: (N, T) tensors (``y = -1``: no target at that step).
        loss_fn: ``loss_fn(out, y) -> scalar`` (e.g. ``training.cross_entropy_loss``).
        optimizer: over ``model.parameters()``. k1, k2: ``1 <= k1 <= k2``.
        clip: clip the global gradient norm to this value before each step.

    Returns:
        a :class:`course_utils.training.History` (one loss and gradient norm per update).
    """
    import torch

    from . import training

    if not 1 <= k1 <= k2:
        raise ValueError(f"need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    hist = training.History()
    states = {0: None}  # step i -> detached hidden state after i steps, (1, N, H)
    prev = 0
    for t_upd in update_times(x.shape[1], k1):
        s = max(0, prev - (k2 - k1))  # = t_upd - k2, except for a shorter last update
        z, _ = model.rnn(x[:, s:t_upd], states[s])  # the window, with a graph
        loss = loss_fn(model.head(z[:, prev - s:]), y[:, prev:t_upd])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        hist.grad_norms.append(training._grad_norm(model))
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        hist.losses.append(float(loss.detach()))
        for j in range(prev, t_upd):  # carry the (detached) forward states on
            states[j + 1] = z[:, j - s].detach()[None]
        for i in [i for i in states if i < t_upd - (k2 - k1)]:  # no window needs them
            del states[i]
        prev = t_upd
    hist.epoch_losses.append(float(np.mean(hist.losses)))
    return hist


def delayed_recall_vs_k(ks, *, lag: int = 5, n_symbols: int = 4, hidden: int = 32,
                        n_updates: int = 300, batch: int = 32, lr: float = 1e-2,
                        seed: int = 0, carry_state: bool = True, progress: bool = False,
                        k1: int | None = None):
    """Train one small tanh RNN per truncation length ``k`` on the delayed-recall task.

    Each model gets the same number of updates (``n_updates`` chunks of ``k`` steps of a
    fresh stream, TBPTT(k, k), Adam, clipping at 1) and is evaluated on a held-out stream
    with the state carried through all of it.

    Args:
        ks: truncation lengths to try. lag: the task's delay L (targets need k > L).
        carry_state: False resets the state to zero at every chunk (a stateless model).
        k1: if given, train with TBPTT(k1, k) instead (:func:`train_k1k2`): each ``k`` in
            ``ks`` is k2, and each of the ``n_updates`` updates brings ``k1`` new steps.

    Returns:
        dict with ``"k"``, ``"accuracy"`` (held-out, per k), ``"chance"``, ``"lag"`` and
        ``"histories"`` (the :class:`course_utils.training.History` of each run).
    """
    import torch

    from . import tasks, training

    if k1 is not None and not carry_state:
        raise ValueError("k1 (TBPTT(k1, k2)) needs carry_state=True")
    xt, yt, _ = tasks.delayed_recall(64, 300, lag, n_symbols, np.random.default_rng(seed + 1000))
    xt, yt = torch.from_numpy(xt), torch.from_numpy(yt)
    accs, histories = [], []
    with torch_threads(1):
        for k in ks:
            x, y, _ = tasks.delayed_recall(batch, n_updates * (k if k1 is None else k1), lag,
                                           n_symbols, np.random.default_rng(seed))
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            torch.manual_seed(seed)
            model = training.SequenceModel(n_symbols, hidden, n_symbols, cell="rnn")
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            if k1 is not None:
                hist = train_k1k2(model, x, y, loss_fn=training.cross_entropy_loss,
                                  optimizer=opt, k1=k1, k2=k, clip=1.0)
            else:
                batches = [(x, y)] if carry_state else [
                    (x[:, s:e], y[:, s:e]) for s, e in chunk_bounds(x.shape[1], k)]
                hist = training.train_tbptt(model, batches, loss_fn=training.cross_entropy_loss,
                                            optimizer=opt, k=k, clip=1.0, progress=progress,
                                            desc=f"k = {k}")
            accs.append(training.evaluate(model, xt, yt, metric=training.accuracy))
            histories.append(hist)
    return {"k": list(ks), "accuracy": accs, "chance": 1.0 / n_symbols, "lag": lag,
            "histories": histories}


def format_bias_sweep(results: dict, which: str = "carried") -> str:
    """The table of ``benchmarks/tbptt_bias_sweep.py``'s results file, one line per lag.

    Args:
        results: the ``"results"`` entry of the file: ``{"setup": {...}, "carried":
            {lag: {k: [accuracy per seed]}}, "reset": {...}}`` (JSON keys are strings).
        which: ``"carried"`` (state carried across chunks) or ``"reset"`` (zero state at
            every chunk).

    Returns:
        text: for each lag L, the mean held-out accuracy over the seeds for each k, rounded
        to 2 decimals (e.g. ``L = 5 |  k=3 0.28  k=4 0.31 …``).
    """
    if which not in ("carried", "reset"):
        raise ValueError("which must be 'carried' or 'reset'")
    lines = []
    for lag, by_k in results[which].items():
        cells = "  ".join(f"k={k:<2} {np.mean(accs):.2f}" for k, accs in
                          sorted(by_k.items(), key=lambda kv: int(kv[0])))
        lines.append(f"L = {lag} |  {cells}")
    return "\n".join(lines)


def format_memory_quote(results: dict, T: int) -> str:
    """One sequence length of ``benchmarks/tbptt_memory_time.py``'s results, as a table.

    Args:
        results: the ``"results"`` entry of the file: ``"setup"`` (with ``k``), ``"torch"``
            (rows of :func:`compare_memory_time`) and ``"rss_mb"`` (``{"T", "method",
            "rss_mb"}`` rows: peak resident-memory increase of a fresh process).
        T: the sequence length to show.

    Returns:
        text, one line per method: the bytes torch saved for backward (MB), the peak RSS
        increase (MB), and the CPU time relative to full BPTT.
    """
    rows = {r["method"]: r for r in results["torch"] if r["T"] == T}
    rss = {r["method"]: r["rss_mb"] for r in results["rss_mb"] if r["T"] == T}
    if set(rows) != set(METHODS) or set(rss) != set(METHODS):
        raise KeyError(f"the results hold no complete row for T = {T}")
    k = results["setup"]["k"]
    names = {"full BPTT": "full BPTT", "truncated": f"TBPTT({k}, {k})",
             "checkpointed": f"checkpointed (segments of {sqrt_segment(T)})"}
    w = max(len(n) for n in names.values())
    head = f"{'method':>{w}} | {'saved for backward':>18} | {'peak RSS increase':>17} | {'CPU time vs full':>16}"
    lines = [head, "-" * len(head)]
    full = rows["full BPTT"]["cpu_s"]
    for m in METHODS:
        lines.append(f"{names[m]:>{w}} | {rows[m]['peak_bytes'] / 1e6:15.1f} MB | "
                     f"{rss[m]:14.1f} MB | {rows[m]['cpu_s'] / full:16.2f}")
    return "\n".join(lines)
