"""Value parsers shared by the sources. Each raises RowError with a reason a person can act on."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from etl.errors import RowError

LOCAL_TZ = ZoneInfo("America/New_York")

DISTRICTS = ("CENTRAL", "SOUTHEASTERN", "EASTERN", "NORTHEASTERN", "NORTHERN", "NORTHWESTERN",
             "WESTERN", "SOUTHWESTERN", "SOUTHERN")
POST_DIGIT_DISTRICT = {str(i + 1): d for i, d in enumerate(DISTRICTS)}
_DISTRICT_ALIASES = {
    "NORTHEAST": "NORTHEASTERN", "NORTHWEST": "NORTHWESTERN", "SOUTHEAST": "SOUTHEASTERN",
    "SOUTHWEST": "SOUTHWESTERN", "NORTH": "NORTHERN", "SOUTH": "SOUTHERN", "EAST": "EASTERN",
    "WEST": "WESTERN", "CENTRAL": "CENTRAL", "CD": "CENTRAL", "ED": "EASTERN", "WD": "WESTERN",
    "ND": "NORTHERN", "SD": "SOUTHERN", "NED": "NORTHEASTERN", "NWD": "NORTHWESTERN",
    "SED": "SOUTHEASTERN", "SWD": "SOUTHWESTERN",
}


_BLANK_WORDS = frozenset(("NA", "N/A", "NULL", "NONE"))


def blank(value: str | None) -> str | None:
    """The value stripped, or None when it is empty or says NA, N/A, NULL or NONE."""
    if value is None:
        return None
    value = value.strip()
    # Upper-casing never shortens a text, so only values of 4 characters or fewer can be those words:
    # the others skip the upper() call (this runs for every field of every row).
    if not value or (len(value) <= 4 and value.upper() in _BLANK_WORDS):
        return None
    return value


def upper(value: str | None) -> str | None:
    """`blank(value)` upper-cased (inlined: this runs for a dozen fields of every row)."""
    if value is None:
        return None
    value = value.strip().upper()
    if not value or (len(value) <= 4 and value in _BLANK_WORDS):
        return None
    return value


# Compiled once: strptime with a list of formats costs ~25 µs per failed attempt, too slow for
# millions of rows. These cover every layout in docs/formats.md.
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_OFFSET = re.compile(r"(?:Z|([+-])(\d{2}):?(\d{2})?)$")


def _components(text: str) -> tuple[int, int, int, int, int, int] | None:
    """(year, month, day, hour, minute, second) of a date or date-time text, or None."""
    m = _ISO.match(text)
    if m:
        y, mo, d, h, mi, sec = m.groups()
        return int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0)
    m = _US.match(text)
    if m:
        mo, d, y, h, mi, sec, ampm = m.groups()
        year = int(y) + (2000 if len(y) == 2 and int(y) < 70 else 1900 if len(y) == 2 else 0)
        hour = int(h or 0)
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm.upper() == "PM" else 0)
        return year, int(mo), int(d), hour, int(mi or 0), int(sec or 0)
    m = _COMPACT.match(text)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3)), 0, 0, 0
    return None


# Dates before this are placeholders or typos (1900-01-01 is the usual "unknown"): docs/formats.md, "Rejected values".
EARLIEST = dt.date(1901, 1, 1)


_LATEST: list = [None, None]  # [the minute it was computed in, the date]


def latest_date() -> dt.date:
    """Dates more than one day in the future are typos (one day of slack for time zones). Computed
    once a minute, not once per row."""
    minute = int(time.time() // 60)
    if _LATEST[0] != minute:
        _LATEST[1] = dt.date.today() + dt.timedelta(days=1)
        _LATEST[0] = minute
    return _LATEST[1]


def _check_window(parsed: dt.date, value: str, field: str, not_after: dt.date | None = None,
                  what: str = "") -> None:
    if parsed < EARLIEST:
        raise RowError(f"{field} {value!r} is before {EARLIEST.year} (a placeholder or a typo)")
    latest = latest_date() if not_after is None else not_after
    if parsed > latest:
        raise RowError(f"{field} {value!r} is in the future{what}")


def parse_date(value: str | None, field: str, required: bool = False,
               not_after: dt.date | None = None) -> dt.date | None:
    """A date in the plausible window: from 1901 to tomorrow (`not_after` narrows it, e.g. to today
    for dates of birth)."""
    value = blank(value)
    if not value:
        if required:
            raise RowError(f"{field} is missing")
        return None
    parts = _components(value.split("T")[0].split(" ")[0]) or _components(value)
    try:
        parsed = dt.date(*parts[:3]) if parts else None
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise RowError(f"{field} {value!r} is not a date (expected YYYY-MM-DD or MM/DD/YYYY)")
    _check_window(parsed, value, field, not_after)
    return parsed


# The shape nearly every row of the real exports has (`2022/06/21 03:48:00+00`, `2019-01-01T10:00:00`),
# read in one match; anything else (and any value this would refuse) takes the general way below.
_PLAIN_DATETIME = re.compile(r"(\d{4})[-/](\d\d)[-/](\d\d)[ T](\d\d):(\d\d):(\d\d)(Z|\+00(?::?00)?)?")


def parse_datetime(value: str | None, field: str, tz: dt.tzinfo = LOCAL_TZ) -> dt.datetime:
    """Date and time; a UTC offset in the text wins over `tz` (the zone of naive values)."""
    plain = _PLAIN_DATETIME.fullmatch(value) if value.__class__ is str else None
    if plain is not None:
        y, mo, d, h, mi, sec, utc = plain.groups()
        zone = tz if utc is None else dt.UTC if utc == "Z" else _fixed_zone("+", 0, 0)
        try:
            parsed = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), tzinfo=zone)
        except ValueError:
            parsed = None
        if parsed is not None and EARLIEST <= parsed.date() <= latest_date():
            return parsed
    value = blank(value)
    if not value:
        raise RowError(f"{field} is missing")
    text = value
    zone: dt.tzinfo = tz
    offset = _OFFSET.search(text)
    if offset and (":" in text[: offset.start()] or "T" in text):
        sign, hours, minutes = offset.groups()
        if sign:
            if int(hours) > 14 or int(minutes or 0) >= 60:  # real offsets run from -12:00 to +14:00
                raise RowError(f"{field} {value!r} has an impossible UTC offset {text[offset.start():]}")
            zone = _fixed_zone(sign, int(hours), int(minutes or 0))
        else:
            zone = dt.UTC
        text = text[: offset.start()].strip()
    parts = _components(text)
    try:
        parsed = dt.datetime(*parts, tzinfo=zone) if parts else None
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise RowError(f"{field} {value!r} is not a date and time (expected e.g. 2022-06-21 03:48:00 "
                       "or 06/21/2022 11:48:00 PM)")
    _check_window(parsed.date(), value, field)
    return parsed


@functools.lru_cache(maxsize=256)
def _fixed_zone(sign: str, hours: int, minutes: int) -> dt.timezone:
    """The zone of a UTC offset written in a value; made once per offset, not once per row."""
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(delta if sign == "+" else -delta)


_FIXED_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.I)


def resolve_timezone(text: str | None) -> dt.tzinfo | None:
    """The clock a file's times without a UTC offset are read in: an IANA zone (`America/Chicago`),
    `UTC`, `local` (the agency's zone) or a fixed offset (`-05:00`); None for blank (each layout's
    documented clock). Raises ValueError naming the value for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    if text.upper() in ("UTC", "Z", "GMT"):
        return dt.UTC
    if text.lower() == "local":
        return LOCAL_TZ
    m = _FIXED_OFFSET.match(text)
    if m:
        sign, hours, minutes = m.groups()
        if int(hours) > 14 or int(minutes or 0) >= 60:
            raise ValueError(f"time zone {text!r} is not a real UTC offset (-12:00 to +14:00)")
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        return dt.timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {text!r} is not known: give an IANA name like America/New_York or "
                         "America/Chicago, UTC, local, or an offset like -05:00") from None


