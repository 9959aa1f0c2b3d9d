"""The trafficking index after a load: recompute the score tables (layers/index) when the data they
rest on changed.

Scores are relative to the city's own baselines (the share of short time-to-crime, of repeat
purchasers, each dealer peer group's share). After a load of traces only, the records it touched (its
purchasers, dealers, guns, source states and flows, and the dealers and guns of those purchasers) are
recomputed against the baselines of the last computation, as long as those baselines still hold: few
traces added since the last whole recompute and no city share moved beyond the tolerance
(layers/index/weights.py). Otherwise, and after dealer, NIBIN or incident loads, the tables are
recomputed as a whole. Either way set-based, in one transaction (readers keep the previous scores until
it commits). Loads that cannot change a score (ShotSpotter alerts, boundaries, incidents no NIBIN evidence
is tied to) skip it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import psycopg

from layers import db
from layers.index import compute

# Source kinds whose rows feed a score: traces (and their people and recoveries), dealers, NIBIN
# leads and incidents (NIBIN links run through them).
SCORED_KINDS = ("traces", "dealers", "nibin", "incidents")


def _can_change_a_score(conn: psycopg.Connection, run_ids: list[int]) -> bool:
    """Could these (derived) runs change a score? Not unless one loaded a scored kind; and incidents reach the
    scores only through the NIBIN evidence tied to them by case number (gun groups, NIBIN-linked scenes), so
    runs that loaded incidents alone change none when no evidence names the case of an incident they loaded
    or changed. A daily incident export, the most frequent load, then leaves the index as it is."""
    kinds = {k for (k,) in conn.execute("SELECT DISTINCT kind FROM etl_run WHERE id = ANY(%s)", (run_ids,))}
    scored = kinds & set(SCORED_KINDS)
    if scored != {"incidents"}:
        return bool(scored)
    # By case number, not by the link derive chose: an incident the run changed may have handed its evidence
    # to another incident of the same case. (The evidence is few rows; each probes the case-number index.)
    return conn.execute("SELECT EXISTS (SELECT 1 FROM ballistic_evidence e JOIN incident i ON i.agency = e.agency"
                        " AND i.cc_number = e.case_number WHERE i.run_id = ANY(%s))", (run_ids,)).fetchone()[0]


def refresh(dsn: str | None = None, run_ids: list[int] | None = None, full: bool = False,
            echo: Callable[[str], None] | None = None, conn: psycopg.Connection | None = None) -> dict[str, float]:
    """Recompute the index when `full`, when no runs are named, or when a named run loaded a scored kind; on
    `conn` (a batch session, left open) when given, else on a connection of its own."""
    dsn = dsn or db.dsn()
    with contextlib.nullcontext(conn) if conn is not None else db.batch_session(psycopg.connect(dsn)) as conn:
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'index'").fetchone():
            return {}  # a database not yet upgraded to the index's migration
        if not full and run_ids and not _can_change_a_score(conn, run_ids):
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
        conn.commit()  # readers get the new scores now, on a connection given too (not when its owner commits)
        timings["trafficking index"] = time.perf_counter() - started
        if echo:
            echo(f"  computed the trafficking index ({timings['trafficking index']:.1f}s)")
    return timings
