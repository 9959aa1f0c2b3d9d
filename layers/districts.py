"""Boundaries as map data: district (post, neighborhood, CSA) outlines and the city, with names and label
points, and which map of a kind is in force for a date range.

A kind can hold several maps, each in force from `valid_from` to `valid_to` (inclusive; None = open): the
police districts of 1959–2022 and those in force from 2023. On a given day the map in force is the one
that started last among those covering the day. Points carry the district in force on their own date
(etl/derive.py); outlines are drawn from one map — the one in force at the end of the range — and
`district_map_for` says which, and whether the range spans a redistricting."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import orjson
from sqlalchemy import text

from layers.db import read_engine
from layers.geojson import feature_collection

MAP_KINDS = ("district", "post", "neighborhood", "csa")
_KIND_LABELS = {"district": "police districts", "post": "police posts", "neighborhood": "neighborhoods",
                "csa": "Community Statistical Areas", "city": "city outline"}


def map_label(kind: str, valid_from: dt.date | None, valid_to: dt.date | None) -> str:
    """'police districts 1959–2022', 'police districts from 2023', 'police districts to 2022' or
    'police districts' (a map with no validity)."""
    what = _KIND_LABELS.get(kind, kind)
    if valid_from and valid_to:
        return f"{what} {valid_from.year}–{valid_to.year}"
    if valid_from:
        return f"{what} from {valid_from.year}"
    if valid_to:
        return f"{what} to {valid_to.year}"
    return what


def boundary_maps(kind: str = "district") -> list[dict[str, Any]]:
    """The maps of a kind, oldest first: valid_from, valid_to, label and how many boundaries each holds."""
    with read_engine().connect() as conn:
        rows = conn.execute(text("""
            SELECT valid_from, valid_to, count(*)::int AS boundaries FROM boundary WHERE kind = :kind
            GROUP BY valid_from, valid_to ORDER BY valid_from NULLS FIRST, valid_to NULLS LAST"""),
                            {"kind": kind}).mappings().all()
    return [{**r, "kind": kind, "label": map_label(kind, r["valid_from"], r["valid_to"])} for r in rows]


def _in_force(maps: list[dict[str, Any]], day: dt.date) -> dict[str, Any] | None:
    covering = [m for m in maps if (m["valid_from"] is None or m["valid_from"] <= day)
                and (m["valid_to"] is None or day <= m["valid_to"])]
    return max(covering, key=lambda m: m["valid_from"] or dt.date.min, default=None)


def maps_in_force(maps: list[dict[str, Any]], start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Every map in force on some day from start to end, oldest first."""
    days = {start, end}
    for m in maps:
        for edge in (m["valid_from"], m["valid_to"] and m["valid_to"] + dt.timedelta(days=1)):
            if edge and start < edge <= end:
                days.add(edge)
    out: list[dict[str, Any]] = []
    for day in sorted(days):
        m = _in_force(maps, day)
        if m is not None and m not in out:
            out.append(m)
    return out


def district_map_for(start: dt.date | None = None, end: dt.date | None = None,
                     kind: str = "district") -> dict[str, Any] | None:
    """Which map of `kind` the outlines for [start, end] come from (the one in force on `end`, today when
    None, or the latest that started by then) — valid_from, valid_to, label — plus `spans_redistricting`
    (more than one map was in force in the range: points keep the district of their own date) and the
    labels of every map in force in the range. None when no boundary of the kind is loaded."""
    maps = boundary_maps(kind)
    if not maps:
        return None
    end = end or dt.date.today()
    start = min(start or end, end)
    in_range = maps_in_force(maps, start, end)
    chosen = _in_force(maps, end) or (in_range[-1] if in_range else maps[-1])
    return {"kind": kind, "valid_from": chosen["valid_from"], "valid_to": chosen["valid_to"],
            "label": chosen["label"], "spans_redistricting": len(in_range) > 1,
            "maps": [m["label"] for m in in_range]}


