"""What is known about one person, dealer or incident: the detail pages' read path.

Each function returns plain dicts; people and case identifiers pass through `layers.access`
(redacted for viewers without personal-data permission, recorded when handed out).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from layers import access
from layers.db import read_engine
from layers.indicators import dealer_indicator, dealer_record

_GUNS_OF_PERSON = text("""
    SELECT t.firearm_id, f.manufacturer, f.model, f.caliber, f.serial_number, f.serial_obliterated,
           t.trace_number, t.purchase_date, r.recovery_date, t.ttc_days, r.district,
           CASE WHEN t.purchaser_id = :p AND t.possessor_id = :p THEN 'purchased and possessed'
                WHEN t.purchaser_id = :p THEN 'purchased' WHEN t.possessor_id = :p THEN 'possessed'
                ELSE 'associate of possessor' END AS role,
           coalesce(d.business_name, d.license_name, t.dealer_name) AS dealer, t.dealer_id
    FROM trace t JOIN recovery r ON r.trace_id = t.id JOIN firearm f ON f.id = t.firearm_id
    LEFT JOIN dealer d ON d.id = t.dealer_id
    WHERE t.purchaser_id = :p OR t.possessor_id = :p OR t.associate_id = :p
    ORDER BY coalesce(t.purchase_date, r.recovery_date), t.id LIMIT 500""")


def person_detail(person_id: int, viewer: access.Viewer | None = None) -> dict[str, Any] | None:
    """A person and the traced guns they bought, held or were named with. None when not allowed/absent."""
    viewer = access.require("records", viewer)
    if not viewer.personal_data:
        return {"restricted": True}
    with read_engine().connect() as conn:
        p = conn.execute(text("""SELECT id, last_name, first_name, dob, sex, race, street, city, state, zip
                                 FROM pii.person WHERE id = :p"""), {"p": person_id}).mappings().first()
        if p is None:
            return None
        guns = [dict(r) for r in conn.execute(_GUNS_OF_PERSON, {"p": person_id}).mappings()]
    access.record_access(viewer, "view", "person", [person_id])
    for g in guns:
        for k in ("purchase_date", "recovery_date"):
            g[k] = g[k].isoformat() if g[k] else None
    return {"restricted": False, "person": dict(p), "guns": guns,
            "purchased": sum(1 for g in guns if g["role"].startswith("purchased")),
            "possessed": sum(1 for g in guns if "possessed" in g["role"])}


def dealer_detail(dealer_id: int, viewer: access.Viewer | None = None) -> dict[str, Any] | None:
    """A dealer, its trace record against peers, and its most recent traced guns."""

    viewer = access.require("records", viewer)
    with read_engine().connect() as conn:
        d = conn.execute(text("""SELECT id, ffl_key, license_number, license_name, business_name, premise_street,
                                        premise_city, premise_state, premise_zip, in_city, geocode_precision, source
                                 FROM dealer WHERE id = :d"""), {"d": dealer_id}).mappings().first()
        if d is None:
            return None
        record = dealer_record(conn, dealer_id)
        guns = conn.execute(text("""
            SELECT t.firearm_id, f.manufacturer, f.model, f.caliber, t.purchase_date, r.recovery_date, t.ttc_days,
                   r.district, t.multiple_sale, t.possessor_is_purchaser
            FROM trace t JOIN recovery r ON r.trace_id = t.id JOIN firearm f ON f.id = t.firearm_id
            WHERE t.dealer_id = :d ORDER BY t.purchase_date DESC NULLS LAST LIMIT 100"""),
            {"d": dealer_id}).mappings().all()
        by_year = conn.execute(text("""
            SELECT extract(year FROM r.recovery_date)::int AS year, count(*) AS traces,
                   count(*) FILTER (WHERE t.ttc_days < 365) AS short
            FROM trace t JOIN recovery r ON r.trace_id = t.id WHERE t.dealer_id = :d GROUP BY 1 ORDER BY 1"""),
            {"d": dealer_id}).mappings().all()
    name = d["business_name"] or d["license_name"]
    if viewer.personal_data:
        access.record_access(viewer, "view", "dealer", [dealer_id])
    dealer = access.redact({**dict(d), "premise_street": d["premise_street"]}, viewer)
    return {"dealer": dealer, "name": name, "record": record, "indicator": dealer_indicator(record, name),
            "guns": [{**dict(g), "purchase_date": g["purchase_date"] and g["purchase_date"].isoformat(),
                      "recovery_date": g["recovery_date"].isoformat()} for g in guns],
            "by_year": [dict(r) for r in by_year]}


def incident_detail(incident_id: int, viewer: access.Viewer | None = None) -> dict[str, Any] | None:
    """An incident, the guns tied to it (recovery or NIBIN), NIBIN-linked scenes and corroborating alerts."""
    viewer = access.require("records", viewer)
    with read_engine().connect() as conn:
        i = conn.execute(text("""
            SELECT id, cc_number, to_char(crime_datetime AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS at,
                   crime_code, description, category, weapon, district, neighborhood, location AS address, premise,
                   inside_outside, ST_Y(geom) AS lat, ST_X(geom) AS lon
            FROM incident WHERE id = :i"""), {"i": incident_id}).mappings().first()
        if i is None:
            return None
        guns = conn.execute(text("""
            SELECT fi.firearm_id, fi.via, fi.lead_id, fi.lead_status, f.manufacturer, f.model, f.caliber
            FROM firearm_incident fi JOIN firearm f ON f.id = fi.firearm_id WHERE fi.incident_id = :i
            ORDER BY fi.via DESC, fi.firearm_id"""), {"i": incident_id}).mappings().all()
        # Every scene whose casings NIBIN puts in the same gun group as this one's (the whole chain).
        others = conn.execute(text("""
            SELECT DISTINCT ON (i.crime_datetime, i.id) i.id,
                   to_char(i.crime_datetime AT TIME ZONE 'America/New_York', 'YYYY-MM-DD') AS date, i.category,
                   i.description, i.district,
                   (SELECT l.lead_id || ' (' || l.lead_status || ')' FROM nibin_lead l
                    WHERE b.id IN (l.evidence_a_id, l.evidence_b_id)
                    ORDER BY (l.lead_status = 'HIT') DESC, l.lead_date LIMIT 1) AS lead
            FROM ballistic_evidence a
            JOIN ballistic_evidence b ON b.gun_group = a.gun_group AND b.incident_id IS NOT NULL
                                     AND b.incident_id <> a.incident_id
            JOIN incident i ON i.id = b.incident_id
            WHERE a.incident_id = :i AND a.gun_group IS NOT NULL
            ORDER BY i.crime_datetime, i.id"""), {"i": incident_id}).mappings().all()
        alerts = conn.execute(text("""
            SELECT id, source_id, to_char(alert_time AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS at,
                   alert_type, rounds FROM shot_alert WHERE incident_id = :i ORDER BY alert_time"""),
            {"i": incident_id}).mappings().all()
    if viewer.personal_data:
        access.record_access(viewer, "view", "incident", [incident_id])
    return {"incident": access.redact(dict(i), viewer), "guns": [dict(g) for g in guns],
            "nibin_incidents": [dict(o) for o in others],
            "alerts": [dict(a) for a in alerts]}
