"""The course's reference solutions of the coded exercises, one module per notebook.

``reference.nb01`` holds notebook 01's (``rnn_step_forward``, ``rnn_forward``), and so on.
The checks in :mod:`course_utils.checks` compare a student's function with these, and
use the reference when the student's function does not pass yet.

A notebook imports a module from here only *after* its exercises are done (notebook 04
uses ``nb01.rnn_forward`` and ``nb03.rnn_backward``), so the answers are not in any
namespace a student's notebook has open while solving them. The lesson modules
(``rnn``, ``lstm``, ``vanishing``, …) do not hold them either.
"""
