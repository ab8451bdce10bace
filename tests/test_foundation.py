"""Setup helper, numerics and shared plots."""

from __future__ import annotations

import math
import random

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

import course_utils  # noqa: E402
from course_utils import plots  # noqa: E402
from course_utils.maths.numerics import rel_error  # noqa: E402


def test_setup_seeds_everything_and_returns_a_device(capsys):
    dev = course_utils.setup(seed=3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    course_utils.setup(seed=3)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    assert isinstance(dev, torch.device) and dev.type in {"cpu", "cuda"}
    assert torch.get_num_threads() >= 1
    assert "seed 3" in capsys.readouterr().out
    course_utils.setup(seed=0, verbose=False)
    assert capsys.readouterr().out == ""


def test_rel_error():
    a = np.array([1.0, 2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(a, 1.01 * a) == pytest.approx(0.01 / 1.01)
    assert rel_error(a, torch.tensor(a)) == 0.0
    assert rel_error(a, np.array([1.0, np.nan, 3.0])) == float("inf")
    assert rel_error(np.zeros(3), a) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(a, a[:2])


def test_draw_unrolled_rnn_draws_one_box_per_node():
    ax = plots.draw_unrolled_rnn(T=3)
    texts = [t.get_text() for t in ax.texts]
    assert sum("$x_" in t for t in texts) == 3
    assert sum("$W_{hh}$" == t for t in texts) == 3  # the same matrix on every step
    assert "T = 3" in ax.get_title()
    ax2 = plots.draw_unrolled_rnn(T=2, show_loss=False)
    assert not any("L_" in t.get_text() for t in ax2.texts)



# Colour vision deficiency simulation (Viénot, Brettel & Mollon 1999), on linear RGB
_DEUTERANOPE = np.array([[0.29275, 0.70725, 0.0], [0.29275, 0.70725, 0.0],
                         [-0.02234, 0.02234, 1.0]])
_PROTANOPE = np.array([[0.11238, 0.88762, 0.0], [0.11238, 0.88762, 0.0],
                       [0.00401, -0.00401, 1.0]])
_TRICHROMAT = np.eye(3)


def _lab(color, seen_by=_TRICHROMAT):
    """CIELAB of ``color`` (D65) as a viewer with the matrix ``seen_by`` sees it."""
    c = np.asarray(matplotlib.colors.to_rgb(color), float)
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz_m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                      [0.0193, 0.1192, 0.9505]])
    t = xyz_m @ np.clip(seen_by @ linear, 0, 1) / (xyz_m @ np.ones(3))
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _closest_pair(colors, seen_by) -> float:
    """The smallest colour difference (CIE76 ΔE) between two of ``colors``."""
    lab = [_lab(c, seen_by) for c in colors]
    return min(float(np.linalg.norm(a - b)) for i, a in enumerate(lab) for b in lab[i + 1:])


def test_course_colours_stay_apart_for_colour_blind_readers():
    # matplotlib's default cycle does not: its green and red, or orange and green, come
    # within a ΔE of 9 for a deuteranope or a protanope
    default = matplotlib.rcParamsDefault["axes.prop_cycle"].by_key()["color"][:4]
    assert min(_closest_pair(default, _DEUTERANOPE), _closest_pair(default, _PROTANOPE)) < 9
    for seen_by in (_TRICHROMAT, _DEUTERANOPE, _PROTANOPE):
        assert _closest_pair(plots.COLORS, seen_by) > 15


def test_course_style_tells_lines_apart_without_their_colour():
    import matplotlib.pyplot as plt

    style = plots.course_style()
    cycle = list(style["axes.prop_cycle"])
    assert [c["color"] for c in cycle] == list(plots.COLORS)
    styles = [str(c["linestyle"]) for c in cycle]
    assert len(set(styles)) == len(styles) == len(plots.COLORS)  # one line style per colour
    assert set(plots.COLORS) <= set(plots.OKABE_ITO.values())
    with matplotlib.rc_context():
        course_utils.setup(seed=0, verbose=False)  # applies the style
        assert list(matplotlib.rcParams["axes.prop_cycle"]) == cycle
        fig, ax = plt.subplots()
        lines = [ax.plot([0, 1], [i, i])[0] for i in range(4)]
        assert len({str(ln.get_linestyle()) for ln in lines}) == 4
        assert lines[0].get_color() == plots.OKABE_ITO["blue"]
        plt.close(fig)


def test_thread_count_is_capped_by_cpus_and_omp_num_threads(monkeypatch):
    from course_utils.runtime import thread_count

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert thread_count(2) == 2 and thread_count(16) == 8
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_count(2) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert thread_count(2) == 2
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert thread_count(2) == 1


def test_blas_kernel_follows_openblas_coretype():
    import os
    import platform
    import subprocess
    import sys

    from course_utils.runtime import blas_kernel

    if blas_kernel() == "unknown":
        pytest.skip("numpy here does not use a bundled OpenBLAS")
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        pytest.skip("the forced kernel name below is an x86-64 one")
    code = "from course_utils.runtime import blas_kernel; print(blas_kernel())"
    forced = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "OPENBLAS_CORETYPE": "Haswell"}, check=True)
    assert forced.stdout.strip() == "Haswell"


def test_blas_threads_limits_and_restores_openblas_threads():
    from course_utils import runtime

    found = runtime._openblas()
    if found is None:
        pytest.skip("numpy here does not use a bundled OpenBLAS")
    handle, prefix, suffix = found
    get = getattr(handle, f"{prefix}_get_num_threads{suffix}")
    before = get()
    with runtime.blas_threads(1):
        assert get() == 1
    assert get() == before


def test_torch_threads_sets_and_restores_and_none_keeps_the_setting():
    import torch

    from course_utils import runtime

    before = torch.get_num_threads()
    with runtime.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with runtime.torch_threads(None):
        assert torch.get_num_threads() == before


class _FakeClock:
    """A clock that moves only when a timed function says so: timings without the load."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_best_times_takes_the_fastest_of_the_repeats(monkeypatch):
    import types

    from course_utils import profiling

    clock, durations = _FakeClock(), iter([5.0, 1.0, 3.0])
    monkeypatch.setattr(profiling, "time",
                        types.SimpleNamespace(perf_counter=clock, process_time=clock))

    def fn():  # the second call is the fastest
        clock.now += next(durations)

    assert profiling.best_times(fn, repeats=3) == (1.0, 1.0)


def test_best_times_takes_turns_warms_up_and_runs_for_min_time():
    import time

    from course_utils import profiling

    order = []
    fns = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    best = profiling.best_times(fns, repeats=2, warmup=True)
    assert order == ["a", "b"] * 3 and set(best) == {"a", "b"}
    assert all(w >= 0.0 and c >= 0.0 and math.isfinite(w + c) for w, c in best.values())
    t0 = time.perf_counter()
    profiling.best_times(lambda: None, repeats=1, min_time_s=0.05)
    assert time.perf_counter() - t0 >= 0.05
