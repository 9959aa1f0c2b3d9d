"""Benchmark: the command map's viewport updates at 1x and 100x Baltimore, against sending whole layers.

Run with `make bench` (scale 1; `make bench SCALES=1,100` adds the 100x copy, the largest scale asked for);
`make test` runs it once as a smoke test on a 2x copy.

Scale 1 is a copy of a loaded database (CGA_BENCH_SOURCE_URL, else the configured DATABASE_URL /
embedded `crimegun` database: run `make demo` once first) in a throwaway database with the current
migrations. Loading a real 100x dataset through the ETL takes far too long here, so the 100x
database is built from that copy *in SQL* (INSERT ... SELECT ... generate_series): every ShotSpotter
alert, every firearm incident (the shootings layer's rows) and every recovery with its trace and
firearm is replicated 99 more times with new ids and keys and a random spatial jitter of up to
~250 m, on the same dates, so each map layer holds 100 times Baltimore's points in the same city.
Non-firearm incidents, people and dealers are kept once (they are not map point layers).

A viewport update is what the map's callbacks (one per point layer, sent at once) ask the server for when
the user pans or zooms: `layers.viewport.layer_in_view` for the three point layers (SQL + GeoJSON building), plus the
orjson-encoded size of what is sent. The pre-aggregated density cells (materialized view
map_cell_day, migration 0002) are refreshed after each build, as a load would; at 100x the 12-month
range is also measured with them ignored (points counted on the fly) to show what they buy. Viewports are 1100x800 px at zooms 11-17 around the city,
for the default last 28 days and for 12 months. The naive approach sends each whole layer for the
dates as GeoJSON with its properties (no viewport, no cap). Set CGA_BENCH_KEEP=1 to keep the 100x
database for the next run.

Both copies also get the daily counts (layers/daily.py) filled as derive would, and before the viewport
functions the benchmark measures every map callback as the browser calls it, over HTTP on a served app
(`crimegun serve` on a free port, a detective signed in): p95 server round trip and the largest JSON
response (bytes before compression), for the last 28 days and 12 months, against the targets (< 100 ms,
< 200 KB), each recorded for the report with, where one is missed, the EXPLAIN of the query behind it;
the three viewport callbacks sent at once as the browser sends them (what a pan waits for); the viewport again
with 600 raw points per layer (CGA_MAX_POINTS); a derive with nothing to do; the daily
counts' full rebuild and their refresh after a run touching one day. `test_bench_public_charts` times the
public charts' data functions from the daily counts and from the scans they replace.
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
from tests.bench.report import scales

pytestmark = pytest.mark.bench

# The larger scale measured: the largest of CGA_BENCH_SCALES (make bench SCALES=1,100), none when only 1.
BIG = max(scales())
X1, X100 = "cga_bench_map_x1", f"cga_bench_map_x{BIG}"
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
    """What derive leaves after a load: the density cells and the daily counts (all days) for the data held."""
    from layers import daily
    from layers.density import refresh_map_cells

    eng = db.engine(cluster.url(name))
    refresh_map_cells(eng)
    eng.dispose()
    started = time.perf_counter()
    with psycopg.connect(scaling.dsn(name)) as conn, conn.transaction():
        daily.refresh(conn, full=True)
        daily.mark_current(conn, *daily.current_token(conn))
    DAILY_BUILD[name] = time.perf_counter() - started


DAILY_BUILD: dict[str, float] = {}


def build_x1(say) -> None:
    scaling.copy_loaded(X1, TABLES, "shot_alert", say, after=_refresh_cells)
    _ensure_current(X1, say)


def _ensure_current(name: str, say) -> None:
    """A database kept from an earlier run may predate the daily counts: upgrade it and fill them."""
    from layers import daily, migrate

    eng = db.engine(cluster.url(name))
    migrate.upgrade(eng)
    with eng.connect() as conn:
        current = daily.usable(conn)
    eng.dispose()
    if not current:
        say(f"  {name}: filling the daily counts")
        _refresh_cells(name)


def build_x100(say) -> None:
    scaling.COPIES = BIG - 1
    scaling.replicate(X1, X100, REPLICA, "shot_alert", say, after=_refresh_cells)
    _ensure_current(X100, say)
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
    from layers import access, districts, points, viewport
    from layers.access import Viewer
    from layers.map_filters import MapFilters

    monkeypatch.setenv("DATABASE_URL", scaling.dsn(name))
    db.reset_engines()
    viewer = Viewer("bench", "press")
    with access.use_viewer(viewer):
        first, last = points.data_extent()
        extent = districts.city_bounds()
    views = _viewports(extent, random.Random(11))
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


# --- the map's callbacks as the browser calls them, on a served app ----------------------------------------

CALLBACKS = {  # name -> a marker of the callback's output in /_dash-dependencies, and the input that changed
    "counts": ("count-alerts.children", "map-dates.start_date"),
    # The viewport: one callback per point layer (the browser sends the three at once).
    **{f"viewport {k}": (f"pts-packed-{k}.data", "map-viewport.data") for k in ("alerts", "shootings", "recoveries")},
    "choropleth": ("districts-summary-holder.children", "map-dates.start_date"),
    "outlines": ("districts-labels.data", "map-dates.start_date"),
    "district table": ("command-table.children", "map-dates.start_date"),
    "district panel": ("map-details.hidden@", "map-dates.start_date"),
    "source ranking": ("source-ranking.children", "map-dates.start_date"),
    "dealers and flows": ("dealers.data", "map-dates.start_date"),
}
VIEWPORT = tuple(k for k in CALLBACKS if k.startswith("viewport"))
TARGET_MS, TARGET_KB = 100, 200
SMALL_CAP = 600  # raw points per layer and view that keep three layers' points under TARGET_KB


def _find(deps: list[dict], marker: str) -> dict:
    if marker.endswith("@"):  # the panel refresh: the callback that outputs the details body and hidden, from filters
        return next(d for d in deps if "map-details-body.children" in d["output"] and
                    "map-details.hidden" in d["output"] and "map-panel.data" in
                    [x["id"] + "." + x["property"] for x in d["state"]] and len(d["inputs"]) > 5)
    return next(d for d in deps if marker in d["output"])


def _samples(props: dict, last: dt.date, first: dt.date, extent, rng: random.Random) -> list[tuple[str, dict, str]]:
    """(range label, control values, changed input) for every sample: two ranges, views across zooms."""
    base = {(cid, prop): v for cid, p in props.items() for prop, v in p.items()}
    base[("map-layers", "value")] = ["alerts", "shootings", "recoveries", "districts", "dealers", "flows"]
    base[("map-compare", "value")] = ["on"]
    base[("map-measure", "value")] = "shootings"
    out = []
    for label, days in (("last 28 days", 27), ("last 12 months", 364)):
        for i, (bbox, z) in enumerate(_viewports(extent, rng)):
            v = dict(base)
            # Each sample ends a day earlier than the one before: no answer is a repeat of another.
            end = last - dt.timedelta(days=i % 7)
            v[("map-dates", "start_date")] = max(first, end - dt.timedelta(days=days)).isoformat()
            v[("map-dates", "end_date")] = end.isoformat()
            w, s_, e, n = bbox
            v[("map", "bounds")] = [[s_, w], [n, e]]
            v[("map", "zoom")] = z
            v[("map", "center")] = [(s_ + n) / 2, (w + e) / 2]
            v[("map-viewport", "data")] = {"bounds": v[("map", "bounds")], "zoom": z}
            v[("map-boundary", "value")] = ("district", "neighborhood", "csa")[i % 3]
            v[("map-panel", "data")] = None
            out.append((label, v, z))
    return out


def _run_callbacks(name: str, scale: str, say, monkeypatch, only: tuple[str, ...] = tuple(CALLBACKS),
                   suffix: str = "") -> None:
    from layers import districts, points
    from tests.bench import bench_load
    from tests.bench.report import record

    bench_load._account(name, monkeypatch)
    monkeypatch.setenv("DATABASE_URL", scaling.dsn(name))
    db.reset_engines()
    from layers import access

    with access.use_viewer(access.Viewer("bench", "analyst", purpose="benchmark")):
        first, last = points.data_extent()
        extent = districts.city_bounds()
        names = districts.district_names()
    db.reset_engines()
    from crimegun_cli import WEB_THREADS, WEB_WORKERS

    server = bench_load.Server(name, f"{WEB_WORKERS}x{WEB_THREADS}", bench_load._free_port())
    try:
        session = bench_load.sign_in(server.url)
        deps = session.get(f"{server.url}/_dash-dependencies", timeout=60).json()
        specs = {"page": _find(deps, "_pages_content.children")}
        specs.update({k: _find(deps, marker) for k, (marker, _) in CALLBACKS.items()})
        client = bench_load.Client(server.url, session, specs, {})
        t0 = time.perf_counter()
        page = client.page("/")
        page_ms = 1000 * (time.perf_counter() - t0)
        props = bench_load._props(page.json(), {})
        if not suffix:
            say(f"  map page layout: {page_ms:.0f} ms, {len(page.content) / 1024:.1f} KB")
            record("map", "map page layout callback", round(page_ms), "ms", scale=scale, target=f"< {TARGET_MS} ms",
                   met=page_ms < TARGET_MS, note=f"{len(page.content) / 1024:.0f} KB of JSON")
        samples = _samples(props, last, first, extent, random.Random(5))
        for key, (_, changed) in CALLBACKS.items():
            if key not in only:
                continue
            for label in ("last 28 days", "last 12 months"):
                chosen = [v for lab, v, _ in samples if lab == label]
                if key not in VIEWPORT:
                    chosen = chosen[:12]
                times, sizes, errors = [], [], 0
                for i, values in enumerate(chosen):
                    if key == "district panel":
                        values = {**values, ("map-panel", "data"): names[i % len(names)]}
                    started = time.perf_counter()
                    r = client.callback(specs[key], values, changed)
                    took = time.perf_counter() - started
                    if r.status_code not in (200, 204):
                        errors += 1
                        continue
                    times.append(took)
                    sizes.append(len(r.content))
                if not times:
                    say(f"  {key:<18} {label:<15} no answers ({errors} errors)")
                    continue
                ms = sorted(1000 * t for t in times)
                p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
                kb = max(sizes) / 1024
                say(f"  {key + suffix:<18} {label:<15} {scaling.stats(times)}   JSON max {kb:7.1f} KB"
                    + (f"   errors {errors}" if errors else ""))
                record("map", f"{key}{suffix} callback p95, {label}", round(p95, 1), "ms", scale=scale,
                       target=f"< {TARGET_MS} ms", met=p95 < TARGET_MS,
                       note=f"median {statistics.median(ms):.0f} ms, n={len(ms)}, over HTTP on a served app"
                            + (f", {errors} errors" if errors else "") + (_why(key, name, label) if p95 >= TARGET_MS
                                                                           else ""))
                record("map", f"{key}{suffix} callback largest response, {label}", round(kb, 1), "KB", scale=scale,
                       target=f"< {TARGET_KB} KB", met=kb < TARGET_KB, note="JSON bytes before compression")
        if set(VIEWPORT) <= set(only):
            _side_by_side(client, [specs[k] for k in VIEWPORT], samples, scale, suffix, say)
    finally:
        server.stop()
        db.reset_engines()


def _side_by_side(client, specs: list[dict], samples, scale: str, suffix: str, say) -> None:
    """What a pan waits for: the three layer callbacks sent at once, as the browser sends them, until the last
    answers (the server answers them on its threads side by side)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.bench.report import record

    with ThreadPoolExecutor(len(specs)) as pool:
        for label in ("last 28 days", "last 12 months"):
            times = []
            for lab, values, _ in samples:
                if lab != label:
                    continue
                started = time.perf_counter()
                answers = list(pool.map(lambda spec, v=values: client.callback(spec, v, "map-viewport.data"), specs))
                if all(a.status_code in (200, 204) for a in answers):
                    times.append(time.perf_counter() - started)
            ms = sorted(1000 * t for t in times)
            p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
            say(f"  {'viewport, 3 layers at once' + suffix:<18} {label:<15} {scaling.stats(times)}")
            record("map", f"viewport update{suffix}, three layers sent at once, p95, {label}", round(p95, 1), "ms",
                   scale=scale, note=f"median {statistics.median(ms):.0f} ms, n={len(ms)}: what a pan waits for")


