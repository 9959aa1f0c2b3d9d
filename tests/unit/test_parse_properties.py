"""Property tests: whatever text a file holds, a parser returns a value or raises RowError — never
another exception (which would stop a whole load instead of rejecting one row)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl import parse
from etl.errors import RowError
from etl.sources import SOURCES, LoadContext

# What hostile and sloppy files actually hold, mixed into arbitrary text.
HOSTILE = ["inf", "-inf", "nan", "1e400", "-1e400", "1e-400", "9" * 400, "0x1F", "1_000", "١٢٣", "²",
           "2021-01-01 10:00:00+24", "2021-01-01T10:00:00-99:99", "2021-01-01T10:00:00+14:00", "9999-12-31",
           "0000-00-00", "1900-01-01", "2100-01-01", "02/30/2020", "13/13/2013", "12/31/99 11:59:59 PM",
           "24:00:00", "99:99", "0130", "POINT (inf nan)", "POINT (-76.6 39.3)", "(39.3, -76.6)", "(1e400, 1)",
           "=1+1", "@SUM(A1)", "+1", "-", "\t", "\r", "\x00", "N/A", "NULL", "", " ", "Ⅻ", "\u202e", "9" * 20,
           "8-52-027-07-7A-07579", "8-52-027-07-07579", "21201", "21201-1234", "2120112345678"]
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE),
                 st.from_regex(r"\A[0-9]{1,4}[-/][0-9]{1,2}[-/][0-9]{1,4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?"
                               r"( ?[AP]M)?([+-][0-9]{2}(:?[0-9]{2})?|Z)?)?\Z"))
MAYBE = st.one_of(st.none(), TEXT)
PROPS = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _value_or_rowerror(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except RowError as exc:
        assert str(exc), "a RowError must carry its reason"
        return None


@PROPS
@given(MAYBE)
def test_text_parsers(value):
    for fn in (parse.blank, parse.upper, parse.normalize_district, parse.district_from_post):
        _value_or_rowerror(fn, value)
    _value_or_rowerror(parse.normalize_zip, value, "zip")
    _value_or_rowerror(parse.parse_ffl, value, "dealer_ffl")
    _value_or_rowerror(parse.parse_yes_no, value, "flag")
    _value_or_rowerror(parse.parse_wkt_point, value, "location", parse.DEFAULT_REGION)
    parse.content_key(value, 1, None)
    if value is not None:
        out = parse.neutralise_formula(value)
        assert out is None or (out.startswith("'") and out[1:] == value)


@PROPS
@given(MAYBE, st.booleans())
def test_date_parsers(value, required):
    day = _value_or_rowerror(parse.parse_date, value, "d", required=required)
    if day is not None:
        assert parse.EARLIEST <= day <= parse.latest_date()
    when = _value_or_rowerror(parse.parse_datetime, value, "t", tz=dt.UTC)
    if when is not None:
        assert when.tzinfo is not None and parse.EARLIEST <= when.date() <= parse.latest_date()
    _value_or_rowerror(parse.parse_time, value, "t")


@PROPS
@given(MAYBE, st.booleans())
def test_parse_int(value, strict):
    number = _value_or_rowerror(parse.parse_int, value, "n", 0, 1000, strict=strict)
    assert number is None or 0 <= number <= 1000


@PROPS
@given(MAYBE, MAYBE, st.sampled_from([None, parse.DEFAULT_REGION]))
def test_parse_point(lon, lat, region):
    point = _value_or_rowerror(parse.parse_point, lon, lat, "longitude/latitude", region)
    if point is not None:
        assert -180 <= point[0] <= 180 and -90 <= point[1] <= 90
        if region:
            assert region[0] <= point[0] <= region[2] and region[1] <= point[1] <= region[3]


def _layouts():
    for source in SOURCES.values():
        for layout in source.layouts:
            yield pytest.param(source, layout, id=f"{source.kind}-{layout.name}")


@pytest.mark.parametrize(("source", "layout"), list(_layouts()))
def test_source_parse_never_raises_anything_but_rowerror(source, layout):
    columns = sorted(layout.required | layout.optional)
    ctx = LoadContext("MDBPD0000", "hypothesis.csv", layout)

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.fixed_dictionaries({c: TEXT for c in columns}))
    def check(record):
        values = _value_or_rowerror(source.parse, record, ctx)
        if values is not None:
            assert set(values) >= {c for c, _ in source.staging}

    check()


# What blank() meant before it learned to skip upper() for values longer than four characters: the
# shortcut must not change a single answer (upper-casing never shortens a text, but ß, ŉ and ﬁ
# lengthen it).
def _blank_reference(value):
    if value is None:
        return None
    value = value.strip()
    return value if value and value.upper() not in ("NA", "N/A", "NULL", "NONE") else None


BLANKISH = st.one_of(MAYBE, st.sampled_from(["na", " n/a ", "Null", "none", "NONE ", "nA", "ß", "ﬁ", "ŉa", "nulll",
                                             "\u2003NA\u2003", "N/A\t", "ǹa"]),
                     st.text(alphabet="nNaA/uUlLoOeE ß\t", max_size=6))


@PROPS
@given(BLANKISH)
def test_blank_shortcut_answers_as_before(value):
    assert parse.blank(value) == _blank_reference(value)
    assert parse.upper(value) == (_blank_reference(value).upper() if _blank_reference(value) else None)


@PROPS
@given(st.one_of(MAYBE, st.sampled_from(["Northeast", "northeastern district", "SW DIST.", "cd", "Western  Dist",
                                         "  south west ", "ED"])))
def test_district_cache_answers_as_the_function(value):
    first = parse.normalize_district(value)
    assert first == parse.normalize_district.__wrapped__(value)
    assert parse.normalize_district(value) == first


def _outcome(fn, *args, **kwargs):
    try:
        return "value", fn(*args, **kwargs)
    except RowError as exc:
        return "reject", str(exc)


def _int_through_float(value, field, lo=None, hi=None, strict=True):
    """parse_int as it was before its shortcut for plain digits: every value through float()."""
    import math

    value = parse.blank(value)
    if not value:
        return None
    try:
        number = float(value.replace(",", ""))
        if not math.isfinite(number):
            raise ValueError(value)
        number = int(number)
    except (ValueError, OverflowError):
        if strict:
            raise RowError(f"{field} {value!r} is not a number") from None
        return None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        if strict:
            raise RowError(f"{field} {number} is outside {lo}..{hi}")
        return None
    return number


DIGITS = st.one_of(MAYBE, st.from_regex(r"\A\s*[0-9]{1,20}\s*\Z"), st.sampled_from(["007", "1000", "1001", "-0", "١٢"]))


@PROPS
@given(DIGITS, st.booleans())
def test_parse_int_shortcut_gives_what_float_gives(value, strict):
    assert _outcome(parse.parse_int, value, "n", 0, 1000, strict=strict) == \
        _outcome(_int_through_float, value, "n", 0, 1000, strict=strict)
    assert _outcome(parse.parse_int, value, "n") == _outcome(_int_through_float, value, "n")


@PROPS
@given(MAYBE)
def test_upper_is_blank_upper_cased(value):
    expected = parse.blank(value)
    assert parse.upper(value) == (expected.upper() if expected else None)


PLAIN_TIMES = st.one_of(
    st.from_regex(r"\A(19|20)[0-9]{2}[-/][01][0-9][-/][0-3][0-9][ T][0-2][0-9]:[0-5][0-9]:[0-6][0-9](Z|\+00(:?00)?|[+-][01][0-9])?\Z"),
    st.sampled_from(["2024/01/01 05:14:00+00", "2024-02-29T23:59:59Z", "2023-02-29 10:00:00", "1900-12-31 00:00:00",
                     "2999-01-01 00:00:00+00:00", "2024-01-01 24:00:00", "2024/06/30 12:00:00+0000"]))


@PROPS
@given(PLAIN_TIMES, st.sampled_from([dt.UTC, parse.LOCAL_TZ]))
def test_datetime_shortcut_gives_what_the_general_way_gives(value, tz):
    # A leading space keeps a value off the shortcut: blank() strips it on the general way.
    fast, general = (_outcome(parse.parse_datetime, text, "t", tz=tz) for text in (value, " " + value))
    assert fast == general
    if fast[0] == "value":
        assert fast[1].tzinfo is general[1].tzinfo and fast[1].utcoffset() == general[1].utcoffset()
