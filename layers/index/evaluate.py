"""Measure a ranking against a synthetic city's planted ground truth (`ground_truth.json`).

The generator (etl/synth) writes which purchasers, dealers and guns belong to planted trafficking
schemes next to the source files, never into them. This module maps that truth onto database ids and
computes what an analyst would feel: how many of the top-k purchasers and dealers are planted, the
firearm-level ROC AUC, and how many innocent look-alikes reach the top.

Positives:
- purchasers: straw purchasers and the members of I-95 rings (name + date of birth);
- dealers: the planted high-risk dealers and the stores the straw purchasers and rings bought from;
- firearms: every gun of a planted scheme (by trace number).
Look-alikes: the truth file's `lookalike` entries when the generator plants them; otherwise the proxy is
lawful high-volume dealers (not implicated, traces in the city's top 10%) in the dealers' top k.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

TOP_K = 20


def load_truth(path: Path | str) -> dict[str, Any]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    people: set[tuple[str, str, str]] = set()
    ffls: set[str] = set()
    risk_ffls: set[str] = set()
    traces: set[str] = set()
    lookalike_people: set[tuple[str, str, str]] = set()
    lookalike_ffls: set[str] = set()

    def who(p: dict) -> tuple[str, str, str]:
        return (p["last_name"], p.get("first_name") or "", p.get("dob") or "")

    for s in doc["schemes"]:
        kind = s["type"]
        if kind == "nibin_chain":
            continue
        if kind.startswith("lookalike") or s.get("innocent"):
            for p in [s["purchaser"]] if s.get("purchaser") else s.get("purchasers", []):
                lookalike_people.add(who(p))
            lookalike_ffls.update(s.get("dealer_ffls", []))
            if s.get("dealer_ffl"):
                lookalike_ffls.add(s["dealer_ffl"])
            continue
        if s.get("purchaser"):
            people.add(who(s["purchaser"]))
        for p in s.get("purchasers", []):
            people.add(who(p))
        ffls.update(s.get("dealer_ffls", []))
        if s.get("dealer_ffl"):
            ffls.add(s["dealer_ffl"])
            risk_ffls.add(s["dealer_ffl"])
        traces.update(s.get("trace_numbers", []))
    return {"seed": doc.get("seed"), "scale": doc.get("scale"), "years": doc.get("years"),
            "people": people, "ffls": ffls, "risk_ffls": risk_ffls, "traces": traces,
            "lookalike_people": lookalike_people, "lookalike_ffls": lookalike_ffls,
            "plants_lookalikes": bool(lookalike_people or lookalike_ffls)}


def resolve(conn: Connection, truth: dict[str, Any]) -> dict[str, set[int]]:
    """The truth as database ids: person, dealer and firearm ids."""

    def people(keys: Iterable[tuple[str, str, str]]) -> set[int]:
        keys = list(keys)
        if not keys:
            return set()
        rows = conn.execute(text("""
            SELECT p.id FROM pii.person p
            JOIN unnest(CAST(:l AS text[]), CAST(:f AS text[]), CAST(:d AS text[])) AS k(l, f, d)
              ON upper(p.last_name) = upper(k.l) AND upper(coalesce(p.first_name, '')) = upper(k.f)
             AND coalesce(p.dob::text, '') = k.d"""),
            {"l": [k[0] for k in keys], "f": [k[1] for k in keys], "d": [k[2] for k in keys]})
        return {r[0] for r in rows}

    def dealers(ffls: Iterable[str]) -> set[int]:
        return {r[0] for r in conn.execute(text(
            "SELECT id FROM dealer WHERE license_number = ANY(:f) OR ffl_key = ANY(:f)"), {"f": list(ffls)})}

    firearms = {r[0] for r in conn.execute(text(
        "SELECT DISTINCT firearm_id FROM trace WHERE trace_number = ANY(:t)"), {"t": sorted(truth["traces"])})}
    return {"people": people(truth["people"]), "dealers": dealers(truth["ffls"]),
            "risk_dealers": dealers(truth["risk_ffls"]), "firearms": firearms,
            "lookalike_people": people(truth["lookalike_people"]),
            "lookalike_dealers": dealers(truth["lookalike_ffls"])}


def precision_at(ranked: Sequence[int], positives: set[int], k: int = TOP_K) -> tuple[float, int]:
    """Share of planted ids among the first k (k shrinks to the number of positives in a small city,
    where fewer than k schemes exist); returns (precision, k used)."""
    k = min(k, len(positives)) or k
    top = list(ranked)[:k]
    return (sum(1 for x in top if x in positives) / k if k else 0.0), k


def roc_auc(scores: dict[int, float], positives: set[int]) -> float | None:
    """Probability that a planted gun outranks an unplanted one (ties count half): Mann-Whitney U."""
    items = sorted(scores.items(), key=lambda kv: kv[1])
    n_pos = sum(1 for k, _ in items if k in positives)
    n_neg = len(items) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum, i = 0.0, 0
    while i < len(items):
        j = i
        while j < len(items) and items[j][1] == items[i][1]:
            j += 1
        avg = (i + j + 1) / 2  # 1-based average rank of the tie block
        rank_sum += avg * sum(1 for k, _ in items[i:j] if k in positives)
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def high_volume_dealers(conn: Connection, exclude: set[int]) -> set[int]:
    """Dealers with traces in the city's top 10% that no scheme implicates: the lawful big stores."""
    return {r[0] for r in conn.execute(text("""
        WITH d AS (SELECT dealer_id, count(*) AS n FROM trace WHERE dealer_id IS NOT NULL GROUP BY dealer_id)
        SELECT dealer_id FROM d WHERE n >= (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY n) FROM d)""")
    ) if r[0] not in exclude}


