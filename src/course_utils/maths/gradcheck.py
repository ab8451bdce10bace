"""Numerical gradient checking: centred finite differences in float64.

:func:`numerical_gradient` estimates a gradient entry by entry with
``(f(x + eps) − f(x − eps)) / (2 eps)``; :func:`grad_check` compares it with an analytic
gradient for several arrays and reports, per array, the norm-based relative error
(:func:`~course_utils.maths.numerics.rel_error`) and the entry where the two differ most, so a
wrong gradient points at its cause (a wrong index, a missing time step …).
:func:`format_grad_check` turns the results into a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .numerics import rel_error


def numerical_gradient(f, x: np.ndarray, df=None, eps: float = 1e-6) -> np.ndarray:
    """Centred-difference gradient of ``f`` at ``x`` (``x`` is perturbed in place and restored).

    Args:
        f: function of no arguments that reads ``x`` and returns a scalar loss, or (with
            ``df``) an array output.
        x: float64 array, any shape.
        df: if given, the upstream gradient for an array-valued ``f``; the result is then
            the gradient of ``sum(f() * df)``.
        eps: step size. 1e-6 balances truncation error (∝ eps²) and rounding (∝ 1/eps).

    Returns:
        array of the shape of ``x``.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs float64, got {x.dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        if df is None:
            grad[i] = (fp - fm) / (2 * eps)
        else:
            grad[i] = np.sum((fp - fm) * df) / (2 * eps)
    return grad


@dataclass
class GradCheckResult:
    """Outcome of :func:`grad_check` for one array."""

    name: str
    rel_error: float
    worst_index: tuple
    analytic: float
    numeric: float
    threshold: float = 1e-7

    @property
    def ok(self) -> bool:
        """True when the relative error is below ``threshold`` (NaN counts as not ok)."""
        return bool(self.rel_error < self.threshold)

    def __str__(self) -> str:
        return (f"{self.name:>6}: relative error {self.rel_error:.1e} "
                f"({'ok' if self.ok else 'TOO LARGE'}); worst entry {self.worst_index}: "
                f"analytic {self.analytic:+.6f}, numeric {self.numeric:+.6f}")


def grad_check(f, params: dict, analytic: dict, eps: float = 1e-6,
               threshold: float = 1e-7) -> list[GradCheckResult]:
    """Compare analytic gradients with centred differences for every array in ``params``.

    Args:
        f: function of no arguments returning the scalar loss; it must read the arrays in
            ``params`` (they are perturbed in place and restored).
        params: ``{name: float64 array}``.
        analytic: ``{name: gradient array of the same shape}``.
        eps: finite-difference step (see :func:`numerical_gradient`).
        threshold: relative error below which a result counts as ``ok``.

    Returns:
        One :class:`GradCheckResult` per name: the norm-based relative error and the entry
        where analytic and numeric gradients differ most.
    """
    results = []
    for name, x in params.items():
        num = numerical_gradient(f, x, eps=eps)
        ana = np.asarray(analytic[name], dtype=np.float64)
        if ana.shape != x.shape:
            raise ValueError(f"gradient of {name} has shape {ana.shape}, expected {x.shape}")
        idx = np.unravel_index(int(np.argmax(np.abs(ana - num))), x.shape) if x.size else ()
        results.append(GradCheckResult(name, rel_error(ana, num), tuple(int(i) for i in idx),
                                       float(ana[idx]) if x.size else 0.0,
                                       float(num[idx]) if x.size else 0.0, threshold))
    return results


def format_grad_check(results: list[GradCheckResult], *, exact: bool = True) -> str:
    """A table of :func:`grad_check` results, one row per array.

    Args:
        results: from :func:`grad_check`.
        exact: print the relative errors themselves, and the worst entry of every array;
            with ``False`` print text that is the same on every CPU (for notebooks compared
            by nbval): only whether each error is below its threshold, and the worst entry
            only for arrays that fail. For an array that passes, the worst entry is an
            argmax over rounding errors of similar size, which differs between BLAS
            kernels, so it is shown as ``-``.
    """
    width = max([len(r.name) for r in results] + [5])
    head = f"{'array':>{width}}  {'relative error':>14}  {'worst entry':>12}  {'analytic':>12}  {'numeric':>12}"
    lines = [head, "-" * len(head)]
    for r in results:
        if exact:
            err, where = f"{r.rel_error:.1e}", str(r.worst_index)
            ana, num = f"{r.analytic:+.6f}", f"{r.numeric:+.6f}"
        elif r.ok:
            err, where, ana, num = f"< {r.threshold:.0e}", "-", "-", "-"
        else:
            err, where = "TOO LARGE", str(r.worst_index)
            ana, num = f"{r.analytic:+.4f}", f"{r.numeric:+.4f}"
        lines.append(f"{r.name:>{width}}  {err:>14}  {where:>12}  {ana:>12}  {num:>12}")
    return "\n".join(lines)
