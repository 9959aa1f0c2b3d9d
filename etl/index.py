"""The trafficking index after a load: recompute the score tables (layers/index) when the data they
rest on changed.

Scores are relative to the city's own baselines (the share of short time-to-crime, of repeat
purchasers, each dealer peer group's share). After a load of traces only, the records it touched (its
purchasers, dealers, guns, source states and flows, and the dealers and guns of those purchasers) are
recomputed against the baselines of the last computation, as long as those baselines still hold: few
traces added since the last whole recompute and no city share moved beyond the tolerance
(layers/index/weights.py). Otherwise, and after dealer, NIBIN or incident loads, the tables are
recomputed as a whole. Either way set-based, in one transaction (readers keep the previous scores until
it commits). Loads that cannot change a score (ShotSpotter alerts, boundaries) skip it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from layers import db
from layers.index import compute

# Source kinds whose rows feed a score: traces (and their people and recoveries), dealers, NIBIN
# leads and incidents (NIBIN links run through them).
SCORED_KINDS = ("traces", "dealers", "nibin", "incidents")


def refresh(dsn: str | None = None, run_ids: list[int] | None = None, full: bool = False,
            echo: Callable[[str], None] | None = None) -> dict[str, float]:
    """Recompute the index when `full`, when no runs are named, or when a named run loaded a scored kind."""
    dsn = dsn or db.dsn()
    with psycopg.connect(dsn) as conn:
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'index'").fetchone():
            return {}  # a database not yet upgraded to the index's migration
        if not full and run_ids and not conn.execute(
                "SELECT 1 FROM etl_run WHERE id = ANY(%s) AND kind = ANY(%s)", (run_ids, list(SCORED_KINDS))).fetchone():
            return {}
        started = time.perf_counter()
        incremental = bool(not full and run_ids and not conn.execute(
            "SELECT 1 FROM etl_run WHERE id = ANY(%s) AND kind <> 'traces' AND kind = ANY(%s)",
            (run_ids, list(SCORED_KINDS))).fetchone())
        with conn.transaction():
            timings, why = (compute.refresh_touched(conn, run_ids or [], echo) if incremental else
                            (None, "asked" if full else "runs other than traces" if run_ids else "no runs named"))
            if timings is None:
                timings = compute.refresh(conn, echo, reason=why or "asked")
        conn.execute("ANALYZE index.firearm_score")
        conn.execute("ANALYZE index.purchaser_score")
        timings["trafficking index"] = time.perf_counter() - started
        if echo:
            echo(f"  computed the trafficking index ({timings['trafficking index']:.1f}s)")
    return timings
