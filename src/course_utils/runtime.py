"""Reproducible notebook setup: seeds, print options, threads and device."""

from __future__ import annotations

import os
import random

import numpy as np

DEFAULT_THREADS = 2


def setup(seed: int = 0, *, threads: int = DEFAULT_THREADS, precision: int = 4,
          verbose: bool = True):
    """Seed Python, numpy and torch; set print options and the torch thread count.

    Returns the torch device to use: ``cuda`` when a GPU is present, else ``cpu``.
    Every notebook calls this once in its setup cell, so printed numbers are the same
    on every run (CI compares them with the stored outputs).

    Args:
        seed: seed for ``random``, ``numpy.random`` (legacy global state) and torch.
        threads: torch intra-op threads; fixed so float reductions happen in the same
            order every run (2 matches the CI machine).
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
    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if verbose:
        print(f"Setup done: seed {seed}, device {device.type}.")
    return device


def on_colab() -> bool:
    """True when running inside Google Colab."""
    import sys

    return "google.colab" in sys.modules
