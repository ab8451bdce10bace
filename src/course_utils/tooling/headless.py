"""Executing notebooks with no front end, without the explorer hang.

Why a headless run of an explorer cell could hang (nbclient issue #312). A lesson's explorer
is an ``ipywidgets.interactive`` panel, which draws its figure inside an ``Output`` widget.
With no browser, nbclient stands in for the front end's Output widget: it catches the
outputs the kernel sends for that widget and, after each one, *sends the widget's new state
back to the kernel on the shell channel*. It sends while another of its tasks waits on that
same shell socket for the cell's ``execute_reply``. A ZeroMQ socket signals "readable"
through an edge-triggered file descriptor, and a send on the socket can consume that edge:
the reply then sits in the socket unnoticed, and the wait lasts until the cell's time-out.
The kernel has finished and is idle; the cell never ends. It happens only when a reply
arrives in the instant of such a send, so only sometimes, and more often on a busy machine.

The echo is not needed headless: nobody reads the Output widget's state back in the
kernel, and nbclient records the outputs for the saved widget state on its own side. So the
course's executor (:func:`notebook_client`) keeps nbclient's stand-in and drops the echo:
nothing is ever sent on the shell channel while a reply is awaited.

The lessons' explorers (:func:`course_utils.plots.explorer`) do not capture into their Output
widget at all (they set its outputs), so even nbclient's own stand-in, which nbconvert,
papermill and nbgrader use, has nothing to echo for them; nbgrader's autograde runs with
this stand-in anyway (:class:`course_utils.tooling.publish.nbgrader_hidden.ExecuteWithoutEcho`).

``benchmarks/headless_explorers.py`` executes the notebooks with explorers many times with
this client, with nbclient's own, and through ``jupyter nbconvert --execute`` and
``nbgrader autograde``, and counts the runs that time out.
"""

from __future__ import annotations

from typing import Any

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError
from nbclient.output_widget import OutputWidget

__all__ = ["CellTimeoutError", "ExecutionTimeout", "RecordingOutputWidget", "describe_timeout",
           "notebook_client"]


# Seconds one cell may run. Every notebook runs whole in under 90 s on 2 cores, so a cell
# still running after this is stuck, and the tools say which one instead of waiting.
CELL_TIMEOUT = 180


class ExecutionTimeout(RuntimeError):
    """A cell did not finish within its time-out; the message names the cell."""


class RecordingOutputWidget(OutputWidget):
    """nbclient's stand-in for a front end's Output widget, without the echo to the kernel.

    It still routes the widget's outputs into the saved widget state (what a website or a
    reopened notebook shows); it only skips sending that state back on the shell channel,
    the send that can hide the cell's reply.
    """

    def sync_state(self) -> None:
        """Keep the outputs here; send nothing to the kernel."""


WIDGET_REGISTRY = {"@jupyter-widgets/output": {"OutputModel": RecordingOutputWidget}}


def notebook_client(nb, **kwargs: Any) -> NotebookClient:
    """An ``nbclient.NotebookClient`` for ``nb`` (keyword arguments as nbclient's) whose
    Output-widget stand-in never writes to the shell channel (see the module docstring).
    ``client.running_cell`` is the index in ``nb.cells`` of the cell being executed."""
    client = NotebookClient(nb, **kwargs)
    client.widget_registry = {k: dict(v) for k, v in WIDGET_REGISTRY.items()}
    client.running_cell = None

    def _note(cell, cell_index, **_):
        client.running_cell = cell_index

    client.on_cell_execute = _note
    return client


def describe_timeout(client: NotebookClient, timeout: int) -> str:
    """One line naming the cell of ``client`` (made by :func:`notebook_client`) that did not
    finish within ``timeout`` seconds: its index in the notebook and its first line."""
    i = getattr(client, "running_cell", None)
    if i is None:
        return f"a cell did not finish within {timeout} s"
    lines = client.nb.cells[i].source.strip().splitlines() or [""]
    return f"cell {i} ({lines[0][:70]!r}) did not finish within {timeout} s"
