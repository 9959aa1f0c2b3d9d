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

import datetime as dt
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
    inner = (f"SELECT 1 FROM {layer.markers_from} WHERE {where} "
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
        return density.precomputed_total(layer_key, filters, bbox), True
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
           f"FROM {layer.markers_from if compact else layer.from_sql} WHERE {where} AND {extra_where} "
           f"ORDER BY {layer.time_sql} DESC, p.id DESC LIMIT :limit")
    access.require("points", viewer)
    with read_engine().connect() as conn:
        result = conn.execute(text(sql), params)
        if compact:
            return _compact_rows(list(result.keys()), result, viewer)
        rows = [dict(r) for r in result.mappings()]
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


# Migration 0010's point_square: the 0.01-degree square (about 1.1 x 0.9 km here) a point lies in.
SQUARES_PER_DEGREE = 100
MAX_SQUARES = 64  # a view over more squares (a big screen at zoom 14) is read the plain way


def squares_in(bbox: BBox) -> list[int] | None:
    """point_square of every square the box touches, or None when there are more than MAX_SQUARES."""
    w, s, e, n = bbox
    k = SQUARES_PER_DEGREE
    xs = range(math.floor(w * k), math.floor(e * k) + 1)
    ys = range(math.floor(s * k), math.floor(n * k) + 1)
    if len(xs) * len(ys) > MAX_SQUARES:
        return None
    return [(x + 18000) * 20000 + y + 9000 for x in xs for y in ys]


def _points_in_box(layer: PointLayer, filters: MapFilters, bbox: BBox, limit: int,
                   viewer: access.Viewer) -> list[dict]:
    """The newest `limit` points of the layer in the box, as markers (compact rows)."""
    box = dict(zip(("w", "s", "e", "n"), bbox, strict=True))
    env = "p.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
    squares = squares_in(bbox)
    if squares is None:
        return _rows(layer, filters, env, box, limit, viewer, compact=True)
    return _square_rows(layer, filters, env, box, squares, limit, viewer)


def _square_rows(layer: PointLayer, filters: MapFilters, env: str, box: dict, squares: list[int], limit: int,
                 viewer: access.Viewer) -> list[dict]:
    """What `_rows(..., compact=True)` gives for the box, read as a merge of the box's squares: each square
    is a list in time order in the layer's square index (migration 0010), so the merge reads about `limit`
    rows however many points the view holds over the dates, where the time index alone walks past every
    point outside the view and the spatial index alone gathers and sorts every point inside it (40-200 ms
    each in a busy view at 100 times Baltimore). The planner underrates the merge's early stop and would
    sort anyway: sorting is priced out for this one statement."""
    where, params = where_clause(layer, filters)
    params.update(box)
    params["limit"] = limit
    access.require("points", viewer)
    with read_engine().connect() as conn:
        sql = _square_sql(layer, f"{where} AND {env}", squares, _marker_names(conn, layer))
        conn.execute(text("SET LOCAL enable_sort = off"))
        result = conn.execute(text(sql), params)
        return _compact_rows(list(result.keys()), result, viewer)


def _square_sql(layer: PointLayer, where: str, squares: list[int], names: str) -> str:
    """The newest :limit rows of the layer meeting `where`, as the merge of `squares`' time-ordered lists."""
    branches = " UNION ALL ".join(
        f"(SELECT {layer.map_sql}, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, {layer.time_sql} AS sort_time "
        f"FROM {layer.markers_from} WHERE {where} AND point_square(p.geom) = {int(square)} "
        f"ORDER BY {layer.time_sql} DESC, p.id DESC)" for square in squares)
    return f"SELECT {names}, lon, lat FROM ({branches}) v ORDER BY sort_time DESC, id DESC LIMIT :limit"


_MARKER_NAMES: dict[str, str] = {}


def _marker_names(conn, layer: PointLayer) -> str:
    """The names of the layer's marker columns (map_sql), asked of the database once per process: the
    merge selects them by name, leaving out the time it orders by (converting 3,000 timestamps no one
    reads cost ~3 ms a layer)."""
    if layer.key not in _MARKER_NAMES:
        keys = conn.execute(text(f"SELECT {layer.map_sql} FROM {layer.markers_from} LIMIT 0")).keys()
        _MARKER_NAMES[layer.key] = ", ".join(f'"{k}"' for k in keys)
    return _MARKER_NAMES[layer.key]


def _compact_rows(keys: list[str], result, viewer: access.Viewer) -> list[dict]:
    """What a marker needs, for many rows quickly: the compact columns (map_sql) hold nothing personal, which
    is checked once here rather than redacting row by row; coordinates as precise as the viewer may see."""
    leaking = set(keys) & (access.PERSONAL_FIELDS | {"location"})
    if leaking:
        raise ValueError(f"a map marker's columns may not include personal fields: {sorted(leaking)}")
    places = access.point_precision(viewer)
    if places == 0:
        raise access.Denied("points", viewer)
    rows = [dict(zip(keys, r, strict=True)) for r in result.fetchall()]
    if places is not None:
        for r in rows:
            r["lon"], r["lat"] = round(r["lon"], places), round(r["lat"], places)
    return rows


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


_EPOCH = dt.datetime(1970, 1, 1)


def _time_number(value: str | None, unit: str) -> int | None:
    """'YYYY-MM-DD HH:MM' (local wall-clock) -> minutes since 1970; 'YYYY-MM-DD' -> days."""
    if value is None:
        return None
    if unit == "d":
        return (dt.date.fromisoformat(value) - _EPOCH.date()).days
    return int((dt.datetime.fromisoformat(value) - _EPOCH).total_seconds()) // 60


