"""The map's layers pre-counted by local day: what whole-city counts, choropleths, the district table and
panel and the public charts' series sum instead of scanning the incident, alert and recovery tables.

`derived.daily_count` (migration 0008) holds, per layer, local calendar day, district and every value the filters
narrow by (alert type / shooting category / firearm type, time-to-crime band, source state, in or out of
state, privately made), the number of points; `derived.daily_area_count` the same per post, neighborhood and CSA
(each point in the first polygon of the kind, by name, that contains it: the choropleth's own rule).
`derived.daily_place` (shooting locations), `derived.daily_source` (recoveries by dealer and time-to-crime) and
`derived.daily_maker` (recoveries by manufacturer, migration 0009) hold what the district panel, the source
ranking and the public charts' top makers list; `derived.map_cell_day` (migration 0017) the map's density cells.
A day's counts are exactly what `map_filters.where_clause` selects for that day, because a layer's
timestamps are compared with local midnights there and cast to the local date here.

Write path: `refresh` (called by etl/derive.py) recomputes the days the given runs touched, or everything
when boundaries or dealers changed (a district or source state can move for any day), and records the
data version it holds in `derived.derive_state`. Read path: `usable` says whether the tables hold the current
data version; while they do not (a load without derive, rows written by hand) callers scan as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import text

from layers.map_filters import LOCAL_TZ, SHOOTING_CATEGORIES, TTC_BAND_SQL, MapFilters, choice_conditions

LAYER_KEYS = ("alerts", "shootings", "recoveries")
AREA_KINDS = ("post", "neighborhood", "csa")  # boundary kinds counted by polygon (districts: by the point's district)
# Privately made ("ghost") guns, as layers/public_stats.GHOST_SQL tests them (kept equal: a db test compares).
GHOST_MAKERS = ("PRIVATELY MADE", "POLYMER80", "POLYMER 80", "80 PERCENT ARMS", "JSD SUPPLY", "GHOST GUNNER")
_GHOST_ARRAY = "ARRAY[" + ", ".join(f"'{m}'" for m in GHOST_MAKERS) + "]"
GHOST_FACT_SQL = (f"(t.trace_status = 'PRIVATELY_MADE' OR upper(coalesce(f.manufacturer, '')) = ANY({_GHOST_ARRAY}) "
                  "OR upper(coalesce(f.manufacturer, '')) LIKE '%%PRIVATELY MADE%%')")  # psycopg: %% is %
_CATEGORIES = ", ".join(f"'{c}'" for c in SHOOTING_CATEGORIES)
DIM_COLUMNS = ("layer", "day", "district", "kind", "ttc_band", "source_state", "source_in_state", "ghost")

# One row per point: its layer, local day and dimensions (and geometry for the boundary counts).
# {tz} is the local time zone, {cond} a restriction (the days being recomputed, or TRUE).
FACTS = {
    "alerts": ("SELECT 'alerts'::text AS layer, (p.alert_time AT TIME ZONE '{tz}')::date AS day, "
               "p.district::text AS district, "
               "p.alert_type::text AS kind, NULL::text AS ttc_band, NULL::text AS source_state, "
               "NULL::boolean AS source_in_state, NULL::boolean AS ghost, p.geom "
               "FROM shot_alert p WHERE p.alert_time IS NOT NULL AND {cond}"),
    "shootings": ("SELECT 'shootings'::text AS layer, (p.crime_datetime AT TIME ZONE '{tz}')::date AS day, "
                  "p.district::text AS district, p.category::text AS kind, NULL::text AS ttc_band, NULL::text AS source_state, "
                  "NULL::boolean AS source_in_state, NULL::boolean AS ghost, p.geom "
                  f"FROM incident p WHERE p.is_firearm AND p.category IN ({_CATEGORIES}) "
                  "AND p.crime_datetime IS NOT NULL AND {cond}"),
    "recoveries": ("SELECT 'recoveries'::text AS layer, p.recovery_date AS day, p.district::text AS district, "
                   f"f.firearm_type::text AS kind, {TTC_BAND_SQL} AS ttc_band, t.source_state::text AS source_state, "
                   f"t.source_in_state AS source_in_state, {GHOST_FACT_SQL} AS ghost, p.geom "
                   "FROM recovery p JOIN trace t ON t.id = p.trace_id JOIN firearm f ON f.id = p.firearm_id "
                   "WHERE {cond}"),
}
TIME_SQL = {"alerts": "p.alert_time", "shootings": "p.crime_datetime", "recoveries": "p.recovery_date"}
DAY_SQL = {"alerts": f"(p.alert_time AT TIME ZONE '{LOCAL_TZ}')::date",
           "shootings": f"(p.crime_datetime AT TIME ZONE '{LOCAL_TZ}')::date", "recoveries": "p.recovery_date"}

# The map's density cells (derived.map_cell_day, migration 0017): the points with a place, by layer, local day,
# district, kind and square of the zoom-14 grid of EPSG:3857 (layers/density.py: cell_size(BASE_ZOOM)), from
# which coarser zooms roll up. Counted from the same points as the daily counts, so they are kept by day with them.
CELL_SIZE = 156543.03392804097 / 2**14 * 40
CELL_COLUMNS = "layer, day, district, kind, i, j"
_CELL_BINS = (f"floor(6378137.0 * radians(ST_X(geom)) / {CELL_SIZE})::int AS i, "
              f"floor(6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(geom)) / 2)) / {CELL_SIZE})::int AS j")


def cells_sql(facts: str) -> str:
    """The statement adding the cells of the points `facts` selects (a FACTS query, or the daily_fact table)."""
    return (f"INSERT INTO derived.map_cell_day ({CELL_COLUMNS}, n) SELECT layer, day, district, kind, {_CELL_BINS}, "
            f"count(*)::int FROM {facts} x WHERE geom IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6")


_scans_only: contextvars.ContextVar[bool] = contextvars.ContextVar("daily_scans_only", default=False)


@contextlib.contextmanager
def scans_only() -> Iterator[None]:
    """Within this block callers ignore the daily tables and scan (tests compare the two)."""
    token = _scans_only.set(True)
    try:
        yield
    finally:
        _scans_only.reset(token)


CURRENT_TOKEN_SQL = ("SELECT id::text || ':' || xmin::text FROM etl_run WHERE status = 'succeeded' "
                     "ORDER BY id DESC LIMIT 1")


def usable(conn) -> bool:
    """Do the daily tables hold the current data version? (`conn`: a SQLAlchemy connection.)"""
    if _scans_only.get():
        return False
    if conn.execute(text("SELECT to_regclass('derived.derive_state')")).scalar() is None:
        return False  # a database not yet upgraded to migration 0008
    row = conn.execute(text(f"SELECT (SELECT run_token FROM derived.derive_state) AS held, "
                            f"({CURRENT_TOKEN_SQL}) AS current")).one()
    return row is not None and row.held is not None and row.held == row.current


# -- read path -------------------------------------------------------------------------------------------------

def filter_sql(layer_key: str, f: MapFilters, prefix: str = "",
               by_layer: bool = True) -> tuple[str, dict[str, Any]]:
    """The conditions on daily rows equal to `map_filters.where_clause(LAYERS[layer_key], f)` on the points: the
    days, and the same choice filters (map_filters.CHOICE_FILTERS) on the daily columns. `by_layer=False` for
    the tables of one layer (daily_place, daily_source, daily_maker), which have no `layer` column."""
    k = prefix
    conds = [f"day >= :{k}start", f"day <= :{k}end"]
    params: dict[str, Any] = {f"{k}start": f.start, f"{k}end": f.end}
    if by_layer:
        conds.insert(0, f"layer = :{k}layer")
        params = {f"{k}layer": layer_key, **params}
    choices, choice_params = choice_conditions(layer_key, f, daily=True, prefix=prefix)
    return " AND ".join(conds + choices), {**params, **choice_params}


def totals(conn, f: MapFilters, layer_keys: tuple[str, ...] = LAYER_KEYS) -> dict[str, int]:
    """How many points of each layer match the filters, anywhere (one statement)."""
    parts, params = [], {}
    for i, key in enumerate(layer_keys):
        where, p = filter_sql(key, f, prefix=f"l{i}_")
        parts.append(f"(SELECT coalesce(sum(n), 0)::int FROM derived.daily_count WHERE {where}) AS {key}")
        params.update(p)
    return dict(conn.execute(text("SELECT " + ", ".join(parts)), params).mappings().one())


def grouped(conn, layer_key: str, f: MapFilters, by: dict[str, str], extra: str = "",
            params: dict[str, Any] | None = None, area_kind: str | None = None,
            order: str = "") -> list[dict[str, Any]]:
    """Counts of one layer under the filters grouped by `by` (alias -> SQL on the daily columns, `area` too
    when `area_kind` is given), with `extra` conditions, sorted by `order`; rows carry the aliases and `n`."""
    where, p = filter_sql(layer_key, f)
    p.update(params or {})
    table = "derived.daily_count"
    if area_kind:
        table = "derived.daily_area_count"
        where += " AND area_kind = :area_kind"
        p["area_kind"] = area_kind
    cols = ", ".join(f"{expr} AS {alias}" for alias, expr in by.items())
    group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(by)))}" if by else ""
    sql = f"SELECT {cols + ', ' if cols else ''}sum(n)::int AS n FROM {table} WHERE {where}{extra}{group}"
    if order:
        sql += f" ORDER BY {order}"
    return [dict(r) for r in conn.execute(text(sql), p).mappings()]


def has_places(conn) -> bool:
    return conn.execute(text("SELECT to_regclass('derived.daily_place')")).scalar() is not None


def top_places(conn, f: MapFilters, place_sql: str, top: int) -> list[dict[str, Any]]:
    """The shooting locations with most shootings under the filters (`place_sql` on column `location`: the
    location itself or its block), with the latest day: what the district panel lists."""
    where, params = filter_sql("shootings", f, by_layer=False)
    params["top"] = top
    return [dict(r) for r in conn.execute(text(f"""
        SELECT {place_sql} AS location, sum(n)::int AS n, to_char(max(day), 'YYYY-MM-DD') AS latest
        FROM derived.daily_place WHERE {where} GROUP BY 1 ORDER BY n DESC, 1 LIMIT :top"""),
        params).mappings()]


def has_makers(conn) -> bool:
    return conn.execute(text("SELECT to_regclass('derived.daily_maker')")).scalar() is not None


def ranked_makers(conn, f: MapFilters, top: int) -> list[dict[str, Any]]:
    """Recoveries under the filters by manufacturer (as MAKER_SQL names it), most first, the first `top`:
    {manufacturer, n} — what the public charts' scan of recoveries with their firearms returns."""
    where, params = filter_sql("recoveries", f, by_layer=False)
    params["top"] = top
    return [dict(r) for r in conn.execute(text(f"""
        SELECT manufacturer, sum(n)::int AS n FROM derived.daily_maker WHERE {where}
        GROUP BY 1 ORDER BY n DESC, 1 LIMIT :top"""), params).mappings()]