def _explain(name: str, sql: str, params: dict, setup: str = "") -> str:
    """The first lines of EXPLAIN ANALYZE of one statement, for the report's note."""
    from sqlalchemy import text

    eng = db.engine(cluster.url(name))
    try:
        with eng.connect() as conn:
            if setup:
                conn.execute(text(setup))
            plan = [r[0] for r in conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params)]
    finally:
        eng.dispose()
    keep = [p.strip() for p in plan if any(w in p for w in ("Scan", "Join", "Aggregate", "Sort", "Merge", "Execution"))]
    return " / ".join(keep[:8])


def _why(key: str, name: str, label: str) -> str:
    """The EXPLAIN that shows where a slow callback's time goes (the scans that remain)."""
    from layers.map_filters import LAYERS, MapFilters, where_clause

    with psycopg.connect(scaling.dsn(name)) as conn:
        last = conn.execute("SELECT max(recovery_date) FROM recovery").fetchone()[0]
    f = MapFilters(start=last - dt.timedelta(days=27 if label == "last 28 days" else 364), end=last)
    if key == "source ranking":
        where, params = where_clause(LAYERS["recoveries"], f)
        sql = (f"SELECT t.source_state, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ttc_days) "
               f"FROM {LAYERS['recoveries'].from_sql} WHERE {where} GROUP BY 1")
    elif key == "district panel":
        where, params = where_clause(LAYERS["shootings"], f)
        sql = (f"SELECT p.location, count(*) FROM {LAYERS['shootings'].from_sql} WHERE {where} "
               "GROUP BY 1 ORDER BY 2 DESC LIMIT 5")
    elif key == "dealers and flows":
        where, params = where_clause(LAYERS["recoveries"], f)
        sql = (f"SELECT t.dealer_id, count(*) FROM {LAYERS['recoveries'].from_sql} WHERE {where} "
               "AND t.dealer_id IS NOT NULL GROUP BY 1")
    elif key in VIEWPORT:
        # The capped points of a zoom-16 view at the busiest place, as the map reads them: the merge of the
        # view's squares (layers/viewport.py), newest first, up to the cap.
        from layers import settings, viewport

        layer = LAYERS[key.split()[1]]
        where, params = where_clause(layer, f)
        with psycopg.connect(scaling.dsn(name)) as conn:
            lon, lat = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM shot_alert WHERE geom IS NOT NULL "
                                    "GROUP BY geom ORDER BY count(*) DESC LIMIT 1").fetchone()
        box = (lon - 0.006, lat - 0.004, lon + 0.006, lat + 0.004)
        params.update({"w": box[0], "s": box[1], "e": box[2], "n": box[3],
                       "limit": int(os.environ.get("CGA_MAX_POINTS") or settings.get("CGA_MAX_POINTS"))})
        sql = viewport._square_sql(layer, f"{where} AND p.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)",
                                   viewport.squares_in(box), '"id"')
        try:
            return "; EXPLAIN: " + _explain(name, sql, params, setup="SET LOCAL enable_sort = off")
        except Exception as exc:  # noqa: BLE001 — the number is still recorded
            return f"; EXPLAIN failed: {exc}"[:300]
    else:
        return ""
    try:
        return "; EXPLAIN: " + _explain(name, sql, params)
    except Exception as exc:  # noqa: BLE001 — the number is still recorded
        return f"; EXPLAIN failed: {exc}"[:300]