def parse_time(value: str | None, field: str) -> dt.time:
    value = blank(value)
    if not value:
        return dt.time(0, 0)
    for fmt in ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H%M"):
        try:
            return dt.datetime.strptime(value.upper(), fmt).time()
        except (ValueError, OverflowError):
            continue
    raise RowError(f"{field} {value!r} is not a time (expected HH:MM[:SS] or h:mm:ss AM)")


def parse_int(value: str | None, field: str, lo: int | None = None, hi: int | None = None,
              strict: bool = True) -> int | None:
    value = blank(value)
    if not value:
        return None
    if len(value) < 16 and value.isdigit() and value.isascii():
        number = int(value)  # the usual plain count or age: what float() would give, without it
    else:
        try:
            number = float(value.replace(",", ""))
            if not math.isfinite(number):  # inf, nan, 1e400
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


def parse_yes_no(value: str | None, field: str) -> bool | None:
    value = upper(value)
    if value is None:
        return None
    if value in ("Y", "YES", "TRUE", "T", "1"):
        return True
    if value in ("N", "NO", "FALSE", "F", "0"):
        return False
    raise RowError(f"{field} {value!r} is not Y or N")


# Where the agency's points may lie: (min lon, min lat, max lon, max lat). The loader derives it from the
# loaded city / district boundaries (their extent plus REGION_MARGIN degrees); without them this box,
# Baltimore City's extent (lon -76.711..-76.529, lat 39.197..39.372) plus the same margin.
REGION_MARGIN = 0.25
DEFAULT_REGION = (-76.711 - REGION_MARGIN, 39.197 - REGION_MARGIN, -76.529 + REGION_MARGIN, 39.372 + REGION_MARGIN)
Region = tuple[float, float, float, float]