def has_sources(conn) -> bool:
    return conn.execute(text("SELECT to_regclass('derived.daily_source')")).scalar() is not None


def ranked_sources(conn, f: MapFilters, key: str, top: int) -> list[dict[str, Any]]:
    """Recoveries under the filters by `key` ('source_state' or 'dealer_id', nulls left out), most first: {key,
    n, median_ttc}, median_ttc being percentile_cont(0.5) of the time-to-crime days, from weighted rows."""
    where, params = filter_sql("recoveries", f, by_layer=False)
    params["top"] = top
    return [dict(r) for r in conn.execute(text(f"""
        WITH g AS (SELECT {key} AS k, ttc_days AS v, sum(n) AS n FROM derived.daily_source
                   WHERE {where} AND {key} IS NOT NULL GROUP BY 1, 2),
             t AS (SELECT k, sum(n)::int AS n, coalesce(sum(n) FILTER (WHERE v IS NOT NULL), 0) AS nv FROM g GROUP BY k
                   ORDER BY 2 DESC, 1 LIMIT :top),
             c AS (SELECT g.k, g.v, sum(g.n) OVER (PARTITION BY g.k ORDER BY g.v) AS cum FROM g
                   WHERE g.v IS NOT NULL AND g.k IN (SELECT k FROM t)),
             m AS (SELECT t.k, t.n, t.nv, 0.5 * (t.nv - 1) AS pos,
                          (SELECT min(c.v) FROM c WHERE c.k = t.k AND c.cum > floor(0.5 * (t.nv - 1))) AS lo,
                          (SELECT min(c.v) FROM c WHERE c.k = t.k AND c.cum > ceil(0.5 * (t.nv - 1))) AS hi
                   FROM t)
        SELECT k AS {key}, n, CASE WHEN nv > 0 THEN lo::float8 + (pos - floor(pos))::float8 * (hi::float8 - lo::float8)
                                END AS median_ttc
        FROM m ORDER BY n DESC, k"""), params).mappings()]


