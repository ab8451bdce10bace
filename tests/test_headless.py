"""The course's headless executor (course_utils.tooling.headless): no explorer hang, and a
cell that never finishes is named, not waited for."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.tooling import headless
from course_utils.tooling.publish import build

# An Output widget that catches printed lines: what an ipywidgets.interactive explorer does
# with its figure.
OUTPUT_WIDGET_CELL = """import ipywidgets as w
out = w.Output()
display(out)
for i in range(5):
    with out:
        print("line", i)
"""


def _notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def _count_shell_comm_msgs(client) -> list[str]:
    """Wrap the client's shell channel once the kernel is up; returns the list it fills
    with the type of every message sent on it."""
    sent: list[str] = []

    def wrap(notebook, **_):
        channel = client.kc.shell_channel
        send = channel.send

        def counting_send(msg):
            sent.append(msg["header"]["msg_type"])
            return send(msg)

        channel.send = counting_send

    client.on_notebook_start = wrap
    return sent


@pytest.mark.slow
def test_the_output_widget_stand_in_never_writes_to_the_shell_channel():
    """The root cause of the hang: nbclient's own stand-in echoes each output to the kernel
    on the shell channel while the cell's reply is awaited there. Ours sends nothing but the
    execute requests, and the saved widget state still holds what the widget showed."""
    theirs = NotebookClient(_notebook(OUTPUT_WIDGET_CELL), timeout=60, kernel_name="python3")
    sent_by_theirs = _count_shell_comm_msgs(theirs)
    theirs.execute()
    assert sent_by_theirs.count("comm_msg") >= 5  # the echo this module removes

    nb = _notebook(OUTPUT_WIDGET_CELL)
    ours = headless.notebook_client(nb, timeout=60, kernel_name="python3")
    sent_by_ours = _count_shell_comm_msgs(ours)
    ours.execute()
    assert "execute_request" in sent_by_ours and "comm_msg" not in sent_by_ours
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [m["state"]["outputs"] for m in state.values() if m["model_name"] == "OutputModel"]
    assert len(outputs) == 1
    assert "".join(o["text"] for o in outputs[0]) == "".join(f"line {i}\n" for i in range(5))
    assert nb.cells[0].outputs[0]["output_type"] == "display_data"  # the widget's view


@pytest.mark.slow
def test_a_cell_over_its_time_out_is_named_and_the_notebook_run_once_more(tmp_path):
    nb = _notebook("x = 1", "import time\ntime.sleep(30)  # stuck", "print('never')")
    path = tmp_path / "99_stuck.ipynb"
    nbformat.write(nb, str(path))
    lines = []
    with pytest.raises(build.NotebookError) as err:
        build.execute_solution(nb, path, timeout=2, log=lines.append)
    message = str(err.value)
    assert "99_stuck.ipynb: cell 1 ('import time') did not finish within 2 s" in message
    assert "twice" in message and "\n" not in message
    assert len(lines) == 1 and "once more" in lines[0] and "cell 1" in lines[0]


def test_describe_timeout_without_a_running_cell():
    client = headless.notebook_client(_notebook("1"))
    assert headless.describe_timeout(client, 5) == "a cell did not finish within 5 s"
    client.running_cell = 0
    assert headless.describe_timeout(client, 5) == "cell 0 ('1') did not finish within 5 s"


def test_executing_a_notebook_leaves_no_kernel_running(tmp_path):
    import os

    nb = build.execute_notebook(_notebook("import os\nprint(os.getpid())"), tmp_path)
    pid = int(nb.cells[0].outputs[0]["text"])
    with pytest.raises(ProcessLookupError):  # shut down and reaped, not an idle process
        os.kill(pid, 0)


# A lesson explorer's panel (course_utils.plots.explorer) with a figure and a printed line;
# one change of its slider, as a front end would send it.
EXPLORER_CELL = """import ipywidgets as w
import matplotlib.pyplot as plt
from course_utils import plots

def show(n):
    print("n =", n)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(range(n))
    plt.show()

panel = plots.explorer(show, n=w.IntSlider(value=3, min=1, max=9))
display(panel)
panel.children[0].value = 5
"""


@pytest.mark.slow
def test_an_explorer_is_safe_under_nbclient_s_own_stand_in():
    """What nbconvert, papermill and nbgrader run: nbclient's own Output-widget stand-in,
    which echoes whatever the kernel captures into an Output widget. A lesson's explorer
    captures nothing there (it sets the widget's outputs), so nothing is echoed, and the
    saved widget state holds the figure and the text of the last redraw."""
    nb = _notebook(EXPLORER_CELL)
    theirs = NotebookClient(nb, timeout=60, kernel_name="python3")
    sent = _count_shell_comm_msgs(theirs)
    theirs.execute()
    assert "execute_request" in sent and "comm_msg" not in sent, sent
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    [outputs] = [m["state"]["outputs"] for m in state.values() if m["model_name"] == "OutputModel"]
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "n = 5\n"}
    assert "image/png" in outputs[1]["data"] and len(outputs) == 2
    assert not [o for o in nb.cells[0].outputs if o["output_type"] == "stream"]  # all in the panel


def test_the_guide_quotes_the_headless_runs_of_the_results_file():
    """INSTRUCTORS.md's count of headless runs and time-outs is the results file's (parts 2
    and 3 of benchmarks/headless_explorers.py through nbconvert and nbgrader)."""
    import json
    import re

    root = build.ROOT
    entries = json.loads((root / "benchmarks" / "results" / "headless_explorers.json")
                         .read_text(encoding="utf-8"))["results"]["entries"]
    parts = [e for k, e in entries.items() if k.startswith(("notebooks/nbconvert/",
                                                             "notebooks/nbgrader/"))
             and k.endswith(("/part2", "/part3"))]
    assert {e["client"] for e in parts} == {"nbconvert", "nbgrader"} and len(parts) == 4
    runs, hangs = sum(e["runs"] for e in parts), sum(e["hangs"] for e in parts)
    busy = sum(e["runs"] for e in parts if e["load_average_1min"] > 5)
    guide = " ".join((root / "INSTRUCTORS.md").read_text(encoding="utf-8").split())
    said = re.search(r"\*\*(\d+) runs\*\* of notebooks .*? (\d+) of them while the machine "
                     r"was busy .*? waited out \*\*(\d+) time-outs\*\*", guide)
    assert said, "INSTRUCTORS.md no longer quotes the headless runs"
    assert tuple(map(int, said.groups())) == (runs, busy, hangs)
    assert runs >= 100 and 2 * busy >= runs and all(e["jobs"] == 2 for e in parts)
