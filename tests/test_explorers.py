"""The lessons' interactive explorers: numbers, figures and controls.

Every explorer is a module with ``EXPLORER_DEFAULTS`` (the settings of the default figure,
one per control), ``explorer_experiment(**settings)``, ``plot_explorer(ax_or_axes, **settings)``
(returns the Axes, or an array of Axes) and a function returning an
``ipywidgets.interactive`` whose controls are named as the defaults. The generic tests
run over :data:`EXPLORERS` (adding an explorer is one line); the numbers of each
experiment are checked against an independent computation (torch autograd) below.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils.lessons import cliff, truncation, unrolling, vanishing  # noqa: E402
from course_utils.maths import rnn  # noqa: E402


@dataclass(frozen=True)
class Explorer:
    lesson: str
    module: object
    widget: str  # name of the function that returns the ipywidgets.interactive
    changes: dict  # control -> a new value that must change the figure


EXPLORERS = [
    Explorer("01", unrolling, "memory_explorer",
             {"scale": 0.5, "nonlinearity": "linear", "T": 100, "input_scale": 2.0}),
    Explorer("04", vanishing, "gradient_explorer",
             {"spectral_radius": 1.5, "nonlinearity": "relu", "T": 50, "matrix": "orthogonal",
              "input_scale": 2.0}),
    Explorer("05", truncation, "truncation_explorer", {"k1": 2, "k2": 12, "lag": 10}),
    Explorer("06", cliff, "cliff_explorer",
             {"max_norm": 10.0, "lr": 0.01, "steps": 20, "w0": 1.2, "b0": 0.2}),
]
IDS = [e.lesson for e in EXPLORERS]


def drawn_data(fig) -> list:
    """Everything a figure draws, as arrays: line data, image data, mesh and bar heights,
    titles and legend texts."""
    out = []
    for ax in fig.axes:
        out += [np.asarray(ln.get_xydata(), dtype=float) for ln in ax.lines]
        out += [np.ma.filled(np.asarray(im.get_array(), dtype=float), np.nan) for im in ax.images]
        out += [np.ma.filled(np.asarray(c.get_array(), dtype=float), np.nan)
                for c in ax.collections if c.get_array() is not None]
        out += [np.array([p.get_height() for p in ax.patches])]
        out += [ax.get_title()]
        legend = ax.get_legend()
        out += [tuple(t.get_text() for t in legend.get_texts())] if legend else []
    return out


def same_drawing(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
                return False
        elif x != y:
            return False
    return True


def _render(widget) -> list:
    """Re-run the interactive's function and return what its (last) figure draws."""
    plt.close("all")
    widget.update()
    fig = plt.gcf()
    data = drawn_data(fig)
    plt.close("all")
    return data


@pytest.mark.parametrize("ex", EXPLORERS, ids=IDS)
def test_plot_returns_labelled_axes(ex):
    """The redraw speed ("well under a second") is a benchmark, benchmarks/time_budgets.py."""
    plt.close("all")
    axes = np.atleast_1d(ex.module.plot_explorer())
    axes[0].figure.canvas.draw()
    assert all(isinstance(ax, matplotlib.axes.Axes) for ax in axes)
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
        assert ax.get_legend() is not None and ax.get_legend().get_texts()
    plt.close("all")


@pytest.mark.parametrize("ex", EXPLORERS, ids=IDS)
def test_widget_has_one_control_per_setting_at_its_default(ex):
    import ipywidgets as widgets

    w = getattr(ex.module, ex.widget)()
    assert isinstance(w, widgets.interactive)
    defaults = ex.module.EXPLORER_DEFAULTS
    assert set(w.kwargs) == set(defaults) == set(ex.changes)
    assert w.kwargs == defaults
    controls = [c for c in w.children if isinstance(c, widgets.ValueWidget)]
    assert len(controls) == len(defaults)
    sliders = [c for c in controls if "Slider" in type(c).__name__]
    assert sliders, "the browser test moves the first slider: there must be one"
    for c in controls:
        assert c.description, f"control {c} has no label"
    plt.close("all")


