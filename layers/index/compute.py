"""The trafficking index, computed in SQL on the write path (etl/index.py runs it after derive()).

Every baseline comes from the loaded city's own data, measured in the same transaction:
- the city's share of traces under one year and under three years (time-to-crime bands), of multiple
  sales, of purchasers with two or more traced guns and of traces bought by such purchasers;
- each dealer peer group's short-TTC share (dealers in the city, elsewhere in the home state, and per
  other state), shrunk toward the city's share.
An indicator's points are its weight (layers/index/weights.py) times how rare it is in this city
(-log10 of the city's share). A purchaser's guns count only when they left the buyer's hands
unreported: guns recovered from the buyer and guns the buyer reported stolen before the trace (a
burglary victim's) say nothing about trafficking. Dealers are scored on the excess of their shares over
their peers' (or the city's), shrunk with m prior traces, (k - n p) / (n + m), in standard units of a
dealer of reference size, so a big store at the usual time-to-crime scores near zero however many
traces it has, and a small one whose guns come back fast does not; a dealer also counts the flagged
purchasers it sold traced guns to. Source states: the empirical-Bayes z of their counts,
z = (k - n p) / sqrt((n + m) p (1 - p)). Each contribution keeps its figures and the ids of the rows
behind it.

Tables in the `index` schema (migration 0006): firearm_score, purchaser_score, dealer_score,
state_score, state_year (flows), unrecovered (NIBIN groups without a gun), computation (the baselines
of the latest run). Each score row carries the config version and the time it was computed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import psycopg

from layers import settings
from layers.index import weights as W
from layers.index.statements import (
    DEALER_FACTS,
    DEALER_SCORE,
    FIREARM_FACTS,
    FIREARM_SCORE,
    PURCHASER_FACTS,
    PURCHASER_SCORE,
    STATE_SCORE,
    STATE_YEAR,
    STEPS,
    UNRECOVERED,
)

SCORE_TABLES = ("firearm_score", "purchaser_score", "dealer_score", "state_score", "state_year", "unrecovered")


def _params() -> dict[str, Any]:
    return {"short": W.SHORT_TTC_DAYS, "red": W.RED_FLAG_TTC_DAYS, "corridor": list(W.I95_STATES),
            "ids": W.ROW_IDS, "home": settings.get("CGA_HOME_STATE"), "version": W.VERSION,
            "ref": W.DEALER_REFERENCE_TRACES, "lo": W.MIN_RATE, "hi": W.MAX_RATE, "m": W.DEALER_PRIOR_TRACES, "m0": W.EB_PRIOR_WEIGHT,
            **{f"wp_{k}": v for k, v in W.PURCHASER.items()}, **{f"wd_{k}": v for k, v in W.DEALER.items()},
            **{f"wf_{k}": v for k, v in W.FIREARM.items()}, **{f"ws_{k}": v for k, v in W.STATE.items()},
            "nibin_cap": W.NIBIN_CAP, "p_flag": W.PURCHASER_FLAG, "buyers_cap": W.FLAGGED_BUYERS_CAP, "p_cap": W.PURCHASER_CAP, "d_cap": W.DEALER_CAP}


def _run_steps(conn: psycopg.Connection, steps, params: dict[str, Any], scopes: dict[str, str],
               echo: Callable[[str], None] | None, timings: dict[str, float]) -> None:
    for name, sql in steps:
        for marker, condition in scopes.items():
            sql = sql.replace(f"/*{marker}*/", condition)
        started = time.perf_counter()
        for statement in sql.split(";"):
            conn.execute(statement, params)
        if name in ("purchaser facts", "dealer facts", "firearm facts"):
            conn.execute(f"ANALYZE {'ix_p' if name.startswith('purchaser') else 'ix_d' if name.startswith('dealer') else 'ix_f'}")
        timings[f"index: {name}"] = time.perf_counter() - started
        if echo:
            echo(f"  index: {name} ({timings[f'index: {name}']:.1f}s)")


def _record(conn: psycopg.Connection, started: float, mode: str, extra: dict[str, Any]) -> None:
    city = conn.execute("SELECT to_jsonb(c) || jsonb_build_object('r_flag', (SELECT r_flag FROM ix_flag)) FROM ix_city c"
                        ).fetchone()[0]
    peers = {r[0]: {"traces": int(r[1]), "short": int(r[2]), "dealers": int(r[3]), "share": float(r[4])}
             for r in conn.execute("SELECT peer_group, n, short_n, dealers, p_short FROM ix_peer")}
    counts = {t: conn.execute(f"SELECT count(*) FROM index.{t}").fetchone()[0] for t in SCORE_TABLES}
    seconds = time.perf_counter() - started
    conn.execute("""INSERT INTO index.computation (config_version, seconds, baselines, counts)
                    VALUES (%s, %s, %s, %s)""",
                 (W.VERSION, seconds, json.dumps({"city": city, "peer_groups": peers, "weights": weights_doc(),
                                                  "mode": mode, **extra}, default=str), json.dumps(counts)))


def refresh(conn: psycopg.Connection, echo: Callable[[str], None] | None = None,
            reason: str = "asked") -> dict[str, float]:
    """Recompute every score table inside the caller's transaction (readers see the old scores until it
    commits); return seconds per step. Analysts' reviews (index.review) are never touched. `reason` (why
    not incrementally) is kept with the computation."""
    params = _params()
    timings: dict[str, float] = {}
    started_all = time.perf_counter()
    for table in SCORE_TABLES:
        conn.execute(f"DELETE FROM index.{table}")
    _run_steps(conn, STEPS, params, {}, echo, timings)
    traces = conn.execute("SELECT count(*) FROM trace").fetchone()[0]
    _record(conn, started_all, "full", {"traces_at_full": traces, "traces": traces, "reason": reason})
    return timings


# --- Incremental: recompute what a trace load touched, against the baselines of the last computation ---

# The touched records of the runs: their purchasers, dealers (and the dealers those purchasers bought
# from, whose flagged buyers may change), firearms (and the guns of touched purchasers and dealers, whose
# purchaser and dealer points change), source states and (state, year) flows.
TOUCHED = """
CREATE TEMP TABLE ix_tp ON COMMIT DROP AS
    SELECT DISTINCT purchaser_id AS person_id FROM trace WHERE run_id = ANY(%(runs)s) AND purchaser_id IS NOT NULL;
