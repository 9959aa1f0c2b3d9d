"""What one map layer sends for one viewport: raw points when few enough, aggregated cells otherwise.

The rule (docs/engineering.md §2): never send a whole large layer. For a viewport we first count, with
a LIMIT, whether the layer has more than CGA_MAX_POINTS points there. If not, the points go (one
feature per place: points within ~10 m of each other are stacked into one feature with a count, so a
place with ten shootings is one clickable marker, not ten hidden under each other). If there are
more, low zooms get density cells computed in PostGIS (layers/density.py) and high zooms get the
newest CGA_MAX_POINTS points with `truncated` set, so the map can say "zoom in to see all".

Who sees what is decided by layers.access: press gets density cells only, never finer than
CGA_PRESS_GRID_M and with small counts left out; commanders get points rounded to ~100 m and no
personal fields; personal fields (recovery street, serials, trace numbers, alert addresses) are
selected only for viewers allowed to see them, and go through layers.access.redact either way.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import text

from layers import access, daily, density, settings
from layers.db import read_engine
from layers.map_filters import LAYERS, MapFilters, PointLayer, where_clause

POINT_ZOOM = 15          # from this zoom on, a capped set of raw points beats cells
STACK_DECIMALS = 4       # points whose lat/lon agree to 4 decimals (~10 m) are one place
NEAR_LIMIT = 100         # most rows listed for one clicked place or cluster

BBox = tuple[float, float, float, float]  # west, south, east, north (degrees)


def _cap(cap: int | None) -> int:
    return int(cap or settings.get("CGA_MAX_POINTS"))


def clamp_bbox(bbox: BBox) -> BBox:
    w, s, e, n = (float(v) for v in bbox)
    return max(-180.0, min(w, e)), max(-85.0, min(s, n)), min(180.0, max(w, e)), min(85.0, max(s, n))


def _select(layer: PointLayer, personal: bool, compact: bool = False) -> str:
    if compact:
        return layer.map_sql
    cols = layer.props_sql
    if personal and layer.personal_props_sql:
        cols += ", " + layer.personal_props_sql
    return cols


def count_in_view(layer_key: str, filters: MapFilters, bbox: BBox, at_most: int | None = None) -> int:
    """How many points of the layer are in the box; stops counting after `at_most` (cheap at any scale)."""
    layer = LAYERS[layer_key]
    where, params = where_clause(layer, filters)
    params.update(zip(("w", "s", "e", "n"), clamp_bbox(bbox), strict=True))
    inner = (f"SELECT 1 FROM {layer.from_sql} WHERE {where} "
             "AND p.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)")
    if at_most is not None:
        inner += " LIMIT :at_most"
        params["at_most"] = at_most
    with read_engine().connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM ({inner}) x"), params).scalar_one()


APPROX_FACTOR = 20  # a capped view's total is counted exactly up to this many times the cap


def total_in_view(layer_key: str, filters: MapFilters, bbox: BBox, cap: int) -> tuple[int, bool]:
    """(total, approximate) for a view holding more points than the cap: counting them all took seconds at
    100x, so the pre-aggregated cells of the finest grid around the box give it ('about N': the cells reach a
    little beyond the box), else the points are counted up to APPROX_FACTOR x the cap ('more than N')."""
    if density.precomputed(layer_key, filters, density.BASE_ZOOM):
        return density.cells(layer_key, filters, bbox, density.BASE_ZOOM, use_precomputed=True)["total"], True
    at_most = APPROX_FACTOR * cap
    n = count_in_view(layer_key, filters, bbox, at_most=at_most)
    return n, n >= at_most


def _url(layer: PointLayer, row: dict) -> str | None:
    target = row.get(layer.link_id)
    return f"{layer.link}{target}" if layer.link and target is not None else None


def _rows(layer: PointLayer, filters: MapFilters, extra_where: str, extra_params: dict, limit: int,
          viewer: access.Viewer, compact: bool = False) -> list[dict]:
    """Rows of the layer, newest first. compact: only what a marker needs (no details, nothing personal)."""
    personal = access.personal_data_allowed(viewer) and not compact
    where, params = where_clause(layer, filters)
    params.update(extra_params)
    params["limit"] = limit
    sql = (f"SELECT {_select(layer, personal, compact)}, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat "
           f"FROM {layer.from_sql} WHERE {where} AND {extra_where} "
           f"ORDER BY {layer.time_sql} DESC, p.id DESC LIMIT :limit")
    access.require("points", viewer)
    with read_engine().connect() as conn:
        rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    if personal and layer.personal_props_sql:
        access.record_access(viewer, "map", layer.key, [r["id"] for r in rows])
    records = viewer.can("records")
    out = []
    for r in rows:
        r = access.redact(r, viewer)
        r["lon"], r["lat"] = access.coarse(r["lon"], viewer), access.coarse(r["lat"], viewer)
        if not compact:
            r["url"] = _url(layer, r) if records else None
            if not records:
                for key in ("firearm_id", "incident_id"):
                    r.pop(key, None)
        out.append(r)
    return out


def stack_places(rows: list[dict], decimals: int = STACK_DECIMALS) -> dict:
    """Rows with lon/lat -> a FeatureCollection with one feature per place (rows in time order).

    A place holding one row carries that row's properties and `stack` 1; a place holding several
    carries `stack` n, their ids (newest first) and the newest time, at the places' mean position."""
    places: dict[tuple[float, float], list[dict]] = {}
    for r in rows:
        places.setdefault((round(r["lat"], decimals), round(r["lon"], decimals)), []).append(r)
    features = []
    for group in places.values():
        if len(group) == 1:
            props = {k: v for k, v in group[0].items() if k not in ("lon", "lat") and v is not None}
            lon, lat = group[0]["lon"], group[0]["lat"]
            props["stack"] = 1
        else:
            lon = sum(r["lon"] for r in group) / len(group)
            lat = sum(r["lat"] for r in group) / len(group)
            props = {"stack": len(group), "ids": [r["id"] for r in group], "time": group[0].get("time"),
                     "kind": group[0].get("kind")}
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]}})
    return {"type": "FeatureCollection", "features": features}


