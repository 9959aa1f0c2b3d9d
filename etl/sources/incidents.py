"""Open Baltimore Part 1 crime: the 2012–2020, ~2021 and 2022-on header generations and the API form."""

from __future__ import annotations

import datetime as dt

from etl import districts
from etl.errors import RowError
from etl.parse import (
    LOCAL_TZ,
    blank,
    content_key,
    district_from_post,
    normalize_district,
    parse_datetime,
    parse_int,
    parse_point,
    parse_time,
    parse_wkt_point,
    point_wkt,
    upper,
)
from etl.sources.base import Layout, LoadContext, Source, schema_widths, upsert

DESCRIPTIONS = {
    "1F": "HOMICIDE", "1K": "HOMICIDE", "1O": "HOMICIDE", "1A": "HOMICIDE", "9S": "SHOOTING",
    "3AF": "ROBBERY - STREET", "3AK": "ROBBERY - STREET", "3B": "ROBBERY - STREET", "3CF": "ROBBERY - COMMERCIAL",
    "3JF": "ROBBERY - CARJACKING", "4A": "AGG. ASSAULT", "4B": "AGG. ASSAULT", "4C": "AGG. ASSAULT",
    "4D": "AGG. ASSAULT", "4E": "COMMON ASSAULT", "5A": "BURGLARY", "6D": "LARCENY FROM AUTO",
    "6E": "LARCENY", "7A": "AUTO THEFT", "2A": "RAPE", "8AO": "ARSON",
}

COLUMNS = ("agency", "source_key", "cc_number", "crime_datetime", "crime_code", "description", "inside_outside",
           "weapon", "is_firearm", "category", "post", "reported_district", "neighborhood", "location", "premise",
           "victim_gender", "victim_age", "victim_race", "victim_ethnicity", "total_incidents", "source_layout",
           "geom")
_TYPES = {"crime_datetime": "timestamptz", "is_firearm": "boolean", "victim_age": "integer",
          "total_incidents": "integer", "geom": "geometry(Point,4326)"}


def category(code: str | None, description: str | None) -> str:
    code = code or ""
    desc = description or ""
    if code.startswith("1") or "HOMICIDE" in desc:
        return "homicide"
    if code == "9S" or "SHOOTING" in desc:
        return "shooting"
    if code.startswith("3") or "ROBBERY" in desc:
        return "robbery"
    if code in ("4A", "4B", "4C", "4D") or "AGG" in desc:
        return "agg_assault"
    return "other"


def is_firearm(code: str | None, weapon: str | None) -> bool:
    code = code or ""
    return weapon == "FIREARM" or code in ("1F", "9S", "4A") or (code.startswith("3") and code.endswith("F"))


# The column rules of `Incidents.parse`, one value (or a few) at a time: etl/vector.py applies the same
# functions to each distinct value of a column.
def crime_code(value: str | None) -> str:
    code = upper(value)
    if not code:
        raise RowError("CrimeCode is missing")
    return code


def description_of(value: str | None, code: str | None) -> str | None:
    """The description, else the one the (upper-cased) code stands for."""
    return upper(value) or DESCRIPTIONS.get(upper(code))


def weapon_of(value: str | None) -> str | None:
    weapon = upper(value)
    return None if weapon in ("NA", "UNKNOWN") else weapon


def inside_outside_of(value: str | None) -> str | None:
    io = upper(value)
    return io[0] if io and io[0] in "IO" else None


def post_of(value: str | None) -> str | None:
    post = blank(value)
    return post[:-2] if post and post.endswith(".0") else post


def reported_district(new: str | None, old: str | None, district: str | None, post: str | None) -> str | None:
    """The district the export names (2023 map, then the older one, then a plain district column), else
    the one the post's first digit stands for."""
    return (normalize_district(new) or normalize_district(old) or normalize_district(district)
            or district_from_post(post_of(post)))


