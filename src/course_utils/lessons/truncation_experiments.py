"""Notebook 05's measured experiments: what truncation costs and what it buys.

* :func:`compare_memory_time`, :func:`format_table`, :func:`plot_memory_time`,
  :func:`format_memory_quote`: memory and time of full, truncated and checkpointed BPTT
  over growing T, in numpy (tracemalloc) or torch (saved tensors).
* :func:`train_k1k2`, :func:`delayed_recall_vs_k`, :func:`format_bias_sweep`: training a
  torch RNN with TBPTT(k1, k2) on delayed recall, and the accuracy against the truncation
  length (the bias of truncation, measured).

The algorithms are in :mod:`course_utils.maths.tbptt`, the measuring tools in
:mod:`course_utils.profiling`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import profiling
from ..maths import rnn, tbptt
from ..maths.tbptt import METHODS
from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03
from ..runtime import torch_threads
from . import tbptt_numpy


def _problem(T, N, D, H, seed, *, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = rnn.init_rnn_params(D, H, rng)
    x = rng.normal(size=(N, T, D)).astype(dtype)
    dh = (rng.normal(size=(N, T, H)) / np.sqrt(N * T * H)).astype(dtype)
    h0 = np.zeros((N, H), dtype=dtype)
    return x, h0, p.Wxh.astype(dtype), p.Whh.astype(dtype), p.b.astype(dtype), dh


def numpy_pass(method: str, problem, k: int):
    """One forward+backward pass over ``x`` with ``method`` (one of :data:`METHODS`).

    ``"truncated"`` consumes each chunk's gradient at once (adds it to a running total, as
    an optimizer step would) so nothing grows with T. ``problem``: the arrays ``(x, h0, Wxh,
    Whh, b, dh)``. Returns (dWxh, dWhh, db) summed.
    """
    x, h0, Wxh, Whh, b, dh = problem
    if method == "full BPTT":
        h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
        return _nb03.rnn_backward(dh, x, h0, h, Wxh, Whh)[2:]
    if method == "checkpointed":
        return tbptt_numpy.checkpointed_bptt_numpy(x, h0, Wxh, Whh, b, dh=dh,
                                                   segment=tbptt.sqrt_segment(x.shape[1]))
    if method == "truncated":
        total = [np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(b)]
        h_prev = h0
        for s, e in tbptt.chunk_bounds(x.shape[1], k):
            h = _nb01.rnn_forward(x[:, s:e], h_prev, Wxh, Whh, b)
            g = _nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_prev, h, Wxh, Whh)[2:]
            total = [a + gi for a, gi in zip(total, g)]
            h_prev = h[:, -1]
        return tuple(total)
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


def torch_pass(method: str, x, h0, params, dh, *, k: int):
    """The torch version of :func:`numpy_pass` (tensors; params require grad).

    Gradients end up in ``p.grad``; the per-step loss is ``⟨dh_t, h_t⟩``.
    """
    step = lambda x_t, h: tbptt.torch_rnn_step(x_t, h, *params)
    loss_at = lambda h, t: (h * dh[:, t]).sum()
    if method == "full BPTT":
        h, loss = h0, 0.0
        for t in range(x.shape[1]):
            h = step(x[:, t], h)
            loss = loss + loss_at(h, t)
        loss.backward()
    elif method == "checkpointed":
        tbptt.bptt_checkpointed_torch(step, x, h0, loss_at, tbptt.sqrt_segment(x.shape[1])).backward()
    elif method == "truncated":
        for loss, _, _ in tbptt.chunk_losses_torch(step, x, h0, loss_at, k):
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
                r = profiling.measure_numpy(lambda m=m, prob=prob: numpy_pass(m, prob, k), repeat=repeat)
                rows.append({"T": T, "method": m, **{key: r[key] for key in ("peak_bytes", "wall_s", "cpu_s")}})
        elif backend == "torch":
            with torch_threads(1):
                rows += _torch_rows(T, N, D, H, k, repeat=repeat, seed=seed, methods=methods)
        else:
            raise ValueError("backend must be 'numpy' or 'torch'")
    return rows


def _torch_rows(T, N, D, H, k, *, repeat, seed, methods):
    import torch

    arrays = _problem(T, N, D, H, seed, dtype=np.float32)
    x, h0, Wxh, Whh, b, dh = (torch.from_numpy(a) for a in arrays)
    params = [w.clone().requires_grad_(True) for w in (Wxh, Whh, b)]
    rows = []
    for m in methods:
        def fn(m=m):
            for p in params:
                p.grad = None
            torch_pass(m, x, h0, params, dh, k=k)

        fn()  # warm-up (the first checkpoint call is slow)
        r = profiling.measure_torch(fn, repeat=repeat)
        rows.append({"T": T, "method": m, **{key: r[key] for key in ("peak_bytes", "wall_s", "cpu_s")}})
    return rows


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
        a :class:`course_utils.history.History` (one loss and gradient norm per update).
    """
    from .. import training

    if not 1 <= k1 <= k2:
        raise ValueError(f"need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    states = {0: None}  # step i -> detached hidden state after i steps, (1, N, H)

    def loss_of(window, _):
        s, prev, t_upd = window
        z, _ = model.rnn(x[:, s:t_upd], states[s])  # the window, with a graph
        for j in range(prev, t_upd):  # carry the (detached) forward states on
            states[j + 1] = z[:, j - s].detach()[None]
        for i in [i for i in states if i < tbptt.window_start(t_upd, k1, k2)]:  # no window needs them
            del states[i]
        return loss_fn(model.head(z[:, prev - s:]), y[:, prev:t_upd]), None

    windows = tbptt.windows(x.shape[1], k1, k2)
    hist = training.fit(training.TorchUpdate(model, optimizer, loss_of, clip=clip), windows)
    hist.epoch_losses.append(float(np.mean(hist.losses)))
    return hist


def delayed_recall_vs_k(ks, *, lag: int = 5, n_symbols: int = 4, hidden: int = 32,
                        n_updates: int = 300, batch: int = 32, lr: float = 1e-2,
                        seed: int = 0, carry_state: bool = True, k1: int | None = None):
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
        ``"histories"`` (the :class:`course_utils.history.History` of each run).
    """
    import torch

    from .. import training
    from ..data import tasks

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
                    (x[:, s:e], y[:, s:e]) for s, e in tbptt.chunk_bounds(x.shape[1], k)]
                hist = training.train_tbptt(model, batches, loss_fn=training.cross_entropy_loss,
                                            optimizer=opt, k=k, clip=1.0, progress=False,
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
             "checkpointed": f"checkpointed (segments of {tbptt.sqrt_segment(T)})"}
    w = max(len(n) for n in names.values())
    head = f"{'method':>{w}} | {'saved for backward':>18} | {'peak RSS increase':>17} | {'CPU time vs full':>16}"
    lines = [head, "-" * len(head)]
    full = rows["full BPTT"]["cpu_s"]
    for m in METHODS:
        lines.append(f"{names[m]:>{w}} | {rows[m]['peak_bytes'] / 1e6:15.1f} MB | "
                     f"{rss[m]:14.1f} MB | {rows[m]['cpu_s'] / full:16.2f}")
    return "\n".join(lines)
