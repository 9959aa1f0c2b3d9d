"""ShotSpotter alerts: Chicago data portal, Washington DC (current and older) and generic exports."""

from __future__ import annotations

from etl import districts
from etl.errors import RowError
from etl.parse import (
    LOCAL_TZ,
    blank,
    content_key,
    normalize_district,
    parse_datetime,
    parse_int,
    parse_point,
    parse_wkt_point,
    point_wkt,
    upper,
)
from etl.sources.base import Layout, LoadContext, Source, schema_widths, upsert

ALERT_TYPES = {
    "SINGLE_GUNSHOT": "SINGLE_GUNSHOT", "SINGLE_SHOT": "SINGLE_GUNSHOT",
    "MULTIPLE_GUNSHOTS": "MULTIPLE_GUNSHOTS", "MULTIPLE_GUNSHOT": "MULTIPLE_GUNSHOTS",
    "MULTIPLE_SHOTS": "MULTIPLE_GUNSHOTS",
    "GUNSHOT_OR_FIRECRACKER": "PROBABLE_GUNFIRE", "PROBABLE_GUNFIRE": "PROBABLE_GUNFIRE",
    "POSSIBLE_GUNSHOT": "PROBABLE_GUNFIRE",
}

COLUMNS = ("agency", "source_key", "source_id", "alert_time", "alert_type", "rounds", "address",
           "reported_district", "beat", "source_layout", "geom")
_TYPES = {"alert_time": "timestamptz", "rounds": "integer", "geom": "geometry(Point,4326)"}


def normalize_type(value: str | None, field: str = "TYPE") -> str:
    text = (upper(value) or "").replace(" ", "_").replace("-", "_")
    if text not in ALERT_TYPES:
        raise RowError(f"{field} {value!r} is not single / multiple gunshots or gunshot-or-firecracker")
    return ALERT_TYPES[text]


class Shots(Source):
    bulk_tables = ("shot_alert",)  # a first load of many alerts builds the indexes once, after the insert
    prepare_sorts_by_key = True  # fill_staged
    kind = "shots"
    layouts = (
        Layout("shotspotter-chicago", frozenset({"date", "unique_id", "incident_type_description"}),
               frozenset({"block", "zip_code", "ward", "community_area", "area", "district", "beat",
                          "street_outreach_organization", "month", "day_of_week", "hour", "rounds",
                          "illinois_house_district", "illinois_senate_district", "latitude", "longitude",
                          "location"}),
               "Chicago data portal ShotSpotter alerts"),
        Layout("shotspotter-dc", frozenset({"datetime", "type", "latitude", "longitude"}),
               frozenset({"id", "source"}), "Washington DC open data ShotSpotter"),
        Layout("shotspotter-dc-legacy", frozenset({"id", "type", "date", "time", "source", "latitude", "longitude"}),
               frozenset(), "Washington DC open data ShotSpotter, older extracts"),
        Layout("shotspotter-generic", frozenset({"type", "id", "date", "time", "rnds", "latitude", "longitude"}),
               frozenset({"address", "source", "zone", "year", "month", "yearmonth"}),
               "Generic research export"),
    )
    staging = tuple((c, _TYPES.get(c, "text")) for c in COLUMNS)
    key = ("agency", "source_key")

    def widths(self) -> dict[str, int]:
        return schema_widths("shot_alert", COLUMNS)

    def parse(self, rec: dict[str, str], ctx: LoadContext) -> dict:
        layout = ctx.layout.name
        # Every ShotSpotter layout publishes local time (docs/formats.md §4) unless the load says otherwise.
        tz = ctx.tz or LOCAL_TZ
        if layout == "shotspotter-chicago":
            when = parse_datetime(rec.get("date"), "DATE", tz)
            kind = normalize_type(rec.get("incident_type_description"), "INCIDENT_TYPE_DESCRIPTION")
            source_id = blank(rec.get("unique_id"))
            rounds = parse_int(rec.get("rounds"), "ROUNDS", 0, 500)
            address = upper(rec.get("block"))
        elif layout == "shotspotter-dc":
            when = parse_datetime(rec.get("datetime"), "DATETIME", tz)
            kind = normalize_type(rec.get("type"))
            source_id = blank(rec.get("id"))
            rounds, address = None, None
        else:
            date_text = blank(rec.get("date")) or ""
            when = parse_datetime(f"{date_text} {blank(rec.get('time')) or ''}".strip(), "date/time", tz)
            kind = normalize_type(rec.get("type"))
            source_id = blank(rec.get("id"))
            rounds = parse_int(rec.get("rnds"), "rnds", 0, 500)
            address = upper(rec.get("address"))
        point = (parse_point(rec.get("longitude"), rec.get("latitude"), "LONGITUDE/LATITUDE", ctx.region)
                 or parse_wkt_point(rec.get("location"), "LOCATION", ctx.region))
        if point is None:
            raise RowError("the alert has no coordinates (LATITUDE/LONGITUDE blank or zero)")
        key = f"id:{source_id}" if source_id else "h:" + content_key(when.isoformat(), kind, point)[:32]
        return {
            "agency": ctx.agency,
            "source_key": key[:64],
            "source_id": source_id,
            "alert_time": when,
            "alert_type": kind,
            "rounds": rounds,
            "address": address,
            "reported_district": normalize_district(rec.get("district")),
            "beat": blank(rec.get("beat")),
            "source_layout": layout,
            "geom": point_wkt(point),
        }

    def prepare(self, cur) -> None:
        # The district is stored with the row, so that the derive after the load has none to rewrite.
        districts.fill_staged(cur, "alert_time", self.key)

    def merge(self, cur, run_id: int) -> tuple[int, int]:
        return upsert(cur, "shot_alert", COLUMNS, ("agency", "source_key"), run_id,
                      extra_set="incident_id = NULL", carried=("district",))
