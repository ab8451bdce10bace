"""Reproducible notebook setup: seeds, print options, threads and device."""

from __future__ import annotations

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
    """Seed Python, numpy and torch; set print options and the torch thread count.

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
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    np.set_printoptions(precision=precision, suppress=True, linewidth=100)
    torch.set_printoptions(precision=precision, sci_mode=False, linewidth=100)
    torch.set_num_threads(thread_count(threads))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if verbose:
        print(f"Setup done: seed {seed}, device {device.type}.")
    return device


def on_colab() -> bool:
    """True when running inside Google Colab."""
    import sys

    return "google.colab" in sys.modules


def blas_kernel() -> str:
    """The kernel family numpy's OpenBLAS chose on this CPU (e.g. ``SkylakeX``, ``Haswell``;
    ``OPENBLAS_CORETYPE`` overrides it), or ``"unknown"`` for another BLAS (Accelerate,
    MKL) or an OpenBLAS that does not say. ``python3 course.py test`` prints it per pass."""
    import ctypes
    import glob

    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for lib in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                       "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(handle, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "unknown"
