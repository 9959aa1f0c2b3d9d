"""The clock check: do alert and shooting times agree? Of the shootings inside ShotSpotter coverage, the
share with an alert within the match window, and the same share with every alert time shifted by each
whole-hour offset; a warning naming the offset that would fix a file read with the wrong clock. Run by
`derive` (etl/derive.py) after loads of alerts or incidents, on the period they brought.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import psycopg

# A ShotSpotter alert corroborates a firearm incident this close in space and time.
MATCH_METERS = 250
MATCH_MINUTES = 30
SPHERE_M_PER_DEGREE = 6370986 * math.pi / 180  # ST_DistanceSphere's sphere
# The clock check: offsets tried (hours added to the alert times), the fewest covered shootings it
# judges, the share below which matching is implausibly low, and how clearly another offset must win.
CLOCK_OFFSETS = range(-12, 13)
CLOCK_MIN_SHOOTINGS = 10
CLOCK_LOW_SHARE = 0.5
CLOCK_GAIN = 0.2
# The shootings judged at most: a sample, the same on every run, when a period holds more. Each shooting is
# paired with every alert near it in space and within a day, so the cost grows with shootings times alert
# density; 10,000 judge a share to within about a percentage point.
CLOCK_SAMPLE = 10_000


@dataclass
class ClockCheck:
    """How well alert and shooting times agree: of the shootings inside ShotSpotter coverage (an alert
    within the match distance at some time during the alerts' period), the share with an alert within
    the match window, and the same share with every alert time shifted by each whole-hour offset."""

    shootings: int
    matched: int
    share: float
    best_offset_hours: int
    best_share: float
    shares: dict[int, float] = field(default_factory=dict)
    warning: str | None = None
    sampled_from: int | None = None  # the shootings of the period, when only a sample of them was judged

    @property
    def message(self) -> str:
        sample = (f" (judged on a sample of {CLOCK_SAMPLE:,} of the period's {self.sampled_from:,} shootings)"
                  if self.sampled_from else "")
        head = (f"clock check{sample}: {self.matched:,} of {self.shootings:,} shootings inside ShotSpotter coverage "
                f"({self.share:.0%}) have an alert within {MATCH_MINUTES} minutes and {MATCH_METERS} m")
        return f"{head}. WARNING: {self.warning}" if self.warning else head


def clock_check(conn: psycopg.Connection, period: tuple[dt.datetime, dt.datetime] | None = None
                ) -> ClockCheck | None:
    """Compare alert and shooting times; warn with the whole-hour offset that would fix a file read with
    the wrong clock (the alerts' or the incidents') when the matching share is implausibly low. With a
    `period` (first and last time a load brought), only its shootings are judged: a new file read with the
    wrong clock is not drowned by the years before it, and the check costs what the load brought."""
    # Every shooting was paired with every alert within 250 m over all the years (minutes at 10x Baltimore,
    # planned as a hash join on the agency). Now: only alerts within the widest offset tried (plus the match
    # window) can count for any offset, and are found through a time index on a copy of those alerts in time
    # order with a cheap box on plain coordinates before the sphere; coverage (an alert within 250 m at any
    # time) is asked of the alerts' spatial index, stopping at the first alert. Same numbers as pairing them all
    # (tests/db/test_trace_signals.py). At 100x the alerts are 100 times as dense, and so are a shooting's
    # pairs: all 492,200 shootings took 346 s, a sample of CLOCK_SAMPLE 11.5 s.
    params = {"meters": MATCH_METERS, "minutes": MATCH_MINUTES, "lo": min(CLOCK_OFFSETS),
              "hi": max(CLOCK_OFFSETS), "window": max(abs(h) for h in CLOCK_OFFSETS) * 3600 + MATCH_MINUTES * 60,
              "since": period and period[0], "until": period and period[1]}
    # The shootings judged: those of the alerts' period, and of `period` when given.
    within = "" if period is None else """
          AND i.crime_datetime BETWEEN %(since)s::timestamptz - make_interval(hours => %(hi)s::int)
                                   AND %(until)s::timestamptz + make_interval(hours => %(hi)s::int)"""
    conn.execute(f"""
        CREATE TEMP TABLE clock_shooting ON COMMIT DROP AS
        WITH span AS (SELECT min(alert_time) AS lo, max(alert_time) AS hi FROM shot_alert)
        SELECT i.id, i.agency, i.crime_datetime, i.geom, ST_X(i.geom) AS x, ST_Y(i.geom) AS y
        FROM incident i CROSS JOIN span
        WHERE i.is_firearm AND i.category IN ('shooting', 'homicide') AND i.geom IS NOT NULL
          AND i.crime_datetime BETWEEN span.lo - make_interval(hours => %(hi)s::int)
                                   AND span.hi + make_interval(hours => %(hi)s::int){within}""", params)
    # More shootings than a share needs: judge a sample, spread over the period by a hash of the id.
    total = conn.execute("SELECT count(*) FROM clock_shooting").fetchone()[0]
    if total > CLOCK_SAMPLE:
        conn.execute("""
            DELETE FROM clock_shooting WHERE id NOT IN (
                SELECT id FROM clock_shooting ORDER BY hashint4(id), id LIMIT %(sample)s)""", {"sample": CLOCK_SAMPLE})
    conn.execute("ANALYZE clock_shooting")
    # The latitudes any pair within the match distance can have: the shootings', and a little beyond.
    south, north, first, last = conn.execute(
        "SELECT min(y) - 0.01, max(y) + 0.01, min(crime_datetime), max(crime_datetime) FROM clock_shooting").fetchone()
    if south is None or abs(south) > 80 or abs(north) > 80:
        return None  # no shootings located (or a polar agency, which this check does not serve)
    # Boxes on plain coordinates holding every point within the match distance anywhere between those
    # latitudes (plus 0.1%): `reach` north-south, `box` east-west.
    slack = max(abs(math.cos(math.radians(lat)) / math.cos(math.radians((south + north) / 2)) - 1)
                for lat in (south, north)) + 0.001
    params.update(first=first, last=last, reach=MATCH_METERS * (1 + slack) / SPHERE_M_PER_DEGREE,
                  box=MATCH_METERS * (1 + slack) / (SPHERE_M_PER_DEGREE * min(math.cos(math.radians(lat))
                                                                              for lat in (south, north))))
    conn.execute("""
        CREATE TEMP TABLE clock_alert ON COMMIT DROP AS
        SELECT agency, alert_time, ST_X(geom) AS x, ST_Y(geom) AS y, geom
        FROM shot_alert WHERE geom IS NOT NULL
          AND alert_time BETWEEN %(first)s::timestamptz - make_interval(secs => %(window)s)
                             AND %(last)s::timestamptz + make_interval(secs => %(window)s)
        ORDER BY alert_time""", params)
    conn.execute("CREATE INDEX ON clock_alert (alert_time)")
    conn.execute("ANALYZE clock_alert")
    # A LATERAL ... LIMIT 1 keeps it a probe of the spatial index per shooting (as EXISTS it was planned as a
    # hash join on the agency, every shooting against every alert).
    covered = conn.execute("""
        SELECT count(*) FROM clock_shooting sh CROSS JOIN LATERAL (
            SELECT 1 FROM shot_alert a WHERE a.geom && ST_Expand(sh.geom, %(box)s) AND a.agency = sh.agency
              AND ST_DistanceSphere(a.geom, sh.geom) <= %(meters)s LIMIT 1) hit""", params).fetchone()[0]
    if not covered:
        return None
    # Planned as a hash join on the agency, the pairing compares every shooting with every alert.
    conn.execute("SET LOCAL enable_hashjoin = off")
    conn.execute("SET LOCAL enable_mergejoin = off")
    conn.execute("""
        CREATE TEMP TABLE clock_pair ON COMMIT DROP AS
        SELECT sh.id, extract(epoch FROM sh.crime_datetime - a.alert_time) AS d
        FROM clock_shooting sh JOIN clock_alert a
             ON a.alert_time BETWEEN sh.crime_datetime - make_interval(secs => %(window)s)
                                 AND sh.crime_datetime + make_interval(secs => %(window)s)
            AND a.y BETWEEN sh.y - %(reach)s AND sh.y + %(reach)s AND a.x BETWEEN sh.x - %(box)s AND sh.x + %(box)s
            AND a.agency = sh.agency AND ST_DistanceSphere(a.geom, sh.geom) <= %(meters)s""", params)
    conn.execute("RESET enable_hashjoin")
    conn.execute("RESET enable_mergejoin")
    counts = dict(conn.execute("""
        SELECT h, count(DISTINCT p.id) FROM generate_series(%(lo)s::int, %(hi)s::int) h
        LEFT JOIN clock_pair p ON abs(p.d - h * 3600) <= %(minutes)s * 60 GROUP BY h""", params).fetchall())
    shares = {int(h): counts.get(h, 0) / covered for h in CLOCK_OFFSETS}
    best = max(CLOCK_OFFSETS, key=lambda h: (shares[h], -abs(h)))
    check = ClockCheck(covered, counts.get(0, 0), shares[0], best, shares[best], shares,
                       sampled_from=total if total > CLOCK_SAMPLE else None)
    if (covered >= CLOCK_MIN_SHOOTINGS and best != 0 and check.share < CLOCK_LOW_SHARE
            and check.best_share >= check.share + CLOCK_GAIN and check.best_share >= 2 * check.share):
        behind = "behind" if best > 0 else "ahead of"
        check.warning = (
            f"alert times run {abs(best)} h {behind} the shootings': shifting the alerts by {best:+d} h would "
            f"match {check.best_share:.0%} instead of {check.share:.0%}. A ShotSpotter or incident file was "
            f"probably read with the wrong clock; reload it with `crimegun load --timezone …` (or set "
            f"CGA_TZ_SHOTS / CGA_TZ_INCIDENTS)")
    return check