CREATE TEMP TABLE ix_td ON COMMIT DROP AS
    SELECT DISTINCT t.dealer_id FROM trace t
    WHERE t.dealer_id IS NOT NULL AND (t.run_id = ANY(%(runs)s) OR t.purchaser_id IN (SELECT person_id FROM ix_tp));
CREATE TEMP TABLE ix_ts ON COMMIT DROP AS
    SELECT DISTINCT source_state AS state FROM trace WHERE run_id = ANY(%(runs)s) AND source_state IS NOT NULL;
-- Purchasers whose facts the touched dealers need (their repeat-buyer flag).
CREATE TEMP TABLE ix_np ON COMMIT DROP AS
    SELECT DISTINCT t.purchaser_id AS person_id FROM trace t
    WHERE t.purchaser_id IS NOT NULL AND (t.purchaser_id IN (SELECT person_id FROM ix_tp)
          OR t.dealer_id IN (SELECT dealer_id FROM ix_td));
-- The scores before: guns are recomputed where their purchaser's or dealer's score changed.
CREATE TEMP TABLE ix_old ON COMMIT DROP AS
    SELECT 'p' AS kind, person_id AS id, score FROM index.purchaser_score WHERE person_id IN (SELECT person_id FROM ix_tp)
    UNION ALL SELECT 'd', dealer_id, score FROM index.dealer_score WHERE dealer_id IN (SELECT dealer_id FROM ix_td);
CREATE TEMP TABLE ix_ty ON COMMIT DROP AS
    SELECT DISTINCT t.source_state AS state, extract(year FROM r.recovery_date)::int AS year
    FROM trace t JOIN recovery r ON r.trace_id = t.id WHERE t.run_id = ANY(%(runs)s) AND t.source_state IS NOT NULL"""

# The touched guns: the load's own, and those whose purchaser's or dealer's score changed.
TOUCHED_FIREARMS = """
CREATE TEMP TABLE ix_changed ON COMMIT DROP AS
    SELECT o.kind, o.id FROM ix_old o
    LEFT JOIN index.purchaser_score p ON o.kind = 'p' AND p.person_id = o.id
    LEFT JOIN index.dealer_score d ON o.kind = 'd' AND d.dealer_id = o.id
    WHERE coalesce(p.score, d.score, -1) IS DISTINCT FROM o.score
    UNION ALL SELECT 'p', person_id FROM ix_tp WHERE person_id NOT IN (SELECT id FROM ix_old WHERE kind = 'p')
    UNION ALL SELECT 'd', dealer_id FROM ix_td WHERE dealer_id NOT IN (SELECT id FROM ix_old WHERE kind = 'd');
CREATE TEMP TABLE ix_tf ON COMMIT DROP AS
    SELECT DISTINCT t.firearm_id FROM trace t
    WHERE t.run_id = ANY(%(runs)s) OR t.purchaser_id IN (SELECT id FROM ix_changed WHERE kind = 'p')
       OR t.dealer_id IN (SELECT id FROM ix_changed WHERE kind = 'd');
