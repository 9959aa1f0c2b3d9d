"""Boundary figures for the map: the choropleth measure of every district (or post / neighborhood),
and one district's panel.

Counts follow the map's filters (dates, firearm type, ...); rates are per 1,000 residents when the
boundary carries a population. The comparison period is the same dates one year earlier. Districts are
counted by each point's district; posts and neighborhoods by a spatial join of the points to their polygons
(a point on a shared edge goes to one polygon only: the first by name).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text

from layers import access, daily, districts
from layers.db import read_engine
from layers.map_filters import LAYERS, MapFilters, where_clause

MEASURES = {"shootings": "Shootings and homicides", "alerts": "ShotSpotter alerts", "recoveries": "Gun recoveries"}


BOUNDARY_KINDS = ("district", "post", "neighborhood", "csa")
# The district table's measures: shootings split into non-fatal ones and homicides.
TABLE_MEASURES = {"nonfatal": "Non-fatal shootings", "homicides": "Homicides", "alerts": "ShotSpotter alerts",
                  "recoveries": "Gun recoveries"}
BIN_FORMAT = {"day": "YYYY-MM-DD", "week": "YYYY-MM-DD", "month": "YYYY-MM"}


def bin_for(start: dt.date, end: dt.date) -> str:
    """The bin of a period's charts: daily up to 31 days, weekly up to six months (183 days), monthly beyond."""
    days = (end - start).days + 1
    if days <= 31:
        return "day"
    if days <= 183:
        return "week"
    return "month"


def periods(start: dt.date, end: dt.date, bin_: str) -> list[str]:
    """Every bin's label from start to end (weeks start on Monday, as PostgreSQL's date_trunc), so
    empty days or weeks show as zero rather than vanish."""
    out: list[str] = []
    if bin_ == "day":
        cursor, step = start, dt.timedelta(days=1)
    elif bin_ == "week":
        cursor, step = start - dt.timedelta(days=start.weekday()), dt.timedelta(days=7)
    else:
        cursor = start.replace(day=1)
        while cursor <= end:
            out.append(f"{cursor:%Y-%m}")
            cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
        return out
    while cursor <= end:
        out.append(cursor.isoformat())
        cursor += step
    return out


def _counts_by_boundary(conn, filters: MapFilters, kind: str = "district") -> dict[str, dict[str, int]]:
    if kind not in BOUNDARY_KINDS:
        raise ValueError(f"unknown boundary kind {kind!r}")
    if daily.usable(conn):
        out: dict[str, dict[str, int]] = {}
        for key in MEASURES:
            if kind == "district":
                rows = daily.grouped(conn, key, filters, {"name": "district"}, " AND district IS NOT NULL")
            else:
                rows = daily.grouped(conn, key, filters, {"name": "area"}, area_kind=kind)
            for r in rows:
                out.setdefault(r["name"], {})[key] = r["n"]
        return out
    parts, params = [], {"kind": kind}
    for i, key in enumerate(MEASURES):
        where, p = where_clause(LAYERS[key], filters, prefix=f"m{i}_")
        if kind == "district":
            parts.append(f"SELECT '{key}' AS measure, p.district AS name, count(*)::int AS n "
                         f"FROM {LAYERS[key].from_sql} WHERE {where} AND p.district IS NOT NULL GROUP BY p.district")
        else:
            parts.append(f"SELECT '{key}' AS measure, b.name, count(*)::int AS n FROM {LAYERS[key].from_sql} "
                         "CROSS JOIN LATERAL (SELECT b.name FROM boundary b WHERE b.kind = :kind "
                         "AND ST_Intersects(b.geom, p.geom) ORDER BY b.name LIMIT 1) b "
                         f"WHERE {where} AND p.geom IS NOT NULL GROUP BY b.name")
        params.update(p)
    out: dict[str, dict[str, int]] = {}
    for r in conn.execute(text(" UNION ALL ".join(parts)), params).mappings():
        out.setdefault(r["name"], {})[r["measure"]] = r["n"]
    return out


def _counts_by_district(conn, filters: MapFilters) -> dict[str, dict[str, int]]:
    return _counts_by_boundary(conn, filters, "district")


def pct_change(now: int, before: int) -> float | None:
    """Percent change from the comparison period; None when there is nothing to compare with."""
    if not before:
        return None
    return round(100.0 * (now - before) / before, 1)


def _measure_row(name: str, population: int | None, now: dict[str, int], before: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "population": population}
    for key in MEASURES:
        n, b = now.get(key, 0), before.get(key, 0)
        row[key] = n
        row[f"{key}_before"] = b
        row[f"{key}_change"] = pct_change(n, b)
        row[f"{key}_rate"] = round(1000.0 * n / population, 2) if population else None
    return row


