"""Formatting and writing helpers: dates and times as the real sources write them, CSV output
with stable bytes (fixed float precision, '\\n' line ends, no index)."""

from __future__ import annotations

import csv
import io
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


def _per_day(days: np.ndarray, text) -> np.ndarray:
    """text(iso strings of the distinct days) spread back over all days (a few thousand distinct days
    stand behind the many rows)."""
    distinct, which = np.unique(np.asarray(days, dtype="datetime64[D]"), return_inverse=True)
    return text(_strings(distinct))[which.reshape(-1)].reshape(np.shape(days))


def iso_dates(days: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DD', blank for NaT."""
    return _per_day(days, lambda iso: iso)


def us_dates(days: np.ndarray) -> np.ndarray:
    """'MM/DD/YYYY', blank for NaT."""
    return _per_day(days, lambda iso: np.array([f"{s[5:7]}/{s[8:10]}/{s[:4]}" if s else "" for s in iso],
                                               dtype=object))


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


_NEEDS_QUOTES = (",", '"', "\n", "\r")
_LINES_PER_WRITE = 20_000


def _csv_quoted(text: str) -> str:
    """One field as the csv module writes it (a field that needs quotes)."""
    if "\r" not in text:
        return '"' + text.replace('"', '""') + '"'
    buf = io.StringIO()  # whether \r alone needs quotes depends on the Python version: ask the csv module
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow([text, ""])
    return buf.getvalue()[:-2]


def _field_texts(values) -> list[str] | None:
    """A column's fields as the csv module writes them (minimal quoting), or None for a column whose
    values are not all strings and integers (floats, dates, None...: left to the csv module)."""
    if not isinstance(values, np.ndarray):
        return None
    if values.dtype.kind in "iub":
        return list(map(str, values.tolist()))
    if values.dtype != object and values.dtype.kind != "U":
        return None
    texts = values.tolist()
    try:
        joined = "".join(texts)
    except TypeError:
        if not set(map(type, texts)) <= {str, int}:
            return None
        texts = list(map(str, texts))
        joined = "".join(texts)
    if '"' in joined or "\n" in joined or "\r" in joined:
        texts = [_csv_quoted(t) if any(c in t for c in _NEEDS_QUOTES) else t for t in texts]
    elif "," in joined:  # commas only (coordinate pairs): those fields in plain quotes
        texts = ['"' + t + '"' if "," in t else t for t in texts]
    return texts


def write_csv(data: pd.DataFrame | dict, path: Path, columns: tuple[str, ...] | list[str],
              append: bool = False) -> int:
    """Write (or append) the given columns with the csv module's bytes (minimal quoting, '\n' line
    ends); `data` is a DataFrame or a dict of equal-length arrays (scalars are repeated). Returns the
    number of data rows written.

    Columns of strings and integers are joined into lines directly (what the csv module would write,
    much faster); a file with any other column goes through the csv module."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, pd.DataFrame):
        n = len(data)
        arrays = [data[c].to_numpy() for c in columns]
    else:
        n = max((len(v) for v in data.values() if np.ndim(v) == 1), default=0)
        arrays = [data[c] if np.ndim(data[c]) == 1 else np.full(n, data[c], dtype=object) for c in columns]
    texts = [_field_texts(a) for a in arrays] if len(columns) > 1 else [None]
    with path.open("a" if append else "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        if not append:
            writer.writerow(columns)
        if any(t is None for t in texts):
            writer.writerows(zip(*arrays, strict=True))
            return n
        if any(len(t) != n for t in texts):
            raise ValueError(f"columns of unequal length for {path.name}")
        for start in range(0, n, _LINES_PER_WRITE):
            chunk = (t[start:start + _LINES_PER_WRITE] for t in texts)
            fh.write("\n".join(map(",".join, zip(*chunk, strict=True))) + "\n")
    return n