DELETE FROM index.firearm_score WHERE firearm_id IN (SELECT firearm_id FROM ix_tf)"""

# The city's and the peer groups' baselines as the last computation measured them.
STORED_BASELINES = """
CREATE TEMP TABLE ix_city ON COMMIT DROP AS
SELECT (j->>'p_short')::float AS p_short, (j->>'p_red')::float AS p_red, (j->>'p_multiple')::float AS p_multiple,
       (j->>'q_repeat')::float AS q_repeat, (j->>'r_repeat')::float AS r_repeat,
       (j->>'n_ttc')::bigint AS n_ttc, (j->>'n_short')::bigint AS n_short, (j->>'n_red')::bigint AS n_red,
       (j->>'n_multiple')::bigint AS n_multiple, (j->>'n_multiple_known')::bigint AS n_multiple_known,
       (j->>'purchasers')::bigint AS purchasers, (j->>'repeaters')::bigint AS repeaters,
       (j->>'purchaser_traces')::bigint AS purchaser_traces, (j->>'repeat_traces')::bigint AS repeat_traces
FROM (SELECT CAST(%(city)s AS jsonb) AS j) x;
CREATE TEMP TABLE ix_peer ON COMMIT DROP AS
SELECT key AS peer_group, (value->>'traces')::bigint AS n, (value->>'short')::bigint AS short_n,
       (value->>'dealers')::bigint AS dealers, (value->>'share')::float AS p_short
FROM jsonb_each(CAST(%(peers)s AS jsonb));
CREATE TEMP TABLE ix_flag ON COMMIT DROP AS SELECT (CAST(%(city)s AS jsonb)->>'r_flag')::float AS r_flag"""

# The trace-level shares now, to see whether the baselines moved.
SHARES_NOW = """
SELECT count(*), count(*) FILTER (WHERE ttc_days IS NOT NULL), count(*) FILTER (WHERE ttc_days < %(short)s),
       count(*) FILTER (WHERE ttc_days < %(red)s), count(*) FILTER (WHERE multiple_sale),
       count(*) FILTER (WHERE multiple_sale IS NOT NULL)
