"""Matching ShotSpotter alerts to the firearm incidents they corroborate (the derive's step, etl/derive.py):
which firearm incidents an alert can reach, whether to search them by place as well as time, and the match.

Only firearm incidents can be corroborated by an alert: a copy of just those, in time order, found through a
time index (Baltimore has 0.45 of them an hour). With a spatial index as well, every alert was planned as a
bitmap AND of both, reading the entries of all the years near its corner: 58-70 s for the 275k alerts of 10x
Baltimore, 2.2 s with the time index alone. Where an hour holds several of them (`dense`: 100x Baltimore
holds 45), by the squares around each alert and time. Exact ties (victims of one shooting: same time, same
place) go to the first incident recorded.
"""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg

from etl.clock import MATCH_MINUTES

# Alert matching by place as well as time (`dense`): the firearm incidents in the four 0.01-degree squares
# (point_square, migration 0010) around an alert, the ones its 0.005-degree search box can reach: the two
# columns and the two rows nearest its side of its own square.
_SIDE = "(CASE WHEN ST_{axis}(s2.geom) * 100 - floor(ST_{axis}(s2.geom) * 100) < 0.5 THEN -{step} ELSE {step} END)"
_DX, _DY = _SIDE.format(axis="X", step=20000), _SIDE.format(axis="Y", step=1)
NEAR_SQUARES = (f"i.square = ANY(ARRAY[point_square(s2.geom), point_square(s2.geom) + {_DX}, "
                f"point_square(s2.geom) + {_DY}, point_square(s2.geom) + {_DX} + {_DY}])")
# Firearm incidents per hour from which alerts are matched through (square, time) instead of time alone.
DENSE_PER_HOUR = 3.0


def dense(conn: psycopg.Connection) -> bool:
    """Are the firearm incidents to match alerts against so dense in time that an alert's hour holds several?
    Through a time index alone each alert reads every firearm incident of its hour, wherever it is (Baltimore:
    0.45 an hour, 4.5 at 10x, 45 at 100x); through (square, time) it reads four squares' few, but pays four
    index searches. Over 27,572 alerts: 0.11 s by time, 0.30 s by square at Baltimore's density; 0.38-0.41 s
    against 0.26-0.37 s at ten times it; 0.45-0.55 s against 0.31-0.33 s at thirty times (same matches). In the
    100x build: 115.1 s to 61.1 s of the first derive, 46.3 s to 16.4 s of `derive --full`."""
    count, hours = conn.execute("SELECT count(*), extract(epoch FROM max(crime_datetime) - min(crime_datetime))"
                                " / 3600 FROM gun_incident").fetchone()
    return count >= DENSE_PER_HOUR * max(float(hours or 0), 1.0)


def match_spans(conn: psycopg.Connection, run_alerts: list[tuple], lo, hi) -> list[tuple]:
    """(agency, first, last) spans, not overlapping within an agency, holding every firearm incident an
    alert to match can reach (MATCH_MINUTES either side of it). The alerts to match are the runs' own
    (`run_alerts`: agency, first, last) and those within MATCH_MINUTES of the runs' firearm incidents (`lo` to `hi`), so the incidents lie within one
    match window of the first and two of the second. They are passed as constants, each span an index
    search of (agency, time). Joined to the spans as a table, the planner could not see how narrow they are
    (at 10x it expected 91,000 incidents in a nine-hour span holding 1,900), and at 100x the copy took 12 s."""
    window = timedelta(minutes=MATCH_MINUTES)
    spans = [(agency, first - window, last + window) for agency, first, last in run_alerts]
    if lo is not None:
        spans += [(agency, lo - 2 * window, hi + 2 * window) for (agency,) in conn.execute(
            "SELECT DISTINCT agency FROM shot_alert WHERE alert_time BETWEEN %s AND %s",
            (lo - window, hi + window))]
    merged: list[list] = []
    for agency, first, last in sorted(spans):
        if merged and merged[-1][0] == agency and first <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], last)
        else:
            merged.append([agency, first, last])
    return [tuple(m) for m in merged]


def match(conn: psycopg.Connection, spans: list[tuple] | None, alert_scope: str,
          params: dict) -> dict[str, float]:
    """Match the alerts `alert_scope` selects (SQL on `s2`, with `params`) to the firearm incidents of `spans`
    (`match_spans`; None: every one), in one transaction of `conn`; seconds per part. The derive runs it on
    a connection of its own beside its other steps, none of which reads what it writes (etl/derive.py)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with conn.transaction():
        # After a few loads only the incidents the alerts to match can reach are copied: at 100x the copy of
        # all of them took more than 90 s of a derive after 200 more incidents.
        in_spans = "TRUE" if spans is None else " OR ".join(
            ["(i.agency = %s AND i.crime_datetime BETWEEN %s AND %s)"] * len(spans)) or "FALSE"
        conn.execute(f"""CREATE TEMP TABLE gun_incident ON COMMIT DROP AS
            SELECT i.id, i.agency, i.crime_datetime, i.geom, point_square(i.geom) AS square FROM incident i
            WHERE i.is_firearm AND i.geom IS NOT NULL AND ({in_spans}) ORDER BY i.crime_datetime, i.id""",
                     [value for span in spans or [] for value in span])
        by_square = dense(conn)
        conn.execute("CREATE INDEX ON gun_incident (square, crime_datetime)" if by_square
                     else "CREATE INDEX ON gun_incident (crime_datetime)")
        conn.execute("ANALYZE gun_incident")
        timings["firearm incidents to match alerts against"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(f"""
            UPDATE shot_alert s SET incident_id = m.id
            FROM shot_alert s2 CROSS JOIN LATERAL (
                SELECT i.id FROM gun_incident i
                WHERE {NEAR_SQUARES if by_square else "TRUE"} AND i.agency = s2.agency
                  AND i.crime_datetime BETWEEN s2.alert_time - make_interval(mins => %(minutes)s)
                                           AND s2.alert_time + make_interval(mins => %(minutes)s)
                  AND ST_DWithin(i.geom, s2.geom, 0.005)
                  AND ST_DistanceSphere(i.geom, s2.geom) <= %(meters)s
                ORDER BY abs(extract(epoch FROM i.crime_datetime - s2.alert_time)), i.geom <-> s2.geom, i.id
                LIMIT 1) m
            WHERE s.id = s2.id AND s.incident_id IS NULL AND {alert_scope}""", params)
        timings["alerts corroborating incidents"] = time.perf_counter() - started
    return timings
