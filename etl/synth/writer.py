"""Formatting and writing helpers: dates and times as the real sources write them, CSV output
with stable bytes (fixed float precision, '\\n' line ends, no index)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from etl.synth import config

# Hour-of-day weights (local time). Violence peaks late evening; property crime in daytime.
HOURS_VIOLENT = np.array([7, 6, 5, 4, 3, 2, 1.5, 1.5, 1.5, 2, 2.2, 2.5, 3, 3, 3.2, 3.5, 4, 4.5,
                          5, 5.5, 6, 6.5, 7, 7.5])
HOURS_PROPERTY = np.array([3, 2.5, 2, 1.5, 1.2, 1.2, 1.5, 2.5, 4, 4.5, 5, 5.5, 6, 6, 6, 6, 6,
                           6, 5.5, 5, 4.5, 4, 3.5, 3])


def seasonal_days(rng: np.random.Generator, n: int, year: int) -> np.ndarray:
    """n dates in `year` (datetime64[D]) following the monthly seasonality."""
    days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
    month = days.astype("datetime64[M]").astype(int) % 12
    w = np.asarray(config.MONTH_WEIGHTS)[month]
    return days[rng.choice(len(days), n, p=w / w.sum())]


def local_times(rng: np.random.Generator, days: np.ndarray, hours: np.ndarray,
                whole_minutes: bool = True) -> np.ndarray:
    """Local wall-clock datetimes (datetime64[s], naive) on the given days."""
    n = len(days)
    hour = rng.choice(24, n, p=hours / hours.sum())
    sec = hour * 3600 + rng.integers(0, 60, n) * 60
    if not whole_minutes:
        sec = sec + rng.integers(0, 60, n)
    return days.astype("datetime64[s]") + sec.astype("timedelta64[s]")


def local_to_utc(local: np.ndarray) -> np.ndarray:
    """Naive America/New_York datetimes -> naive UTC datetimes (datetime64[s]).

    Ambiguous fall-back times are read as standard time, spring-forward gaps shifted forward.
    """
    idx = pd.DatetimeIndex(local)
    aware = idx.tz_localize("America/New_York", ambiguous=np.zeros(len(idx), dtype=bool),
                            nonexistent="shift_forward")
    return aware.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")


def _strings(values: np.ndarray) -> np.ndarray:
    s = np.datetime_as_string(values).astype(object)
    s[np.isnat(values)] = ""
    return s


def iso_dates(days: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DD', blank for NaT."""
    return _strings(np.asarray(days, dtype="datetime64[D]"))


def us_dates(days: np.ndarray) -> np.ndarray:
    """'MM/DD/YYYY', blank for NaT."""
    iso = iso_dates(days)
    return np.array([f"{s[5:7]}/{s[8:10]}/{s[:4]}" if s else "" for s in iso], dtype=object)


def utc_crime_datetimes(utc: np.ndarray) -> np.ndarray:
    """Open Baltimore's UTC download form: '2022/06/21 03:48:00+00'."""
    iso = _strings(np.asarray(utc, dtype="datetime64[s]"))
    return np.array([s.replace("-", "/").replace("T", " ") + "+00" for s in iso], dtype=object)


def chicago_datetimes(local: np.ndarray) -> np.ndarray:
    """Chicago portal form: 'MM/DD/YYYY hh:mm:ss AM' (local time)."""
    iso = _strings(np.asarray(local, dtype="datetime64[s]"))
    out = []
    for s in iso:
        h = int(s[11:13])
        out.append(f"{s[5:7]}/{s[8:10]}/{s[:4]} {(h % 12) or 12:02d}:{s[14:16]}:{s[17:19]} "
                   f"{'AM' if h < 12 else 'PM'}")
    return np.array(out, dtype=object)


def fixed(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """Floats with a fixed number of decimals (stable bytes), blank for NaN."""
    v = np.asarray(values, dtype=float)
    out = np.array(list(map(f"%.{digits}f".__mod__, v.ravel().tolist())), dtype=object).reshape(v.shape)
    out[np.isnan(v)] = ""
    return out


def write_csv(data: pd.DataFrame | dict, path: Path, columns: tuple[str, ...] | list[str],
              append: bool = False) -> int:
    """Write (or append) the given columns with the csv module (minimal quoting, '\n' line ends);
    `data` is a DataFrame or a dict of equal-length arrays (scalars are repeated). Returns the
    number of data rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, pd.DataFrame):
        n = len(data)
        arrays = [data[c].to_numpy() for c in columns]
    else:
        n = max((len(v) for v in data.values() if np.ndim(v) == 1), default=0)
        arrays = [data[c] if np.ndim(data[c]) == 1 else np.full(n, data[c], dtype=object) for c in columns]
    with path.open("a" if append else "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        if not append:
            writer.writerow(columns)
        writer.writerows(zip(*arrays, strict=True))
    return n
