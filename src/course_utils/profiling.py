"""Measuring code: time (wall and CPU) and memory, for numpy and for torch's autograd.

* :func:`best_times`: wall and CPU seconds of the best of several rounds (the one way
  the course times code: :func:`course_utils.lessons.bptt_timing.time_bptt` and notebook 05 use it).
* :class:`TrainingClock`: the training time of a run (wall or CPU, without evaluations).
* :func:`measure_numpy`: peak bytes numpy allocates during a call (tracemalloc) and time.
* :class:`SavedTensorTracker`, :func:`measure_torch`: bytes of the tensors autograd saves
  for the backward pass, and time.

Thread control lives in :mod:`course_utils.runtime` (``torch_threads``, ``blas_threads``).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable


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


def best_times(fns, *, repeats: int = 1, min_time_s: float = 0.0, warmup: bool = False):
    """The course's one way to time code: the best of several rounds.

    The functions take turns, one call each per round (so that a burst of load from other
    processes hits all of them alike), for at least ``repeats`` rounds and, with
    ``min_time_s``, until that many seconds have passed (more samples make the best time
    more reliable on a busy machine). For each function the *best* wall-clock time (the
    least disturbed run) is kept, with the CPU time of that same run.

    Args:
        fns: ``{name: fn}`` of functions without arguments, or a single function.
        warmup: call each function once, untimed, before the rounds.

    Returns:
        ``{name: (wall_s, cpu_s)}``, or ``(wall_s, cpu_s)`` for a single function.
    """
    single = callable(fns)
    named = {"fn": fns} if single else dict(fns)
    best = {name: (float("inf"), float("inf")) for name in named}
    if warmup:
        for fn in named.values():
            fn()
    start, rounds = time.perf_counter(), 0
    while rounds < repeats or time.perf_counter() - start < min_time_s:
        rounds += 1
        for name, fn in named.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            w, c = time.perf_counter() - w0, time.process_time() - c0
            if w < best[name][0]:
                best[name] = (w, c)
    return best["fn"] if single else best


class TrainingClock:
    """Training time on a wall or CPU clock (``clock``: 'wall' or 'cpu'), minus the time
    spent evaluating (unless ``count_eval``); CUDA work is waited for before reading the
    clock. :func:`course_utils.training.fit` times runs with it.

    ``elapsed()``: training seconds so far; ``timed(fn)``: ``fn()``, its time not counted;
    ``c0``: the process CPU time at the start."""

    def __init__(self, clock: str, device=None, count_eval: bool = False):
        if clock not in ("wall", "cpu"):
            raise ValueError("clock must be 'wall' or 'cpu'")
        self.now = time.perf_counter if clock == "wall" else time.process_time
        self.cuda = device is not None and str(device).startswith("cuda")
        self.count_eval, self.eval_s = count_eval, 0.0
        self.t0, self.c0 = self.now(), time.process_time()

    def elapsed(self) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return self.now() - self.t0 - self.eval_s

    def timed(self, fn):
        """``fn()``, its time not counted as training time (unless ``count_eval``)."""
        e0 = self.now()
        value = fn()
        if not self.count_eval:
            self.eval_s += self.now() - e0
        return value


def measure_numpy(fn: Callable, repeat: int = 1) -> dict:
    """Peak memory allocated by ``fn()`` (tracemalloc, which sees numpy's buffers) and time.

    Returns ``{"peak_bytes", "wall_s", "cpu_s"}``; times are those of the best of
    ``repeat`` untraced runs (:func:`best_times`; tracing slows Python down), memory is
    from one traced run.
    """
    wall, cpu = best_times(fn, repeats=repeat)
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

    Returns ``{"peak_bytes", "live_after", "wall_s", "cpu_s"}`` (times: the best of
    ``repeat`` runs, :func:`best_times`).
    """
    wall, cpu = best_times(fn, repeats=repeat)
    with SavedTensorTracker() as tr:
        fn()
    return {"peak_bytes": tr.peak, "live_after": tr.live, "wall_s": wall, "cpu_s": cpu}
