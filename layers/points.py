"""Point layers for the map: gun recoveries and ShotSpotter alerts, never more than a capped number.

What reaches the browser here is non-identifying: no names, no serial numbers, no trace numbers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from layers import settings
from layers.db import read_engine
from layers.geojson import feature_collection

TTC_BANDS = ((0, 365, "under 1 year"), (365, 3 * 365, "1–3 years"), (3 * 365, 10**6, "over 3 years"))


def data_extent() -> tuple[dt.date, dt.date] | None:
    """First and last day with any incident, alert or recovery."""
    with read_engine().connect() as conn:
        row = conn.execute(text("""
            SELECT min(d)::date, max(d)::date FROM (
                SELECT min(crime_datetime AT TIME ZONE 'America/New_York') d FROM incident
                UNION ALL SELECT max(crime_datetime AT TIME ZONE 'America/New_York') FROM incident
                UNION ALL SELECT min(recovery_date) FROM recovery UNION ALL SELECT max(recovery_date) FROM recovery
                UNION ALL SELECT min(alert_time AT TIME ZONE 'America/New_York') FROM shot_alert
                UNION ALL SELECT max(alert_time AT TIME ZONE 'America/New_York') FROM shot_alert) x""")).one()
    return None if row[0] is None else (row[0], row[1])


def _limit(limit: int | None) -> int:
    return limit or settings.get("CGA_MAX_POINTS")


def recoveries(start: dt.date, end: dt.date, limit: int | None = None) -> dict:
    """Recoveries between two dates (inclusive): GeoJSON plus how many there are in all."""
    cap = _limit(limit)
    with read_engine().connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM recovery WHERE recovery_date BETWEEN :s AND :e "
                                  "AND geom IS NOT NULL"), {"s": start, "e": end}).scalar_one()
        rows = conn.execute(text("""
            SELECT r.id, r.recovery_date::text AS date, r.district, f.firearm_type, f.caliber,
                   f.manufacturer, t.ttc_days, t.source_state, t.source_in_state, t.trace_status,
                   CASE WHEN t.ttc_days < 365 THEN 'under 1 year' WHEN t.ttc_days < 1095 THEN '1–3 years'
                        WHEN t.ttc_days IS NOT NULL THEN 'over 3 years' END AS ttc_band,
                   ST_AsGeoJSON(r.geom, 5) AS geometry
            FROM recovery r JOIN trace t ON t.id = r.trace_id JOIN firearm f ON f.id = r.firearm_id
            WHERE r.recovery_date BETWEEN :s AND :e AND r.geom IS NOT NULL
            ORDER BY r.recovery_date DESC LIMIT :n"""), {"s": start, "e": end, "n": cap}).mappings().all()
    return {"geojson": feature_collection(rows), "count": len(rows), "total": total, "truncated": total > cap}


def shot_alerts(start: dt.date, end: dt.date, limit: int | None = None) -> dict:
    """ShotSpotter alerts between two local dates (inclusive)."""
    cap = _limit(limit)
    params = {"s": start, "e": end + dt.timedelta(days=1), "n": cap}
    where = ("alert_time >= (CAST(:s AS timestamp) AT TIME ZONE 'America/New_York') "
             "AND alert_time < (CAST(:e AS timestamp) AT TIME ZONE 'America/New_York')")
    with read_engine().connect() as conn:
        total = conn.execute(text(f"SELECT count(*) FROM shot_alert WHERE {where}"), params).scalar_one()
        rows = conn.execute(text(f"""
            SELECT id, to_char(alert_time AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS time,
                   alert_type, rounds, district, incident_id IS NOT NULL AS corroborated,
                   ST_AsGeoJSON(geom, 5) AS geometry
            FROM shot_alert WHERE {where} ORDER BY alert_time DESC LIMIT :n"""), params).mappings().all()
    return {"geojson": feature_collection(rows), "count": len(rows), "total": total, "truncated": total > cap}