class Incidents(Source):
    kind = "incidents"
    layouts = (
        Layout("open-baltimore-2012", frozenset({"crimedate", "crimetime", "crimecode", "location", "description"}),
               frozenset({"inside_outside", "weapon", "post", "district", "neighborhood", "longitude", "latitude",
                          "location_1", "premise", "vri_name1", "total_incidents"}),
               "Open Baltimore Part 1 crime, 2012–2020 export"),
        Layout("open-baltimore-api", frozenset({"crimedate", "crimetime", "crimecode"}),
               frozenset({"location", "inside_outside", "weapon", "post", "district", "neighborhood", "latitude",
                          "longitude", "total_incidents"}),
               "Open Baltimore Part 1 crime, lower-case API form"),
        Layout("open-baltimore-2021", frozenset({"crimedatetime", "crimecode", "location", "district"}),
               frozenset({"description", "inside_outside", "weapon", "post", "neighborhood", "geolocation",
                          "premise", "vriname", "total_incidents", "x", "y", "rowid", "latitude", "longitude"}),
               "Open Baltimore Part 1 crime, ~2021 export"),
        Layout("open-baltimore-2022", frozenset({"crimedatetime", "crimecode", "ccnumber"}),
               frozenset({"x", "y", "rowid", "description", "inside_outside", "weapon", "post", "gender", "age",
                          "race", "ethnicity", "location", "old_district", "new_district", "neighborhood",
                          "latitude", "longitude", "geolocation", "premisetype", "total_incidents", "shooting"}),
               "Open Baltimore Part 1 crime, 2022-on export (UTC times)"),
    )
    staging = tuple((c, _TYPES.get(c, "text")) for c in COLUMNS)
    key = ("agency", "source_key")
    repeats_are_distinct = True  # e.g. one row per victim of the same shooting
    bulk_tables = ("incident",)
    prepare_sorts_by_key = True  # fill_staged

    def widths(self) -> dict[str, int]:
        return schema_widths("incident", COLUMNS)

    def parse(self, rec: dict[str, str], ctx: LoadContext) -> dict:
        layout = ctx.layout.name
        # The 2022-on download is in UTC, older exports in local time (docs/formats.md §3), unless the
        # load says otherwise.
        tz = ctx.tz or (dt.UTC if layout == "open-baltimore-2022" else LOCAL_TZ)
        if "crimedatetime" in rec and blank(rec.get("crimedatetime")):
            when = parse_datetime(rec["crimedatetime"], "CrimeDateTime", tz=tz)
        else:
            day = parse_datetime(rec.get("crimedate"), "CrimeDate", tz=tz)
            at = parse_time(rec.get("crimetime"), "CrimeTime")
            when = day.replace(hour=at.hour, minute=at.minute, second=at.second)
        code = crime_code(rec.get("crimecode"))
        description = description_of(rec.get("description"), code)
        weapon = weapon_of(rec.get("weapon"))
        io = inside_outside_of(rec.get("inside_outside"))
        post = post_of(rec.get("post"))
        reported = reported_district(rec.get("new_district"), rec.get("old_district"), rec.get("district"),
                                     rec.get("post"))
        point = parse_point(rec.get("longitude"), rec.get("latitude"), "Longitude/Latitude", ctx.region)
        if point is None:
            point = (parse_wkt_point(rec.get("geolocation"), "GeoLocation", ctx.region)
                     or parse_wkt_point(rec.get("location_1"), "Location 1", ctx.region))
        cc_number = upper(rec.get("ccnumber"))
        location = upper(rec.get("location"))
        if cc_number:
            source_key = f"{cc_number}:{code}"
        else:
            source_key = "h:" + content_key("", when.isoformat(), code, location, post, description, point)[:24]
        total = parse_int(rec.get("total_incidents"), "Total_Incidents", 0, 1000)
        return {
            "agency": ctx.agency,
            "source_key": source_key[:34],
            "cc_number": cc_number,
            "crime_datetime": when,
            "crime_code": code,
            "description": description,
            "inside_outside": io,
            "weapon": weapon,
            "is_firearm": is_firearm(code, weapon),
            "category": category(code, description),
            "post": post,
            "reported_district": reported,
            "neighborhood": upper(rec.get("neighborhood")),
            "location": location,
            "premise": upper(rec.get("premise") or rec.get("premisetype")),
            "victim_gender": upper(rec.get("gender")),
            # Real exports carry impossible ages (160): drop the value, keep the incident.
            "victim_age": parse_int(rec.get("age"), "Age", 0, 110, strict=False),
            "victim_race": upper(rec.get("race")),
            "victim_ethnicity": upper(rec.get("ethnicity")),
            "total_incidents": 1 if total is None else total,
            "source_layout": layout,
            "geom": point_wkt(point),
        }

    def prepare(self, cur) -> None:
        # The district is stored with the row, so that the derive after the load has none to rewrite.
        districts.fill_staged(cur, "crime_datetime", self.key)

    def merge(self, cur, run_id: int) -> tuple[int, int]:
        return upsert(cur, "incident", COLUMNS, ("agency", "source_key"), run_id, carried=("district",))