def measure(conn: Connection, ids: dict[str, set[int]], purchasers: Sequence[int], dealers: Sequence[int],
            firearm_scores: dict[int, float] | None, k: int = TOP_K) -> dict[str, Any]:
    """The figures for one ranking: top-k precision of purchasers and dealers, firearm AUC, look-alikes."""
    p_prec, p_k = precision_at(purchasers, ids["people"], k)
    d_prec, d_k = precision_at(dealers, ids["dealers"], k)
    big = high_volume_dealers(conn, ids["dealers"])
    out = {
        "purchaser_precision": p_prec, "purchaser_k": p_k, "purchaser_positives": len(ids["people"]),
        "dealer_precision": d_prec, "dealer_k": d_k, "dealer_positives": len(ids["dealers"]),
        "risk_dealers_in_top": sum(1 for x in list(dealers)[:k] if x in ids["risk_dealers"]),
        "risk_dealers": len(ids["risk_dealers"]),
        "lookalike_purchasers_in_top": sum(1 for x in list(purchasers)[:k] if x in ids["lookalike_people"]),
        "lookalike_dealers_in_top": sum(1 for x in list(dealers)[:k] if x in ids["lookalike_dealers"]),
        "high_volume_lawful_dealers_in_top": sum(1 for x in list(dealers)[:k] if x in big),
        "firearm_auc": roc_auc(firearm_scores, ids["firearms"]) if firearm_scores is not None else None,
    }
    return out


# The Leads page's purchaser and dealer lists as they were before the index: the baseline to beat.
_PURCHASERS = text("""
    WITH top AS (
        SELECT purchaser_id AS id, count(*) AS traces,
               count(*) FILTER (WHERE ttc_days < :short AND possessor_is_purchaser IS FALSE) AS short_other
        FROM trace WHERE purchaser_id IS NOT NULL GROUP BY purchaser_id
        HAVING count(*) >= 2 OR count(*) FILTER (WHERE ttc_days < :short AND possessor_is_purchaser IS FALSE) >= 1
        ORDER BY traces DESC, short_other DESC, purchaser_id LIMIT 2 * CAST(:n AS int))
    SELECT top.id, top.short_other, d.guns, d.dealers, d.min_ttc, d.multiple_sale, d.firearm_id,
           pe.last_name, pe.first_name, pe.dob
    FROM top
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT t.firearm_id) AS guns, count(DISTINCT t.dealer_id) AS dealers,
               min(t.ttc_days) AS min_ttc, bool_or(t.multiple_sale) AS multiple_sale,
               (array_agg(t.firearm_id ORDER BY t.ttc_days NULLS LAST))[1] AS firearm_id
        FROM trace t WHERE t.purchaser_id = top.id) d
    JOIN pii.person pe ON pe.id = top.id
    WHERE d.guns >= 2 OR top.short_other >= 1
    ORDER BY d.guns DESC, top.short_other DESC, d.min_ttc NULLS LAST, top.id LIMIT :n""")

# A dealer's short-TTC traces against what the all-dealer rate p predicts for its volume:
# z = (short - n p) / sqrt(n p (1 - p)). High z = unusually many fast crime guns for its size.
_DEALERS = text("""
    WITH s AS (SELECT dealer_id, count(*) AS n, count(*) FILTER (WHERE ttc_days < :short) AS short_n,
                      count(DISTINCT purchaser_id) AS purchasers
               FROM trace WHERE dealer_id IS NOT NULL GROUP BY dealer_id),
    z AS (SELECT s.*, s.short_n::float / s.n AS share,
                 (s.short_n - s.n * CAST(:p AS float)) / sqrt(s.n * CAST(:p AS float) * (1 - CAST(:p AS float))) AS z
          FROM s)
    SELECT d.id, coalesce(d.business_name, d.license_name) AS name, d.premise_city, d.premise_state, d.in_city,
           z.n, z.short_n, z.share, z.purchasers, z.z
    FROM z JOIN dealer d ON d.id = z.dealer_id
    WHERE (z.n >= :min_n AND z.z >= :z_cut) OR z.n > :count_cut
    ORDER BY z.z DESC, z.n DESC LIMIT :n""")


def baseline(conn: Connection, k: int = TOP_K) -> tuple[list[int], list[int]]:
    """The purchaser and dealer lists of the Leads page as they were before the index."""
    from layers.indicators import DEALER_Z, MIN_PEER_TRACES, SHORT_TTC_DAYS, dealer_peers

    peers = dealer_peers(conn)
    p = min(max(peers["overall_short_share"] or 0.0, 0.01), 0.99)
    count_cut = max(2 * (peers["p90_traces"] or 0), 10)
    purchasers = [r.id for r in conn.execute(_PURCHASERS, {"short": SHORT_TTC_DAYS, "n": k})]
    dealers = [r.id for r in conn.execute(_DEALERS, {
        "short": SHORT_TTC_DAYS, "min_n": MIN_PEER_TRACES, "p": p, "z_cut": DEALER_Z, "count_cut": count_cut,
        "n": k})]
    return purchasers, dealers
