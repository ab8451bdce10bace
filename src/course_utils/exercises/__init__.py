"""Exercise checks, one module per notebook (``ex01`` for notebook 01, …).

Each ``check_<function>(student_fn)`` builds seeded random cases (batch > 1, T > 1,
non-square shapes), lists the classic mistakes for that exercise, calls
:func:`course_utils.checker.check_function` and returns the function later cells use.
"""
