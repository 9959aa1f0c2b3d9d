"""Guns linked by NIBIN to several incidents, recovered or not, newest linked incident first.

`nibin_guns` is the detective's list: every recovered gun tied by NIBIN leads to two or more incidents
(`firearm_incident` rows `via = 'nibin'`, derived after every load) and every NIBIN gun group with
casings only (no test fire, no gun: the gun is still on the street), in the order of the newest
incident linked to it. Each row names its newest lead and where to open it: a recovered gun's journey
with that lead shown (`/firearm/<id>?lead=<lead id>`), or the group's linked scenes
(`/nibin?group=<gun group>`). `group_scenes` lists one group's scenes and the leads that join them.

Records roles only; the incidents handed out are written to the audit trail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from layers import access
from layers.db import read_engine

MIN_INCIDENTS = 2
LIMIT = 200

_LOCAL = "(i.crime_datetime AT TIME ZONE 'America/New_York')"

_GUNS = text(f"""
    WITH rec AS (
        SELECT fi.firearm_id, CAST(NULL AS int) AS gun_group,
               count(DISTINCT fi.incident_id) AS incidents,
               count(DISTINCT i.id) FILTER (WHERE i.category IN ('homicide', 'shooting')) AS shootings,
               min({_LOCAL})::date AS first_date, max({_LOCAL})::date AS last_date,
               (array_agg(fi.incident_id ORDER BY i.crime_datetime DESC, i.id DESC))[1] AS latest_incident,
               array_agg(DISTINCT i.district) FILTER (WHERE i.district IS NOT NULL) AS districts
        FROM firearm_incident fi JOIN incident i ON i.id = fi.incident_id
        WHERE fi.via = 'nibin'
        GROUP BY fi.firearm_id HAVING count(DISTINCT fi.incident_id) >= :min),
    grp AS (
        SELECT CAST(NULL AS int) AS firearm_id, e.gun_group,
               count(DISTINCT e.incident_id) AS incidents,
               count(DISTINCT i.id) FILTER (WHERE i.category IN ('homicide', 'shooting')) AS shootings,
               min({_LOCAL})::date AS first_date, max({_LOCAL})::date AS last_date,
               (array_agg(e.incident_id ORDER BY i.crime_datetime DESC, i.id DESC))[1] AS latest_incident,
               array_agg(DISTINCT i.district) FILTER (WHERE i.district IS NOT NULL) AS districts
        FROM ballistic_evidence e JOIN incident i ON i.id = e.incident_id
        WHERE e.gun_group IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM ballistic_evidence x WHERE x.gun_group = e.gun_group
                          AND (x.evidence_type = 'TEST_FIRE' OR x.firearm_id IS NOT NULL))
        GROUP BY e.gun_group HAVING count(DISTINCT e.incident_id) >= :min),
    g AS (SELECT * FROM rec UNION ALL SELECT * FROM grp ORDER BY last_date DESC, incidents DESC,
                                                                firearm_id NULLS LAST, gun_group LIMIT :n)
    SELECT g.*, f.manufacturer, f.model, f.caliber AS gun_caliber, lead.lead_id, lead.lead_date, lead.lead_status,
           lead.caliber AS lead_caliber
    FROM g
    LEFT JOIN firearm f ON f.id = g.firearm_id
    LEFT JOIN LATERAL (
        SELECT l.lead_id, l.lead_date, l.lead_status, l.caliber
        FROM nibin_lead l
        WHERE (g.firearm_id IS NOT NULL AND l.lead_id IN (SELECT fi.lead_id FROM firearm_incident fi
                                                           WHERE fi.firearm_id = g.firearm_id AND fi.via = 'nibin'))
           OR (g.firearm_id IS NOT NULL AND EXISTS (
                   SELECT 1 FROM ballistic_evidence e JOIN ballistic_evidence x ON x.gun_group = e.gun_group
                   WHERE x.firearm_id = g.firearm_id AND e.id IN (l.evidence_a_id, l.evidence_b_id)))
           OR (g.gun_group IS NOT NULL AND EXISTS (SELECT 1 FROM ballistic_evidence e
                                                    WHERE e.gun_group = g.gun_group
                                                      AND e.id IN (l.evidence_a_id, l.evidence_b_id)))
        ORDER BY l.lead_date DESC, l.lead_id DESC LIMIT 1) lead ON true
    ORDER BY g.last_date DESC, g.incidents DESC, g.firearm_id NULLS LAST, g.gun_group""")

_SCENES = text(f"""
    SELECT DISTINCT ON (i.id) i.id AS incident_id, i.cc_number, {_LOCAL} AS at, i.category, i.description,
           i.district, i.location, e.evidence_id, e.caliber
    FROM ballistic_evidence e JOIN incident i ON i.id = e.incident_id
    WHERE e.gun_group = :g
    ORDER BY i.id, e.evidence_id""")

_GROUP_LEADS = text("""
    SELECT l.lead_id, l.lead_date, l.lead_status, l.caliber, ea.incident_id AS incident_a, eb.incident_id AS incident_b,
           ea.evidence_id AS evidence_a, eb.evidence_id AS evidence_b
    FROM nibin_lead l
    JOIN ballistic_evidence ea ON ea.id = l.evidence_a_id
    JOIN ballistic_evidence eb ON eb.id = l.evidence_b_id
    WHERE ea.gun_group = :g OR eb.gun_group = :g
    ORDER BY l.lead_date DESC, l.lead_id DESC""")


def _iso(d: Any) -> str | None:
    return d.isoformat() if d is not None else None


def nibin_guns(viewer: access.Viewer | None = None, min_incidents: int = MIN_INCIDENTS,
               limit: int = LIMIT) -> list[dict[str, Any]]:
    """Recovered and unrecovered guns linked by NIBIN to `min_incidents` or more incidents, newest linked
    incident first. Each row: status ('recovered' or 'unrecovered'), firearm_id, gun_group, gun, incidents,
    shootings, first_date, last_date, districts, lead_id, lead_date, lead_status, latest_incident, href."""
    viewer = access.require("records", viewer)
    with read_engine().connect() as conn:
        rows = conn.execute(_GUNS, {"min": max(2, int(min_incidents)), "n": int(limit)}).mappings().all()
    out = []
    for r in rows:
        recovered = r["firearm_id"] is not None
        caliber = r["gun_caliber"] if recovered else r["lead_caliber"]
        if recovered:
            gun = " ".join(x for x in (r["manufacturer"], r["model"], r["gun_caliber"]) if x) or "Firearm"
            href = f"/firearm/{r['firearm_id']}" + (f"?lead={r['lead_id']}" if r["lead_id"] else "")
        else:
            gun = " ".join(x for x in ("Unrecovered", caliber, f"gun (NIBIN group {r['gun_group']})") if x)
            href = f"/nibin?group={r['gun_group']}" + (f"&lead={r['lead_id']}" if r["lead_id"] else "")
        out.append({
            "status": "recovered" if recovered else "unrecovered", "firearm_id": r["firearm_id"],
            "gun_group": r["gun_group"], "gun": gun, "incidents": r["incidents"], "shootings": r["shootings"],
            "first_date": _iso(r["first_date"]), "last_date": _iso(r["last_date"]),
            "districts": ", ".join(d.title() for d in sorted(r["districts"] or [])),
            "lead_id": r["lead_id"], "lead_date": _iso(r["lead_date"]), "lead_status": r["lead_status"],
            "latest_incident": r["latest_incident"], "href": href})
    access.record_access(viewer, "list nibin", "firearm", [r["firearm_id"] for r in out if r["firearm_id"]])
    return out


def group_scenes(gun_group: int, viewer: access.Viewer | None = None) -> dict[str, Any] | None:
    """One NIBIN gun group: its scenes (oldest first) and the leads that join them (newest first), and
    whether a gun of the group has been recovered. None when there is no such group."""
    viewer = access.require("records", viewer)
    with read_engine().connect() as conn:
        scenes = [dict(r) for r in conn.execute(_SCENES, {"g": int(gun_group)}).mappings()]
        if not scenes:
            return None
        leads = [dict(r) for r in conn.execute(_GROUP_LEADS, {"g": int(gun_group)}).mappings()]
        gun = conn.execute(text("SELECT min(firearm_id) FROM ballistic_evidence WHERE gun_group = :g"),
                           {"g": int(gun_group)}).scalar_one()
    scenes.sort(key=lambda s: (s["at"], s["incident_id"]))
    out_scenes = []
    for s in scenes:
        s = {**s, "at": s["at"].strftime("%Y-%m-%d %H:%M"), "date": s["at"].date().isoformat(),
             "href": f"/incident/{s['incident_id']}"}
        out_scenes.append(access.redact(s, viewer))
    out_leads = [{**x, "lead_date": _iso(x["lead_date"])} for x in leads]
    access.record_access(viewer, "view nibin group", "incident", [s["incident_id"] for s in scenes])
    return {"gun_group": int(gun_group), "firearm_id": gun, "scenes": out_scenes, "leads": out_leads}