def _validity_clause(chosen: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    if chosen is None:
        return "TRUE", {}
    return ("valid_from IS NOT DISTINCT FROM CAST(:vf AS date) AND valid_to IS NOT DISTINCT FROM CAST(:vt AS date)",
            {"vf": chosen["valid_from"], "vt": chosen["valid_to"]})


# Simplified outlines by (database, kind, map, boundary fingerprint): simplifying and serialising every
# polygon cost ~95 ms a request at any scale, yet outlines change only when a boundary file is loaded.
# Held serialised: every caller gets its own copy to change as it likes.
_OUTLINES: dict[tuple, bytes] = {}
_OUTLINES_LOCK = threading.Lock()
_OUTLINES_MAX = 32


def boundaries_geojson(kind: str = "district", start: dt.date | None = None, end: dt.date | None = None) -> dict:
    """Every boundary of one kind on the map in force for [start, end] (default: today's), simplified for
    display, with a label point inside each polygon. Kept per process until the boundaries change."""
    where, params = _validity_clause(district_map_for(start, end, kind))
    engine = read_engine()
    with engine.connect() as conn:
        fingerprint = tuple(conn.execute(text(
            "SELECT count(*), max(id), max(xmin::text::bigint) FROM boundary WHERE kind = :kind"),
            {"kind": kind}).one())
        key = (engine.url.render_as_string(hide_password=True), kind, params.get("vf"), params.get("vt"), fingerprint)
        cached = _OUTLINES.get(key)
        if cached is not None:
            return orjson.loads(cached)
        rows = conn.execute(text(f"""
            SELECT kind, name, code, approximate, population,
                   ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0002), 6) AS geometry,
                   ST_Y(ST_PointOnSurface(geom)) AS label_lat, ST_X(ST_PointOnSurface(geom)) AS label_lon
            FROM boundary WHERE kind = :kind AND {where} ORDER BY name"""), {"kind": kind, **params}).mappings().all()
    collection = feature_collection(rows)
    with _OUTLINES_LOCK:
        if len(_OUTLINES) >= _OUTLINES_MAX:
            _OUTLINES.clear()
        _OUTLINES[key] = orjson.dumps(collection)
    return collection


def any_approximate() -> bool:
    """True when the boundaries on screen are the project's approximate demo geography."""
    with read_engine().connect() as conn:
        return bool(conn.execute(text("SELECT bool_or(approximate) FROM boundary")).scalar())


def city_bounds() -> list[list[float]] | None:
    """[[south, west], [north, east]] of the loaded city (or districts), for fitting the map."""
    with read_engine().connect() as conn:
        row = conn.execute(text("""
            SELECT ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e) FROM (
                SELECT ST_Extent(geom)::geometry AS e FROM boundary WHERE kind IN ('city', 'district')) x""")).one()
    return None if row[0] is None else [[row[0], row[1]], [row[2], row[3]]]


def district_names() -> list[str]:
    """Names of the loaded police districts (of every map), for filters."""
    with read_engine().connect() as conn:
        return list(conn.execute(text(
            "SELECT DISTINCT name FROM boundary WHERE kind = 'district' ORDER BY name")).scalars())


def boundary_kinds() -> list[str]:
    """The map's boundary kinds that are loaded and that the choropleth supports
    (`district_panel.BOUNDARY_KINDS`): district first, then post, neighborhood (and CSA once supported)."""
    from layers.district_panel import BOUNDARY_KINDS

    supported = [k for k in MAP_KINDS if k in BOUNDARY_KINDS]
    with read_engine().connect() as conn:
        present = set(conn.execute(text("SELECT DISTINCT kind FROM boundary WHERE kind = ANY(:kinds)"),
                                   {"kinds": supported}).scalars())
    return [k for k in supported if k in present]


def label_points(outlines: dict) -> dict:
    """Point features at each outline's label point (from `boundaries_geojson`), carrying its name."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": f["properties"]["name"]},
         "geometry": {"type": "Point", "coordinates": [f["properties"]["label_lon"], f["properties"]["label_lat"]]}}
        for f in outlines["features"]]}
