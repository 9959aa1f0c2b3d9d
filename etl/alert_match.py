"""Matching ShotSpotter alerts to the firearm incidents they corroborate (the derive's step, etl/derive.py):
which firearm incidents an alert can reach, and whether to search them by place as well as time."""

from __future__ import annotations

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
