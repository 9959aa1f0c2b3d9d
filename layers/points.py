"""The span of the loaded data (the map's date presets count back from its last day)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from layers import access
from layers.db import read_engine

TTC_BANDS = ((0, 365, "under 1 year"), (365, 3 * 365, "1–3 years"), (3 * 365, 10**6, "over 3 years"))


def data_extent() -> tuple[dt.date, dt.date] | None:
    """First and last day with any incident, alert or recovery."""
    access.require("map")
    with read_engine().connect() as conn:
        row = conn.execute(text("""
            SELECT min(d)::date, max(d)::date FROM (
                SELECT min(crime_datetime AT TIME ZONE 'America/New_York') d FROM incident
                UNION ALL SELECT max(crime_datetime AT TIME ZONE 'America/New_York') FROM incident
                UNION ALL SELECT min(recovery_date) FROM recovery UNION ALL SELECT max(recovery_date) FROM recovery
                UNION ALL SELECT min(alert_time AT TIME ZONE 'America/New_York') FROM shot_alert
                UNION ALL SELECT max(alert_time AT TIME ZONE 'America/New_York') FROM shot_alert) x""")).one()
    return None if row[0] is None else (row[0], row[1])
