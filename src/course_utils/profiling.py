"""Measuring code: time (wall and CPU) and memory, for numpy and for torch's autograd.

* :func:`min_times`: wall and CPU seconds of a call, each the minimum over repeats.
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


def min_times(fn: Callable, repeat: int) -> tuple[float, float]:
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
    wall, cpu = min_times(fn, repeat)
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
    wall, cpu = min_times(fn, repeat)
    with SavedTensorTracker() as tr:
        fn()
    return {"peak_bytes": tr.peak, "live_after": tr.live, "wall_s": wall, "cpu_s": cpu}