# -- write path ------------------------------------------------------------------------------------------------

def current_token(conn) -> tuple[int, str | None]:
    """(id, token) of the latest succeeded run (psycopg connection); (0, None) when nothing is loaded."""
    row = conn.execute(CURRENT_TOKEN_SQL.replace("id::text || ':' || xmin::text", "id, id::text || ':' || xmin::text")
                       ).fetchone()
    return (row[0], row[1]) if row else (0, None)


def _insert(conn, layer: str, cond: str, params: dict, area_kinds: list[str]) -> None:
    """Count the layer's points matching `cond` by day and dimensions, and by area of each kind.

    The points are set down once in a temporary table with a spatial index; each piece of an area map
    then finds its points through that index, and a point counts for the first area by name whose
    pieces contain it. Searching the pieces once per point instead took 14 of the 16.5 s of a full
    refresh at 10x Baltimore (each search spent its time finding candidates)."""
    facts = FACTS[layer].format(tz=LOCAL_TZ, cond=cond)
    dims = ", ".join(DIM_COLUMNS)
    conn.execute("DROP TABLE IF EXISTS daily_fact")
    # Stored by 0.01-degree square (point_square, migration 0010), so that each piece's points lie together on
    # few pages: the searches below read the table through its index, and at 100x it is larger than the
    # temporary buffers (10x: the alerts' neighbourhood counts 1.09-1.13 s to 0.76-0.79 s with 24 MB of
    # buffers, for a sort of 0.25 s; 0.004-degree blocks did the same).
    order = " ORDER BY point_square(x.geom)" if area_kinds else ""
    conn.execute(f"CREATE TEMP TABLE daily_fact ON COMMIT DROP AS SELECT row_number() OVER () AS fid, x.* "
                 f"FROM ({facts}) x{order}", params)
    conn.execute(f"INSERT INTO derived.daily_count ({dims}, n) SELECT {dims}, count(*)::int FROM daily_fact "
                 f"GROUP BY {dims}")
    conn.execute(cells_sql("daily_fact"))
    if not area_kinds:
        return
    conn.execute("CREATE INDEX ON daily_fact USING gist (geom)")
    conn.execute("ANALYZE daily_fact (fid)")
    x_dims = ", ".join("x." + c for c in DIM_COLUMNS)
    for kind in area_kinds:
        # LATERAL: the pieces lead and each reads its points from the index, whatever the estimates say.
        conn.execute(f"""
            INSERT INTO derived.daily_area_count (area_kind, area, {dims}, n)
            SELECT %(area_kind)s, a.name, {x_dims}, count(*)::int
            FROM daily_fact x JOIN (
                SELECT DISTINCT ON (p.fid) p.fid, b.name
                FROM area_piece b CROSS JOIN LATERAL (
                    SELECT x.fid FROM daily_fact x WHERE ST_Intersects(b.geom, x.geom)) p
                WHERE b.kind = %(area_kind)s
                ORDER BY p.fid, b.name) a ON a.fid = x.fid
            GROUP BY a.name, {x_dims}""", {"area_kind": kind})