def boundary_measures(kind: str, filters: MapFilters) -> list[dict[str, Any]]:
    """Every boundary of a kind (district, post, neighborhood) with its counts under the filters, the
    counts a year earlier, population and rates per 1,000 residents (None without a population).
    Aggregate-only viewers get small counts as None (suppressed)."""
    viewer = access.require("map")
    with read_engine().connect() as conn:
        # One row per name: a redrawn map (police districts 1959-2022 and 2023 on) keeps the names.
        shapes = conn.execute(text("SELECT DISTINCT ON (name) name, population FROM boundary WHERE kind = :kind "
                                   "ORDER BY name, valid_from DESC NULLS LAST"), {"kind": kind}).mappings().all()
        now = _counts_by_boundary(conn, filters, kind)
        before = _counts_by_boundary(conn, filters.shifted_years(-1), kind)
    rows = [_measure_row(d["name"], d["population"], now.get(d["name"], {}), before.get(d["name"], {}))
            for d in shapes]
    return [_suppressed(r, viewer) for r in rows]


def _suppressed(row: dict[str, Any], viewer: access.Viewer) -> dict[str, Any]:
    if viewer.can("points"):
        return row
    out = dict(row)
    for key in MEASURES:
        for field in (key, f"{key}_before"):
            out[field] = access.suppress(row[field], viewer)
        if out[key] is None or out[f"{key}_before"] is None:
            out[f"{key}_change"] = None
        if out[key] is None:
            out[f"{key}_rate"] = None
    return out


def boundary_counts(kind: str, name: str, filters: MapFilters) -> dict[str, Any] | None:
    """One post or neighborhood (or district): its population and counts now and a year earlier."""
    rows = [r for r in boundary_measures(kind, filters) if r["name"] == name]
    return rows[0] if rows else None


def district_measures(filters: MapFilters) -> list[dict[str, Any]]:
    """Every district with its counts, comparison counts, population and rates per 1,000 residents."""
    return [{"district": r.pop("name"), **r} for r in boundary_measures("district", filters)]


def district_panel(district: str, filters: MapFilters, top: int = 5) -> dict[str, Any]:
    """One district: counts now and a year earlier, top shooting locations, recoveries against shootings
    by day, week or month (`bin_for` the period), and the source states of the guns recovered there.
    Top locations (blocks) only for roles
    that see points; small counts suppressed for aggregate-only roles."""
    viewer = access.require("map")
    scoped = MapFilters(**{**filters.__dict__, "districts": (district,)})
    with read_engine().connect() as conn:
        pop = conn.execute(text("SELECT population FROM boundary WHERE kind = 'district' AND name = :d"),
                           {"d": district}).scalar()
        now = _counts_by_district(conn, scoped).get(district, {})
        before = _counts_by_district(conn, scoped.shifted_years(-1)).get(district, {})
        where, params = where_clause(LAYERS["shootings"], scoped)
        params["top"] = top
        # Exact locations for personal-data roles; blocks ("1200 block N MOUNT ST") for everyone else.
        place = "p.location" if viewer.personal_data else access.BLOCK_SQL.format(col="p.location")
        use_daily = daily.usable(conn)
        places = daily.top_places(conn, scoped, place.replace("p.location", "location"), top) \
            if use_daily and daily.has_places(conn) \
            else conn.execute(text(f"""
            SELECT {place} AS location, count(*)::int AS n,
                   max(to_char(p.crime_datetime AT TIME ZONE 'America/New_York', 'YYYY-MM-DD')) AS latest
            FROM {LAYERS["shootings"].from_sql} WHERE {where} AND p.location IS NOT NULL
            GROUP BY 1 ORDER BY n DESC, 1 LIMIT :top"""), params).mappings().all()
        bin_ = bin_for(filters.start, filters.end)
        series: dict[str, dict[str, int]] = {p: {"shootings": 0, "recoveries": 0}
                                             for p in periods(filters.start, filters.end, bin_)}
        if use_daily:
            for key in ("shootings", "recoveries"):
                for r in daily.grouped(conn, key, scoped,
                                       {"m": f"to_char(date_trunc('{bin_}', day), '{BIN_FORMAT[bin_]}')"}):
                    series.setdefault(r["m"], {"shootings": 0, "recoveries": 0})[key] = r["n"]
            states = daily.grouped(conn, "recoveries", scoped, {"state": "coalesce(source_state, 'unknown')"},
                                   order="n DESC, 1")
        else:
            for key, ts in (("shootings", "(p.crime_datetime AT TIME ZONE 'America/New_York')"),
                            ("recoveries", "p.recovery_date")):
                w, p = where_clause(LAYERS[key], scoped)
                for r in conn.execute(text(f"SELECT to_char(date_trunc('{bin_}', {ts}), '{BIN_FORMAT[bin_]}') AS m, "
                                           f"count(*)::int AS n FROM {LAYERS[key].from_sql} WHERE {w} GROUP BY 1"), p):
                    series.setdefault(r.m, {"shootings": 0, "recoveries": 0})[key] = r.n
            w, p = where_clause(LAYERS["recoveries"], scoped)
            states = conn.execute(text(f"""
                SELECT coalesce(t.source_state, 'unknown') AS state, count(*)::int AS n
                FROM {LAYERS["recoveries"].from_sql} WHERE {w} GROUP BY 1 ORDER BY n DESC, 1"""), p).mappings().all()
    counts = {key: {"now": now.get(key, 0), "before": before.get(key, 0),
                    "change": pct_change(now.get(key, 0), before.get(key, 0)),
                    "rate": round(1000.0 * now.get(key, 0) / pop, 2) if pop else None} for key in MEASURES}
    # "month" is the period's label whatever the bin (kept for callers that read monthly rows).
    monthly_rows = [{"period": m, "month": m, **v} for m, v in sorted(series.items())]
    state_rows = [dict(r) for r in states]
    if not viewer.can("points"):
        for c in counts.values():
            c["now"], c["before"] = access.suppress(c["now"], viewer), access.suppress(c["before"], viewer)
            if c["now"] is None or c["before"] is None:
                c["change"] = None
            if c["now"] is None:
                c["rate"] = None
        for m in monthly_rows:
            m["shootings"], m["recoveries"] = (access.suppress(m["shootings"], viewer),
                                               access.suppress(m["recoveries"], viewer))
        state_rows = [{**r, "n": access.suppress(r["n"], viewer)} for r in state_rows]
    return {"district": district, "population": pop, "counts": counts,
            "top_locations": [dict(r) for r in places] if viewer.can("points") else [],
            "top_shown": viewer.can("points"),
            "bin": bin_, "monthly": monthly_rows, "source_states": state_rows}


