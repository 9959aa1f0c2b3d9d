"""Trafficking indicators for one firearm (domain.md §4), each with the data behind it.

An indicator is a plain dict: `key`, `label`, `status` ("flag" | "strong" | "clear" | "unknown"),
`finding` (one sentence) and `evidence` (the figures and source records it rests on). Nothing here
is a score: the journey page shows the indicators side by side so a detective can weigh them.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from sqlalchemy import Connection, text

from layers import settings

SHORT_TTC_DAYS = 365          # under one year: the strong signal
RED_FLAG_TTC_DAYS = 3 * 365   # ATF's red flag: under three years
I95_STATES = frozenset({"VA", "NC", "SC", "GA", "FL"})
MIN_PEER_TRACES = 3           # dealers with fewer traces are not compared
DEALER_Z = 3.0                # short-TTC count this many standard deviations above the all-dealer rate


def ttc_band(days: int | None) -> str | None:
    if days is None:
        return None
    if days < SHORT_TTC_DAYS:
        return "under 1 year"
    if days < RED_FLAG_TTC_DAYS:
        return "1–3 years"
    return "over 3 years"


def years_months(days: int | None) -> str:
    """'1 year 2 months', '14 days': time-to-crime said the way people say it."""
    if days is None:
        return "unknown"
    if days < 62:
        return f"{days} day{'s' if days != 1 else ''}"
    months = round(days / 30.44)
    y, m = divmod(months, 12)
    parts = ([f"{y} year{'s' if y != 1 else ''}"] if y else []) + ([f"{m} month{'s' if m != 1 else ''}"] if m else [])
    return " ".join(parts)


# Peer figures for dealers need a pass over every trace: computed once per loaded-data version.
_peer_cache: dict[str, Any] = {}
_peer_lock = threading.Lock()


def data_key(conn: Connection) -> str:
    """Changes whenever a load finishes (also after a database is emptied and reloaded): cache key."""
    n, last = conn.execute(text(
        "SELECT coalesce(max(id), 0), max(finished_at) FROM etl_run WHERE status = 'succeeded'")).one()
    return f"{conn.engine.url}|{n}|{last}"


def dealer_peers(conn: Connection) -> dict[str, Any]:
    """Trace counts and short-TTC shares of all dealers with traces (cached per data version)."""
    version = data_key(conn)
    with _peer_lock:
        if _peer_cache.get("version") == version:
            return _peer_cache["value"]
    row = conn.execute(text("""
        WITH d AS (
            SELECT dealer_id, count(*) AS n,
                   count(*) FILTER (WHERE ttc_days < :short) AS short_n
            FROM trace WHERE dealer_id IS NOT NULL GROUP BY dealer_id)
        SELECT count(*) AS dealers,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS median_traces,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY n) AS p90_traces,
               sum(short_n)::float / nullif(sum(n), 0) AS overall_short_share,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY short_n::float / n)
                   FILTER (WHERE n >= :min_n) AS median_short_share,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY short_n::float / n)
                   FILTER (WHERE n >= :min_n) AS p90_short_share
        FROM d"""), {"short": SHORT_TTC_DAYS, "min_n": MIN_PEER_TRACES}).mappings().one()
    value = {k: (float(v) if v is not None and k != "dealers" else v) for k, v in row.items()}
    with _peer_lock:
        _peer_cache.update(version=version, value=value)
    return value


def dealer_record(conn: Connection, dealer_id: int) -> dict[str, Any]:
    """One dealer's trace count and short-TTC share next to its peers'."""
    own = conn.execute(text("""
        SELECT count(*) AS traces, count(*) FILTER (WHERE ttc_days < :short) AS short_traces,
               count(*) FILTER (WHERE ttc_days IS NOT NULL) AS with_ttc,
               count(DISTINCT purchaser_id) AS purchasers
        FROM trace WHERE dealer_id = :d"""), {"d": dealer_id, "short": SHORT_TTC_DAYS}).mappings().one()
    peers = dealer_peers(conn)
    share = own["short_traces"] / own["traces"] if own["traces"] else None
    return {**dict(own), "short_share": share, "peers": peers}


def dealer_z(short: int, n: int, p: float | None) -> float | None:
    """How many standard deviations the dealer's short-TTC count lies above the all-dealer rate."""
    if not n or p is None or not 0 < p < 1:
        return None
    return (short - n * p) / math.sqrt(n * p * (1 - p))


