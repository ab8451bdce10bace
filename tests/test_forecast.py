"""Tests for course_utils.lessons.forecast: baselines, errors, the TBPTT-trained forecaster."""

import numpy as np
import pytest
import torch
from notebook_cells import cell_text

from course_utils.lessons import forecast as fc


def _seasonal(n_years=4, rise=2.0):
    """A hand-made monthly series: a yearly pattern 0..11 plus ``rise`` per year."""
    t = np.arange(12 * n_years)
    return (t % 12).astype(float) + rise * (t // 12)


def test_seasonal_naive_and_drift_on_a_hand_made_series():
    y = _seasonal(rise=2.0)  # y[t] - y[t-12] = 2 everywhere
    np.testing.assert_array_equal(fc.seasonal_naive(y, 36), y[24:36])
    np.testing.assert_allclose(fc.seasonal_naive(y, 36) - y[36:], -2.0)  # off by one year's rise
    assert fc.mean_yearly_rise(y[:36]) == pytest.approx(2.0)
    np.testing.assert_allclose(fc.seasonal_naive_drift(y, 36), y[36:])  # exact
    assert fc.errors(fc.seasonal_naive(y, 36), y[36:]) == pytest.approx({"rmse": 2.0, "mae": 2.0})
    np.testing.assert_allclose(fc.seasonal_naive_drift(y, 36, rise=0.5), y[36:] - 1.5)


def test_seasonal_naive_changes_repeats_last_year_s_step():
    y = _seasonal(rise=2.0)
    y[30] += 1.0  # one odd month
    f = fc.seasonal_naive_changes(y, 36)
    assert f.shape == (12,)
    # y[t-1] + (y[t-12] - y[t-13]): month 42 copies the step 29 -> 30 (+1 too much),
    # month 43 the step 30 -> 31 (1 too little)
    err = f - y[36:]
    np.testing.assert_allclose(err, [0, 0, 0, 0, 0, 0, 1, -1, 0, 0, 0, 0], atol=1e-12)


def test_errors_rmse_and_mae_known_numbers():
    e = fc.errors([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0])  # errors 0, 1, 2, 3
    assert e["rmse"] == pytest.approx(np.sqrt(14 / 4)) and e["mae"] == pytest.approx(1.5)
    with pytest.raises(ValueError):
        fc.errors([], [])


def test_baselines_check_start():
    y = _seasonal()
    with pytest.raises(ValueError, match="start"):
        fc.seasonal_naive(y, 5)
    with pytest.raises(ValueError, match="start"):
        fc.seasonal_naive_changes(y, 12)


def test_format_errors_rounds_and_keeps_the_order():
    y = _seasonal()
    table = fc.format_errors({"b": y[36:] + 0.123, "a": y[36:] - 2}, y[36:])
    lines = table.splitlines()
    assert lines[0].startswith("method") and "RMSE (ppm)" in lines[0]
    assert lines[1].split() == ["b", "0.12", "0.12"] and lines[2].split() == ["a", "2.00", "2.00"]


def _noisy_seasonal(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 0.1 * t + 3 * np.sin(2 * np.pi * t / 12) + 0.2 * rng.normal(size=n)


def test_training_is_deterministic_and_forecast_shapes():
    y = _noisy_seasonal(120)
    a = fc.train_forecaster(y[:96], hidden=8, k=12, epochs=3)
    b = fc.train_forecaster(y[:96], hidden=8, k=12, epochs=3)
    assert a.history.losses == b.history.losses
    assert a.history.n_updates == 3 * 8  # 94 input steps -> 8 chunks of 12 per pass
    fa, fb = a.forecast(y, 96), b.forecast(y, 96)
    assert fa.shape == (24,) and fa.dtype == np.float64
    np.testing.assert_array_equal(fa, fb)
    c = fc.train_forecaster(y[:96], hidden=8, k=12, epochs=3, seed=1)
    assert c.history.losses != a.history.losses
    with pytest.raises(ValueError, match="start"):
        a.forecast(y, 1)


def test_forecast_uses_only_the_past():
    """Changing a later value leaves the forecasts of earlier months unchanged."""
    y = _noisy_seasonal(120)
    f = fc.train_forecaster(y[:96], hidden=8, k=12, epochs=2)
    y2 = y.copy()
    y2[110] += 50
    np.testing.assert_array_equal(f.forecast(y, 96)[:15], f.forecast(y2, 96)[:15])
    assert f.forecast(y, 96)[15] != f.forecast(y2, 96)[15]  # month 111 starts from y[110]


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_briefly_trained_model_beats_seasonal_naive_on_a_synthetic_series(cell):
    """A noisy seasonal series with a trend: seasonal naive is off by a year's rise (1.2);
    the tanh RNN (notebook 05's model) or an LSTM, trained with TBPTT for 40 passes,
    forecasts the next month to within the noise. An untrained or broken model (no state,
    wrong scaling) does not."""
    y = _noisy_seasonal(240)
    f = fc.train_forecaster(y[:192], hidden=16, k=24, epochs=40, cell=cell,
                            lr=1e-2 if cell == "lstm" else 3e-3)
    assert isinstance(f.model.rnn, torch.nn.RNN if cell == "rnn" else torch.nn.LSTM)
    model = fc.errors(f.forecast(y, 192), y[192:])["rmse"]
    naive = fc.errors(fc.seasonal_naive(y, 192), y[192:])["rmse"]
    assert model < 0.5 * naive
    assert f.history.final_loss(10) < 0.5 * float(np.mean(f.history.losses[:10]))


def test_notebook_05_quotes_the_seed_sweep_and_its_own_numbers_as_computed():
    """§10's prose quotes benchmarks/co2_forecast_seeds.py's results file and numbers the
    notebook prints; they must equal the file and a recomputation."""
    from course_utils import provenance
    from course_utils.data import series

    nb = provenance.ROOT / "solutions" / "05_truncated_bptt.ipynb"
    res = provenance.load_results("co2_forecast_seeds")["results"]
    test = res["test"]
    rnn, best_base = test["model_rmse"], test["baseline_rmse"]["last value + last year's change"]
    end = cell_text(nb, "c037-co2-end", squash_spaces=True)
    assert (f"the RNN's test RMSE ranged from {min(rnn):.2f} to {max(rnn):.2f} ppm, each below the "
            f"{best_base:.2f} ppm") in end
    assert max(rnn) < best_base and max(res["validation"]["model_rmse"]) < (
        res["validation"]["baseline_rmse"]["last value + last year's change"])
    assert res["setup"]["seeds"] == [0, 1, 2, 3, 4]
    settings = ("cell", "hidden", "k", "n_streams", "epochs", "lr", "clip")
    assert {k: res["setup"][k] for k in settings} == dict(
        cell="rnn", hidden=32, k=24, n_streams=1, epochs=60, lr=3e-3, clip=1.0)
    # the notebook trains the same model as the sweep (seed 0)
    train = cell_text(nb, "c037-co2-train", squash_spaces=True)
    assert ('cell="rnn", hidden=32, k=24, n_streams=1, epochs=60, lr=3e-3, clip=1.0, seed=0'
            in train)
    assert "Adam (learning rate 0.003)" in cell_text(nb, "c037-co2-model-md",
                                                                 squash_spaces=True)

    co2 = series.load_co2_monthly()
    y, n = co2.values, fc.month_index(co2.months, "1996-01")
    rise_train = fc.mean_yearly_rise(y[:n])
    rise_test = float(np.mean(y[n:] - y[n - 12:-12]))
    drift_err = fc.seasonal_naive_drift(y, n) - y[n:]
    worst = int(np.argmax(np.abs(drift_err)))
    concl = cell_text(nb, "c037-co2-conclusion", squash_spaces=True)
    assert f"mean rise ({rise_train:.2f} ppm)" in concl
    assert f"rose faster ({rise_test:.2f} ppm a year on average)" in concl
    assert str(co2.months[n + worst]) == "1998-09" and f"{drift_err[worst]:.1f}" == "-2.5"
    jump = y[n + worst] - y[n + worst - 12]
    assert f"−2.5 ppm in September 1998, is a month that stood {jump:.2f} ppm above September 1997" in concl
    base = {k: fc.errors(f, y[n:]) for k, f in fc.baseline_forecasts(y, n).items()}
    assert base["seasonal naive + drift"]["rmse"] < 0.5 * base["seasonal naive"]["rmse"]  # halves


def test_month_index():
    months = np.arange(np.datetime64("2000-01"), np.datetime64("2000-05"))
    assert fc.month_index(months, "2000-03") == 2
    with pytest.raises(ValueError, match="not in the series"):
        fc.month_index(months, "2001-01")
