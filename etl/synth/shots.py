"""ShotSpotter alerts in the Chicago data-portal layout (docs/formats.md §4) with Baltimore values.

Alerts exist only inside the coverage areas from their start dates (config.COVERAGE_AREAS).
Most shootings and firearm homicides inside coverage get an alert within a minute and 25-100 m;
many more alerts have no incident (DC's rate: ~330 alerts per square mile per year), with
firecracker-like alerts around July 4th and New Year.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from etl.synth import config, geodata, pointgrid
from etl.synth.geography import (
    M_PER_DEG_LAT,
    M_PER_DEG_LON,
    block_addresses,
    coverage_index,
    demo_geography,
    district_name,
    district_of,
    posts_and_hoods,
    round_inside,
    sample_points,
)
from etl.synth.people import nearest_city_zip
from etl.synth.writer import HOURS_VIOLENT, chicago_datetimes, fixed, local_times, write_csv

COLUMNS = ("DATE", "BLOCK", "ZIP_CODE", "WARD", "COMMUNITY_AREA", "AREA", "DISTRICT", "BEAT",
           "STREET_OUTREACH_ORGANIZATION", "UNIQUE_ID", "MONTH", "DAY_OF_WEEK", "HOUR",
           "INCIDENT_TYPE_DESCRIPTION", "ROUNDS", "ILLINOIS_HOUSE_DISTRICT",
           "ILLINOIS_SENATE_DISTRICT", "LATITUDE", "LONGITUDE", "LOCATION")
SINGLE, MULTIPLE, PROBABLE = "SINGLE GUNSHOT", "MULTIPLE GUNSHOTS", "GUNSHOT OR FIRECRACKER"


def _offset_inside(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray,
                   cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move each point 25-100 m in a random direction, staying in its coverage area."""
    areas = demo_geography().coverage
    out_lon, out_lat = lon.copy(), lat.copy()
    todo = np.arange(len(lon))
    for attempt in range(8):
        if len(todo) == 0:
            break
        lo, hi = config.ALERT_OFFSET_M
        dist = rng.uniform(lo, hi if attempt < 4 else lo + 10, len(todo))
        ang = rng.uniform(0, 2 * np.pi, len(todo))
        nlon = lon[todo] + dist * np.cos(ang) / M_PER_DEG_LON
        nlat = lat[todo] + dist * np.sin(ang) / M_PER_DEG_LAT
        ok = np.zeros(len(todo), bool)
        for i, c in enumerate(areas):
            m = cov[todo] == i
            ok[m] = pointgrid.contains_xy(c.geom, nlon[m], nlat[m])
        out_lon[todo[ok]], out_lat[todo[ok]] = nlon[ok], nlat[ok]
        todo = todo[~ok]
    return out_lon, out_lat


def _background_days(rng: np.random.Generator, n: int, year: int, start: np.datetime64) -> np.ndarray:
    """Alert dates: seasonal, with spikes on July 3-5 and Dec 31 / Jan 1, from `start` on."""
    days = np.arange(max(np.datetime64(f"{year}-01-01"), start), np.datetime64(f"{year + 1}-01-01"))
    if len(days) == 0 or n == 0:
        return np.empty(0, dtype="datetime64[D]")
    md = pd.DatetimeIndex(days).strftime("%m-%d").to_numpy()
    w = np.asarray(config.MONTH_WEIGHTS)[days.astype("datetime64[M]").astype(int) % 12].copy()
    w[md == "07-04"] *= 8
    w[np.isin(md, ["07-03", "07-05", "12-31", "01-01"])] *= 4
    return days[rng.choice(len(days), n, p=w / w.sum())]