PLACES = (f"SELECT (p.crime_datetime AT TIME ZONE '{LOCAL_TZ}')::date AS day, p.district::text AS district, "
          "p.location AS location FROM incident p WHERE p.is_firearm AND p.category IN ({categories}) "
          "AND p.crime_datetime IS NOT NULL AND p.location IS NOT NULL AND {cond}")


SOURCES = ("SELECT p.recovery_date AS day, p.district::text AS district, f.firearm_type::text AS kind, "
           f"{TTC_BAND_SQL} AS ttc_band, t.source_state::text AS source_state, t.source_in_state AS source_in_state, "
           "t.dealer_id, t.ttc_days FROM recovery p JOIN trace t ON t.id = p.trace_id "
           "JOIN firearm f ON f.id = p.firearm_id WHERE {cond}")
SOURCE_COLUMNS = "day, district, kind, ttc_band, source_state, source_in_state, dealer_id, ttc_days"


def _insert_sources(conn, cond: str, params: dict) -> None:
    conn.execute(f"INSERT INTO derived.daily_source ({SOURCE_COLUMNS}, n) SELECT {SOURCE_COLUMNS}, count(*)::int "
                 f"FROM ({SOURCES.format(cond=cond)}) x GROUP BY {SOURCE_COLUMNS}", params)


