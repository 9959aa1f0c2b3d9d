"""The span of the loaded data (the map's date presets count back from its last day)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from layers import access
from layers.db import read_engine

TTC_BANDS = ((0, 365, "under 1 year"), (365, 3 * 365, "1–3 years"), (3 * 365, 10**6, "over 3 years"))


def data_extent() -> tuple[dt.date, dt.date] | None:
    """First and last day with a shooting or homicide, an alert or a recovery (what the map shows).

    min/max of the bare columns, each answered from an index (the gun-incident partial index, the alert
    time and recovery date indexes) and converted to local days afterwards: converting inside the
    aggregate would read every row (433 ms at Baltimore's size, 4.7 s at 100 times)."""
    access.require("map")
    with read_engine().connect() as conn:
        row = conn.execute(text("""
            WITH x AS (
                SELECT (SELECT min(crime_datetime) FROM incident
                        WHERE is_firearm AND category IN ('shooting', 'homicide')) AS i0,
                       (SELECT max(crime_datetime) FROM incident
                        WHERE is_firearm AND category IN ('shooting', 'homicide')) AS i1,
                       (SELECT min(alert_time) FROM shot_alert) AS a0, (SELECT max(alert_time) FROM shot_alert) AS a1,
                       (SELECT min(recovery_date) FROM recovery) AS r0, (SELECT max(recovery_date) FROM recovery) AS r1)
            SELECT least((i0 AT TIME ZONE 'America/New_York')::date, (a0 AT TIME ZONE 'America/New_York')::date, r0),
                   greatest((i1 AT TIME ZONE 'America/New_York')::date, (a1 AT TIME ZONE 'America/New_York')::date,
                            r1)
            FROM x""")).one()
    return None if row[0] is None else (row[0], row[1])