def generate_year(rng: np.random.Generator, year: int, scale: float, events: pd.DataFrame,
                  path: Path, next_id: int, append: bool) -> tuple[int, int]:
    """Append this year's alerts; return (rows written, next UNIQUE_ID number)."""
    g = demo_geography()
    # Corroborated alerts: shootings and firearm homicides inside active coverage.
    ev = events[events["code"].isin(config.FIREARM_VIOLENCE_CODES)]
    day = ev["t_local"].to_numpy().astype("datetime64[D]").astype(np.int64)
    cov = coverage_index(ev["lon"].to_numpy(), ev["lat"].to_numpy(), day)
    hit = (cov >= 0) & (rng.random(len(ev)) < config.SHOOTING_DETECTION_RATE)
    ev, cov = ev[hit], cov[hit]
    lon, lat = _offset_inside(rng, ev["lon"].to_numpy(), ev["lat"].to_numpy(), cov)
    secs = rng.integers(-config.ALERT_TIME_OFFSET_S, config.ALERT_TIME_OFFSET_S + 1, len(ev))
    t = ev["t_local"].to_numpy() + secs.astype("timedelta64[s]")
    kind = np.where(rng.random(len(ev)) < 0.75, MULTIPLE, SINGLE).astype(object)
    frames = [(t, lon, lat, cov, kind)]
    # Alerts with no incident report, per coverage area and active days.
    for i, c in enumerate(g.coverage):
        start = np.datetime64(c.start, "D")
        active = (np.datetime64(f"{year + 1}-01-01") - max(start, np.datetime64(f"{year}-01-01"))).astype(int)
        if active <= 0:
            continue
        total = config.ALERTS_PER_SQMI_YEAR * c.area_sqmi * scale * active / 365
        m = max(0, int(round(total)) - int((cov == i).sum()))
        days = _background_days(rng, m, year, start)
        blon, blat = sample_points(rng, m, geodata.VIOLENCE_HOTSPOTS, 0.6, within=c.geom)
        bt = local_times(rng, days, HOURS_VIOLENT, whole_minutes=False)
        md = pd.DatetimeIndex(days).strftime("%m-%d").to_numpy()
        festive = np.isin(md, ["07-03", "07-04", "07-05", "12-31", "01-01"])
        r = rng.random(m)
        bkind = np.where(r < np.where(festive, 0.55, 0.15), PROBABLE,
                         np.where(r < np.where(festive, 0.75, 0.6), MULTIPLE, SINGLE)).astype(object)
        frames.append((bt, blon, blat, np.full(m, i), bkind))
    t = np.concatenate([f[0] for f in frames]).astype("datetime64[s]")
    lon = np.concatenate([f[1] for f in frames])
    lat = np.concatenate([f[2] for f in frames])
    cov = np.concatenate([f[3] for f in frames]).astype(np.int64)
    kind = np.concatenate([f[4] for f in frames])
    order = np.lexsort((lon, t))
    t, lon, lat, cov, kind = t[order], lon[order], lat[order], cov[order], kind[order]
    n = len(t)
    lon, lat = round_inside(lon, lat, [c.geom for c in g.coverage], cov)
    # District and beat in force on the alert's date (a coverage area can reach into a neighbouring district).
    days = t.astype("datetime64[D]")
    cov_codes = np.array([g.coverage[i].code for i in cov], dtype=np.int64) if n else np.empty(0, np.int64)
    codes = district_of(lon, lat, days).astype(np.int64)
    codes = np.where(codes > 0, codes, cov_codes)
    post, hood = posts_and_hoods(lon, lat, codes, days)
    rounds = np.where(kind == SINGLE, 1, np.where(kind == MULTIPLE, 2 + rng.geometric(0.25, n),
                                                  rng.integers(1, 9, n)))
    lat_s, lon_s = fixed(lat, 6), fixed(lon, 6)
    df = {
        "DATE": chicago_datetimes(t), "BLOCK": block_addresses(rng, codes),
        "ZIP_CODE": nearest_city_zip(lon, lat), "WARD": "",
        "COMMUNITY_AREA": np.array([h.upper() for h in hood], dtype=object),
        "AREA": "", "DISTRICT": np.array([district_name(c) for c in codes], dtype=object), "BEAT": post,
        "STREET_OUTREACH_ORGANIZATION": "",
        "UNIQUE_ID": np.array([f"SST-{next_id + i}" for i in range(n)], dtype=object),
        "MONTH": days.astype("datetime64[M]").astype(int) % 12 + 1,
        "DAY_OF_WEEK": (days.astype(np.int64) + 4) % 7 + 1,  # 1 = Sunday (1970-01-01 was a Thursday)
        "HOUR": (t - days.astype("datetime64[s]")).astype(np.int64) // 3600,
        "INCIDENT_TYPE_DESCRIPTION": kind, "ROUNDS": rounds, "ILLINOIS_HOUSE_DISTRICT": "",
        "ILLINOIS_SENATE_DISTRICT": "", "LATITUDE": lat_s, "LONGITUDE": lon_s,
        "LOCATION": np.array([f"POINT ({a} {b})" for a, b in zip(lon_s, lat_s, strict=True)], dtype=object),
    }
    write_csv(df, path, COLUMNS, append=append)
    return n, next_id + n