def _inside(x: float, y: float, region: Region) -> bool:
    return region[0] <= x <= region[2] and region[1] <= y <= region[3]


def parse_point(lon: str | None, lat: str | None, field: str = "longitude/latitude",
                region: Region | None = None) -> tuple[float, float] | None:
    """(lon, lat) or None for blank / zero coordinates (real exports have both).

    With a `region`, a point outside it is refused; a point whose swapped axes fall inside it is
    refused as swapped."""
    lon_s, lat_s = blank(lon), blank(lat)
    if not lon_s or not lat_s:
        return None
    try:
        x, y = float(lon_s), float(lat_s)
    except ValueError:
        raise RowError(f"{field} ({lon_s}, {lat_s}) are not numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise RowError(f"{field} ({lon_s}, {lat_s}) are not finite numbers")
    if x == 0 or y == 0:
        return None
    if region is not None and not _inside(x, y, region):
        if _inside(y, x, region):
            raise RowError(f"{field} ({lon_s}, {lat_s}): latitude and longitude look swapped")
        raise RowError(f"{field} ({lon_s}, {lat_s}) is outside the agency's region "
                       f"(lon {region[0]:.3f}..{region[2]:.3f}, lat {region[1]:.3f}..{region[3]:.3f})")
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        if -90 <= x <= 90 and -180 <= y <= 180:
            raise RowError(f"{field} ({lon_s}, {lat_s}): latitude and longitude look swapped")
        raise RowError(f"{field} ({lon_s}, {lat_s}) are not longitude/latitude in degrees")
    return (x, y)


def point_wkt(point: tuple[float, float] | None) -> str | None:
    return f"SRID=4326;POINT({point[0]:.7f} {point[1]:.7f})" if point else None


def parse_wkt_point(value: str | None, field: str = "location", region: Region | None = None
                    ) -> tuple[float, float] | None:
    value = blank(value)
    if not value:
        return None
    match = re.match(r"^\s*POINT\s*\(\s*(-?[\d.]+)\s+(-?[\d.]+)\s*\)\s*$", value, re.I)
    if match:
        return parse_point(match.group(1), match.group(2), field, region)
    match = re.match(r"^\s*\(?\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)?\s*$", value)  # "(lat, lon)" GeoLocation
    if match:
        return parse_point(match.group(2), match.group(1), field, region)
    return None


@functools.lru_cache(maxsize=4096)
def normalize_district(value: str | None) -> str | None:
    """A district name as one of DISTRICTS, or None. Cached: a file spells its few districts the same
    way on every row."""
    value = upper(value)
    if not value:
        return None
    value = re.sub(r"\s+(DISTRICT|DIST\.?)$", "", value).strip()
    if value in DISTRICTS:
        return value
    return _DISTRICT_ALIASES.get(value.replace(" ", ""), _DISTRICT_ALIASES.get(value))


def district_from_post(post: str | None) -> str | None:
    post = blank(post)
    if post and post[0].isdigit() and len(post) == 3:
        return POST_DIGIT_DISTRICT.get(post[0])
    return None


def normalize_zip(value: str | None, field: str = "ZIP code") -> str | None:
    value = blank(value)
    if not value:
        return None
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}"
    if 3 <= len(digits) <= 5:
        return digits.zfill(5)
    raise RowError(f"{field} {value!r} is not a 5- or 9-digit ZIP")


def content_key(*parts: object) -> str:
    """A stable identity for rows that carry no id of their own."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(text.encode()).hexdigest()


_FFL = re.compile(r"^\s*(\d)-?(\d{2})-?(\d{3})-?(\d{2})-?(?:(\d[A-HJ-M])-?)?(\d{5})\s*$", re.I)


def parse_ffl(value: str | None, field: str = "dealer_ffl") -> tuple[str, dict] | None:
    """License number -> (key without expiry, parts). Accepts with or without the expiry part."""
    value = blank(value)
    if not value:
        return None
    match = _FFL.match(value)
    if not match:
        raise RowError(f"{field} {value!r} is not an FFL number like 8-52-027-07-7A-07579")
    regn, dist, cnty, typ, xpr, seqn = match.groups()
    key = f"{regn}-{dist}-{cnty}-{typ}-{seqn}"
    return key, {"lic_regn": regn, "lic_dist": dist, "lic_cnty": cnty, "lic_type": typ,
                 "lic_xprdte": xpr.upper() if xpr else None, "lic_seqn": seqn}


# Text that a spreadsheet would run as a formula when a CSV export is opened (= + - @, tab, CR).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)*$")


def neutralise_formula(value: str) -> str | None:
    """The value prefixed with a single quote when a spreadsheet would read it as a formula, else None.

    Plain signed numbers ("-5", "+1.5") and lone characters ("-") are left alone: they are not formulas."""
    if len(value) > 1 and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return None
