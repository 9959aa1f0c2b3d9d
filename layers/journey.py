"""The journey of one firearm: first retail sale, recoveries, NIBIN-linked scenes, corroborating alerts.

`firearm_journey(firearm_id)` returns plain data for the firearm page: the gun, its traces, a
timeline in order where every step names its source record, the path for the map (dealer first,
then the Baltimore scenes in time order) with the distance travelled, a plain-language summary and
the trafficking indicators. Personal fields pass through `layers.access` only.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import text

from layers import access
from layers.db import read_engine
from layers.indicators import firearm_indicators, ttc_band, years_months

RESTRICTED = "[restricted]"

_TRACES = text("""
    SELECT t.id AS trace_id, t.trace_number, t.request_date, t.trace_status, t.ncic_crime_code, t.case_number,
           t.purchase_date, t.multiple_sale, t.ttc_days, t.source_state, t.source_in_state, t.source_in_city,
           t.possessor_is_purchaser, t.purchaser_id, t.possessor_id, t.associate_id, t.dealer_id,
           coalesce(d.business_name, d.license_name, t.dealer_name) AS dealer_name, d.license_name,
           coalesce(d.premise_city, t.dealer_city) AS dealer_city,
           coalesce(d.premise_state, t.dealer_state) AS dealer_state,
           coalesce(d.license_number, t.dealer_license_number, d.ffl_key, t.dealer_ffl_key) AS dealer_license,
           d.in_city AS dealer_in_city, ST_Y(d.geom) AS dealer_lat, ST_X(d.geom) AS dealer_lon,
           r.id AS recovery_id, r.recovery_date, r.street, r.city, r.state, r.zip, r.district,
           r.geocode_precision, ST_Y(r.geom) AS lat, ST_X(r.geom) AS lon, r.incident_id AS recovery_incident_id,
           pu.last_name AS pu_last, pu.first_name AS pu_first, pu.dob AS pu_dob, pu.city AS pu_city,
           pu.state AS pu_state,
           po.last_name AS po_last, po.first_name AS po_first, po.dob AS po_dob,
           ab.last_name AS as_last, ab.first_name AS as_first
    FROM trace t
    JOIN recovery r ON r.trace_id = t.id
    LEFT JOIN dealer d ON d.id = t.dealer_id
    LEFT JOIN pii.person pu ON pu.id = t.purchaser_id
    LEFT JOIN pii.person po ON po.id = t.possessor_id
    LEFT JOIN pii.person ab ON ab.id = t.associate_id
    WHERE t.firearm_id = :f
    ORDER BY r.recovery_date, t.id""")

_INCIDENTS = text("""
    SELECT i.id, i.cc_number, i.crime_datetime AT TIME ZONE 'America/New_York' AS at, i.crime_code,
           i.description, i.category, i.district, i.location AS address, i.neighborhood,
           ST_Y(i.geom) AS lat, ST_X(i.geom) AS lon, fi.via, fi.lead_id, fi.lead_status, l.lead_date
    FROM firearm_incident fi
    JOIN incident i ON i.id = fi.incident_id
    LEFT JOIN nibin_lead l ON l.lead_id = fi.lead_id AND l.agency = i.agency
    WHERE fi.firearm_id = :f
    ORDER BY i.crime_datetime""")

_ALERTS = text("""
    SELECT s.id, s.source_id, s.incident_id, s.alert_time AT TIME ZONE 'America/New_York' AS at,
           s.alert_type, s.rounds, s.district, ST_Y(s.geom) AS lat, ST_X(s.geom) AS lon
    FROM shot_alert s WHERE s.incident_id = ANY(:ids) ORDER BY s.alert_time""")


def person_ref(pid: int | None, last: str | None, first: str | None, viewer: access.Viewer,
               dob: Any = None) -> dict[str, Any] | None:
    """A person as the browser may see them: id and name only for personal-data roles."""
    if pid is None:
        return None
    if not viewer.personal_data:
        return {"id": None, "person_name": RESTRICTED}
    name = f"{last}, {first}" if first else str(last)
    return {"id": pid, "person_name": name, "dob": dob.isoformat() if dob else None}


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def path_distance_km(points: list[dict[str, Any]]) -> float:
    coords = [(p["lat"], p["lon"]) for p in points]
    return sum(haversine_km(a, b) for a, b in zip(coords, coords[1:], strict=False))


def _d(x: Any) -> str | None:
    return x.isoformat() if x is not None else None


def _title_case(s: str | None) -> str:
    return s.title() if s else ""


_LEAD = text("""
    SELECT l.lead_id, l.lead_date, l.lead_status, ea.incident_id AS incident_a, eb.incident_id AS incident_b,
           ea.firearm_id AS firearm_a, eb.firearm_id AS firearm_b, ea.trace_number AS trace_a, eb.trace_number AS trace_b
    FROM nibin_lead l
    JOIN ballistic_evidence ea ON ea.id = l.evidence_a_id
    JOIN ballistic_evidence eb ON eb.id = l.evidence_b_id
    WHERE l.lead_id = :lead ORDER BY l.id LIMIT 1""")


def firearm_journey(firearm_id: int, viewer: access.Viewer | None = None,
                    lead: str | None = None) -> dict[str, Any] | None:
    """Everything the firearm page shows, or None when there is no such firearm (records roles only).

    With `lead` (a NIBIN lead id), `result['lead']` describes that lead and the timeline steps it touches
    carry `lead: True` (the incidents it joins, the recovery whose test fire it names)."""
    viewer = access.require("records", viewer)
    with read_engine().connect() as conn:
        gun = conn.execute(text("""
            SELECT id, serial_number, serial_obliterated, manufacturer, model, caliber, firearm_type,
                   country_of_origin, importer FROM firearm WHERE id = :f"""), {"f": firearm_id}).mappings().first()
        if gun is None:
            return None
        trace_rows = conn.execute(_TRACES, {"f": firearm_id}).mappings().all()
        incident_rows = conn.execute(_INCIDENTS, {"f": firearm_id}).mappings().all()
        alert_rows = conn.execute(_ALERTS, {"ids": [r["id"] for r in incident_rows]}).mappings().all()
        traces = [_trace(r, viewer) for r in trace_rows]
        nibin_count = sum(1 for r in incident_rows if r["via"] == "nibin")
        indicators = firearm_indicators(conn, dict(gun), traces, nibin_count)
        lead_row = conn.execute(_LEAD, {"lead": str(lead)[:32]}).mappings().first() if lead else None
    firearm = access.redact(dict(gun), viewer)
    firearm["description"] = describe_firearm(gun)
    incidents = [_incident(r, viewer) for r in incident_rows]
    alerts = [{**dict(r), "at": r["at"].strftime("%Y-%m-%d %H:%M")} for r in alert_rows]
    timeline = _timeline(traces, incidents, alerts)
    path = _path(traces, incidents)
    result = {
        "firearm": firearm, "traces": [_public_trace(t, viewer) for t in traces], "incidents": incidents,
        "alerts": alerts, "timeline": timeline, "path": path, "distance_km": round(path_distance_km(path), 1),
        "indicators": [{**i, "evidence": access.redact(i["evidence"], viewer)} for i in indicators],
        "personal_data": viewer.personal_data,
    }
    result["summary"] = summary(result, viewer)
    if lead:
        result["lead"] = _mark_lead(str(lead)[:32], lead_row, timeline)
    result["timeline"] = [{**access.redact(s, viewer), "source": access.redact(s["source"], viewer)}
                          for s in timeline]
    if viewer.personal_data:
        access.record_access(viewer, "view journey", "firearm", [firearm_id])
        access.record_access(viewer, "view journey", "trace", [t["trace_id"] for t in traces])
        people = {p for t in traces for p in (t["purchaser_id"], t["possessor_id"], t["associate_id"]) if p}
        access.record_access(viewer, "view journey", "person", sorted(people))
    return result


def _mark_lead(lead_id: str, row: Any, timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """Mark the steps a NIBIN lead touches; {'lead_id', 'found', 'lead_date', 'lead_status', 'steps'}."""
    incidents = {row["incident_a"], row["incident_b"]} - {None} if row else set()
    trace_numbers = {row["trace_a"], row["trace_b"]} - {None} if row else set()
    steps = []
    for s in timeline:
        hit = s.get("lead_id") == lead_id or (s["kind"] == "incident" and s["incident_id"] in incidents) or (
            s["kind"] == "recovery" and s["source"].get("trace_number") in trace_numbers)
        s["lead"] = bool(row) and hit
        if s["lead"]:
            steps.append(s["step"])
    return {"lead_id": lead_id, "found": bool(steps), "known": row is not None, "steps": steps,
            "lead_date": _d(row["lead_date"]) if row else None, "lead_status": row["lead_status"] if row else None}


def describe_firearm(gun: Any) -> str:
    parts = [gun["manufacturer"], gun["model"], gun["caliber"], (gun["firearm_type"] or "firearm").lower()]
    return " ".join(p for p in parts if p)


def _trace(r: Any, viewer: access.Viewer) -> dict[str, Any]:
    """One trace with its recovery, people and dealer (personal fields already gated)."""
    loc_ok = r["lat"] is not None
    return {
        "trace_id": r["trace_id"], "trace_number": r["trace_number"], "trace_status": r["trace_status"],
        "request_date": _d(r["request_date"]), "ncic_crime_code": r["ncic_crime_code"],
        "case_number": r["case_number"], "purchase_date": _d(r["purchase_date"]),
        "multiple_sale": r["multiple_sale"], "ttc_days": r["ttc_days"], "ttc_band": ttc_band(r["ttc_days"]),
        "source_state": r["source_state"], "source_in_state": r["source_in_state"],
        "possessor_is_purchaser": r["possessor_is_purchaser"],
        "purchaser_id": r["purchaser_id"], "possessor_id": r["possessor_id"], "associate_id": r["associate_id"],
        "purchaser": person_ref(r["purchaser_id"], r["pu_last"], r["pu_first"], viewer, r["pu_dob"]),
        "purchaser_place": (", ".join(x for x in (_title_case(r["pu_city"]), r["pu_state"]) if x) or None)
        if viewer.personal_data else None,
        "possessor": person_ref(r["possessor_id"], r["po_last"], r["po_first"], viewer, r["po_dob"]),
        "associate": person_ref(r["associate_id"], r["as_last"], r["as_first"], viewer),
        "dealer": {"id": r["dealer_id"], "name": r["dealer_name"], "city": _title_case(r["dealer_city"]),
                   "state": r["dealer_state"], "license": r["dealer_license"], "in_city": r["dealer_in_city"],
                   "lat": r["dealer_lat"], "lon": r["dealer_lon"]} if (r["dealer_name"] or r["dealer_id"]) else None,
        "recovery": {"id": r["recovery_id"], "date": _d(r["recovery_date"]), "street": r["street"],
                     "city": _title_case(r["city"]), "state": r["state"], "district": r["district"],
                     "precision": r["geocode_precision"], "lat": r["lat"] if loc_ok else None,
                     "lon": r["lon"] if loc_ok else None, "incident_id": r["recovery_incident_id"]},
        "recovery_date": _d(r["recovery_date"]),
    }


def _public_trace(t: dict[str, Any], viewer: access.Viewer) -> dict[str, Any]:
    out = access.redact({k: v for k, v in t.items() if k not in ("purchaser_id", "possessor_id", "associate_id")},
                        viewer)
    out["recovery"] = access.redact(t["recovery"], viewer)
    return out


def _incident(r: Any, viewer: access.Viewer) -> dict[str, Any]:
    row = dict(r)
    row["at"] = r["at"].strftime("%Y-%m-%d %H:%M")
    row["date"] = r["at"].date().isoformat()
    row["lead_date"] = _d(r["lead_date"])
    return access.redact(row, viewer)


def _timeline(traces: list[dict], incidents: list[dict], alerts: list[dict]) -> list[dict[str, Any]]:
    """Steps in time order; each names its source record."""
    steps: list[dict[str, Any]] = []
    seen_sales: set[tuple] = set()
    first_recovery = min((t["recovery_date"] for t in traces), default=None)
    first_sale = min((t["purchase_date"] for t in traces if t["purchase_date"]), default=None)
    for t in traces:
        sale_key = (t["purchase_date"], (t["dealer"] or {}).get("name"), (t["purchaser"] or {}).get("person_name"))
        if (t["purchase_date"] or t["dealer"]) and sale_key not in seen_sales:
            seen_sales.add(sale_key)
            d = t["dealer"] or {}
            steps.append({"kind": "sale", "date": t["purchase_date"], "order": 0,
                          "title": "First retail sale",
                          "dealer": d, "purchaser": t["purchaser"], "purchaser_place": t["purchaser_place"],
                          "multiple_sale": t["multiple_sale"], "trace_status": t["trace_status"],
                          "source": {"kind": "trace", "trace_number": t["trace_number"]}})
        rec = t["recovery"]
        steps.append({"kind": "recovery", "date": t["recovery_date"], "order": 1, "title": "Recovered",
                      "district": rec["district"], "street": rec["street"], "city": rec["city"],
                      "possessor": t["possessor"], "associate": t["associate"],
                      "possessor_is_purchaser": t["possessor_is_purchaser"],
                      "ncic_crime_code": t["ncic_crime_code"], "ttc_days": t["ttc_days"],
                      "ttc": years_months(t["ttc_days"]) if t["ttc_days"] is not None else None,
                      "ttc_band": t["ttc_band"], "trace_status": t["trace_status"],
                      "incident_id": rec["incident_id"],
                      "source": {"kind": "trace", "trace_number": t["trace_number"],
                                 "case_number": t["case_number"]}})
    for i in incidents:
        when = None
        if first_recovery and i["via"] == "nibin":
            when = "before recovery" if i["date"] < first_recovery else "after recovery"
        if first_sale and i["date"] < first_sale:
            when = "before its first retail sale — check the link"
        steps.append({"kind": "incident", "date": i["date"], "at": i["at"], "order": 2,
                      "title": ("Incident of the recovery" if i["via"] == "recovery" else "Linked by NIBIN"),
                      "incident_id": i["id"], "category": i["category"], "description": i["description"],
                      "crime_code": i["crime_code"], "district": i["district"], "address": i["address"],
                      "via": i["via"], "relative": when, "lead_id": i["lead_id"], "lead_status": i["lead_status"],
                      "lead_date": i["lead_date"],
                      "source": {"kind": "incident", "cc_number": i["cc_number"], "lead_id": i["lead_id"]}})
    for a in alerts:
        steps.append({"kind": "alert", "date": a["at"][:10], "at": a["at"], "order": 3,
                      "title": "ShotSpotter alert corroborates the incident", "incident_id": a["incident_id"],
                      "alert_type": a["alert_type"], "rounds": a["rounds"],
                      "source": {"kind": "alert", "alert_id": a["source_id"] or f"alert {a['id']}"}})
    steps.sort(key=lambda s: (s["date"] or "9999", s.get("at") or "", s["order"]))
    for n, s in enumerate(steps, 1):
        s["step"] = n
    return steps


def _path(traces: list[dict], incidents: list[dict]) -> list[dict[str, Any]]:
    """Dealer (where the gun was first sold), then the scenes in time order."""
    points: list[dict[str, Any]] = []
    sale = next((t for t in sorted(traces, key=lambda t: t["purchase_date"] or "9999")
                 if t["dealer"] and t["dealer"]["lat"] is not None), None)
    if sale:
        d = sale["dealer"]
        points.append({"kind": "dealer", "date": sale["purchase_date"], "lat": d["lat"], "lon": d["lon"],
                       "label": f"Sold by {d['name']}, {d['city']} {d['state'] or ''}".strip()})
    scenes = []
    recovery_incidents = {t["recovery"]["incident_id"] for t in traces}
    for t in traces:
        r = t["recovery"]
        if r["lat"] is not None:
            scenes.append({"kind": "recovery", "date": t["recovery_date"], "lat": r["lat"], "lon": r["lon"],
                           "label": f"Recovered {t['recovery_date']}" + (f", {r['district'].title()}"
                                                                       if r["district"] else "")})
    for i in incidents:
        if i["lat"] is None or (i["via"] == "recovery" and i["id"] in recovery_incidents):
            continue  # the recovery's own incident is the recovery scene
        scenes.append({"kind": "incident", "date": i["date"], "lat": i["lat"], "lon": i["lon"],
                       "incident_id": i["id"],
                       "label": f"{(i['category'] or 'incident').title()} {i['date']} (NIBIN)"})
    scenes.sort(key=lambda p: p["date"] or "9999")
    points += scenes
    for n, p in enumerate(points, 1):
        p["step"] = n
    return points


def _who(ref: dict | None, role: str, viewer: access.Viewer) -> str:
    if ref is None:
        return f"an unidentified {role}"
    return ref["person_name"] if viewer.personal_data else f"the {role}"


def summary(j: dict[str, Any], viewer: access.Viewer) -> str:
    """The journey in plain language; also the text alternative of the map."""
    f = j["firearm"]
    serial = ("with an obliterated serial number" if f["serial_obliterated"]
              else f"serial {f['serial_number']}" if f["serial_number"] else "with no serial number recorded")
    article = "An" if f["description"][:1].upper() in "AEIOU" else "A"
    out = [f"{article} {f['description']} ({serial})."]
    traces = j["traces"]
    if not traces:
        out.append("No trace of this firearm is on file.")
    sales = [s for s in j["timeline"] if s["kind"] == "sale"]
    if sales:
        s = sales[0]
        d = s["dealer"] or {}
        where = f" at {d['name']}" if d.get("name") else ""
        place = ", ".join(x for x in (d.get("city"), d.get("state")) if x)
        where += f" in {place}" if place else ""
        when = f" on {s['date']}" if s["date"] else ""
        # "to FOX, ROY" for those who may see people; no pseudo-name for the others.
        to = f" to {_who(s['purchaser'], 'purchaser', viewer)}" if s["purchaser"] and viewer.personal_data else ""
        multi = ", part of a multiple sale" if s["multiple_sale"] else ""
        out.append(f"First sold{when}{where}{to}{multi}.")
    elif traces:
        statuses = ", ".join(sorted({t["trace_status"].replace("_", " ").lower() for t in traces}))
        out.append(f"No retail sale is known (trace outcome: {statuses}).")
    recs = [s for s in j["timeline"] if s["kind"] == "recovery"]
    for n, r in enumerate(recs):
        district = f" in the {r['district'].title()} District" if r["district"] else ""
        lead = "Recovered" if n == 0 else "Recovered again"
        ttc = f" {r['ttc']} after the sale" if r["ttc"] and n == 0 else ""
        frm = ""
        if r["possessor"]:
            if r["possessor_is_purchaser"] is False:
                frm = " from a different person" + (f" ({r['possessor']['person_name']})" if viewer.personal_data else "")
            elif r["possessor_is_purchaser"]:
                frm = " from its purchaser"
            else:
                frm = f" from {_who(r['possessor'], 'possessor', viewer)}"
        out.append(f"{lead}{ttc} on {r['date']}{district}{frm}.")
    nibin = [s for s in j["timeline"] if s["kind"] == "incident" and s["via"] == "nibin"]
    if nibin:
        cats: dict[str, int] = {}
        for s in nibin:
            cats[s["category"] or "incident"] = cats.get(s["category"] or "incident", 0) + 1
        what = ", ".join(f"{v} {k}{'s' if v != 1 and not k.endswith('s') else ''}" for k, v in cats.items())
        before = sum(1 for s in nibin if s["relative"] and s["relative"].startswith("before"))
        after = sum(1 for s in nibin if s["relative"] == "after recovery")
        rel = f" ({before} before and {after} after its first recovery)" if recs else ""
        out.append(f"Linked by NIBIN to {what}{rel}, from {nibin[0]['date']} to {nibin[-1]['date']}.")
    if j["alerts"]:
        n = len(j["alerts"])
        out.append(f"{n} ShotSpotter alert{'s' if n != 1 else ''} corroborate{'s' if n == 1 else ''} "
                   "those incidents.")
    if len(j["path"]) > 1:
        out.append(f"Distance along its path: about {j['distance_km']:,.0f} km.")
    flagged = [i["label"] if i["label"][1:2].isupper() else i["label"][0].lower() + i["label"][1:]
               for i in j["indicators"] if i["status"] in ("flag", "strong")]
    if flagged:
        out.append(f"Trafficking indicators present: {', '.join(flagged)}.")
    return " ".join(out)