def _derive_numbers(name: str, scale: str, say) -> None:
    """A derive with nothing new to do, and the daily counts' full and one-day refresh."""
    from etl.derive import derive
    from layers import daily
    from tests.bench.report import record

    started = time.perf_counter()
    timings = derive(dsn=scaling.dsn(name))
    took = time.perf_counter() - started
    say(f"  derive with nothing new to do: {1000 * took:.0f} ms ({', '.join(timings)})")
    record("derive", "derive with nothing to do", round(1000 * took, 1), "ms", scale=scale, target="near-instant",
           met=took < 0.5, note="was ~4.8 s at 1x before the derive state")
    if name in DAILY_BUILD:
        say(f"  daily counts, all days: {DAILY_BUILD[name]:.1f} s")
        record("derive", "daily counts full rebuild", round(DAILY_BUILD[name], 1), "s", scale=scale)
    with psycopg.connect(scaling.dsn(name)) as conn:
        run = conn.execute("INSERT INTO etl_run (id, status, kind, layout, file_path, finished_at, rows_read, "
                           "rows_loaded, rows_updated, rows_duplicate, rows_rejected) SELECT max(id) + 1, 'succeeded', "
                           "'shots', 'bench', 'bench', now(), 0, 0, 0, 0, 0 FROM etl_run RETURNING id").fetchone()[0]
        day = conn.execute("SELECT max(alert_time) FROM shot_alert").fetchone()[0]
        conn.execute("UPDATE shot_alert SET run_id = %s WHERE alert_time BETWEEN %s - interval '1 day' AND %s",
                     (run, day, day))
        started = time.perf_counter()
        done = daily.refresh(conn, [run])
        took = time.perf_counter() - started
        conn.rollback()  # leave the benchmark database as it was
    say(f"  daily counts after a run touching the last day of alerts: {1000 * took:.0f} ms ({done})")
    record("derive", "daily counts refresh for one run's days", round(1000 * took), "ms", scale=scale,
           note=f"recomputed: {done}")