# How the public charts name a recovered gun's maker (blank: UNKNOWN); layers/public_stats scans with it too.
MAKER_SQL = "coalesce(nullif(trim(f.manufacturer), ''), 'UNKNOWN')"
MAKERS = ("SELECT p.recovery_date AS day, p.district::text AS district, f.firearm_type::text AS kind, "
          f"{TTC_BAND_SQL} AS ttc_band, t.source_state::text AS source_state, t.source_in_state AS source_in_state, "
          f"{MAKER_SQL} AS manufacturer FROM recovery p JOIN trace t ON t.id = p.trace_id "
          "JOIN firearm f ON f.id = p.firearm_id WHERE {cond}")
MAKER_COLUMNS = "day, district, kind, ttc_band, source_state, source_in_state, manufacturer"


def _insert_makers(conn, cond: str, params: dict) -> None:
    conn.execute(f"INSERT INTO derived.daily_maker ({MAKER_COLUMNS}, n) SELECT {MAKER_COLUMNS}, count(*)::int "
                 f"FROM ({MAKERS.format(cond=cond)}) x GROUP BY {MAKER_COLUMNS}", params)


def _insert_places(conn, cond: str, params: dict) -> None:
    facts = PLACES.format(categories=_CATEGORIES, cond=cond)
    conn.execute(f"INSERT INTO derived.daily_place (day, district, location, n) SELECT day, district, location, "
                 f"count(*)::int FROM ({facts}) x GROUP BY 1, 2, 3", params)


def _changed_days(conn, layer: str, runs: list[int]) -> list:
    if layer == "recoveries":
        sql = ("SELECT DISTINCT p.recovery_date FROM recovery p JOIN trace t ON t.id = p.trace_id "
               "JOIN firearm f ON f.id = p.firearm_id WHERE t.run_id = ANY(%(runs)s) OR f.run_id = ANY(%(runs)s)")
    else:
        table = "shot_alert" if layer == "alerts" else "incident"
        sql = (f"SELECT DISTINCT {DAY_SQL[layer]} FROM {table} p WHERE p.run_id = ANY(%(runs)s) "
               f"AND {TIME_SQL[layer]} IS NOT NULL")
    return [r[0] for r in conn.execute(sql, {"runs": runs})]


def _fact_total(conn, layer: str) -> int:
    sql = {"alerts": "SELECT count(*) FROM shot_alert WHERE alert_time IS NOT NULL",
           "shootings": f"SELECT count(*) FROM incident WHERE is_firearm AND category IN ({_CATEGORIES}) "
                        "AND crime_datetime IS NOT NULL",
           "recoveries": "SELECT count(*) FROM recovery p JOIN trace t ON t.id = p.trace_id "
                         "JOIN firearm f ON f.id = p.firearm_id"}[layer]
    return conn.execute(sql).fetchone()[0]