def _quantum(values: list[float]) -> int:
    """The fewest decimal places (3 to 5) that hold every coordinate exactly, as a power of ten."""
    for places in (3, 4):
        q = 10 ** places
        if all(abs(v * q - round(v * q)) < 1e-6 for v in values):
            return q
    return 10 ** 5


def pack(fc: dict) -> dict:
    """A FeatureCollection of map points (stack_places) as columns: what the map's points layers receive.

    About a fifth of the GeoJSON's bytes for the same features: places sorted by id; ids and times as
    differences from the previous place; coordinates as integer steps from the south-west corner at the
    precision the viewer was given; text properties as indexes into a list of their values, yes/no as 1/0;
    a stacked place's ids relative to its first. The browser
    turns it back into the same FeatureCollection (atlasPoints.unpack in assets/js/points.js)."""
    feats = fc["features"]
    if not feats:
        return {"n": 0}

    def key(f: dict) -> int:
        p = f["properties"]
        return p["id"] if "id" in p else p["ids"][0]

    feats = sorted(feats, key=key)
    lons = [f["geometry"]["coordinates"][0] for f in feats]
    lats = [f["geometry"]["coordinates"][1] for f in feats]
    q = _quantum(lons + lats)
    x0, y0 = math.floor(min(lons) * q), math.floor(min(lats) * q)
    times = [f["properties"].get("time") for f in feats]
    unit = "d" if all(t is None or len(t) == 10 for t in times) else "m"
    out: dict[str, Any] = {"n": len(feats), "q": q, "x0": x0, "y0": y0,
                           "x": [round(v * q) - x0 for v in lons], "y": [round(v * q) - y0 for v in lats],
                           "tu": unit}
    ids, last = [], 0
    for f in feats:
        k = key(f)
        ids.append(k - last)
        last = k
    out["id"] = ids
    deltas, last = [], 0
    for t in times:
        n = _time_number(t, unit)
        deltas.append(None if n is None else n - last)
        last = last if n is None else n
    out["t"] = deltas
    # A stacked place's ids (newest first), as differences from its first id; a place without is one point.
    out["ids"] = {str(i): [k - f["properties"]["ids"][0] for k in f["properties"]["ids"]]
                  for i, f in enumerate(feats) if f["properties"].get("stack", 1) > 1}
    columns: dict[str, Any] = {}
    names = sorted({k for f in feats for k in f["properties"]} - {"id", "ids", "time", "stack"})
    for name in names:
        values = [f["properties"].get(name) for f in feats]
        if all(v is None or isinstance(v, bool) for v in values):
            columns[name] = {"b": [None if v is None else int(v) for v in values]}
        elif any(isinstance(v, str) for v in values):
            distinct = sorted({v for v in values if v is not None})
            index = {v: i for i, v in enumerate(distinct)}
            columns[name] = {"d": distinct, "i": [-1 if v is None else index[v] for v in values]}
        else:
            columns[name] = values
    out["c"] = columns
    return out


def layer_in_view(layer_key: str, filters: MapFilters, bbox: BBox, zoom: float, mode: str = "auto",
                  cap: int | None = None, viewer: access.Viewer | None = None, packed: bool = False) -> dict[str, Any]:
    """The layer for one viewport, as points or cells.

    mode: "auto" (points when they fit under the cap, else cells below POINT_ZOOM and capped points
    from it on) or "cells" (always density cells). Returns mode, geojson, shown (points or the sum of
    the cells), total (in the viewport), truncated, and for cells the cell size and largest count.
    packed: points also come as `packed` (see pack), what the map sends to the browser."""
    result = _layer_in_view(layer_key, filters, bbox, zoom, mode, cap, viewer)
    if packed and result["mode"] == "points":
        result["packed"] = pack(result["geojson"])
    return result


def _layer_in_view(layer_key: str, filters: MapFilters, bbox: BBox, zoom: float, mode: str,
                   cap: int | None, viewer: access.Viewer | None) -> dict[str, Any]:
    layer = LAYERS[layer_key]
    viewer = access.require("map", viewer)
    limit = _cap(cap)
    bbox = clamp_bbox(bbox)
    if not viewer.can("points"):  # aggregates only: coarse cells, small counts left out
        zoom = min(zoom, density.coarsest_zoom())
        return _cells_result(layer_key, density.cells(layer_key, filters, bbox, zoom, min_count=density.public_min()))
    if mode != "cells" and zoom < POINT_ZOOM and density.precomputed(layer_key, filters, zoom):
        # Pre-aggregated cells are cheaper than counting points; they hold at least every point in view,
        # so when they sum to no more than the cap, the points all fit.
        cells = density.cells(layer_key, filters, bbox, zoom, use_precomputed=True)
        if cells["total"] <= limit:
            rows = _points_in_box(layer, filters, bbox, limit, viewer)
            fc = stack_places(rows)
            return {"layer": layer_key, "mode": "points", "geojson": fc, "shown": len(rows), "total": len(rows),
                    "truncated": False, "places": len(fc["features"])}
        return _cells_result(layer_key, cells)
    if mode != "cells":
        # From POINT_ZOOM on the points go either way: fetching one more than the cap says whether they
        # were cut, without counting them first. Below it, a count decides between points and cells.
        in_view = limit + 1 if zoom >= POINT_ZOOM else count_in_view(layer_key, filters, bbox, at_most=limit + 1)
        if in_view <= limit or zoom >= POINT_ZOOM:
            rows = _points_in_box(layer, filters, bbox, limit + 1, viewer)
            truncated = len(rows) > limit
            rows = rows[:limit]
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
        parts.append(f"(SELECT count(*) FROM {layer.markers_from} WHERE {where}) AS {key}")
        params.update(p)
    with read_engine().connect() as conn:
        return dict(conn.execute(text("SELECT " + ", ".join(parts)), params).mappings().one())