@pytest.mark.parametrize("ex", EXPLORERS, ids=IDS)
def test_changing_each_control_changes_the_figure(ex):
    w = getattr(ex.module, ex.widget)()
    default = _render(w)
    assert default, "the widget drew nothing"
    controls = {c._kwarg: c for c in w.kwargs_widgets}
    for name, value in ex.changes.items():
        old = controls[name].value
        controls[name].value = value
        assert w.kwargs[name] == value
        changed = _render(w)
        assert not same_drawing(changed, default), f"lesson {ex.lesson}: setting {name} = {value!r} " \
                                                   "did not change the figure"
        controls[name].value = old
    assert same_drawing(_render(w), default), "back at the defaults, the figure differs"


# ---------------------------------------------------------------------------------------
# The numbers, against independent computations
# ---------------------------------------------------------------------------------------
def _torch_states(x, h0, Wxh, Whh, b, act):
    h, out = h0, []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ Wxh.T + h @ Whh.T + b)
        out.append(h)
    return torch.stack(out, dim=1)


ACTS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "linear": lambda a: a}


@pytest.mark.parametrize("nonlinearity", list(ACTS))
def test_unrolling_memory_matches_torch_autograd(nonlinearity):
    T, N, D, H = 15, 3, 2, 6
    x, h0, Wxh, Whh, b = unrolling.memory_problem(1.3, T=T, N=N, D=D, H=H, seed=4)
    b = np.random.default_rng(5).normal(size=H) * 0.3  # a bias, so relu is neither on nor off
    got = unrolling.first_input_log_norms(x, h0, Wxh, Whh, b, nonlinearity=nonlinearity)
    xt, h0t, Wxt, Wht, bt = (torch.from_numpy(np.asarray(a, float)) for a in (x, h0, Wxh, Whh, b))
    act = ACTS[nonlinearity]
    for n in range(N):
        def states(x1, n=n):
            xs = xt[n:n + 1].clone()
            xs = torch.cat([x1[None, None], xs[:, 1:]], dim=1)
            return _torch_states(xs, h0t[n:n + 1], Wxt, Wht, bt, act)[0]  # (T, H)

        J = torch.autograd.functional.jacobian(states, xt[n, 0])  # (T, H, D)
        want = np.log10(torch.linalg.matrix_norm(J, ord=2).numpy())
        np.testing.assert_allclose(got[n], want, rtol=1e-10, atol=1e-10)


def test_unrolling_default_is_notebook01s_experiment_and_catches_wrong_input_step():
    ex = unrolling.explorer_experiment()
    # the same RNN as notebook 01 section 6 at s = 1: rnn.input_jacobian_norms agrees
    want = np.log10(rnn.input_jacobian_norms(*unrolling.memory_problem(1.0)))
    np.testing.assert_allclose(ex.log_norms, want, rtol=1e-10, atol=1e-12)
    wrong = rnn.input_jacobian_norms(*unrolling.memory_problem(1.0), k=1)[:, 1:]  # dh_t/dx_2
    assert not np.allclose(ex.log_norms[:, 1:], np.log10(wrong))
    assert ex.memory_steps() is not None and 1 < ex.memory_steps() <= 60
    big = unrolling.explorer_experiment(scale=2.5, T=200, nonlinearity="linear")
    assert np.all(np.isfinite(big.log_norms)) and big.memory_steps() is None


