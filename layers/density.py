"""Density as aggregated square cells, computed in PostGIS in Web Mercator (EPSG:3857, metres).

dash-leaflet has no heatmap, so the readable "heat" view is a grid of counted cells. Cells are the
squares of ST_SquareGrid's tiling (ST_Square(size, i, j) with origin 0,0 in EPSG:3857), sized so one
cell is about CELL_PX screen pixels at the zoom asked for; sizes halve per zoom level so cells nest.
Points are binned with the EPSG:3857 formulas directly on their lon/lat (cheaper than transforming
every point), and only the few hundred cells are transformed back to WGS84. The box is widened to
whole cells so edge cells are counted in full.

At zoom BASE_ZOOM (14) and below, cells are rolled up from `derived.map_cell_day` (migration 0017:
counts per local day, layer, district and kind at the zoom-14 grid, kept by day by the derive) when it
holds the current data version and the filters are ones it can answer; otherwise (stale cells, or
recovery filters on time-to-crime / source state) the points themselves are counted. Both give the
same cells.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import text

from layers import daily
from layers.db import read_engine
from layers.map_filters import LAYERS, MapFilters, narrowing, where_clause

EARTH_R = 6378137.0
CELL_PX = 40
MAX_CELLS = 20000  # a safety limit on what one viewport can return
BASE_ZOOM = 14     # the grid of derived.map_cell_day (layers/daily.py: CELL_SIZE)
# What derived.map_cell_day counts its points by besides layer, day and cell, named as the daily tables name them.
CELL_COLUMNS = frozenset({"district", "kind"})


def mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(-85.05, min(85.05, lat))
    return EARTH_R * math.radians(lon), EARTH_R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def lonlat(x: float, y: float) -> tuple[float, float]:
    return math.degrees(x / EARTH_R), math.degrees(2 * math.atan(math.exp(y / EARTH_R)) - math.pi / 2)


def cell_size(zoom: float) -> float:
    """Cell side in EPSG:3857 units for a zoom level (156543.03 m/px at zoom 0)."""
    z = max(0, min(22, round(zoom)))
    return 156543.03392804097 / 2**z * CELL_PX


def ground_size_m(size: float, lat: float) -> float:
    """The real side length of a cell at a latitude (Mercator stretches by 1/cos(lat))."""
    return size * math.cos(math.radians(lat))


def snapped_bbox(bbox: tuple[float, float, float, float], size: float) -> tuple[float, float, float, float]:
    """The box widened outward to whole cells of `size` (so no cell is cut by the viewport edge)."""
    w, s, e, n = bbox
    x0, y0 = mercator(w, s)
    x1, y1 = mercator(e, n)
    x0, y0 = math.floor(x0 / size) * size, math.floor(y0 / size) * size
    x1, y1 = math.ceil(x1 / size) * size, math.ceil(y1 / size) * size
    (w2, s2), (e2, n2) = lonlat(x0, y0), lonlat(x1, y1)
    return max(-180.0, w2), s2, min(180.0, e2), n2


def coarsest_zoom(lat: float = 39.3) -> int:
    """The highest zoom whose cells are still at least CGA_PRESS_GRID_M on the ground: the finest
    density the press role receives."""
    from layers import settings

    grid = settings.get("CGA_PRESS_GRID_M")
    for z in range(18, -1, -1):
        if ground_size_m(cell_size(z), lat) >= grid:
            return z
    return 0


def public_min() -> int:
    """Cells counting fewer than this are left out of what aggregate-only roles receive."""
    from layers import settings

    return int(settings.get("CGA_SMALL_COUNT"))


def precomputed(layer_key: str, filters: MapFilters, zoom: float) -> bool:
    """Can derived.map_cell_day answer this request (zoom at or below its grid, filters it holds, data current)?"""
    if round(zoom) > BASE_ZOOM:
        return False
    if any(c.daily_sql not in CELL_COLUMNS for c in narrowing(layer_key, filters)):
        return False  # a filter on something the cells were not counted by (time-to-crime, source state)
    with read_engine().connect() as conn:
        if conn.execute(text("SELECT to_regclass('map_cell_meta')")).scalar() is None:
            return False  # a database not yet upgraded to migration 0002
        held = conn.execute(text("SELECT data_version FROM map_cell_meta")).scalar()
        current = conn.execute(text(
            "SELECT coalesce(max(id), 0) FROM etl_run WHERE status = 'succeeded'")).scalar_one()
    return held is not None and held == current


def refresh_map_cells(engine, cells: bool = True) -> None:
    """Record that the pre-aggregated cells hold the current data (write path: pass the writing engine),
    recounting every cell first unless `cells=False`. etl/derive.py keeps the cells by day itself (through
    layers/daily.py, with the daily counts) and passes False; a database filled some other way (the
    benchmarks' copies built in SQL) is recounted whole."""
    with engine.begin() as conn:
        if cells:
            conn.execute(text("DELETE FROM derived.map_cell_day"))
            for layer in daily.LAYER_KEYS:
                facts = daily.FACTS[layer].format(tz=daily.LOCAL_TZ, cond="TRUE")
                conn.exec_driver_sql(daily.cells_sql(f"({facts})"))
            conn.execute(text("ANALYZE derived.map_cell_day"))
        conn.execute(text("REFRESH MATERIALIZED VIEW map_cell_meta"))


def _precomputed_counts(layer_key: str, filters: MapFilters, box: tuple[float, float, float, float],
                        zoom: float) -> tuple[str, dict]:
    factor = 2 ** (BASE_ZOOM - max(0, round(zoom)))
    base = cell_size(BASE_ZOOM)
    x0, y0 = mercator(box[0], box[1])
    x1, y1 = mercator(box[2], box[3])
    params: dict[str, Any] = {"m": float(factor),
                              "i0": math.floor(x0 / base), "i1": math.ceil(x1 / base) - 1,
                              "j0": math.floor(y0 / base), "j1": math.ceil(y1 / base) - 1}
    where, filter_params = daily.filter_sql(layer_key, filters)  # the daily tables' coding of the filters
    params.update(filter_params)
    conds = [where, "i BETWEEN :i0 AND :i1", "j BETWEEN :j0 AND :j1"]
    sql = (f"SELECT floor(i / :m)::int AS i, floor(j / :m)::int AS j, sum(n)::int AS n FROM derived.map_cell_day "
           f"WHERE {' AND '.join(conds)} GROUP BY 1, 2")
    return sql, params


def precomputed_total(layer_key: str, filters: MapFilters, bbox: tuple[float, float, float, float]) -> int:
    """How many points the finest pre-aggregated cells around the box hold: what `cells(..., BASE_ZOOM,
    use_precomputed=True)` totals, summed in the database without drawing a cell."""
    counted, params = _precomputed_counts(layer_key, filters, snapped_bbox(bbox, cell_size(BASE_ZOOM)), BASE_ZOOM)
    with read_engine().connect() as conn:
        return conn.execute(text(f"SELECT coalesce(sum(n), 0)::int FROM ({counted}) c"), params).scalar_one()


def cells(layer_key: str, filters: MapFilters, bbox: tuple[float, float, float, float], zoom: float,
          use_precomputed: bool | None = None, min_count: int = 1) -> dict[str, Any]:
    """Counted cells of one layer in (and just around) the box: GeoJSON polygons with `n`.
    Cells counting fewer than `min_count` are left out (small-count suppression); `suppressed` says
    how many were."""
    layer = LAYERS[layer_key]
    size = cell_size(zoom)
    w, s, e, n = snapped_bbox(bbox, size)
    if use_precomputed is None:
        use_precomputed = precomputed(layer_key, filters, zoom)
    if use_precomputed:
        counted, params = _precomputed_counts(layer_key, filters, (w, s, e, n), zoom)
    else:
        where, params = where_clause(layer, filters)
        params.update({"w": w, "s": s, "e": e, "n": n})
        counted = f"""
            SELECT i, j, count(*)::int AS n FROM (
                SELECT floor({EARTH_R} * radians(ST_X(p.geom)) / :size)::int AS i,
                       floor({EARTH_R} * ln(tan(pi() / 4 + radians(ST_Y(p.geom)) / 2)) / :size)::int AS j
                FROM {layer.markers_from}
                WHERE {where} AND p.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)) binned
            GROUP BY i, j"""
    params.update({"size": size, "max_cells": MAX_CELLS, "min_count": max(1, int(min_count))})
    sql = f"""
        WITH counted AS ({counted} ORDER BY n DESC LIMIT :max_cells)
        SELECT i, j, n, ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_Square(:size, i, j), 3857), 4326), 5) AS geometry
        FROM counted"""
    with read_engine().connect() as conn:
        rows = conn.execute(text(sql), params).mappings().all()
    suppressed = sum(1 for r in rows if r["n"] < params["min_count"])
    rows = [r for r in rows if r["n"] >= params["min_count"]]
    features = [{"type": "Feature", "geometry": _json(r["geometry"]),
                 "properties": {"n": r["n"], "cell": f"{r['i']}:{r['j']}"}} for r in rows]
    mid_lat = (bbox[1] + bbox[3]) / 2
    return {"geojson": {"type": "FeatureCollection", "features": features},
            "total": sum(r["n"] for r in rows), "max_cell": max((r["n"] for r in rows), default=0),
            "cell_size_m": round(ground_size_m(size, mid_lat)), "precomputed": use_precomputed,
            "suppressed": suppressed}


def _json(geometry: str) -> dict:
    import orjson

    return orjson.loads(geometry)


def class_breaks(values: list[float], classes: int = 5) -> list[float]:
    """Upper bounds of `classes` quantile classes (distinct, ascending); the colour scale's legend."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return []
    breaks = []
    for k in range(1, classes + 1):
        idx = min(len(vals) - 1, max(0, math.ceil(k * len(vals) / classes) - 1))
        b = vals[idx]
        if not breaks or b > breaks[-1]:
            breaks.append(b)
    return breaks