def dealer_indicator(record: dict[str, Any], dealer_name: str) -> dict[str, Any]:
    peers = record["peers"]
    n, share = record["traces"], record["short_share"]
    p = peers["overall_short_share"]
    z = dealer_z(record["short_traces"], n, p)
    high_count = peers["p90_traces"] is not None and n > peers["p90_traces"]
    high_share = n >= MIN_PEER_TRACES and z is not None and z >= DEALER_Z
    evidence = {
        "dealer traces": n,
        "dealer traces under 1 year": record["short_traces"],
        "dealer short-TTC share": _pct(share),
        "all dealers' short-TTC share": _pct(p),
        "expected under 1 year at that share": _num(None if p is None else round(n * p, 1)),
        "z (excess over expected)": _num(None if z is None else round(z, 1)),
        "peer median traces": _num(peers["median_traces"]),
        "peer top-10% traces from": _num(peers["p90_traces"]),
        "dealers compared": peers["dealers"],
    }
    if high_count or high_share:
        why = []
        if high_count:
            why.append(f"{n} traced guns (more than 90% of dealers)")
        if high_share:
            why.append(f"{_pct(share)} of its traces under one year against {_pct(p)} for all dealers "
                       f"(z = {z:.1f})")
        return {"key": "dealer", "label": "Dealer's record", "status": "strong" if high_share else "flag",
                "finding": f"{dealer_name}: " + "; ".join(why) + ".", "evidence": evidence}
    return {"key": "dealer", "label": "Dealer's record", "status": "clear",
            "finding": f"{dealer_name}: {n} traced gun{'s' if n != 1 else ''}, {_pct(share)} under one year — "
                       "within the usual range of dealers.", "evidence": evidence}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:g}"


