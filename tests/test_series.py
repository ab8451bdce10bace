"""Tests for course_utils.data.series: the shipped Mauna Loa CO2 file and its monthly means."""

import hashlib

import numpy as np
import pytest

from course_utils.data import series


def test_the_co2_file_is_the_shipped_file_byte_for_byte():
    data = series.CO2_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f")
    assert series.file_sha256() == series.CO2_SHA256 == hashlib.sha256(data).hexdigest()
    assert b"\r" not in data and data.startswith(b"date,co2\n")


def test_the_weekly_rows_first_and_last_values():
    dates, values = series.read_weekly_csv()
    assert dates.shape == values.shape == (2284,)
    assert str(dates[0]) == "1958-03-29" and str(dates[-1]) == "2001-12-29"
    assert values[0] == 316.1 and values[-1] == 371.5
    assert int(np.isnan(values).sum()) == 59
    assert np.all(np.diff(dates).astype(int) > 0)


def test_the_monthly_series_of_the_shipped_file():
    m = series.load_co2_monthly()
    assert len(m) == m.values.shape[0] == 526 and m.values.dtype == np.float64
    assert (str(m.months[0]), str(m.months[-1])) == ("1958-03", "2001-12")
    assert np.all(np.diff(m.months).astype(int) == 1)  # no month skipped
    assert [str(x) for x in m.months[m.filled]] == ["1958-06", "1958-10", "1964-02",
                                                      "1964-03", "1964-04"]
    assert (m.n_rows, m.n_missing_weeks, int(m.weeks.sum())) == (2284, 59, 2284 - 59)
    assert m.values[0] == 316.1  # March 1958 has one weekly value
    dec = series.read_weekly_csv()[1][-5:]  # the five Saturdays of December 2001
    assert m.values[-1] == pytest.approx(np.mean(dec), abs=1e-12)
    assert np.isfinite(m.values).all() and 310 < m.values.min() < m.values.max() < 375
    assert m.years[0] == pytest.approx(1958 + 2.5 / 12)


def _write(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_monthly_means_of_a_hand_made_file(tmp_path):
    """January: 1 and 3 (mean 2); February: one empty week and 5; March: nothing at all;
    April: empty only (interpolated); May: 11. March and April are filled on the line from
    February (5) to May (11): 7 and 9."""
    p = _write(tmp_path, "date,co2\n20000101,1\n20000115,3\n20000205,\n20000212,5\n"
                         "20000408,\n20000506,11\n")
    m = series.load_co2_monthly(path=p)
    assert [str(x) for x in m.months] == ["2000-01", "2000-02", "2000-03", "2000-04", "2000-05"]
    np.testing.assert_allclose(m.values, [2, 5, 7, 9, 11])
    assert m.filled.tolist() == [False, False, True, True, False]
    assert m.weeks.tolist() == [2, 1, 0, 0, 1]
    assert (m.n_rows, m.n_missing_weeks) == (6, 2)


def test_leading_empty_weeks_are_not_extrapolated(tmp_path):
    p = _write(tmp_path, "date,co2\n19991225,\n20000101,4\n20000201,6\n20000301,\n")
    m = series.load_co2_monthly(p)
    assert [str(x) for x in m.months] == ["2000-01", "2000-02"]
    np.testing.assert_allclose(m.values, [4, 6])


@pytest.mark.parametrize("text, words", [
    ("", "header"),
    ("day,value\n20000101,1\n", "header"),
    ("date,co2\n", "no data rows"),
    ("date,co2\n20000101,1,2\n", "line 2: expected 2 fields"),
    ("date,co2\n20000101,1\n2000-01-08,2\n", "line 3: the date '2000-01-08' is not YYYYMMDD"),
    ("date,co2\n20000101,abc\n", "line 2: the value 'abc' is not a number"),
    ("date,co2\n20000101,inf\n", "line 2: the value 'inf' is not finite"),
    ("date,co2\n20000108,1\n20000101,2\n", "line 3: the date 20000101 does not come after"),
    ("date,co2\n20000108,\n20000115,\n", "every week is empty"),
])
def test_a_bad_file_gives_an_error_that_says_what_and_where(tmp_path, text, words):
    p = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        series.load_co2_monthly(p)
    assert words in str(err.value)


def test_monthly_means_checks_its_arguments():
    d = np.array(["2000-01-01", "2000-01-08"], dtype="datetime64[D]")
    with pytest.raises(ValueError, match="same 1-d shape"):
        series.monthly_means(d, np.ones(3))