FROM trace"""

RANKS = {
    "purchaser_score": ("person_id", "score DESC, guns DESC, person_id"),
    "dealer_score": ("dealer_id", "score DESC, traces DESC, dealer_id"),
    "firearm_score": ("firearm_id", "score DESC, firearm_id"),
    "state_score": ("state", "score DESC, traces DESC, state"),
}

INCREMENTAL_STEPS: tuple[tuple[str, str], ...] = (
    ("purchaser facts", PURCHASER_FACTS),
    ("purchaser scores", PURCHASER_SCORE),
    ("dealer facts", DEALER_FACTS),
    ("dealer scores", DEALER_SCORE),
    ("source states", STATE_SCORE),
    ("flows by year", STATE_YEAR),
    ("touched guns", TOUCHED_FIREARMS),
    ("firearm facts", FIREARM_FACTS),
    ("firearm scores", FIREARM_SCORE),
    ("unrecovered NIBIN groups", UNRECOVERED),
)
INCREMENTAL_SCOPES = {
    "purchasers": "AND t.purchaser_id IN (SELECT person_id FROM ix_np)",
    "scored purchasers": "WHERE p.person_id IN (SELECT person_id FROM ix_tp)",
    "dealers": "AND t.dealer_id IN (SELECT dealer_id FROM ix_td)",
    "states": "AND t.source_state IN (SELECT state FROM ix_ts)",
    "state years": "AND (t.source_state, extract(year FROM r.recovery_date)::int) IN (SELECT state, year FROM ix_ty)",
    "firearms": "AND f.id IN (SELECT firearm_id FROM ix_tf)",
}
INCREMENTAL_DELETES = (
    "DELETE FROM index.purchaser_score WHERE person_id IN (SELECT person_id FROM ix_tp)",
    "DELETE FROM index.dealer_score WHERE dealer_id IN (SELECT dealer_id FROM ix_td)",
    "DELETE FROM index.state_score WHERE state IN (SELECT state FROM ix_ts)",
    "DELETE FROM index.state_year WHERE (state, year) IN (SELECT state, year FROM ix_ty)",
    "DELETE FROM index.unrecovered",
)


def baseline_drift(conn: psycopg.Connection) -> tuple[dict[str, Any] | None, str | None]:
    """The last computation's baselines, and why they cannot serve an incremental recompute (None: they
    can): no computation yet, other weights, too many traces since the last whole recompute, or a
    trace-level share that moved by more than the tolerance."""
    last = conn.execute("SELECT config_version, baselines FROM index.computation ORDER BY id DESC LIMIT 1").fetchone()
    if (last is None or last[0] != W.VERSION or "r_flag" not in (last[1] or {}).get("city", {})
            or "traces_at_full" not in last[1]):
        return None, "no earlier computation with these weights"
    base = last[1]
    total, n_ttc, n_short, n_red, n_mult, n_mult_known = conn.execute(SHARES_NOW, _params()).fetchone()
    at_full = int(base["traces_at_full"]) or 1
    if abs(total - at_full) > W.INCREMENTAL_MAX_NEW_SHARE * at_full:
        return base, f"{abs(total - at_full):,} traces changed since the last whole recompute (of {at_full:,})"
    city = base["city"]
    for name, now in (("p_short", n_short / n_ttc if n_ttc else None), ("p_red", n_red / n_ttc if n_ttc else None),
                      ("p_multiple", n_mult / n_mult_known if n_mult_known else None)):
        was = city.get(name)
        if now is None or was is None:
            return base, f"the city's {name} is unknown"
        now = min(max(now, W.MIN_RATE), W.MAX_RATE)
        if abs(math.log10(now / was)) > W.BASELINE_TOLERANCE:  # its rarity, the points per occurrence
            return base, f"the city's {name} moved from {was:.4f} to {now:.4f}"
    return base, None


def refresh_touched(conn: psycopg.Connection, run_ids: list[int],
                    echo: Callable[[str], None] | None = None) -> tuple[dict[str, float] | None, str | None]:
    """Recompute only the records the runs' traces touched, against the stored baselines, inside the
    caller's transaction; re-rank every table. Returns (seconds per step, None), or (None, why) with nothing
    done when the baselines moved too far or a touched dealer falls in a peer group the baselines do not
    know: the caller recomputes everything."""
    started_all = time.perf_counter()
    base, why = baseline_drift(conn)
    if why is not None:
        if echo:
            echo(f"  index: whole recompute ({why})")
        return None, why
    params = {**_params(), "runs": list(run_ids), "city": json.dumps(base["city"]),
              "peers": json.dumps(base["peer_groups"])}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for sql in (*TOUCHED.split(";"), *STORED_BASELINES.split(";")):
        conn.execute(sql, params)
    unknown = conn.execute("""
        SELECT count(*) FROM ix_td t JOIN dealer d ON d.id = t.dealer_id
        WHERE (CASE WHEN d.in_city THEN 'city' WHEN d.premise_state = %(home)s THEN 'state'
                    ELSE coalesce(d.premise_state, '?') END) NOT IN (SELECT peer_group FROM ix_peer)""", params).fetchone()[0]
    if unknown:
        for t in ("ix_tp", "ix_td", "ix_ts", "ix_np", "ix_old", "ix_ty", "ix_city", "ix_peer", "ix_flag"):
            conn.execute(f"DROP TABLE {t}")
        if echo:
            echo("  index: whole recompute (a dealer in a new peer group)")
        return None, "a dealer in a new peer group"
    for sql in INCREMENTAL_DELETES:
        conn.execute(sql)
    timings["index: touched records"] = time.perf_counter() - started
    _run_steps(conn, INCREMENTAL_STEPS, params, INCREMENTAL_SCOPES, echo, timings)
    started = time.perf_counter()
    for table, (key, order) in RANKS.items():
        conn.execute(f"""UPDATE index.{table} s SET rank = r.rn
                         FROM (SELECT {key}, row_number() OVER (ORDER BY {order}) AS rn FROM index.{table}) r
                         WHERE s.{key} = r.{key} AND s.rank IS DISTINCT FROM r.rn""")
    timings["index: ranks"] = time.perf_counter() - started
    touched = {name: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for name, t in (("purchasers", "ix_tp"), ("dealers", "ix_td"), ("firearms", "ix_tf"), ("states", "ix_ts"))}
    total = conn.execute("SELECT count(*) FROM trace").fetchone()[0]
    _record(conn, started_all, "incremental", {"traces_at_full": base["traces_at_full"], "traces": total,
                                               "runs": list(run_ids), "touched": touched})
    return timings, None


def weights_doc() -> dict[str, Any]:
    return {"version": W.VERSION, "purchaser": W.PURCHASER, "dealer": W.DEALER, "firearm": W.FIREARM,
            "state": W.STATE, "short_ttc_days": W.SHORT_TTC_DAYS, "red_flag_ttc_days": W.RED_FLAG_TTC_DAYS,
            "i95_states": list(W.I95_STATES), "dealer_prior_traces": W.DEALER_PRIOR_TRACES,
            "eb_prior_weight": W.EB_PRIOR_WEIGHT, "dealer_reference_traces": W.DEALER_REFERENCE_TRACES, "purchaser_flag": W.PURCHASER_FLAG, "caps": {"buyers": W.FLAGGED_BUYERS_CAP, "nibin": W.NIBIN_CAP, "purchaser": W.PURCHASER_CAP,
                                                            "dealer": W.DEALER_CAP}}


def rarity(share: float) -> float:
    """Points per occurrence of an indicator with this city share (-log10)."""
    return -math.log10(min(max(share, W.MIN_RATE), W.MAX_RATE))
