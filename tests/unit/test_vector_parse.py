"""The column-wise rules of etl/vector.py against the parser functions they mirror, value by value:
a value the fast path certifies gets exactly what the parser gives it; a value the parser refuses is
never certified (the row goes back to the parser, which says why)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl import vector_columns
from etl.errors import RowError
from etl.parse import DEFAULT_REGION, parse_datetime, parse_point, point_wkt, upper

PROPS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
CLOCKS = [dt.UTC, ZoneInfo("America/New_York"), ZoneInfo("America/Chicago"), dt.timezone(dt.timedelta(hours=-5)),
          dt.timezone(dt.timedelta(hours=5, minutes=30))]
DATES = st.one_of(
    st.from_regex(r"\A[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(Z|\+00|\+0000|\+00:00|-05:00)?\Z"),
    st.from_regex(r"\A[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}( [AP]M| [ap]m|[AP]M)?\Z"),
    st.builds(lambda d, fmt: d.strftime(fmt),
              st.datetimes(min_value=dt.datetime(1899, 1, 1), max_value=dt.datetime(2100, 1, 1)),
              st.sampled_from(["%Y/%m/%d %H:%M:%S+00", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %I:%M:%S %p",
                               "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%SZ"])),
    st.sampled_from(["2022/03/13 02:30:00", "2022/11/06 01:30:00", "03/13/2022 02:30:00 AM", "11/06/2022 01:30:00 AM",
                     "2022/06/21 12:00:60", "2022/06/21 24:00:00", "06/21/2022 00:48:00 AM", "06/21/2022 13:00:00 PM",
                     "2022/02/29 00:00:00", "2024/02/29 00:00:00", "", " 2022/06/21 03:48:00", "٢٠٢٢/06/21 03:48:00"]))


def _reference_instant(value: str, tz) -> str | None:
    try:
        when = parse_datetime(value, "DATE", tz)
    except RowError:
        return None
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")


@PROPS
@given(st.lists(DATES, min_size=1, max_size=30), st.sampled_from(CLOCKS))
def test_certified_date_times_are_the_parsers_instants(values, tz):
    text, ok = vector_columns.instants(pl.Series(values, dtype=pl.String), tz)
    for value, got, certified in zip(values, text.to_list(), ok.to_list(), strict=True):
        if certified:
            assert got == _reference_instant(value, tz), value


def test_the_usual_date_shapes_are_certified():
    values = ["2022/06/21 03:48:00+00", "2022-06-21T03:48:00", "06/21/2022 11:48:00 PM", "06/21/2022 23:48:00"]
    text, ok = vector_columns.instants(pl.Series(values), ZoneInfo("America/New_York"))
    assert ok.to_list() == [True] * 4
    assert text.to_list() == ["2022-06-21 03:48:00+00", "2022-06-21 07:48:00+00", "2022-06-22 03:48:00+00",
                              "2022-06-22 03:48:00+00"]


COORDINATE = st.one_of(
    st.decimals(min_value=-200, max_value=200, places=7).map(str),
    st.floats(min_value=-200, max_value=200, allow_nan=False).map(lambda f: f"{f:.{abs(hash(f)) % 9}f}"),
    st.sampled_from(["0", "0.0", "-0.0", "", "NA", "1e1", "-076.6", "+39.3", " 39.3", "39.", ".5", "nan", "inf"]))


def _reference_point(lon: str, lat: str, region) -> str | None:
    try:
        return point_wkt(parse_point(lon, lat, "L", region))
    except RowError:
        return None


@PROPS
@given(st.lists(st.tuples(COORDINATE, COORDINATE), min_size=1, max_size=30),
       st.sampled_from([DEFAULT_REGION, None, (-200.0, -100.0, 200.0, 100.0)]))
def test_certified_points_are_the_parsers_points(pairs, region):
    wkt, ok = vector_columns.points(pl.Series([p[0] for p in pairs]), pl.Series([p[1] for p in pairs]), region)
    for (lon, lat), got, certified in zip(pairs, wkt.to_list(), ok.to_list(), strict=True):
        if certified:
            assert got is not None and got == _reference_point(lon, lat, region), (lon, lat)


def test_plain_coordinates_are_certified_with_seven_decimals():
    wkt, ok = vector_columns.points(pl.Series(["-76.61", "-76.6123456", "-0.5"]), pl.Series(["39.3", "39.2901", "39.0"]),
                             (-77.0, 39.0, 0.0, 40.0))
    assert ok.to_list() == [True, True, True]
    assert wkt.to_list() == ["SRID=4326;POINT(-76.6100000 39.3000000)", "SRID=4326;POINT(-76.6123456 39.2901000)",
                             "SRID=4326;POINT(-0.5000000 39.0000000)"]


@PROPS
@given(st.lists(st.one_of(st.text(max_size=12), st.sampled_from(["na", " N/a ", "null", "None", "straße", "ǆ", "ﬁ"])),
                min_size=1, max_size=30))
def test_upper_is_the_parsers_upper(values):
    got = vector_columns.upper_column(pl.DataFrame({"c": values}, schema={"c": pl.String}), "c")
    assert got.to_list() == [upper(v) for v in values]


def test_windows_read_ahead_come_in_order_and_stop_cleanly():
    """The next window is read in a thread while this one is written: windows come in order, a window
    the fast way cannot read raises where it lies, and a caller that stops early leaves no thread
    reading and the windows' source closed."""
    import threading

    from etl.vector import NotFast, _ahead

    closed = []

    def windows(n, fail_at=None):
        try:
            for i in range(n):
                if i == fail_at:
                    raise NotFast
                yield i
        finally:
            closed.append(threading.current_thread().name)

    assert list(_ahead(windows(5))) == [0, 1, 2, 3, 4]
    got = []
    with pytest.raises(NotFast):
        for w in _ahead(windows(5, fail_at=3)):
            got.append(w)
    assert got == [0, 1, 2]
    early = _ahead(windows(100))
    assert next(early) == 0
    early.close()
    assert len(closed) == 3
    assert not [t for t in threading.enumerate() if t.name.startswith("crimegun-window")]
