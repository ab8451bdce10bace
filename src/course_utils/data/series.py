"""A real time series that ships offline: Mauna Loa atmospheric CO2, weekly, 1958-2001.

The file ``course_utils/data/co2/co2.csv`` is the weekly record as the statsmodels
package ships it (``statsmodels/datasets/co2/co2.csv`` of statsmodels 0.15.0; source,
citation and public-domain statement in the README beside it): a header ``date,co2``,
then one row per week, ``YYYYMMDD,value`` with the value in ppmv (micromol per mol), or
an empty value for a week without data. 2,284 weeks from 1958-03-29 to 2001-12-29, 59 of
them empty.

:func:`read_weekly_csv` reads any file of that format (standard library and numpy only);
:func:`monthly_means` averages the weeks of each calendar month and fills the months that
have no data by linear interpolation between their neighbours; :func:`load_co2_monthly`
does both for the course's file (or yours, ``path=``).
"""

from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CO2_FILE = Path(__file__).resolve().parent / "co2" / "co2.csv"
CO2_SHA256 = "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f"
CO2_SOURCE = ("Mauna Loa weekly atmospheric CO2 (C. D. Keeling and T. P. Whorf, Scripps "
              "Institution of Oceanography; CDIAC, Oak Ridge National Laboratory, U.S. DOE), "
              "public domain, as shipped by statsmodels 0.15.0")


def read_weekly_csv(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a weekly ``date,co2`` CSV (the course's CO2 file when ``path`` is None).

    Returns:
        ``dates``: ``(n,)`` ``datetime64[D]``, strictly increasing; ``values``: ``(n,)``
        float64, NaN where the value is empty (a week without data).

    Raises:
        ValueError: naming the file and the line, if the header is not ``date,co2``, a
            row does not have two fields, a date is not ``YYYYMMDD``, a value is not a
            finite number, the dates do not increase, or there are no rows.
    """
    path = CO2_FILE if path is None else Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip().lower() for c in rows[0]] != ["date", "co2"]:
        got = rows[0] if rows else "nothing (the file is empty)"
        raise ValueError(f"{path}: line 1 must be the header 'date,co2', got {got!r}")
    dates, values = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue  # a blank line (e.g. at the end)
        if len(row) != 2:
            raise ValueError(f"{path}, line {line}: expected 2 fields 'YYYYMMDD,value', got {row!r}")
        d, v = row[0].strip(), row[1].strip()
        try:
            dates.append(_dt.datetime.strptime(d, "%Y%m%d").date())
        except ValueError:
            raise ValueError(f"{path}, line {line}: the date {d!r} is not YYYYMMDD") from None
        try:
            values.append(float(v) if v else np.nan)
        except ValueError:
            raise ValueError(f"{path}, line {line}: the value {v!r} is not a number "
                             "(leave it empty for a week without data)") from None
        if v and not np.isfinite(values[-1]):
            raise ValueError(f"{path}, line {line}: the value {v!r} is not finite")
        if len(dates) > 1 and dates[-1] <= dates[-2]:
            raise ValueError(f"{path}, line {line}: the date {d} does not come after the "
                             "previous row's: the rows must be in increasing date order")
    if not dates:
        raise ValueError(f"{path}: no data rows after the header")
    return np.array(dates, dtype="datetime64[D]"), np.array(values, dtype=np.float64)


@dataclass
class MonthlySeries:
    """A monthly series made from weekly values (:func:`monthly_means`).

    Attributes:
        months: ``(M,)`` ``datetime64[M]``, every calendar month from the first to the
            last with data, none skipped.
        values: ``(M,)`` float64: the mean of the month's weekly values; for a month
            with no value, linearly interpolated between the nearest months with data.
        filled: ``(M,)`` bool: True where ``values`` was interpolated.
        weeks: ``(M,)`` int: how many weekly values each month's mean averages.
        n_rows, n_missing_weeks: rows read, and rows with an empty value.
    """

    months: np.ndarray
    values: np.ndarray
    filled: np.ndarray
    weeks: np.ndarray
    n_rows: int
    n_missing_weeks: int

    def __len__(self) -> int:
        return len(self.months)

    @property
    def years(self) -> np.ndarray:
        """``(M,)`` float64: each month as a decimal year (its middle), for plotting."""
        m = self.months.astype(int)  # months since 1970-01
        return 1970 + (m + 0.5) / 12


def monthly_means(dates: np.ndarray, values: np.ndarray, *, n_rows: int | None = None
                  ) -> MonthlySeries:
    """Average weekly values by calendar month (the month of each row's date).

    Args:
        dates: ``(n,)`` ``datetime64[D]``, increasing; values: ``(n,)`` float, NaN = none.
        n_rows: recorded as the series' ``n_rows`` (default ``n``).

    Months with no value (all their weeks empty, or no row at all) get the linear
    interpolation between the nearest months with data, and ``filled`` marks them. The
    series runs from the first to the last month *with data*, so nothing is extrapolated.

    Raises:
        ValueError: if no value is given at all, or the shapes differ.
    """
    dates, values = np.asarray(dates, dtype="datetime64[D]"), np.asarray(values, dtype=np.float64)
    if dates.shape != values.shape or dates.ndim != 1:
        raise ValueError(f"dates {dates.shape} and values {values.shape} must be the same 1-d shape")
    ok = ~np.isnan(values)
    if not ok.any():
        raise ValueError("no values: every week is empty")
    month = dates.astype("datetime64[M]")
    first, last = month[ok].min(), month[ok].max()
    months = np.arange(first, last + 1, dtype="datetime64[M]")
    idx = (month[ok] - first).astype(int)
    sums = np.bincount(idx, weights=values[ok], minlength=len(months))
    weeks = np.bincount(idx, minlength=len(months))
    filled = weeks == 0
    means = np.divide(sums, weeks, out=np.full(len(months), np.nan), where=~filled)
    t = np.arange(len(months))
    means[filled] = np.interp(t[filled], t[~filled], means[~filled])
    return MonthlySeries(months, means, filled, weeks, len(dates) if n_rows is None else n_rows,
                         int((~ok).sum()))


def load_co2_monthly(path: str | Path | None = None) -> MonthlySeries:
    """The Mauna Loa CO2 record as monthly means (ppm): :func:`read_weekly_csv` then
    :func:`monthly_means`.

    For the course's file: ``M = 526`` months, 1958-03 to 2001-12, of which 5 have no
    weekly value and are interpolated (``filled``: 1958-06, 1958-10 and 1964-02 to
    1964-04). ``path``: another file of the same format (``date,co2`` header,
    ``YYYYMMDD,value`` rows).
    """
    dates, values = read_weekly_csv(path)
    return monthly_means(dates, values)


def file_sha256(path: str | Path | None = None) -> str:
    """The sha256 of a file's bytes (the course's CO2 file when ``path`` is None)."""
    import hashlib

    return hashlib.sha256(Path(CO2_FILE if path is None else path).read_bytes()).hexdigest()
