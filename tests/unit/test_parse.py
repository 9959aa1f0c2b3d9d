"""Value parsers: every date form the real layouts use, and clear reasons for what they refuse."""

from __future__ import annotations

import datetime as dt

import pytest

from etl.errors import RowError
from etl.parse import (
    LOCAL_TZ,
    district_from_post,
    normalize_district,
    normalize_zip,
    parse_date,
    parse_datetime,
    parse_ffl,
    parse_point,
    parse_time,
    parse_wkt_point,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("2022-03-01", dt.date(2022, 3, 1)), ("03/01/2022", dt.date(2022, 3, 1)), ("3/1/22", dt.date(2022, 3, 1)),
    ("2022/03/01", dt.date(2022, 3, 1)), ("20220301", dt.date(2022, 3, 1)),
    ("2020-01-05T00:00:00.000", dt.date(2020, 1, 5)), ("04/27/2019 12:00:00 AM", dt.date(2019, 4, 27)),
])
def test_dates(text, expected):
    assert parse_date(text, "d") == expected


@pytest.mark.parametrize("text", ["13/40/2019", "2019-02-30", "yesterday", "1899-12-31"])
def test_bad_dates_say_which_field(text):
    with pytest.raises(RowError, match="^when "):
        parse_date(text, "when")


@pytest.mark.parametrize(("text", "expected"), [
    ("02/28/2022 10:48:30 PM", dt.datetime(2022, 2, 28, 22, 48, 30, tzinfo=LOCAL_TZ)),
    ("02/28/2022 12:05:00 AM", dt.datetime(2022, 2, 28, 0, 5, tzinfo=LOCAL_TZ)),
    ("2022-03-01T05:00:00", dt.datetime(2022, 3, 1, 5, 0, tzinfo=LOCAL_TZ)),
    ("2022/06/21 03:48:00+00", dt.datetime(2022, 6, 21, 3, 48, tzinfo=dt.UTC)),
    ("2022-06-21T03:48:00Z", dt.datetime(2022, 6, 21, 3, 48, tzinfo=dt.UTC)),
    ("2022-06-21 03:48:00-04:00", dt.datetime(2022, 6, 21, 7, 48, tzinfo=dt.UTC)),
])
def test_datetimes_and_zones(text, expected):
    assert parse_datetime(text, "t") == expected


def test_naive_times_take_the_given_zone():
    assert parse_datetime("2022/06/21 03:48:00", "t", tz=dt.UTC).utcoffset() == dt.timedelta(0)
    with pytest.raises(RowError, match="not a date and time"):
        parse_datetime("02/28/2022 13:00:00 PM", "t")


def test_times():
    assert parse_time("9:23:00 AM", "t") == dt.time(9, 23)
    assert parse_time("0130", "t") == dt.time(1, 30)
    assert parse_time("", "t") == dt.time(0, 0)


def test_points_zero_and_blank_are_no_point():
    assert parse_point("0", "0") is None and parse_point("", "39.3") is None
    assert parse_point("-76.6", "39.3") == (-76.6, 39.3)
    assert parse_wkt_point("POINT (-76.6454 39.3006)") == (-76.6454, 39.3006)
    assert parse_wkt_point("(39.3005, -76.6455)") == (-76.6455, 39.3005)
    with pytest.raises(RowError):
        parse_point("-276", "39")


def test_districts_posts_zips_and_licenses():
    assert normalize_district("Northeast") == "NORTHEASTERN"
    assert normalize_district("Western District") == "WESTERN"
    assert normalize_district("Atlantis") is None
    assert district_from_post("713") == "WESTERN"
    assert normalize_zip("21217-1234") == "21217-1234" and normalize_zip("2121") == "02121"
    assert parse_ffl("8-52-027-07-7A-07579")[0] == "8-52-027-07-07579"
    assert parse_ffl("852027077A07579")[0] == "8-52-027-07-07579"
    assert parse_ffl("8-52-027-07-07579")[1]["lic_xprdte"] is None
    with pytest.raises(RowError, match="FFL"):
        parse_ffl("12-34")