def _table_counts(conn, filters: MapFilters) -> dict[str, dict[str, int]]:
    """Per district: non-fatal shootings, homicides, alerts and recoveries under the filters."""
    if daily.usable(conn):
        out: dict[str, dict[str, int]] = {}
        for key, layer, extra in (("nonfatal", "shootings", " AND kind = 'shooting'"),
                                  ("homicides", "shootings", " AND kind = 'homicide'"),
                                  ("alerts", "alerts", ""), ("recoveries", "recoveries", "")):
            for r in daily.grouped(conn, layer, filters, {"name": "district"}, f"{extra} AND district IS NOT NULL"):
                out.setdefault(r["name"], {})[key] = r["n"]
        return out
    parts, params = [], {}
    shootings = LAYERS["shootings"]
    for i, (key, layer, extra) in enumerate((
            ("nonfatal", shootings, "p.category = 'shooting'"), ("homicides", shootings, "p.category = 'homicide'"),
            ("alerts", LAYERS["alerts"], "TRUE"), ("recoveries", LAYERS["recoveries"], "TRUE"))):
        where, p = where_clause(layer, filters, prefix=f"t{i}_")
        parts.append(f"SELECT '{key}' AS measure, p.district AS name, count(*)::int AS n FROM {layer.from_sql} "
                     f"WHERE {where} AND {extra} AND p.district IS NOT NULL GROUP BY p.district")
        params.update(p)
    out: dict[str, dict[str, int]] = {}
    for r in conn.execute(text(" UNION ALL ".join(parts)), params).mappings():
        out.setdefault(r["name"], {})[r["measure"]] = r["n"]
    return out


def district_table(filters: MapFilters, viewer: access.Viewer | None = None) -> list[dict[str, Any]]:
    """Every district of the map in force at the end of the period (and any other district a point of the
    period carries): for each of TABLE_MEASURES the count, the same dates a year earlier, the % change and
    the rate per 1,000 residents (None without a population). Sorted by name.

    For aggregate-only viewers small counts are None; when one of non-fatal shootings and homicides is
    suppressed the other is too (the shootings total on the map would give it away)."""
    viewer = access.require("map", viewer)
    which = districts.district_map_for(filters.start, filters.end, "district")
    validity = ("valid_from IS NOT DISTINCT FROM CAST(:vf AS date) AND valid_to IS NOT DISTINCT FROM CAST(:vt AS date)"
                if which else "TRUE")
    with read_engine().connect() as conn:
        shapes = {r["name"]: r["population"] for r in conn.execute(text(
            f"SELECT name, population FROM boundary WHERE kind = 'district' AND {validity}"),
            {"vf": which["valid_from"], "vt": which["valid_to"]} if which else {}).mappings()}
        now = _table_counts(conn, filters)
        before = _table_counts(conn, filters.shifted_years(-1))
    rows = []
    for name in sorted(set(shapes) | set(now)):
        pop = shapes.get(name)
        row: dict[str, Any] = {"district": name, "population": pop}
        for key in TABLE_MEASURES:
            n, b = now.get(name, {}).get(key, 0), before.get(name, {}).get(key, 0)
            row.update({key: n, f"{key}_before": b, f"{key}_change": pct_change(n, b),
                        f"{key}_rate": round(1000.0 * n / pop, 2) if pop else None})
        rows.append(row if viewer.can("points") else _table_suppressed(row, viewer))
    return rows