def firearm_indicators(conn: Connection, firearm: dict[str, Any], traces: list[dict[str, Any]],
                       nibin_incidents: int) -> list[dict[str, Any]]:
    """The indicators for one gun, from its firearm row and its traces (as built by layers.journey)."""
    home = settings.get("CGA_HOME_STATE")
    out: list[dict[str, Any]] = []
    with_ttc = [t for t in traces if t["ttc_days"] is not None]
    if with_ttc:
        t = min(with_ttc, key=lambda x: x["ttc_days"])
        band = ttc_band(t["ttc_days"])
        status = "strong" if t["ttc_days"] < SHORT_TTC_DAYS else "flag" if t["ttc_days"] < RED_FLAG_TTC_DAYS else "clear"
        out.append({"key": "ttc", "label": "Time-to-crime", "status": status,
                    "finding": f"Recovered {years_months(t['ttc_days'])} after its first retail sale ({band}; "
                               "ATF's red flag is under 3 years).",
                    "evidence": {"purchase date": t["purchase_date"], "recovery date": t["recovery_date"],
                                 "days": t["ttc_days"], "trace_number": t["trace_number"]}})
    else:
        out.append({"key": "ttc", "label": "Time-to-crime", "status": "unknown",
                    "finding": "No retail sale date is known, so time-to-crime cannot be computed.",
                    "evidence": {"trace outcomes": ", ".join(sorted({t["trace_status"] for t in traces})) or "no trace"}})

    known = [t for t in traces if t["possessor_is_purchaser"] is not None]
    differs = [t for t in known if not t["possessor_is_purchaser"]]
    if differs:
        short = any(t["ttc_days"] is not None and t["ttc_days"] <= RED_FLAG_TTC_DAYS for t in differs)
        out.append({"key": "possessor", "label": "Possessor ≠ purchaser", "status": "strong" if short else "flag",
                    "finding": "Recovered from someone other than the buyer"
                               + (" within 3 years of the sale — the classic trafficking pattern." if short else "."),
                    "evidence": {"recoveries from another person": len(differs), "recoveries with both known": len(known),
                                 "trace_number": ", ".join(t["trace_number"] for t in differs)}})
    elif known:
        out.append({"key": "possessor", "label": "Possessor ≠ purchaser", "status": "clear",
                    "finding": "Recovered from its buyer.", "evidence": {"recoveries with both known": len(known)}})
    else:
        out.append({"key": "possessor", "label": "Possessor ≠ purchaser", "status": "unknown",
                    "finding": "Purchaser or possessor not identified.", "evidence": {}})

    states = sorted({t["source_state"] for t in traces if t["source_state"]})
    if states:
        away = [s for s in states if s != home]
        corridor = [s for s in away if s in I95_STATES]
        out.append({"key": "out_of_state", "label": "Out-of-state source",
                    "status": "strong" if corridor else "flag" if away else "clear",
                    "finding": (f"First sold in {', '.join(away)}" + (" — an I-95 corridor state." if corridor else ".")
                                if away else f"First sold in {home}."),
                    "evidence": {"source state": ", ".join(states), "home state": home}})
    else:
        out.append({"key": "out_of_state", "label": "Out-of-state source", "status": "unknown",
                    "finding": "Selling dealer not known.", "evidence": {}})

    multi = [t for t in traces if t["multiple_sale"]]
    out.append({"key": "multiple_sale", "label": "Multiple sale", "status": "flag" if multi else
                ("clear" if any(t["multiple_sale"] is False for t in traces) else "unknown"),
                "finding": "Sold as part of a multiple sale (ATF F 3310.4)." if multi else
                "Not reported as part of a multiple sale." if any(t["multiple_sale"] is False for t in traces)
                else "Not known whether it was part of a multiple sale.",
                "evidence": {"trace_number": ", ".join(t["trace_number"] for t in multi)} if multi else {}})

    out.append({"key": "obliterated", "label": "Obliterated serial",
                "status": "strong" if firearm["serial_obliterated"] else "clear",
                "finding": "The serial number was obliterated — someone tried to make it untraceable."
                if firearm["serial_obliterated"] else "Serial number intact." if firearm.get("serial_number")
                else "No serial number recorded (not obliterated).",
                "evidence": {"serial obliterated": "yes" if firearm["serial_obliterated"] else "no"}})

    purchasers = sorted({t["purchaser_id"] for t in traces if t["purchaser_id"]})
    if purchasers:
        rows = conn.execute(text("""
            SELECT purchaser_id, count(DISTINCT firearm_id) AS guns, count(DISTINCT dealer_id) AS dealers
            FROM trace WHERE purchaser_id = ANY(:p) GROUP BY purchaser_id"""), {"p": purchasers}).mappings().all()
        guns = max(r["guns"] for r in rows)
        dealers = max(r["dealers"] for r in rows)
        out.append({"key": "repeat_purchaser", "label": "Repeat purchaser", "status": "strong" if guns >= 3 else
                    "flag" if guns >= 2 else "clear",
                    "finding": f"The purchaser is linked to {guns} traced crime gun{'s' if guns != 1 else ''}"
                               + (f" bought at {dealers} dealer{'s' if dealers != 1 else ''}." if guns >= 2 else "."),
                    "evidence": {"traced guns of purchaser": guns, "dealers": dealers}})
    else:
        out.append({"key": "repeat_purchaser", "label": "Repeat purchaser", "status": "unknown",
                    "finding": "Purchaser not identified.", "evidence": {}})

    dealer_ids = [t["dealer"]["id"] for t in traces if t.get("dealer") and t["dealer"].get("id")]
    if dealer_ids:
        d = next(t["dealer"] for t in traces if t.get("dealer") and t["dealer"].get("id"))
        out.append(dealer_indicator(dealer_record(conn, dealer_ids[0]), d["name"]))
    else:
        out.append({"key": "dealer", "label": "Dealer's record", "status": "unknown",
                    "finding": "Selling dealer not matched to the licence list.", "evidence": {}})

    out.append({"key": "nibin", "label": "NIBIN-linked shootings", "status": "strong" if nibin_incidents > 1 else
                "flag" if nibin_incidents == 1 else "clear",
                "finding": f"Linked by NIBIN to {nibin_incidents} incident{'s' if nibin_incidents != 1 else ''}.",
                "evidence": {"NIBIN-linked incidents": nibin_incidents}})
    return out
