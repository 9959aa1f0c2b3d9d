"""Benchmark: the command map's viewport updates at 1x and 100x Baltimore, against sending whole layers.

Run with `make bench` (pytest tests/bench -s); never part of `make test`.

Scale 1 is a copy of a loaded database (CGA_BENCH_SOURCE_URL, else the configured DATABASE_URL /
embedded `crimegun` database: run `make demo` once first) in a throwaway database with the current
migrations. Loading a real 100x dataset through the ETL takes far too long here, so the 100x
database is built from that copy *in SQL* (INSERT ... SELECT ... generate_series): every ShotSpotter
alert, every firearm incident (the shootings layer's rows) and every recovery with its trace and
firearm is replicated 99 more times with new ids and keys and a random spatial jitter of up to
~250 m, on the same dates, so each map layer holds 100 times Baltimore's points in the same city.
Non-firearm incidents, people and dealers are kept once (they are not map point layers).

A viewport update is what the map's callback asks the server for when the user pans or zooms:
`layers.viewport.layer_in_view` for the three point layers (SQL + GeoJSON building), plus the
orjson-encoded size of what is sent. The pre-aggregated density cells (materialized view
map_cell_day, migration 0002) are refreshed after each build, as a load would; at 100x the 12-month
range is also measured with them ignored (points counted on the fly) to show what they buy. Viewports are 1100x800 px at zooms 11-17 around the city,
for the default last 28 days and for 12 months. The naive approach sends each whole layer for the
dates as GeoJSON with its properties (no viewport, no cap). Set CGA_BENCH_KEEP=1 to keep the 100x
database for the next run.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import statistics
import time

import orjson
import psycopg
import pytest

from layers import cluster, db
from tests.bench import scaling

pytestmark = pytest.mark.bench

X1, X100 = "cga_bench_map_x1", "cga_bench_map_x100"
TABLES = ("etl_run", "boundary", "dealer", "pii.person", "firearm", "incident", "trace", "recovery", "shot_alert")
JITTER = ("ST_SetSRID(ST_MakePoint(ST_X(geom) + (random() - 0.5) * 0.0058, "
          "ST_Y(geom) + (random() - 0.5) * 0.0045), 4326)")  # about +-250 m each way in Baltimore
REPLICA = {  # table -> (row filter, column -> expression of copy k)
    "incident": ("is_firearm", {"id": "id + k * {off}", "source_key": "md5(source_key || '-' || k)",
                                "cc_number": "cc_number || '-' || k", "geom": JITTER, "premise": "NULL",
                                "neighborhood": "NULL", "victim_gender": "NULL", "victim_age": "NULL",
                                "victim_race": "NULL", "victim_ethnicity": "NULL"}),
    "shot_alert": ("TRUE", {"id": "id + k * {off}", "source_key": "left(source_key, 58) || '-' || k",
                            "source_id": "source_id || '-' || k", "incident_id": "incident_id + k * {off}",
                            "geom": JITTER}),
    "firearm": ("TRUE", {"id": "id + k * {off}", "firearm_key": "firearm_key || '#' || k",
                         "serial_number": "serial_number || 'K' || k"}),
    "trace": ("TRUE", {"id": "id + k * {off}", "trace_number": "trace_number || '-' || k",
                       "case_number": "case_number || '-' || k", "firearm_id": "firearm_id + k * {off}"}),
    "recovery": ("TRUE", {"id": "id + k * {off}", "trace_id": "trace_id + k * {off}",
                          "firearm_id": "firearm_id + k * {off}", "incident_id": "NULL",
                          "case_number": "case_number || '-' || k", "street": "street || ' #' || k",
                          "geom": JITTER}),
}
ZOOMS = (11, 12, 13, 14, 15, 16, 17)
VIEW_PX = (1100, 800)


def _refresh_cells(name: str) -> None:
    from layers.density import refresh_map_cells

    eng = db.engine(cluster.url(name))
    refresh_map_cells(eng)
    eng.dispose()


def build_x1(say) -> None:
    scaling.copy_loaded(X1, TABLES, "shot_alert", say, after=_refresh_cells)


def build_x100(say) -> None:
    scaling.replicate(X1, X100, REPLICA, "shot_alert", say, after=_refresh_cells)
    with psycopg.connect(scaling.dsn(X100)) as conn:
        sizes = conn.execute("""SELECT (SELECT count(*) FROM shot_alert), (SELECT count(*) FROM incident WHERE is_firearm
                                AND category IN ('shooting', 'homicide')), (SELECT count(*) FROM recovery)""").fetchone()
    say(f"scale {scaling.COPIES + 1}: {sizes[0]:,} alerts, {sizes[1]:,} shootings/homicides, {sizes[2]:,} recoveries")


def _bytes(samples: list[int]) -> str:
    s = sorted(samples)
    return f"median {statistics.median(s) / 1024:8.1f} KB  max {s[-1] / 1024:8.1f} KB"


def _viewports(extent, rng: random.Random) -> list[tuple[tuple[float, float, float, float], int]]:
    from dashboard.components.map_state import meters_per_pixel

    (s, w), (n, e) = extent
    out = []
    for z in ZOOMS:
        for _ in range(6):
            lat, lon = rng.uniform(s, n), rng.uniform(w, e)
            mpp = meters_per_pixel(z, lat)
            dx = VIEW_PX[0] / 2 * mpp / (111_320 * math.cos(math.radians(lat)))
            dy = VIEW_PX[1] / 2 * mpp / 110_574
            out.append(((lon - dx, lat - dy, lon + dx, lat + dy), z))
    return out


def _naive(filters, layer_key: str) -> bytes:
    """The whole layer for the dates as GeoJSON with its properties: what a map without a read path sends."""
    from sqlalchemy import text

    from layers.db import read_engine
    from layers.map_filters import LAYERS, where_clause

    layer = LAYERS[layer_key]
    where, params = where_clause(layer, filters)
    with read_engine().connect() as conn:
        rows = conn.execute(text(f"SELECT {layer.props_sql}, ST_AsGeoJSON(p.geom, 5) AS geometry "
                                 f"FROM {layer.from_sql} WHERE {where} AND p.geom IS NOT NULL"), params).mappings()
        features = [{"type": "Feature", "geometry": orjson.loads(r["geometry"]),
                     "properties": {k: v for k, v in r.items() if k != "geometry"}} for r in rows]
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def _run_scale(name: str, label: str, say, monkeypatch, ranges=("last 28 days", "last 12 months"),
               naive: bool = True) -> None:
    from layers import districts, points, viewport
    from layers.access import Viewer
    from layers.map_filters import MapFilters

    monkeypatch.setenv("DATABASE_URL", scaling.dsn(name))
    db.reset_engines()
    first, last = points.data_extent()
    extent = districts.city_bounds()
    views = _viewports(extent, random.Random(11))
    viewer = Viewer("bench", "press")
    say(f"\n{label} ({name})")
    starts = {"last 28 days": last - dt.timedelta(days=27), "last 12 months": last - dt.timedelta(days=364)}
    for range_label in ranges:
        start = starts[range_label]
        filters = MapFilters(start=max(first, start), end=last)
        for bbox, z in views[:3]:  # warm-up
            for key in ("alerts", "shootings", "recoveries"):
                viewport.layer_in_view(key, filters, bbox, z, viewer=viewer)
        times, sizes, modes = [], [], {"points": 0, "cells": 0, "capped": 0}
        for bbox, z in views:
            t0 = time.perf_counter()
            payload = []
            for key in ("alerts", "shootings", "recoveries"):
                r = viewport.layer_in_view(key, filters, bbox, z, viewer=viewer)
                payload.append(r["geojson"])
                modes["capped" if r["truncated"] else r["mode"]] += 1
            body = orjson.dumps(payload)
            times.append(time.perf_counter() - t0)
            sizes.append(len(body))
        say(f"  {range_label:<15} viewport update (3 layers, {len(views)} views z{ZOOMS[0]}-{ZOOMS[-1]}): "
            f"{scaling.stats(times)}   sent {_bytes(sizes)}   layer answers: {modes}")
        if not naive:
            continue
        naive_t, naive_b = [], 0
        for _ in range(2):
            t0 = time.perf_counter()
            naive_b = sum(len(_naive(filters, key)) for key in ("alerts", "shootings", "recoveries"))
            naive_t.append(time.perf_counter() - t0)
        say(f"  {range_label:<15} naive whole layers as GeoJSON (3 layers, once):      "
            f"{1000 * min(naive_t):7.0f} ms            sent {naive_b / 1024 / 1024:8.1f} MB")
    db.reset_engines()


def test_bench_map_viewport(monkeypatch, capsys):
    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(msg)
        with capsys.disabled():
            print(msg, flush=True)

    say("\n== bench_map: server time per map viewport update, and bytes sent ==")
    build_x1(say)
    build_x100(say)
    try:
        _run_scale(X1, "scale 1 (the loaded synthetic Baltimore)", say, monkeypatch)
        _run_scale(X100, f"scale {scaling.COPIES + 1} (built in SQL from scale 1: rows replicated with ~250 m jitter)",
                   say, monkeypatch)
        from layers import density

        monkeypatch.setattr(density, "precomputed", lambda *a, **k: False)
        _run_scale(X100, f"scale {scaling.COPIES + 1} without the pre-aggregated cells (points counted per request)", say, monkeypatch,
                   ranges=("last 12 months",), naive=False)
    finally:
        if not os.environ.get("CGA_BENCH_KEEP"):
            cluster.drop_database(X100)
    assert lines