def test_bench_map_viewport(monkeypatch, capsys):
    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(msg)
        with capsys.disabled():
            print(msg, flush=True)

    say("\n== bench_map: server time per map viewport update, and bytes sent ==")
    build_x1(say)
    big = f"{BIG}x"
    if BIG == 1:
        say("\nmap callbacks over HTTP (served app, detective; times are round trips on this machine)")
        say(f"scale 1 ({X1})")
        _derive_numbers(X1, "1x", say)
        _run_callbacks(X1, "1x", say, monkeypatch)
        _run_scale(X1, "scale 1 (the loaded synthetic Baltimore)", say, monkeypatch)
        say("(only scale 1 was asked for: make bench SCALES=1,100 adds the 100x copy)")
        return
    build_x100(say)
    try:
        say("\nmap callbacks over HTTP (served app, detective; times are round trips on this machine)")
        say(f"scale 1 ({X1})")
        _derive_numbers(X1, "1x", say)
        _run_callbacks(X1, "1x", say, monkeypatch)
        say(f"scale {big} ({X100})")
        _derive_numbers(X100, big, say)
        _run_callbacks(X100, big, say, monkeypatch)
        # Fewer raw points per layer and view (the setting), to see what the response-size target needs.
        monkeypatch.setenv("CGA_MAX_POINTS", str(SMALL_CAP))
        _run_callbacks(X100, big, say, monkeypatch, only=VIEWPORT, suffix=f" (cap {SMALL_CAP})")
        monkeypatch.delenv("CGA_MAX_POINTS")
        _run_scale(X1, "scale 1 (the loaded synthetic Baltimore)", say, monkeypatch)
        _run_scale(X100, f"scale {BIG} (built in SQL from scale 1: rows replicated with ~250 m jitter)",
                   say, monkeypatch)
        from layers import density

        monkeypatch.setattr(density, "precomputed", lambda *a, **k: False)
        _run_scale(X100, f"scale {BIG} without the pre-aggregated cells (points counted per request)", say, monkeypatch,
                   ranges=("last 12 months",), naive=False)
    finally:
        if BIG > 1 and not os.environ.get("CGA_BENCH_KEEP"):
            cluster.drop_database(X100)
    assert lines


