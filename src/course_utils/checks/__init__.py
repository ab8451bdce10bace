"""Exercise checks, one module per notebook (``ex01`` for notebook 01, …).

Each module declares its exercises as registry entries (``EXERCISES``, see
:mod:`course_utils.checks.registry`): seeded random cases (batch > 1, T > 1, non-square shapes),
the reference, the output names and the classic mistakes. Its ``check_<function>``
functions are derived from those entries: each prints one verdict and returns the
function later cells use.
"""
