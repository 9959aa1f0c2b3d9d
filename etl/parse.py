"""Value parsers shared by the sources. Each raises RowError with a reason a person can act on."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

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


def blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if value and value.upper() not in ("NA", "N/A", "NULL", "NONE") else None


def upper(value: str | None) -> str | None:
    value = blank(value)
    return value.upper() if value else None


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


def parse_date(value: str | None, field: str, required: bool = False) -> dt.date | None:
    value = blank(value)
    if not value:
        if required:
            raise RowError(f"{field} is missing")
        return None
    parts = _components(value.split("T")[0].split(" ")[0]) or _components(value)
    try:
        parsed = dt.date(*parts[:3]) if parts else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise RowError(f"{field} {value!r} is not a date (expected YYYY-MM-DD or MM/DD/YYYY)")
    if not (1900 <= parsed.year <= 2100):
        raise RowError(f"{field} {value!r} is out of range")
    return parsed


def parse_datetime(value: str | None, field: str, tz: dt.tzinfo = LOCAL_TZ) -> dt.datetime:
    """Date and time; a UTC offset in the text wins over `tz` (the zone of naive values)."""
    value = blank(value)
    if not value:
        raise RowError(f"{field} is missing")
    text = value
    zone: dt.tzinfo = tz
    offset = _OFFSET.search(text)
    if offset and (":" in text[: offset.start()] or "T" in text):
        sign, hours, minutes = offset.groups()
        if sign:
            delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
            zone = dt.timezone(delta if sign == "+" else -delta)
        else:
            zone = dt.UTC
        text = text[: offset.start()].strip()
    parts = _components(text)
    try:
        parsed = dt.datetime(*parts, tzinfo=zone) if parts else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise RowError(f"{field} {value!r} is not a date and time (expected e.g. 2022-06-21 03:48:00 "
                       "or 06/21/2022 11:48:00 PM)")
    if not (1900 <= parsed.year <= 2100):
        raise RowError(f"{field} {value!r} is out of range")
    return parsed


def parse_time(value: str | None, field: str) -> dt.time:
    value = blank(value)
    if not value:
        return dt.time(0, 0)
    for fmt in ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H%M"):
        try:
            return dt.datetime.strptime(value.upper(), fmt).time()
        except ValueError:
            continue
    raise RowError(f"{field} {value!r} is not a time (expected HH:MM[:SS] or h:mm:ss AM)")


def parse_int(value: str | None, field: str, lo: int | None = None, hi: int | None = None,
              strict: bool = True) -> int | None:
    value = blank(value)
    if not value:
        return None
    try:
        number = int(float(value.replace(",", "")))
    except ValueError:
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


# Baltimore's wider region: coordinates outside it are data errors, not points to map.
_LON_RANGE = (-180.0, 180.0)


def parse_point(lon: str | None, lat: str | None, field: str = "coordinates") -> tuple[float, float] | None:
    """(lon, lat) or None for blank / zero coordinates (real exports have both)."""
    lon_s, lat_s = blank(lon), blank(lat)
    if not lon_s or not lat_s:
        return None
    try:
        x, y = float(lon_s), float(lat_s)
    except ValueError:
        raise RowError(f"{field} ({lon_s}, {lat_s}) are not numbers") from None
    if x == 0 or y == 0:
        return None
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise RowError(f"{field} ({x}, {y}) are not longitude/latitude in degrees")
    return (x, y)


def point_wkt(point: tuple[float, float] | None) -> str | None:
    return f"SRID=4326;POINT({point[0]:.7f} {point[1]:.7f})" if point else None


def parse_wkt_point(value: str | None) -> tuple[float, float] | None:
    value = blank(value)
    if not value:
        return None
    match = re.match(r"^\s*POINT\s*\(\s*(-?[\d.]+)\s+(-?[\d.]+)\s*\)\s*$", value, re.I)
    if match:
        return parse_point(match.group(1), match.group(2))
    match = re.match(r"^\s*\(?\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)?\s*$", value)  # "(lat, lon)" GeoLocation
    if match:
        return parse_point(match.group(2), match.group(1))
    return None


def normalize_district(value: str | None) -> str | None:
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


def normalize_zip(value: str | None) -> str | None:
    value = blank(value)
    if not value:
        return None
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}"
    if 3 <= len(digits) <= 5:
        return digits.zfill(5)
    raise RowError(f"ZIP code {value!r} is not a 5- or 9-digit ZIP")


def content_key(*parts: object) -> str:
    """A stable identity for rows that carry no id of their own."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(text.encode()).hexdigest()


_FFL = re.compile(r"^\s*(\d)-?(\d{2})-?(\d{3})-?(\d{2})-?(?:(\d[A-HJ-M])-?)?(\d{5})\s*$", re.I)


def parse_ffl(value: str | None) -> tuple[str, dict] | None:
    """License number -> (key without expiry, parts). Accepts with or without the expiry part."""
    value = blank(value)
    if not value:
        return None
    match = _FFL.match(value)
    if not match:
        raise RowError(f"dealer license {value!r} is not an FFL number like 8-52-027-07-7A-07579")
    regn, dist, cnty, typ, xpr, seqn = match.groups()
    key = f"{regn}-{dist}-{cnty}-{typ}-{seqn}"
    return key, {"lic_regn": regn, "lic_dist": dist, "lic_cnty": cnty, "lic_type": typ,
                 "lic_xprdte": xpr.upper() if xpr else None, "lic_seqn": seqn}
