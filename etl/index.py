"""The trafficking index after a load: recompute the score tables (layers/index) when the data they
rest on changed.

Scores are relative to the city's own baselines (the share of short time-to-crime, of repeat
purchasers, each dealer peer group's share), and one new trace file moves those baselines for every
dealer and purchaser, so the tables are recomputed as a whole, set-based, in one transaction (readers
keep the previous scores until it commits). Loads that cannot change a score (ShotSpotter alerts,
boundaries) skip it.
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
        with conn.transaction():
            timings = compute.refresh(conn, echo)
        conn.execute("ANALYZE index.firearm_score")
        conn.execute("ANALYZE index.purchaser_score")
        timings["trafficking index"] = time.perf_counter() - started
        if echo:
            echo(f"  computed the trafficking index ({timings['trafficking index']:.1f}s)")
    return timings
