"""Helpers for the hands-on BPTT course, in layers you can see in the folder tree.

A notebook imports what it needs, e.g.::

    import course_utils                      # course_utils.setup(seed=0)
    from course_utils.maths import rnn, gradcheck
    from course_utils.lessons import vanishing
    from course_utils.checks import ex01

Layers, lowest first (a module imports only from its own layer and the ones before it;
maths, reference and the shared modules are one foundation; ``tests/test_project.py``
checks it):

maths/       the numpy/torch reference computations: RNN, LSTM, the scalar RNN of 02,
             losses, gradient checks, relative error, Jacobians, gradient norms,
             truncated BPTT
reference/   the exercises' solved functions, one module per notebook (nb01 … nb08)
runtime, training, history, updates, profiling, plots, provenance
             shared by every lesson: seeding and threads, the one training loop, the
             History it records, the updates it calls (clipping), timers and memory
             trackers, plotting helpers, benchmark results
data/        synthetic sequence tasks, the offline corpus, streams and chunking
lessons/     each lesson's experiments, plots and widgets (explorers)
checks/      the exercise registry, the checker and one check module per notebook
tooling/     the command line, build, grading and its sandbox, update, progress, website;
             notebooks never import it

``_MOVED`` keeps the flat module names of earlier versions importable (``course_utils.rnn``
is ``course_utils.maths.rnn``), so a notebook a student saved before an update still runs.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from .runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]

_MOVED = {
    'rnn': 'maths.rnn',
    'lstm': 'maths.lstm',
    'scalar_rnn': 'maths.scalar_rnn',
    'losses': 'maths.losses',
    'gradcheck': 'maths.gradcheck',
    'numerics': 'maths.numerics',
    'tbptt': 'maths.tbptt',
    'unrolling': 'lessons.unrolling',
    'vanishing': 'lessons.vanishing',
    'truncation': 'lessons.truncation',
    'truncation_experiments': 'lessons.truncation_experiments',
    'clipping': 'lessons.clipping',
    'cliff': 'lessons.cliff',
    'longrange': 'lessons.longrange',
    'memory': 'lessons.memory',
    'charlm': 'lessons.charlm',
    'ngram': 'lessons.ngram',
    'tasks': 'data.tasks',
    'text': 'data.text',
    'checker': 'checks.checker',
    'integrity': 'checks.integrity',
    'cli': 'tooling.cli',
    'build': 'tooling.publish.build',
    'grading': 'tooling.grading.grading',
    'grading_checks': 'tooling.grading.grading_checks',
    'grading_reports': 'tooling.grading.grading_reports',
    'grading_select': 'tooling.grading.grading_select',
    'sandbox': 'tooling.grading.sandbox',
    '_sandbox_child': 'tooling.grading._sandbox_child',
    '_sandbox_reaper': 'tooling.grading._sandbox_reaper',
    'update': 'tooling.student.update',
    'update_io': 'tooling.student.update_io',
    'update_plan': 'tooling.student.update_plan',
    'update_undo': 'tooling.student.update_undo',
    'progress': 'tooling.student.progress',
    'site': 'tooling.publish.site',
    'exercises.ex01': 'checks.ex01',
    'exercises.ex02': 'checks.ex02',
    'exercises.ex03': 'checks.ex03',
    'exercises.ex04': 'checks.ex04',
    'exercises.ex05': 'checks.ex05',
    'exercises.ex06': 'checks.ex06',
    'exercises.ex07': 'checks.ex07',
    'exercises.ex08': 'checks.ex08',
    'exercises': 'checks',
    'tooling._sandbox_child': 'tooling.grading._sandbox_child',
    'tooling._sandbox_reaper': 'tooling.grading._sandbox_reaper',
    'tooling.build': 'tooling.publish.build',
    'tooling.copies': 'tooling.student.copies',
    'tooling.editions': 'tooling.publish.editions',
    'tooling.gradebook': 'tooling.grading.gradebook',
    'tooling.grading_checks': 'tooling.grading.grading_checks',
    'tooling.grading_cluster': 'tooling.grading.grading_cluster',
    'tooling.grading_feedback': 'tooling.grading.grading_feedback',
    'tooling.grading_html': 'tooling.grading.grading_html',
    'tooling.grading_notebook': 'tooling.grading.grading_notebook',
    'tooling.grading_reports': 'tooling.grading.grading_reports',
    'tooling.grading_select': 'tooling.grading.grading_select',
    'tooling.grading_similarity': 'tooling.grading.grading_similarity',
    'tooling.grading_summary': 'tooling.grading.grading_summary',
    'tooling.handout': 'tooling.publish.handout',
    'tooling.nbgrader_hidden': 'tooling.publish.nbgrader_hidden',
    'tooling.progress': 'tooling.student.progress',
    'tooling.sandbox': 'tooling.grading.sandbox',
    'tooling.sandbox_view': 'tooling.grading.sandbox_view',
    'tooling.site': 'tooling.publish.site',
    'tooling.site_pages': 'tooling.publish.site_pages',
    'tooling.update': 'tooling.student.update',
    'tooling.update_io': 'tooling.student.update_io',
    'tooling.update_plan': 'tooling.student.update_plan',
    'tooling.update_undo': 'tooling.student.update_undo',
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``course_utils.<old name>`` as the module it moved to (the same object)."""

    def find_spec(self, fullname, path=None, target=None):
        prefix = __name__ + "."
        if fullname.startswith(prefix) and fullname[len(prefix):] in _MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(f"{__name__}.{_MOVED[spec.name[len(__name__) + 1:]]}")

    def exec_module(self, module):
        pass  # already executed under its new name


# Only for the real package (integrity's fresh copies load this file under another name).
if __name__ == "course_utils" and not any(type(f).__name__ == "_MovedModules"
                                          for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())  # first: before the path finder loads a copy
