"""Leads: the trafficking patterns turned into a work list. Each lead says why it is there.

Four kinds (domain.md §4):
- purchasers with two or more traced guns, or a short time-to-crime gun recovered from someone else;
- guns linked by NIBIN to several shootings that are not recovered (gun groups with casings only);
- dealers with unusual numbers or shares of short time-to-crime traces compared with their peers
  (ranked by how far their short-TTC count exceeds the all-dealer rate for their volume);
- NIBIN links that arrived recently (by lead date, relative to the newest lead) and touch a known
  gun or person.
People's names are personal data: without that permission they are "[restricted]" and no person
page is linked.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Connection, text

from layers import access
from layers.db import read_engine
from layers.indicators import DEALER_Z as Z_CUT
from layers.indicators import MIN_PEER_TRACES, SHORT_TTC_DAYS, data_key, dealer_peers

LIMIT = 50
RECENT_DAYS = 30

# Rank purchasers with one cheap pass over all traces (hash aggregate), then describe only the top ones.
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

_UNRECOVERED = text("""
    SELECT e.gun_group, count(DISTINCT e.incident_id) AS incidents, max(e.caliber) AS caliber,
           min(i.crime_datetime AT TIME ZONE 'America/New_York')::date AS first_date,
           max(i.crime_datetime AT TIME ZONE 'America/New_York')::date AS last_date,
           count(DISTINCT i.id) FILTER (WHERE i.category IN ('homicide', 'shooting')) AS shootings,
           (array_agg(e.incident_id ORDER BY i.crime_datetime DESC))[1] AS latest_incident,
           array_agg(DISTINCT i.district) FILTER (WHERE i.district IS NOT NULL) AS districts
    FROM ballistic_evidence e JOIN incident i ON i.id = e.incident_id
    WHERE e.gun_group IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM ballistic_evidence x WHERE x.gun_group = e.gun_group
                      AND (x.evidence_type = 'TEST_FIRE' OR x.firearm_id IS NOT NULL))
    GROUP BY e.gun_group HAVING count(DISTINCT e.incident_id) >= 2
    ORDER BY count(DISTINCT e.incident_id) DESC, max(i.crime_datetime) DESC LIMIT :n""")

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

_RECENT = text("""
    WITH newest AS (SELECT max(lead_date) AS d FROM nibin_lead),
    l AS (SELECT l.lead_id, l.lead_date, l.lead_status, ea.incident_id AS incident_a, eb.incident_id AS incident_b,
                 coalesce(ea.firearm_id, eb.firearm_id) AS direct_firearm
          FROM nibin_lead l CROSS JOIN newest
          JOIN ballistic_evidence ea ON ea.id = l.evidence_a_id
          JOIN ballistic_evidence eb ON eb.id = l.evidence_b_id
          WHERE l.lead_date > newest.d - CAST(:days AS int))
    SELECT l.*, g.firearm_id,
           (SELECT t.possessor_id FROM trace t WHERE t.firearm_id = g.firearm_id
            ORDER BY t.request_date DESC LIMIT 1) AS person_id
    FROM l CROSS JOIN LATERAL (
        SELECT coalesce(l.direct_firearm, (SELECT fi.firearm_id FROM firearm_incident fi
                                          WHERE fi.incident_id IN (l.incident_a, l.incident_b) LIMIT 1)) AS firearm_id) g
    WHERE g.firearm_id IS NOT NULL
    ORDER BY l.lead_date DESC, l.lead_id LIMIT :n""")


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def _rows(conn: Connection, limit: int) -> dict[str, Any]:
    """The raw lead rows, the same for every viewer: computed once per loaded-data version (whole-table
    aggregates take seconds at 100x Baltimore), then shaped per viewer."""
    key = f"{data_key(conn)}|{limit}"
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    peers = dealer_peers(conn)
    p = min(max(peers["overall_short_share"] or 0.0, 0.01), 0.99)
    count_cut = max(2 * (peers["p90_traces"] or 0), 10)
    rows = {
        "peers": peers, "p": p, "count_cut": count_cut,
        "purchasers": [dict(r) for r in conn.execute(_PURCHASERS, {"short": SHORT_TTC_DAYS, "n": limit}).mappings()],
        "unrecovered": [dict(r) for r in conn.execute(_UNRECOVERED, {"n": limit}).mappings()],
        "dealers": [dict(r) for r in conn.execute(_DEALERS, {
            "short": SHORT_TTC_DAYS, "min_n": MIN_PEER_TRACES, "p": p, "z_cut": Z_CUT, "count_cut": count_cut,
            "n": limit}).mappings()],
        "recent": [dict(r) for r in conn.execute(_RECENT, {"days": RECENT_DAYS, "n": limit}).mappings()],
    }
    with _cache_lock:
        _cache.clear()
        _cache[key] = rows
    return rows


def _name(r: Any, viewer: access.Viewer) -> str:
    if not viewer.personal_data:
        return "[restricted]"
    return f"{r['last_name']}, {r['first_name']}" if r["first_name"] else r["last_name"]


def leads(viewer: access.Viewer | None = None, limit: int = LIMIT) -> dict[str, list[dict[str, Any]]]:
    """{'purchasers': [...], 'unrecovered': [...], 'dealers': [...], 'recent_nibin': [...]}.

    Every lead has `why` (a sentence), `links` ([(label, href)]) and the figures it rests on."""
    viewer = access.require("records", viewer)
    pd = viewer.personal_data
    out: dict[str, list[dict[str, Any]]] = {}
    with read_engine().connect() as conn:
        raw = _rows(conn, limit)
    rows = raw["purchasers"]
    out["purchasers"] = []
    for r in rows:
        why = []
        if r["guns"] >= 2:
            why.append(f"bought {r['guns']} guns later traced to crimes"
                       + (f" at {r['dealers']} dealers" if r["dealers"] and r["dealers"] > 1 else ""))
        if r["short_other"]:
            why.append(f"{r['short_other']} recovered from someone else within a year of purchase")
        if r["multiple_sale"]:
            why.append("part of a multiple sale")
        links = [("Journey of the fastest gun", f"/firearm/{r['firearm_id']}")]
        if pd:
            links = [("Person", f"/person/{r['id']}"), ("Network", f"/network?focus=person:{r['id']}"), *links]
        out["purchasers"].append({
            "title": _name(r, viewer), "why": "; ".join(why).capitalize() + ".", "guns": r["guns"],
            "dealers": r["dealers"], "short_other": r["short_other"], "min_ttc_days": r["min_ttc"],
            "links": links})
    if pd:
        access.record_access(viewer, "list leads", "person", [r["id"] for r in rows])

    out["unrecovered"] = []
    for r in raw["unrecovered"]:
        districts = ", ".join(d.title() for d in sorted(r["districts"] or []))
        out["unrecovered"].append({
            "title": f"Unrecovered {r['caliber'] or ''} gun (NIBIN group {r['gun_group']})".replace("  ", " "),
            "why": f"Casings from {r['incidents']} incidents ({r['shootings']} shootings or homicides) "
                   f"between {r['first_date']} and {r['last_date']} match by NIBIN, and no gun has been "
                   f"recovered{' — ' + districts if districts else ''}.",
            "incidents": r["incidents"], "last_date": r["last_date"].isoformat(),
            "links": [("Latest incident", f"/incident/{r['latest_incident']}"),
                      ("Network", f"/network?focus=incident:{r['latest_incident']}")]})

    peers, p, count_cut = raw["peers"], raw["p"], raw["count_cut"]
    out["dealers"] = []
    for r in raw["dealers"]:
        why = []
        if r["n"] >= MIN_PEER_TRACES and r["z"] >= Z_CUT:
            excess = r["short_n"] - r["n"] * p
            why.append(f"{r['short_n']} of {r['n']} traces ({100 * r['share']:.0f}%) under one year, against "
                       f"{100 * p:.0f}% for all dealers — {excess:.0f} more than expected (z = {r['z']:.1f})")
        if r["n"] > count_cut:
            why.append(f"{r['n']} traced guns (peers' median {peers['median_traces']:g})")
        out["dealers"].append({
            "title": r["name"], "place": f"{(r['premise_city'] or '').title()}, {r['premise_state'] or ''}",
            "why": "; ".join(why)[0].upper() + "; ".join(why)[1:] + ".", "traces": r["n"],
            "short_traces": r["short_n"], "short_share": r["share"], "z": r["z"],
            "links": [("Dealer", f"/dealer/{r['id']}"), ("Network", f"/network?focus=dealer:{r['id']}")]})

    out["recent_nibin"] = []
    for r in raw["recent"]:
        if r["firearm_id"] is None:
            continue
        links = [("Journey", f"/firearm/{r['firearm_id']}")]
        for inc in (r["incident_a"], r["incident_b"]):
            if inc:
                links.append(("Incident", f"/incident/{inc}"))
        links.append(("Network", f"/network?focus=firearm:{r['firearm_id']}"))
        who = " and a known person" if r["person_id"] else ""
        out["recent_nibin"].append({
            "title": f"{r['lead_id']} ({r['lead_status']}, {r['lead_date']})",
            "why": f"New NIBIN {'hit' if r['lead_status'] == 'HIT' else 'lead'} of {r['lead_date']} touches a "
                   f"traced gun{who}.", "lead_date": r["lead_date"].isoformat(), "links": links})
    return out
