"""The one vocabulary of an exercise's status, from the check cell to the class report.

A check's verdict (:mod:`course_utils.checks.checker`), the grader's result of each
exercise (``grades.json``'s ``status``), its reports and ``course progress`` all use these
four words; the reports and ``progress`` only choose how to show them (:data:`ICONS` are
what a check cell prints before its verdict).

Standard library only and no imports: ``course progress`` loads it before the course's
environment exists.
"""

PASSED = "passed"                # the check passed (on the held-out cases, when grading)
WRONG = "wrong"                  # the check failed, or the answer could not be checked
NOT_ATTEMPTED = "not attempted"  # the function still raises NotImplementedError / blank answer
MANUAL = "manual"                # a written answer, graded by hand
STATUSES = (PASSED, WRONG, NOT_ATTEMPTED, MANUAL)

# Why the grader's result is what it is when no check's verdict decided it: set where the
# reason is written (grades.json's ``cause``, and ``problem_cause`` for a whole submission);
# the class report reads it, never the wording of the reason.
TIME_LIMIT, CRASH, REUSE, TAMPERING, UNREADABLE, OTHER = (
    "time-limit", "crash", "reuse", "tampering", "unreadable", "other")
CAUSES = (TIME_LIMIT, CRASH, REUSE, TAMPERING, UNREADABLE, OTHER)


# The key of the check cell's output metadata that names its verdict (the checker writes
# it, ``course progress`` reads it from the saved notebook).
VERDICT_KEY = "course_verdict"

ICONS = {PASSED: "✅", WRONG: "❌", NOT_ATTEMPTED: "⏳"}  # how a check cell prints a verdict
