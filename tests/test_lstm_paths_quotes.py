"""Notebook 07's section 9 quotes its own printed numbers (the path decomposition of the
cell state's gradient): each number in the prose equals, at the digits quoted, what the
stored outputs of the cells above it print."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from notebook_cells import cell_text

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "solutions" / "07_lstm.ipynb"


def _output(cell_id: str) -> str:
    cells = json.loads(NB.read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if c.get("id") == cell_id]
    return "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")


def _prose(cell_id: str) -> str:
    return cell_text(NB, cell_id, squash_spaces=True)


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
    buys = _prose("c026c-bias-buys")
    assert f"a gradient of norm {lags[100][1]:.3f} still arrives 100 steps back" in buys
    # "With b_f = 0 both vanish: at lag 100 the direct path and the total are each below 1e-20"
    assert max(paths[0]["lags"][100]) < 1e-20 and "each below $10^{-20}$" in buys


@pytest.fixture(scope="module")
def hidden():
    """name -> (lag 0, 25, 50, 100) of the mean ‖∂L/∂h_k‖, from the stored output."""
    out = {}
    for line in _output("c025-33b2acbb").splitlines():
        m = re.match(r"\s*(RNN|LSTM, b_f = \d): (\S+), (\S+), (\S+), (\S+)$", line)
        if m:
            out[m.group(1)] = tuple(float(v) for v in m.groups()[1:])
    assert len(out) == 4, out
    return out


def test_the_hidden_state_numbers(hidden):
    """Cell c026's first bullet and section 10's "from 5.7 to 3.1e-12 after 50 steps"."""
    text = _prose("c026-d1644da7")
    rnn, b1, b3 = hidden["RNN"], hidden["LSTM, b_f = 1"], hidden["LSTM, b_f = 3"]
    assert f"$\\partial L/\\partial h_T$, {rnn[0]:.1f}." in text
    assert all(v[0] == rnn[0] for v in hidden.values())     # every curve starts there
    m_25, e_25 = f"{rnn[1]:.1e}".split("e")
    m_50, e_50 = f"{rnn[2]:.1e}".split("e")
    assert f"falls from ${m_25} \\cdot 10^{{{int(e_25)}}}$ at lag 25 to ${m_50} \\cdot 10^{{{int(e_50)}}}$ at lag 50" in text
    assert f"a factor of about {(rnn[1] / rnn[2]) ** (1 / 25):.1f} per step" in text
    m, e = f"{b1[3]:.1e}".split("e")
    assert f"(to ${m} \\cdot 10^{{{int(e)}}}$ at lag 100)" in text
    assert f"it falls to {b3[1]:.2f} by lag 25 and no further: {b3[2]:.2f} at lag 50 and {b3[3]:.1f} at lag 100" in text
    assert b3[1] <= min(b3[2], b3[3])                        # "and no further"
    sec10 = _prose("c031-617ce2d2")
    assert f"shrunk from {rnn[0]:.1f} to ${m_50} \\cdot 10^{{{int(e_50)}}}$ after 50 steps" in sec10
    m, e = f"{rnn[3]:.1e}".split("e")
    assert f"where the RNN's is ${m} \\cdot 10^{{{int(e)}}}$" in _prose("c026c-bias-buys")


def test_the_direct_path_factor(paths):
    text = _prose("c026-d1644da7")
    m = re.search(r"b_f = 3, direct path from lag 25 to lag 100: a factor (\S+), (\S+) per step; "
                  r"sigmoid\(3\) = (\S+), sigmoid\(3\)\^75 = (\S+)", _output("c025-33b2acbb"))
    assert m, _output("c025-33b2acbb")
    fall, per, sig, sig75 = (float(v) for v in m.groups())
    assert f"a factor of {fall:.3f} over those 75 steps, {per:.3f} per step (printed)" in text
    assert f"$\\sigma(3) = {sig:.3f}$ per step, which would leave ${sig:.3f}^{{75}} = {sig75:.3f}$" in text
    assert per > sig                                          # "a little slower"
    lags = paths[3]["lags"]
    assert abs(fall - lags[100][1] / lags[25][1]) < 0.01       # the printed norms agree


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
    text = _prose("c040-going-deeper")
    assert "norm about 0.2 here" in text and _about(0.2, rows[3][1], 0.15)
    # "matches the measured growth of the exact gradient to within 0.006 per step"
    assert all(abs(rows[bf][2] - rows[bf][3]) <= 0.006 for bf in (0, 1, 3))
    assert "to within 0.006 per step" in summary
