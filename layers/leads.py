"""Leads: the trafficking patterns turned into a work list. Each lead says why it is there.

Four kinds (domain.md §4):
- purchasers with two or more traced guns, or a short time-to-crime gun recovered from someone else,
  ranked by their trafficking-index score (layers/index), with its main contributions as the reason;
- guns linked by NIBIN to several shootings that are not recovered (gun groups with casings only);
- dealers whose index score is above zero: more short time-to-crime traces, traces bought by repeat
  purchasers or multiple sales than their peers' shares predict for their volume;
- NIBIN links that arrived recently (by lead date, relative to the newest lead) and touch a known
  gun or person.
People's names are personal data: without that permission they are "[restricted]" and no person
page is linked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from layers import access
from layers.db import read_engine

LIMIT = 50
RECENT_DAYS = 30

# Purchasers and dealers come ranked from the trafficking index (layers/index, computed after every
# load): reading them is an indexed scan of the first rows, whatever the size of the data.
_PURCHASERS = text("""
    SELECT s.person_id AS id, s.score, s.rank, s.guns, s.dealers, s.short_other, s.min_ttc, s.multiple,
           s.contributions, s.config_version, pe.last_name, pe.first_name,
           (SELECT f.firearm_id FROM index.firearm_score f WHERE f.purchaser_id = s.person_id
            ORDER BY f.min_ttc NULLS LAST, f.firearm_id LIMIT 1) AS firearm_id,
           rv.verdict, rv.note, rv.username AS reviewed_by, rv.at AS reviewed_at
    FROM index.purchaser_score s JOIN pii.person pe ON pe.id = s.person_id
    LEFT JOIN LATERAL (SELECT r.verdict, r.note, r.username, r.at FROM index.review r
                       WHERE r.kind = 'purchaser' AND r.entity_id = s.person_id ORDER BY r.at DESC, r.id DESC LIMIT 1) rv
           ON true
    WHERE s.guns >= 2 OR s.short_other >= 1
    ORDER BY s.rank LIMIT :n""")

_UNRECOVERED = text("""
    SELECT gun_group, incidents, shootings, caliber, first_date, last_date, latest_incident, districts
    FROM index.unrecovered ORDER BY incidents DESC, last_date DESC, gun_group LIMIT :n""")

_DEALERS = text("""
    SELECT s.dealer_id AS id, s.score, s.rank, s.traces AS n, s.short_n, s.short_share AS share, s.peer_share,
           s.peer_group, s.purchasers, s.z_short AS z, s.contributions, s.config_version,
           d.business_name, d.license_name, d.premise_city, d.premise_state,
           rv.verdict, rv.note, rv.username AS reviewed_by, rv.at AS reviewed_at
    FROM index.dealer_score s JOIN dealer d ON d.id = s.dealer_id
    LEFT JOIN LATERAL (SELECT r.verdict, r.note, r.username, r.at FROM index.review r
                       WHERE r.kind = 'dealer' AND r.entity_id = s.dealer_id ORDER BY r.at DESC, r.id DESC LIMIT 1) rv
           ON true
    WHERE s.score > 0
    ORDER BY s.rank LIMIT :n""")

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


def _rows(conn: Connection, limit: int) -> dict[str, Any]:
    return {
        "purchasers": [dict(r) for r in conn.execute(_PURCHASERS, {"n": limit}).mappings()],
        "unrecovered": [dict(r) for r in conn.execute(_UNRECOVERED, {"n": limit}).mappings()],
        "dealers": [dict(r) for r in conn.execute(_DEALERS, {"n": limit}).mappings()],
        "recent": [dict(r) for r in conn.execute(_RECENT, {"days": RECENT_DAYS, "n": limit}).mappings()],
    }


def _review(r: Any) -> dict[str, Any] | None:
    if not r["verdict"]:
        return None
    return {"verdict": r["verdict"], "note": r["note"], "by": r["reviewed_by"],
            "at": r["reviewed_at"].isoformat(timespec="minutes") if r["reviewed_at"] else None}


def _findings(score: float, rank: int, contributions: list[dict[str, Any]], n: int = 3) -> str:
    """'Index score 8.4 (rank 3): fast guns in other hands +4.1, multiple sales +2.0, ...'"""
    from layers.index.read import label

    parts = [f"{label(c['key']).lower()} +{float(c['points']):.1f}" for c in contributions[:n]]
    return f"Index score {score:.1f} (rank {rank})" + (": " + ", ".join(parts) if parts else "") + "."


def _dealer_why(r: Any) -> str:
    why = []
    if r["n"]:
        why.append(f"{r['short_n']} of {r['n']} traces ({100 * (r['share'] or 0):.0f}%) under one year, against "
                   f"{100 * (r['peer_share'] or 0):.0f}% for its peers ({r['peer_group']})")
    return "; ".join(why) + ". " + _findings(r["score"], r["rank"], r["contributions"])


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
        if r["multiple"]:
            why.append("part of a multiple sale")
        links = [("Journey of the fastest gun", f"/firearm/{r['firearm_id']}")] if r["firearm_id"] else []
        if pd:
            links = [("Person", f"/person/{r['id']}"), ("Network", f"/network?focus=person:{r['id']}"), *links]
        out["purchasers"].append({
            "title": _name(r, viewer),
            "why": "; ".join(why).capitalize() + ". " + _findings(r["score"], r["rank"], r["contributions"]),
            "score": r["score"], "rank": r["rank"],
            "guns": r["guns"], "dealers": r["dealers"], "short_other": r["short_other"], "min_ttc_days": r["min_ttc"],
            "config_version": r["config_version"], "review": _review(r), "id": r["id"] if pd else None,
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

    out["dealers"] = []
    for r in raw["dealers"]:
        out["dealers"].append({
            "title": access.dealer_name(r["business_name"], r["license_name"], viewer, r["premise_city"],
                                        r["premise_state"]),
            "place": f"{(r['premise_city'] or '').title()}, {r['premise_state'] or ''}",
            "why": _dealer_why(r), "score": r["score"], "rank": r["rank"], "traces": r["n"],
            "short_traces": r["short_n"], "short_share": r["share"], "peer_share": r["peer_share"], "z": r["z"],
            "config_version": r["config_version"], "review": _review(r), "id": r["id"],
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