def test_truncation_mask_and_gradients_match_tbptt_and_torch():
    for k1, k2 in [(4, 8), (3, 3), (5, 7), (1, 24), (24, 24)]:
        ex = truncation.explorer_experiment(k1, k2, lag=6)
        C = ex.contributions
        scale = np.abs(ex.full).max()
        # every path summed is full BPTT; the kept paths summed are tbptt_k1k2_numpy's gradient
        np.testing.assert_allclose(C.sum(axis=(0, 1)), ex.full, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose((C * ex.kept[..., None]).sum(axis=(0, 1)), ex.truncated,
                                   rtol=0, atol=1e-12 * scale)
        assert not np.any(np.triu(np.linalg.norm(C, axis=-1), 1))  # no path to the future
    # the full gradient is the gradient of the real delayed-copy loss (torch autograd)
    p = truncation.delayed_copy_problem(24, 6)
    W = [torch.tensor(p[k], requires_grad=True) for k in ("Wxh", "Whh", "b")]
    xt = torch.from_numpy(p["x"])
    h = _torch_states(xt, torch.from_numpy(p["h0"]), *W, torch.tanh)
    err = h[:, 6:] @ torch.from_numpy(p["wy"]) - xt[:, :-6, 0]
    (0.5 * (err ** 2).sum()).backward()
    want = torch.cat([w.grad.reshape(-1) for w in W]).numpy()
    full = truncation.explorer_experiment(4, 8, 6).full
    assert np.linalg.norm(full - want) / np.linalg.norm(want) < 1e-12
    assert p["loss"] == pytest.approx(0.5 * float((err.detach() ** 2).sum()), rel=1e-12)


def test_truncation_kept_mask_by_hand():
    # T = 6, TBPTT(2, 3): updates at 2, 4, 6; windows start at steps 1, 2, 4 (1-based)
    want = np.array([[1, 0, 0, 0, 0, 0],
                     [1, 1, 0, 0, 0, 0],
                     [0, 1, 1, 0, 0, 0],
                     [0, 1, 1, 1, 0, 0],
                     [0, 0, 0, 1, 1, 0],
                     [0, 0, 0, 1, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(truncation.kept_mask(6, 2, 3), want)
    assert truncation.kept_mask(6, 6, 6).sum() == 21  # full BPTT keeps every path
    with pytest.raises(ValueError):
        truncation.kept_mask(6, 3, 2)


def test_truncation_fractions_and_dependency_counts():
    full = truncation.explorer_experiment(24, 24, 6)
    assert full.missed < 1e-12 and full.norm_ratio == pytest.approx(1.0)
    assert full.dependency_kept() == (18, 18)
    short = truncation.explorer_experiment(3, 3, 6)  # windows of 3 never reach 6 steps back
    assert short.dependency_kept() == (0, 18) and short.missed > 0
    ex = truncation.explorer_experiment(4, 8, 6)  # kept iff t - 6 > window start = prev - 4
    assert ex.dependency_kept() == (10, 18)
    f, k = ex.by_lag()
    assert np.all(k <= f * (1 + 1e-12)) and k[0] == pytest.approx(f[0]) and k[8:].max() == 0
    assert truncation.explorer_experiment(5, 2, 3).k2 == 5  # k2 raised to k1


def _torch_descend(start, lr, steps, max_norm):
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    path = [p.detach().clone()]
    for _ in range(steps):
        h = torch.tensor(0.5, dtype=torch.float64)
        for _ in range(50):
            h = torch.tanh(p[0] * h + p[1])
        loss = (h - 0.7) ** 2
        (g,) = torch.autograd.grad(loss, p)
        if max_norm is not None:
            g = g * min(1.0, max_norm / (float(g.norm()) + 1e-6))
        p = (p - lr * g).detach().requires_grad_(True)
        path.append(p.detach().clone())
    return torch.stack(path).numpy()


def test_cliff_trajectories_match_torch_autograd():
    runs = cliff.explorer_experiment(max_norm=1.0, lr=0.1, steps=40)
    clipped = _torch_descend((1.5, -0.4), 0.1, 40, 1.0)
    np.testing.assert_allclose(runs["clipped"]["path"], clipped, rtol=1e-9, atol=1e-12)
    plain = _torch_descend((1.5, -0.4), 0.1, 40, None)
    jump = int(np.argmax(np.linalg.norm(np.diff(plain, axis=0), axis=1)))
    # up to and including the jump off the cliff the runs agree; after it both sit on a
    # flat plateau (zero gradient), so they agree there too
    np.testing.assert_allclose(runs["plain"]["path"][: jump + 2], plain[: jump + 2], rtol=1e-6)
    assert np.linalg.norm(plain[jump + 1] - plain[jump]) > 5
    assert np.all(np.linalg.norm(np.diff(runs["clipped"]["path"], axis=0), axis=1) <= 0.1 + 1e-12)
    # a threshold above every gradient norm changes nothing
    same = cliff.explorer_experiment(max_norm=1e9, lr=0.1, steps=40)
    np.testing.assert_array_equal(same["clipped"]["path"], same["plain"]["path"])


def test_cliff_surface_is_the_clipping_models_loss():
    w, b, L = cliff.loss_surface()
    i, j = 37, 101
    from course_utils.lessons import clipping

    assert L[i, j] == clipping.cliff_loss_and_grad(w[i, j], b[i, j])[0]
    assert w.min() == cliff.VIEW["w"][0] and b.max() == cliff.VIEW["b"][1]
    assert not L.flags.writeable


# ---------------------------------------------------------------------------------------
# What the notebooks' prose around the explorers says to try, and what it says happens
# ---------------------------------------------------------------------------------------
def test_notebook05_explorer_prose():
    short = truncation.explorer_experiment(4, 4, 6)
    assert short.dependency_kept() == (0, 18) and round(100 * short.norm_ratio) == 85
    assert truncation.explorer_experiment(4, 7, 6).dependency_kept() == (5, 18)
    assert truncation.explorer_experiment(1, 7, 6).dependency_kept() == (18, 18)
    long = truncation.explorer_experiment(4, 4, 12)
    assert abs(long.norm_ratio - 1) < 0.01 and 0.28 < long.missed < 0.38  # "about a third"


def test_notebook06_explorer_prose():
    def run(**kw):
        r = cliff.explorer_experiment(**kw)
        longest = {k: np.linalg.norm(np.diff(v["path"], axis=0), axis=1).max() for k, v in r.items()}
        return r, longest

    r, longest = run()
    assert r["plain"]["grad_norm"].max() == pytest.approx(200, rel=0.1)  # "about 200"
    threshold = 10 ** np.arange(0, 2.01, 0.25)  # the slider's values from 1 to 100
    finals = {round(float(t), 2): run(max_norm=float(t))[0]["clipped"]["loss"][-1] for t in threshold}
    assert finals[3.16] < 1e-12  # "at about 3 it still reaches the valley floor"
    assert finals[10.0] == pytest.approx(0.08, abs=0.01)  # "thrown over the wall"
    for t in (31.62, 56.23, 100.0):  # "from about 30 up it jumps off like the plain run"
        r, longest = run(max_norm=t)
        assert longest["clipped"] > 3 and r["clipped"]["loss"][-1] == pytest.approx(
            r["plain"]["loss"][-1], abs=1e-3)
    r, longest = run(lr=0.01, steps=200)
    assert longest["plain"] < 0.1 and r["plain"]["loss"][-1] < 1e-9


# ---------------------------------------------------------------------------------------
# The notebooks: explorer cells tagged, the tag carried into notebooks/ by the build
# ---------------------------------------------------------------------------------------
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _tagged(cell, tag="explorer"):
    return tag in cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("ex", EXPLORERS, ids=IDS)
def test_notebook_shows_the_explorer_and_the_build_keeps_its_tag(ex):
    import json

    [solution] = ROOT.glob(f"solutions/{ex.lesson}_*.ipynb")
    sol = json.loads(solution.read_text())["cells"]
    cells = [c for c in sol if _tagged(c)]
    assert len(cells) == 2, f"{solution.name}: expected a default-figure cell and a panel cell"
    figure, panel = cells
    name = ex.module.__name__.rsplit(".", 1)[1]
    assert f"{name}.plot_explorer()" in "".join(figure["source"])
    assert not _tagged(figure, "nbval-ignore-output")  # its output is compared by nbval
    assert any("image/png" in o.get("data", {}) for o in figure["outputs"])
    assert f"{name}.{ex.widget}()" in "".join(panel["source"])
    assert _tagged(panel, "nbval-ignore-output") and "assert " in "".join(panel["source"])
    student = json.loads((ROOT / "notebooks" / solution.name).read_text())["cells"]
    assert [c["id"] for c in student if _tagged(c)] == [c["id"] for c in cells]
    # every stored interactive panel with a slider, in any lesson, is an explorer cell
    for path in ROOT.glob("solutions/*.ipynb"):
        for c in json.loads(path.read_text())["cells"]:
            panels = [o for o in c.get("outputs", []) if WIDGET_MIME in o.get("data", {})
                      and "Slider" in "".join(o["data"].get("text/plain", ""))]
            assert not panels or _tagged(c), f"{path.name} cell {c['id']}: panel not tagged"
