"""Boundary figures for the map: the choropleth measure of every district (or post / neighborhood),
and one district's panel.

Counts follow the map's filters (dates, firearm type, ...); rates are per 1,000 residents when the
boundary carries a population. The comparison period is the same dates one year earlier. Districts are
counted by each point's district; posts and neighborhoods by a spatial join of the points to their polygons
(a point on a shared edge goes to one polygon only: the first by name).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from layers import access
from layers.db import read_engine
from layers.map_filters import LAYERS, MapFilters, where_clause

MEASURES = {"shootings": "Shootings and homicides", "alerts": "ShotSpotter alerts", "recoveries": "Gun recoveries"}


BOUNDARY_KINDS = ("district", "post", "neighborhood", "csa")


def _counts_by_boundary(conn, filters: MapFilters, kind: str = "district") -> dict[str, dict[str, int]]:
    if kind not in BOUNDARY_KINDS:
        raise ValueError(f"unknown boundary kind {kind!r}")
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
    by month, and the source states of the guns recovered there. Top locations (blocks) only for roles
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
        places = conn.execute(text(f"""
            SELECT {place} AS location, count(*)::int AS n,
                   max(to_char(p.crime_datetime AT TIME ZONE 'America/New_York', 'YYYY-MM-DD')) AS latest
            FROM {LAYERS["shootings"].from_sql} WHERE {where} AND p.location IS NOT NULL
            GROUP BY 1 ORDER BY n DESC, 1 LIMIT :top"""), params).mappings().all()
        monthly: dict[str, dict[str, int]] = {}
        for key, month in (("shootings", "date_trunc('month', p.crime_datetime AT TIME ZONE 'America/New_York')"),
                           ("recoveries", "date_trunc('month', p.recovery_date)")):
            w, p = where_clause(LAYERS[key], scoped)
            for r in conn.execute(text(f"SELECT to_char({month}, 'YYYY-MM') AS m, count(*)::int AS n "
                                       f"FROM {LAYERS[key].from_sql} WHERE {w} GROUP BY 1 ORDER BY 1"), p):
                monthly.setdefault(r.m, {"shootings": 0, "recoveries": 0})[key] = r.n
        w, p = where_clause(LAYERS["recoveries"], scoped)
        states = conn.execute(text(f"""
            SELECT coalesce(t.source_state, 'unknown') AS state, count(*)::int AS n
            FROM {LAYERS["recoveries"].from_sql} WHERE {w} GROUP BY 1 ORDER BY n DESC, 1"""), p).mappings().all()
    counts = {key: {"now": now.get(key, 0), "before": before.get(key, 0),
                    "change": pct_change(now.get(key, 0), before.get(key, 0)),
                    "rate": round(1000.0 * now.get(key, 0) / pop, 2) if pop else None} for key in MEASURES}
    monthly_rows = [{"month": m, **v} for m, v in sorted(monthly.items())]
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
            "monthly": monthly_rows, "source_states": state_rows}
