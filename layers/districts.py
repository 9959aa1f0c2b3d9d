"""Boundaries as map data: district (post, neighborhood) outlines and the city, with names and label points."""

from __future__ import annotations

from sqlalchemy import text

from layers.db import read_engine
from layers.geojson import feature_collection


def boundaries_geojson(kind: str = "district") -> dict:
    """Every boundary of one kind, simplified for display, with a label point inside each polygon."""
    with read_engine().connect() as conn:
        rows = conn.execute(text("""
            SELECT kind, name, code, approximate, population,
                   ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0002), 6) AS geometry,
                   ST_Y(ST_PointOnSurface(geom)) AS label_lat, ST_X(ST_PointOnSurface(geom)) AS label_lon
            FROM boundary WHERE kind = :kind ORDER BY name"""), {"kind": kind}).mappings().all()
    return feature_collection(rows)


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
    """Names of the loaded police districts, for filters."""
    with read_engine().connect() as conn:
        return list(conn.execute(text("SELECT name FROM boundary WHERE kind = 'district' ORDER BY name")).scalars())


def boundary_kinds() -> list[str]:
    """The map's boundary kinds that are loaded: district first, then post and neighborhood."""
    with read_engine().connect() as conn:
        present = set(conn.execute(text(
            "SELECT DISTINCT kind FROM boundary WHERE kind IN ('district', 'post', 'neighborhood')")).scalars())
    return [k for k in ("district", "post", "neighborhood") if k in present]


def label_points(outlines: dict) -> dict:
    """Point features at each outline's label point (from `boundaries_geojson`), carrying its name."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": f["properties"]["name"]},
         "geometry": {"type": "Point", "coordinates": [f["properties"]["label_lon"], f["properties"]["label_lat"]]}}
        for f in outlines["features"]]}
