"""Notebook 07's section 9 quotes its own printed numbers (the path decomposition of the
cell state's gradient): each number in the prose equals, at the digits quoted, what the
stored outputs of the cells above it print."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course_utils import provenance

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "solutions" / "07_lstm.ipynb"


def _output(cell_id: str) -> str:
    cells = json.loads(NB.read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if c.get("id") == cell_id]
    return "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")


def _prose(cell_id: str) -> str:
    return provenance.cell_text(NB, cell_id, squash_spaces=True)


@pytest.fixture(scope="module")
def paths():
    """b_f -> {lag: (every path, direct)} and the ratio at lag 100, from the stored output."""
    out = {}
    for line in _output("c025-33b2acbb").splitlines():
        m = re.match(r"\s*LSTM, b_f = (\d): (.*);\s+ratio at lag 100: (\d+)", line)
        if m:
            lags = {int(lag): (float(a), float(b)) for lag, a, b in
                    re.findall(r"lag (\d+): (\S+) / (\S+?),?(?=\s|$)", m.group(2))}
            out[int(m.group(1))] = dict(lags=lags, ratio=int(m.group(3)))
    assert set(out) == {0, 1, 3}
    return out


@pytest.fixture(scope="module")
def steps():
    """b_f -> (max f, ‖M‖, spectral radius, growth every path, growth direct), and the
    W_h-scaling ratios, from the stored output."""
    text = _output("c026a-why-mixed-grow")
    rows = {int(m[0]): tuple(float(v) for v in m[1:]) for m in
            re.findall(r"^\s*(\d)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", text, re.M)}
    scaled = {float(s): int(r) for s, r in re.findall(r"s = (\S+): (\d+)", text)}
    assert set(rows) == {0, 1, 3} and set(scaled) == {0.0, 0.5, 1.0}
    return rows, scaled


def _about(quoted: float, value: float, rel: float = 0.1) -> bool:
    return abs(quoted / value - 1) <= rel


def test_the_ratios_at_lag_100(paths):
    text = _prose("c026-d1644da7")
    m = re.search(r"about ([\d,]+) \(\$b_f = 0\$\), ([\d,]+) \(\$b_f = 1\$\) and ([\d,]+) "
                  r"\(\$b_f = 3\$\) times", text)
    assert m, text
    for bf, quoted in zip((0, 1, 3), m.groups()):
        assert _about(float(quoted.replace(",", "")), paths[bf]["ratio"]), (bf, quoted)


def test_the_b_f_3_curves(paths):
    text = _prose("c026-d1644da7")
    lags = paths[3]["lags"]
    assert (f"from {lags[25][0]:.1f} at lag 25 to {lags[100][0]:.1f} at lag 100" in text)
    assert f"falls from {lags[25][1]:.2f} to {lags[100][1]:.3f}" in text
    assert lags[100][0] > lags[25][0]                       # "the total even *rises*"
    summary = _prose("c026b-paths-summary")
    assert f"a gradient of norm {lags[100][1]:.3f} still arrives 100 steps back" in summary


def test_the_one_step_jacobians(steps, paths):
    rows, scaled = steps
    summary = _prose("c026b-paths-summary")
    rho = [rows[bf][2] for bf in (0, 1, 3)]
    grow = [rows[bf][3] for bf in (0, 1, 3)]
    fmax = [rows[bf][0] for bf in (0, 1, 3)]
    assert f"{rho[0]:.3f}, {rho[1]:.3f} and {rho[2]:.3f} for $b_f = 0, 1, 3$" in summary
    assert f"measured factors of {grow[0]:.2f}, {grow[1]:.2f} and {grow[2]:.2f} per step" in summary
    assert f"at most {fmax[0]:.2f}, {fmax[1]:.2f} and {fmax[2]:.2f}" in summary
    assert f"direct path ({rows[0][4]:.2f} per step) and the total ({grow[0]:.2f} per step)" in summary
    assert rho[2] > 1 > rho[1] and grow[2] > 1 > grow[1]     # "just above 1", "only slows"
    # "cuts the ratio at lag 100 from about 220 to about 30", "with W_h = 0 ... is the direct path"
    m = re.search(r"from about (\d+) to about (\d+)", summary)
    assert m and _about(float(m.group(1)), scaled[1.0]) and _about(float(m.group(2)), scaled[0.5])
    assert scaled[1.0] == paths[3]["ratio"] and scaled[0.0] == 1
    # "a random-looking matrix of norm about 0.2 here, four times the gap 1 - f ≈ 0.05"
    text = _prose("c026-d1644da7")
    assert "norm about 0.2 here" in text and _about(0.2, rows[3][1], 0.15)