def refresh(conn, runs: list[int] | None = None, full: bool = False,
            echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Bring the daily tables up to date on a psycopg connection (inside the caller's transaction).

    `runs`: the runs loaded since the tables were last refreshed; their days are recomputed. Everything is
    recomputed when `full`, when a run loaded boundaries (points change district or area), or — for
    recoveries — dealers (a source state can change for any day). A layer whose counts no longer add up to
    its points after the partial refresh (a record reloaded onto another day) is recomputed in full.
    Returns what was done: {layer: 'full' | number of days}."""
    runs = list(runs or [])
    kinds = {r[0] for r in conn.execute("SELECT DISTINCT kind FROM etl_run WHERE id = ANY(%s)", (runs,))}
    full = full or "boundaries" in kinds
    area_kinds = [r[0] for r in conn.execute(
        "SELECT DISTINCT kind FROM boundary WHERE kind = ANY(%s) ORDER BY 1", (list(AREA_KINDS),))]
    conn.execute("""CREATE TEMP TABLE IF NOT EXISTS area_piece ON COMMIT DROP AS
        SELECT kind, name, ST_Subdivide(geom, 64) AS geom FROM boundary WHERE kind = ANY(%s)""", (list(AREA_KINDS),))
    conn.execute("CREATE INDEX IF NOT EXISTS area_piece_geom ON area_piece USING gist (geom)")
    conn.execute("ANALYZE area_piece")
    # A database upgraded to an early copy of migration 0008 has no daily_place or daily_source: it scans.
    # The tables of one layer, each kept with that layer's days (a table a migration has not made yet is skipped).
    one_layer = [(layer, table, insert) for layer, table, insert in (
        ("shootings", "daily_place", _insert_places), ("recoveries", "daily_source", _insert_sources),
        ("recoveries", "daily_maker", _insert_makers))
        if conn.execute("SELECT to_regclass(%s)", (f"derived.{table}",)).fetchone()[0] is not None]
    done: dict[str, Any] = {}
    for layer in LAYER_KEYS:
        started = time.perf_counter()
        whole = full or (layer == "recoveries" and "dealers" in kinds)
        if not whole:
            days = _changed_days(conn, layer, runs) if runs else []
            if days:
                conn.execute("DELETE FROM derived.daily_count WHERE layer = %s AND day = ANY(%s)", (layer, days))
                conn.execute("DELETE FROM derived.daily_area_count WHERE layer = %s AND day = ANY(%s)",
                             (layer, days))
                conn.execute("DELETE FROM derived.map_cell_day WHERE layer = %s AND day = ANY(%s)", (layer, days))
                lo, hi = min(days), max(days)
                cond = (f"{TIME_SQL[layer]} >= (%(lo)s::timestamp AT TIME ZONE '{LOCAL_TZ}') "
                        f"AND {TIME_SQL[layer]} < ((%(hi)s::date + 1)::timestamp AT TIME ZONE '{LOCAL_TZ}') "
                        if layer != "recoveries" else "p.recovery_date BETWEEN %(lo)s AND %(hi)s ")
                _insert(conn, layer, f"{cond} AND {DAY_SQL[layer]} = ANY(%(days)s)",
                        {"lo": lo, "hi": hi, "days": days}, area_kinds)
                for of_layer, table, insert in one_layer:
                    if of_layer == layer:
                        conn.execute(f"DELETE FROM derived.{table} WHERE day = ANY(%s)", (days,))
                        insert(conn, f"{cond} AND {DAY_SQL[layer]} = ANY(%(days)s)", {"lo": lo, "hi": hi, "days": days})
            if days:  # a record of these runs may have left another day: then the layer no longer adds up
                held = conn.execute("SELECT coalesce(sum(n), 0) FROM derived.daily_count WHERE layer = %s",
                                    (layer,)).fetchone()[0]
                whole = held != _fact_total(conn, layer)
            done[layer] = len(days)
        if whole:
            conn.execute("DELETE FROM derived.daily_count WHERE layer = %s", (layer,))
            conn.execute("DELETE FROM derived.daily_area_count WHERE layer = %s", (layer,))
            conn.execute("DELETE FROM derived.map_cell_day WHERE layer = %s", (layer,))
            _insert(conn, layer, "TRUE", {}, area_kinds)
            for of_layer, table, insert in one_layer:
                if of_layer == layer:
                    conn.execute(f"DELETE FROM derived.{table}")
                    insert(conn, "TRUE", {})
            done[layer] = "full"
        if echo:
            what = "all days" if done[layer] == "full" else f"{done[layer]} days"
            echo(f"  counted {layer} by day ({what}, {time.perf_counter() - started:.1f}s)")
    return done


def mark_current(conn, run_id: int, token: str | None) -> None:
    """Record that the derived data (daily tables included) hold every run up to `run_id` (psycopg)."""
    conn.execute("UPDATE derived.derive_state SET last_run_id = %s, run_token = %s, derived_at = now()",
                 (run_id, token))


def state(conn) -> tuple[int, str | None] | None:
    """(last_run_id, run_token) derived so far, or None on a database without migration 0008 (psycopg)."""
    if conn.execute("SELECT to_regclass('derived.derive_state')").fetchone()[0] is None:
        return None
    row = conn.execute("SELECT last_run_id, run_token FROM derived.derive_state").fetchone()
    return (row[0], row[1]) if row else (0, None)
