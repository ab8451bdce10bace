"""Helpers for the hands-on BPTT course.

Import what a notebook needs from the submodules, e.g.::

    from course_utils import setup, rnn
    from course_utils.exercises import ex01

Modules
-------
runtime     seeding, print options, threads, device choice (``setup``)
numerics    relative error and other small numeric helpers
rnn         numpy reference vanilla-RNN layers (batch-first)
checker     the exercise-checking framework (verdicts, fallbacks, grading mode)
exercises   one module per notebook with the check functions for its exercises
build       regenerate student notebooks from solutions and re-execute solutions
cli         ``python -m course_utils`` / ``course`` command line
"""

from .runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