def test_bench_public_charts(monkeypatch, capsys):
    """The public charts' data functions (press) at 1x and at scale, from the daily counts and from the scans."""
    from layers import access, daily, public_stats
    from tests.bench.report import record

    def say(msg: str) -> None:
        with capsys.disabled():
            print(msg, flush=True)

    say("\n== bench_map: public chart data (press), last 12 months ==")
    build_x1(say)
    if BIG > 1:
        build_x100(say)
    try:
        for name, scale in ((X1, "1x"), (X100, f"{BIG}x"))[:2 if BIG > 1 else 1]:
            monkeypatch.setenv("DATABASE_URL", scaling.dsn(name))
            db.reset_engines()
            with access.use_viewer(access.Viewer("bench", "press")):
                last = public_stats.data_as_of()
                start = last - dt.timedelta(days=364)
                for key, fn in public_stats.FUNCTIONS.items():
                    measured = {}
                    for how in ("daily counts", "scans"):
                        times = []
                        for _ in range(5):
                            t0 = time.perf_counter()
                            if how == "scans":
                                with daily.scans_only():
                                    fn(start, last, None)
                            else:
                                fn(start, last, None)
                            times.append(time.perf_counter() - t0)
                        measured[how] = sorted(times)[-1] * 1000
                    say(f"  {scale:>5} {key:<30} worst of 5: {measured['daily counts']:7.1f} ms "
                        f"(scans {measured['scans']:7.1f} ms)")
                    record("public charts", f"{key} (press, 12 months), worst of 5", round(measured["daily counts"], 1),
                           "ms", scale=scale, target="< 100 ms", met=measured["daily counts"] < 100,
                           note=f"the scans it replaces: {measured['scans']:.0f} ms")
            db.reset_engines()
    finally:
        if BIG > 1 and not os.environ.get("CGA_BENCH_KEEP"):
            cluster.drop_database(X100)
