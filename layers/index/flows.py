"""Reads of the trafficking index's source flows for the pages: where the city's crime guns were first sold,
by state and recovery year, how concentrated they are among dealers, and two periods side by side.

Records roles only (`access.require("records")` in every function); nothing here names a person.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from layers import access
from layers.db import read_engine
from layers.index import weights as W


def sources(viewer: access.Viewer | None = None, top: int = 10) -> dict[str, Any]:
    """Where the city's crime guns were first sold: flows by state and year, and how concentrated traced
    guns are among the top dealers."""
    viewer = access.require("records", viewer)
    with read_engine().connect() as conn:
        flows = [dict(r) for r in conn.execute(text(
            "SELECT state, year, traces, short_n FROM index.state_year ORDER BY year, traces DESC")).mappings()]
        conc = conn.execute(text("""
            WITH d AS (SELECT traces, short_n, row_number() OVER (ORDER BY traces DESC, dealer_id) AS k
                       FROM index.dealer_score)
            SELECT sum(traces) AS total, count(*) AS dealers,
                   sum(traces) FILTER (WHERE k <= :top) AS top_traces,
                   sum(traces) FILTER (WHERE k <= :top10pct) AS decile_traces,
                   sum(short_n) FILTER (WHERE k <= :top) AS top_short, sum(short_n) AS total_short
            FROM d"""), {"top": top, "top10pct": 1}).mappings().one()
        n_dealers = conc["dealers"] or 0
        decile = max(1, n_dealers // 10)
        decile_traces = conn.execute(text("""
            SELECT coalesce(sum(traces), 0) FROM (SELECT traces FROM index.dealer_score
                                                  ORDER BY traces DESC, dealer_id LIMIT :k) x"""), {"k": decile}).scalar_one()
        curve = [float(x) for x in conn.execute(text("""
            SELECT sum(traces) OVER (ORDER BY traces DESC, dealer_id) FROM index.dealer_score
            ORDER BY traces DESC, dealer_id LIMIT :k"""), {"k": 50}).scalars()]
    total = conc["total"] or 0
    return {"flows": flows, "dealers": n_dealers, "traces": total, "top": top,
            "top_share": (conc["top_traces"] or 0) / total if total else None,
            "decile": decile, "decile_share": decile_traces / total if total else None,
            "cumulative_share": [c / total for c in curve] if total else [], "config_version": W.VERSION}


def compare_periods(first: tuple[int, int], second: tuple[int, int], viewer: access.Viewer | None = None,
                    top: int = 15) -> dict[str, Any]:
    """Source states ranked by traced guns in two periods (recovery years, inclusive) side by side: traces,
    share under one year and rank in each, and the change. Both periods come from the stored flows
    (index.state_year), so the two columns are counted the same way."""
    viewer = access.require("records", viewer)
    periods = []
    for p in (first, second):
        lo, hi = int(min(p)), int(max(p))
        if lo < 1900 or hi > 2200:
            raise ValueError(f"a period is a pair of years, got {p!r}")
        periods.append((lo, hi))
    sql = text("""
        WITH p AS (
            SELECT state, sum(traces) FILTER (WHERE year BETWEEN :a0 AND :a1) AS traces_a,
                   sum(short_n) FILTER (WHERE year BETWEEN :a0 AND :a1) AS short_a,
                   sum(traces) FILTER (WHERE year BETWEEN :b0 AND :b1) AS traces_b,
                   sum(short_n) FILTER (WHERE year BETWEEN :b0 AND :b1) AS short_b
            FROM index.state_year GROUP BY state),
        r AS (SELECT p.*, rank() OVER (ORDER BY coalesce(traces_a, 0) DESC) AS rank_a,
                     rank() OVER (ORDER BY coalesce(traces_b, 0) DESC) AS rank_b,
                     sum(traces_a) OVER () AS total_a, sum(traces_b) OVER () AS total_b FROM p)
        SELECT * FROM r WHERE rank_a <= :top OR rank_b <= :top ORDER BY rank_b, rank_a, state""")
    (a0, a1), (b0, b1) = periods
    with read_engine().connect() as conn:
        rows = [dict(r) for r in conn.execute(sql, {"a0": a0, "a1": a1, "b0": b0, "b1": b1, "top": top}).mappings()]
        years = [r[0] for r in conn.execute(text("SELECT DISTINCT year FROM index.state_year ORDER BY year"))]
    out = []
    for r in rows:
        ta, tb = int(r["traces_a"] or 0), int(r["traces_b"] or 0)
        share_a = ta / float(r["total_a"]) if r["total_a"] else None
        share_b = tb / float(r["total_b"]) if r["total_b"] else None
        out.append({"state": r["state"], "traces_a": ta, "traces_b": tb, "rank_a": int(r["rank_a"]),
                    "rank_b": int(r["rank_b"]), "share_a": share_a, "share_b": share_b,
                    "short_a": (r["short_a"] or 0) / ta if ta else None, "short_b": (r["short_b"] or 0) / tb if tb else None,
                    "rank_change": int(r["rank_a"]) - int(r["rank_b"]),
                    "share_change": None if share_a is None or share_b is None else share_b - share_a})
    return {"first": periods[0], "second": periods[1], "rows": out, "years": years}
