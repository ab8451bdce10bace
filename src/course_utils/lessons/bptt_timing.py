"""Notebook 03's timing of BPTT: the solved step functions (one call per step) against the
fast numpy RNN (:func:`course_utils.maths.rnn.rnn_forward_fast`, input projection and weight
gradients hoisted out of the time loop) and ``torch.nn.RNN``; ``benchmarks/rnn_bptt_speed.py``
runs it over several sizes.

It builds on the solved exercises of notebooks 01 and 03 (:mod:`course_utils.reference`), so
it sits above them, in the lessons.
"""

from __future__ import annotations

import numpy as np

from ..maths import rnn
from ..profiling import best_times
from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03


def time_bptt(N: int, T: int, D: int, H: int, *, repeats: int = 5, seed: int = 0,
              min_time_s: float = 0.0) -> dict:
    """Time forward + backward of one RNN layer in float64, three ways, on the same data.

    * ``naive``: :func:`reference.nb01.rnn_forward` + :func:`reference.nb03.rnn_backward` (one step function per step);
    * ``fast``: :func:`rnn.rnn_forward_fast` + :func:`rnn.rnn_backward_fast` (input projection and
      weight gradients hoisted out of the time loop);
    * ``torch``: ``torch.nn.RNN`` forward + ``backward()`` of ``sum(h * dh)`` (autograd),
      with the thread count torch is currently set to.

    Timed with :func:`course_utils.profiling.best_times`: each is run once to warm up,
    then the three take turns for at least ``repeats`` rounds (and ``min_time_s``
    seconds); the *best* wall-clock time of each and the CPU time of that run are kept.

    Returns:
        ``{"naive": (wall_s, cpu_s), "fast": (...), "torch": (...)}``.
    """
    import torch

    rng = np.random.default_rng(seed)
    p = rnn.init_rnn_params(D, H, rng)
    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(size=(N, H)) * 0.1
    dh = rng.normal(size=(N, T, H))

    def naive():
        h = _nb01.rnn_forward(x, h0, p.Wxh, p.Whh, p.b)
        return _nb03.rnn_backward(dh, x, h0, h, p.Wxh, p.Whh)

    def fast():
        h = rnn.rnn_forward_fast(x, h0, p.Wxh, p.Whh, p.b)
        return rnn.rnn_backward_fast(dh, x, h0, h, p.Wxh, p.Whh)

    net = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    xt, h0t, dht = (torch.from_numpy(a) for a in (x, h0[None], dh))

    def torch_fb():
        net.zero_grad(set_to_none=True)
        xg = xt.detach().requires_grad_(True)
        out, _ = net(xg, h0t)
        out.backward(dht)
        return xg.grad

    return best_times({"naive": naive, "fast": fast, "torch": torch_fb}, repeats=repeats,
                      min_time_s=min_time_s, warmup=True)


def format_bptt_timings(rows: list[dict]) -> str:
    """A table of BPTT timings, one line per size (as ``benchmarks/rnn_bptt_speed.py`` writes).

    Args:
        rows: dicts with ``N, T, D, H`` and ``naive_ms, fast_ms, torch_ms`` (best wall-clock
            times of :func:`time_bptt`, in milliseconds).

    Returns:
        text: the sizes, the three times (ms, 1 decimal) and the ratios fast/torch,
        naive/torch and naive/fast (2 decimals; below 1 = the first is faster).
    """
    head = (f"{'N':>3} {'T':>4} {'D':>4} {'H':>4} | {'naive ms':>8} {'fast ms':>8} {'torch ms':>8} | "
            f"{'fast/torch':>10} {'naive/torch':>11} {'naive/fast':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        nw, fw, tw = r["naive_ms"], r["fast_ms"], r["torch_ms"]
        lines.append(f"{r['N']:>3} {r['T']:>4} {r['D']:>4} {r['H']:>4} | {nw:8.1f} {fw:8.1f} {tw:8.1f} | "
                     f"{fw / tw:10.2f} {nw / tw:11.2f} {nw / fw:10.2f}")
    return "\n".join(lines)