def layer_in_view(layer_key: str, filters: MapFilters, bbox: BBox, zoom: float, mode: str = "auto",
                  cap: int | None = None, viewer: access.Viewer | None = None) -> dict[str, Any]:
    """The layer for one viewport, as points or cells.

    mode: "auto" (points when they fit under the cap, else cells below POINT_ZOOM and capped points
    from it on) or "cells" (always density cells). Returns mode, geojson, shown (points or the sum of
    the cells), total (in the viewport), truncated, and for cells the cell size and largest count."""
    layer = LAYERS[layer_key]
    viewer = access.require("map", viewer)
    limit = _cap(cap)
    bbox = clamp_bbox(bbox)
    if not viewer.can("points"):  # aggregates only: coarse cells, small counts left out
        zoom = min(zoom, density.coarsest_zoom())
        return _cells_result(layer_key, density.cells(layer_key, filters, bbox, zoom, min_count=density.public_min()))
    env = "p.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
    box = dict(zip(("w", "s", "e", "n"), bbox, strict=True))
    if mode != "cells" and zoom < POINT_ZOOM and density.precomputed(layer_key, filters, zoom):
        # Pre-aggregated cells are cheaper than counting points; they hold at least every point in view,
        # so when they sum to no more than the cap, the points all fit.
        cells = density.cells(layer_key, filters, bbox, zoom, use_precomputed=True)
        if cells["total"] <= limit:
            rows = _rows(layer, filters, env, box, limit, viewer, compact=True)
            fc = stack_places(rows)
            return {"layer": layer_key, "mode": "points", "geojson": fc, "shown": len(rows), "total": len(rows),
                    "truncated": False, "places": len(fc["features"])}
        return _cells_result(layer_key, cells)
    if mode != "cells":
        in_view = count_in_view(layer_key, filters, bbox, at_most=limit + 1)
        if in_view <= limit or zoom >= POINT_ZOOM:
            rows = _rows(layer, filters, env, box, limit, viewer, compact=True)
            truncated = in_view > limit
            total, approx = total_in_view(layer_key, filters, bbox, limit) if truncated else (len(rows), False)
            fc = stack_places(rows)
            return {"layer": layer_key, "mode": "points", "geojson": fc, "shown": len(rows), "total": total,
                    "total_approx": approx, "truncated": truncated, "places": len(fc["features"])}
    return _cells_result(layer_key, density.cells(layer_key, filters, bbox, zoom))


def _cells_result(layer_key: str, cells: dict) -> dict[str, Any]:
    return {"layer": layer_key, "mode": "cells", "geojson": cells["geojson"], "shown": cells["total"],
            "total": cells["total"], "truncated": False, "cell_size_m": cells["cell_size_m"],
            "max_cell": cells["max_cell"], "places": len(cells["geojson"]["features"]),
            "precomputed": cells["precomputed"]}


def points_near(layer_key: str, filters: MapFilters, lat: float, lon: float, radius_m: float,
                limit: int = NEAR_LIMIT, viewer: access.Viewer | None = None) -> dict[str, Any]:
    """Every point of the layer within `radius_m` of a clicked place or cluster (newest first, capped)."""
    layer = LAYERS[layer_key]
    viewer = access.require("points", viewer)
    radius_m = max(1.0, float(radius_m))
    # Degrees of margin for the index-friendly box test; the exact test is on the geography.
    margin = radius_m / (111_320.0 * max(0.1, math.cos(math.radians(lat))))
    near = ("p.geom && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :margin) AND "
            "ST_DWithin(p.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)")
    params = {"lon": lon, "lat": lat, "margin": margin, "radius": radius_m}
    rows = _rows(layer, filters, near, params, limit + 1, viewer)
    return {"layer": layer_key, "rows": rows[:limit], "more": len(rows) > limit}


def points_by_id(layer_key: str, filters: MapFilters, ids: list[int],
                 viewer: access.Viewer | None = None) -> list[dict]:
    """The rows of a stacked place, by the ids its feature carries (still under the filters)."""
    layer = LAYERS[layer_key]
    viewer = access.require("points", viewer)
    ids = [int(i) for i in ids][:NEAR_LIMIT]
    return _rows(layer, filters, "p.id = ANY(:ids)", {"ids": ids}, NEAR_LIMIT, viewer)


def layer_totals(filters: MapFilters, layer_keys: tuple[str, ...] = tuple(LAYERS)) -> dict[str, int]:
    """How many rows of each layer match the filters, anywhere (one statement): summed from the daily
    counts when they are current, else counted from the points."""
    access.require("map")
    with read_engine().connect() as conn:
        if daily.usable(conn):
            return daily.totals(conn, filters, layer_keys)
    parts, params = [], {}
    for i, key in enumerate(layer_keys):
        layer = LAYERS[key]
        where, p = where_clause(layer, filters, prefix=f"l{i}_")
        parts.append(f"(SELECT count(*) FROM {layer.from_sql} WHERE {where}) AS {key}")
        params.update(p)
    with read_engine().connect() as conn:
        return dict(conn.execute(text("SELECT " + ", ".join(parts)), params).mappings().one())
