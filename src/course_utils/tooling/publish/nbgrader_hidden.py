"""nbgrader's autograde without a false alarm for every hidden test it puts back.

Why the alarm. ``nbgrader generate_assignment`` records each locked check cell in its
gradebook *with* its ``### BEGIN HIDDEN TESTS`` region (and the checksum of that source),
then releases the cell *without* the region. At autograde, its ``OverwriteCells``
preprocessor finds that the submitted cell's checksum differs from the recorded one, warns
"Attribute 'checksum' for cell … has changed!" and puts the recorded source back: that is
how nbgrader restores hidden tests, so an unmodified copy of the release gets one warning
per check cell with hidden tests (nbgrader 0.9.6; jupyter/nbgrader#1961, open). No source
folder can avoid it and keep its hidden tests.

:class:`OverwriteCellsQuietForHiddenTests` is ``OverwriteCells`` that reports a changed
checksum only when the submitted cell is not the recorded cell with its hidden tests
removed (what the release showed): a student who edits a check cell is still reported,
and every cell is still put back as nbgrader does. :func:`configure` installs it; in
``nbgrader_config.py``::

    from course_utils.tooling.publish.nbgrader_hidden import configure
    configure(c)

:class:`ExecuteWithoutEcho`, which :func:`configure` installs too, executes with the
course's stand-in for the Output widget (no explorer hang, see
:mod:`course_utils.tooling.headless`).
"""

from __future__ import annotations

import copy

from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, Execute, OverwriteCells

from ..exercise_cells import grade_id


def released_source(cell) -> str:
    """The source of ``cell`` as ``generate_assignment`` releases it: hidden tests removed."""
    released = copy.deepcopy(cell)
    ClearHiddenTests()._remove_hidden_test_region(released)
    return released.source


class OverwriteCellsQuietForHiddenTests(OverwriteCells):
    """``OverwriteCells`` that does not report the hidden tests it restores (see the module)."""

    def preprocess_cell(self, cell, resources, cell_index):
        self._as_released = False
        gid = grade_id(cell)
        if gid is not None:
            try:
                recorded = self.gradebook.find_source_cell(gid, self.notebook_id,
                                                           self.assignment_id)
            except MissingEntry:
                recorded = None
            if recorded is not None and recorded.cell_type == cell.cell_type:
                original = copy.deepcopy(cell)
                original.source = recorded.source
                self._as_released = (cell.source != recorded.source
                                     and cell.source == released_source(original)
                                     and utils.compute_checksum(original) == recorded.checksum)
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and getattr(self, "_as_released", False):
            self.log.debug("Cell %s: hidden tests put back (the cell is as released)", name)
            return
        super().report_change(name, attr, old, new)


class ExecuteWithoutEcho(Execute):
    """nbgrader's ``Execute`` with the course's stand-in for the Output widget
    (:data:`course_utils.tooling.headless.WIDGET_REGISTRY`), which never writes to the
    kernel's shell channel while a cell's reply is awaited (the explorer hang)."""

    def on_comm_open_jupyter_widget(self, msg):
        from ..headless import WIDGET_REGISTRY

        self.widget_registry = {k: dict(v) for k, v in WIDGET_REGISTRY.items()}
        return super().on_comm_open_jupyter_widget(msg)


def configure(c) -> None:
    """Make ``nbgrader autograde`` (config ``c``) use :class:`OverwriteCellsQuietForHiddenTests`
    in place of ``OverwriteCells`` and :class:`ExecuteWithoutEcho` in place of ``Execute``;
    its other preprocessors are nbgrader's defaults (``c.Execute.…`` options still apply)."""
    from nbgrader.converters.autograde import Autograde

    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    c.Autograde.sanitize_preprocessors = [
        OverwriteCellsQuietForHiddenTests if p is OverwriteCells else p for p in default]
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    c.Autograde.autograde_preprocessors = [
        ExecuteWithoutEcho if p is Execute else p for p in default]
