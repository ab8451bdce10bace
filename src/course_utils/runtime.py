"""Reproducible notebook setup: seeds, print options, threads and device."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np

DEFAULT_THREADS = 2


def thread_count(threads: int = DEFAULT_THREADS) -> int:
    """``threads``, capped by the CPU count and by ``OMP_NUM_THREADS`` if set (>= 1)."""
    cap = os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        cap = min(cap, int(omp))
    return max(1, min(threads, cap))


def setup(seed: int = 0, *, threads: int = DEFAULT_THREADS, precision: int = 4,
          verbose: bool = True):
    """Seed Python, numpy and torch; set print options and the torch thread count; use
    the course's colour-blind-safe figure style (:func:`course_utils.plots.use_course_style`).

    Returns the torch device to use: ``cuda`` when a GPU is present, else ``cpu``.
    Every notebook calls this once in its setup cell, so printed numbers are the same
    on every run (CI compares them with the stored outputs).

    Args:
        seed: seed for ``random``, ``numpy.random`` (legacy global state) and torch.
        threads: torch intra-op threads; fixed so float reductions happen in the same
            order every run (2 matches the CI machine). Capped by the CPU count and by
            ``OMP_NUM_THREADS`` when it is set (the test command's one-thread pass sets it,
            so that pass really runs torch on one thread).
        precision: digits printed by numpy and torch.
        verbose: print a one-line summary.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    np.set_printoptions(precision=precision, suppress=True, linewidth=100)
    torch.set_printoptions(precision=precision, sci_mode=False, linewidth=100)
    torch.set_num_threads(thread_count(threads))
    from .plots import use_course_style

    use_course_style()  # colour-blind-safe colours, each with its own line style
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if verbose:
        print(f"Setup done: seed {seed}, device {device.type}.")
    return device


def _openblas():
    """numpy's bundled OpenBLAS library (ctypes handle) and its symbol suffix, or None."""
    import ctypes
    import glob

    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for lib in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""),
                               ("openblas", "64_"), ("openblas", "")):
            if hasattr(handle, f"{prefix}_get_corename{suffix}"):
                return handle, prefix, suffix
    return None


def blas_kernel() -> str:
    """The kernel family numpy's OpenBLAS chose on this CPU (e.g. ``SkylakeX``, ``Haswell``;
    ``OPENBLAS_CORETYPE`` overrides it), or ``"unknown"`` for another BLAS (Accelerate,
    MKL) or an OpenBLAS that does not say. ``python3 course.py test`` prints it per pass."""
    import ctypes

    found = _openblas()
    if found is None:
        return "unknown"
    handle, prefix, suffix = found
    fn = getattr(handle, f"{prefix}_get_corename{suffix}")
    fn.restype = ctypes.c_char_p
    return fn().decode()


@contextlib.contextmanager
def blas_threads(n: int):
    """Run the block with numpy's OpenBLAS limited to ``n`` threads (restored after).

    Timings of BLAS-heavy numpy code on a shared machine: a multi-threaded matrix product
    whose threads wait for a busy core can run many times slower than on one thread, so
    comparisons of timings are made on one. Does nothing for another BLAS."""
    found = _openblas()
    if found is None:
        yield
        return
    handle, prefix, suffix = found
    get = getattr(handle, f"{prefix}_get_num_threads{suffix}", None)
    set_ = getattr(handle, f"{prefix}_set_num_threads{suffix}", None)
    if get is None or set_ is None:
        yield
        return
    old = get()
    set_(int(n))
    try:
        yield
    finally:
        set_(old)


class torch_threads:
    """Context manager: run torch with ``n`` intra-op threads, then restore the setting.

    Tiny RNN steps are dominated by overhead; one thread is faster and gives steadier
    timings on a busy machine.
    """

    def __init__(self, n: int | None = 1):
        self.n = n  # None or 0: keep the current setting

    def __enter__(self):
        import torch

        self.old = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.old)
        return False