def _table_suppressed(row: dict[str, Any], viewer: access.Viewer) -> dict[str, Any]:
    out = dict(row)
    for field in ("", "_before"):
        for key in TABLE_MEASURES:
            out[key + field] = access.suppress(row[key + field], viewer)
        if (out["nonfatal" + field] is None) != (out["homicides" + field] is None):
            out["nonfatal" + field] = out["homicides" + field] = None
    for key in TABLE_MEASURES:
        if out[key] is None or out[f"{key}_before"] is None:
            out[f"{key}_change"] = None
        if out[key] is None:
            out[f"{key}_rate"] = None
    return out


def source_ranking(filters: MapFilters, viewer: access.Viewer | None = None, top: int = 10) -> dict[str, Any]:
    """Where the recovered guns matching the filters were first sold: source states and (for roles that see
    dealers) source dealers, most guns first, each with its count, share of all matching recoveries and
    median time-to-crime in days. Dealer names through `access.dealer_name` (an individual licensee is never
    named without the personal capability). For aggregate-only viewers small counts are None and their
    share and median are left out."""
    viewer = access.require("map", viewer)
    where, params = where_clause(LAYERS["recoveries"], filters)
    params["top"] = top
    median = "percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ttc_days)"
    with read_engine().connect() as conn:
        if daily.usable(conn) and daily.has_sources(conn):
            total = daily.totals(conn, filters, ("recoveries",))["recoveries"]
            states = daily.ranked_sources(conn, filters, "source_state", top)
            states = [{"state": r["source_state"], "n": r["n"], "median_ttc": r["median_ttc"]} for r in states]
            dealers = []
            if viewer.can("dealers"):
                ranked = daily.ranked_sources(conn, filters, "dealer_id", top)
                names = {r["id"]: r for r in conn.execute(text(
                    "SELECT d.id, d.business_name, d.license_name, d.premise_city AS city, d.premise_state AS state "
                    "FROM dealer d WHERE d.id = ANY(:ids)"), {"ids": [r["dealer_id"] for r in ranked]}).mappings()}
                dealers = [{**names[r["dealer_id"]], "n": r["n"], "median_ttc": r["median_ttc"]} for r in ranked]
            return _ranking(total, states, dealers, viewer)
        total = conn.execute(text(f"SELECT count(*) FROM {LAYERS['recoveries'].from_sql} WHERE {where}"),
                             params).scalar() or 0
        states = conn.execute(text(f"""
            SELECT t.source_state AS state, count(*)::int AS n, {median} AS median_ttc
            FROM {LAYERS["recoveries"].from_sql} WHERE {where} AND t.source_state IS NOT NULL
            GROUP BY 1 ORDER BY n DESC, 1 LIMIT :top"""), params).mappings().all()
        dealers = conn.execute(text(f"""
            SELECT d.id, d.business_name, d.license_name, d.premise_city AS city, d.premise_state AS state,
                   count(*)::int AS n, {median} AS median_ttc
            FROM {LAYERS["recoveries"].from_sql} JOIN dealer d ON d.id = t.dealer_id WHERE {where}
            GROUP BY d.id ORDER BY n DESC, d.id LIMIT :top"""), params).mappings().all() \
            if viewer.can("dealers") else []
    return _ranking(total, states, dealers, viewer)


def _ranking(total: int, states: list, dealers: list, viewer: access.Viewer) -> dict[str, Any]:
    def ranked(r: dict[str, Any], name: str) -> dict[str, Any]:
        n = access.suppress(r["n"], viewer)
        return {"name": name, "n": n, "share": round(100.0 * n / total, 1) if n is not None and total else None,
                "median_ttc": None if n is None or r["median_ttc"] is None else round(float(r["median_ttc"]))}

    return {"total": access.suppress(total, viewer),
            "states": [ranked(r, r["state"]) for r in states],
            "dealers": [{**ranked(r, access.dealer_name(r["business_name"], r["license_name"], viewer, r["city"],
                                                        r["state"])), "state": r["state"]} for r in dealers],
            "dealers_shown": viewer.can("dealers")}
