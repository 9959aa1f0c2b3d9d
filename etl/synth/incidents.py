"""Open Baltimore Part 1 crime, generation-3 layout (docs/formats.md §3), one file per year.

Violence clusters in hot spots with a summer peak; a small share of rows carry the real
exports' mess (blank or zero coordinates, district spellings, impossible ages) while staying
loadable. Firearm scenes are kept in memory for ShotSpotter, NIBIN and trace recoveries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from etl.synth import config, geodata
from etl.synth.geography import district_of, posts_and_hoods
from etl.synth.writer import (
    HOURS_PROPERTY,
    HOURS_VIOLENT,
    fixed,
    local_times,
    local_to_utc,
    utc_crime_datetimes,
    write_csv,
)

COLUMNS = ("X", "Y", "RowID", "CCNumber", "CrimeDateTime", "CrimeCode", "Description",
           "Inside_Outside", "Weapon", "Post", "Gender", "Age", "Race", "Ethnicity", "Location",
           "Old_District", "New_District", "Neighborhood", "Latitude", "Longitude", "GeoLocation",
           "PremiseType", "Total_Incidents")
EVENT_CODES = ("1F", "9S", "3AF", "4A")  # firearm scenes where a gun may be recovered
MONTH_LETTERS = "ABCDEFGHJKLM"

# class -> (p_hot, hot spots, hour profile, share outside, premises, share of victims male)
_OUTDOOR = ("STREET",) * 11 + ("ALLEY", "ALLEY", "ROW/TOWNHOUSE-OCC", "ROW/TOWNHOUSE-OCC",
                               "ROW/TOWNHOUSE-OCC", "PARKING LOT-OUTSIDE", "VEHICLE", "YARD",
                               "APT/CONDO - OCCUPIED", "CONVENIENCE STORE")
_CLASSES = {
    "gun": (0.78, geodata.VIOLENCE_HOTSPOTS, HOURS_VIOLENT, 0.78, _OUTDOOR, 0.88),
    "violent": (0.62, geodata.VIOLENCE_HOTSPOTS, HOURS_VIOLENT, 0.6, _OUTDOOR, 0.7),
    "commercial": (0.45, geodata.PROPERTY_HOTSPOTS, HOURS_PROPERTY, 0.1,
                   ("CONVENIENCE STORE", "GAS STATION", "CARRY OUT", "RESTAURANT", "DRUG STORE / MED",
                    "GROCERY/CONFECTION"), 0.6),
    "domestic": (0.45, geodata.VIOLENCE_HOTSPOTS, HOURS_VIOLENT, 0.25,
                 ("ROW/TOWNHOUSE-OCC",) * 3 + ("APT/CONDO - OCCUPIED",) * 2 + ("STREET",), 0.45),
    "burglary": (0.35, geodata.PROPERTY_HOTSPOTS, HOURS_PROPERTY, 0.0,
                 ("ROW/TOWNHOUSE-OCC",) * 5 + ("APT/CONDO - OCCUPIED",) * 2 + ("GARAGE", "SHED"), 0.5),
    "property": (0.4, geodata.PROPERTY_HOTSPOTS, HOURS_PROPERTY, 0.55,
                 ("STREET",) * 3 + ("DEPARTMENT STORE", "GROCERY/CONFECTION", "PARKING LOT-OUTSIDE",
                                    "ROW/TOWNHOUSE-OCC", "DRUG STORE / MED", "SPECIALTY STORE"), 0.5),
    "vehicle": (0.35, geodata.PROPERTY_HOTSPOTS, HOURS_PROPERTY, 1.0,
                ("STREET",) * 6 + ("PARKING LOT-OUTSIDE",) * 2 + ("DRIVEWAY",), 0.55),
}
_CODE_CLASS = {"1F": "gun", "9S": "gun", "1K": "violent", "1O": "violent", "3AF": "gun",
               "3AK": "violent", "3B": "violent", "3JF": "gun", "3CF": "commercial", "4A": "gun",
               "4B": "violent", "4C": "violent", "4D": "violent", "4E": "domestic", "2A": "domestic",
               "5A": "burglary", "5D": "burglary", "6D": "vehicle", "6E": "property",
               "6J": "property", "7A": "vehicle", "8AO": "burglary"}
_RACES = {"BLACK_OR_AFRICAN_AMERICAN": 0.74, "WHITE": 0.18, "ASIAN": 0.02, "UNKNOWN": 0.05,
          "AMERICAN_INDIAN_OR_ALASKA_NATIVE": 0.01}
_ETHNICITY = {"NOT_HISPANIC_OR_LATINO": 0.88, "HISPANIC_OR_LATINO": 0.05, "UNKNOWN": 0.07}
_DISTRICT_VARIANTS = {"NORTHEASTERN": "Northeast", "NORTHWESTERN": "Northwest",
                      "SOUTHEASTERN": "Southeast", "SOUTHWESTERN": "Southwest"}


@dataclass
class YearIncidents:
    year: int
    events: pd.DataFrame       # firearm scenes: cc, code, t_local, lon, lat, district, location
    used_seq: dict[int, np.ndarray] = field(default_factory=dict)   # month -> CC sequence numbers
    seq_space: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def yearly_counts(year: int, scale: float) -> dict[str, int]:
    homicides = round(config.HOMICIDES_PER_YEAR.get(year, config.HOMICIDES_DEFAULT) * scale)
    gun = round(homicides * config.HOMICIDE_FIREARM_SHARE)
    knife = round((homicides - gun) * 0.6)
    counts = {"1F": gun, "1K": knife, "1O": homicides - gun - knife,
              "9S": round(config.SHOOTINGS_PER_YEAR.get(year, config.SHOOTINGS_DEFAULT) * scale)}
    for code, (n, _, _) in config.OTHER_CRIME.items():
        if code not in counts:
            counts[code] = round(n * scale)
    return counts


def case_number(year: int, month: np.ndarray, seq: np.ndarray, width: np.ndarray) -> np.ndarray:
    """BPD-style complaint number: 2-digit year, month letter, zero-padded sequence."""
    yy = f"{year % 100:02d}"
    month, seq, width = np.asarray(month), np.asarray(seq), np.asarray(width)
    out = np.empty(len(seq), dtype=object)
    for m, w in set(zip(month.tolist(), width.tolist(), strict=True)):  # one pattern per month and width
        rows = np.flatnonzero((month == m) & (width == w))
        out[rows] = list(map(f"{yy}{MONTH_LETTERS[m]}%0{w}d".__mod__, seq[rows].tolist()))
    return out


@lru_cache(maxsize=1)
def _to_state_plane():
    from pyproj import Transformer

    # Maryland State Plane, US feet (EPSG:2248), the city's GIS projection (ASSUMPTION for X/Y).
    return Transformer.from_crs("EPSG:4326", "EPSG:2248", always_xy=True)


def _pick(rng: np.random.Generator, options: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(options), dtype=object)
    p = np.array(list(options.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=p / p.sum())]


def generate_year(rng: np.random.Generator, year: int, scale: float, path: Path,
                  row_id_start: int) -> tuple[YearIncidents, int]:
    """Write part1_crime_<year>.csv month by month (memory stays bounded at large scales);
    return the firearm scenes and the number of rows."""
    counts = yearly_counts(year, scale)
    result = YearIncidents(year, pd.DataFrame(), counts=counts)
    first = np.datetime64(f"{year}-01", "M")
    month_days = ((first + np.arange(1, 13)).astype("datetime64[D]")
                  - (first + np.arange(12)).astype("datetime64[D]")).astype(int)
    p = np.asarray(config.MONTH_WEIGHTS) * month_days
    split = {code: rng.multinomial(n, p / p.sum()) for code, n in counts.items()}
    events, row_id = [], row_id_start
    for m in range(12):
        codes = np.concatenate([np.full(split[c][m], c, dtype=object) for c in counts])
        df, used, space = _month(rng, year, m, codes, row_id)
        result.used_seq[m], result.seq_space[m] = used, space
        write_csv(df, path, COLUMNS, append=m > 0)
        row_id += len(codes)
        ev = np.isin(df["CrimeCode"], EVENT_CODES)
        events.append(pd.DataFrame({"cc": df["CCNumber"][ev], "code": df["CrimeCode"][ev],
                                    "t_local": df["_t_local"][ev], "lon": df["_lon"][ev],
                                    "lat": df["_lat"][ev], "district": df["_district"][ev],
                                    "location": df["Location"][ev]}))
    result.events = pd.concat(events, ignore_index=True)
    return result, row_id - row_id_start


def _month(rng: np.random.Generator, year: int, m: int, codes: np.ndarray,
           row_id: int) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """One month of incidents, sorted by time, with complaint numbers (and the numbers used)."""
    from etl.synth.geography import (
        block_addresses,
        district_name,
        districts_on,
        round_inside,
        sample_points,
    )

    n = len(codes)
    cls = np.array([_CODE_CLASS[c] for c in codes], dtype=object)
    t_local = np.empty(n, dtype="datetime64[s]")
    lon, lat = np.empty(n), np.empty(n)
    outside = np.zeros(n, bool)
    premise = np.empty(n, dtype=object)
    male = np.zeros(n, bool)
    day0 = np.datetime64(f"{year}-01", "M") + m
    days = np.arange(day0.astype("datetime64[D]"), (day0 + 1).astype("datetime64[D]"))
    for name, (p_hot, hot, hours, p_out, premises, p_male) in _CLASSES.items():
        idx = np.flatnonzero(cls == name)
        if len(idx) == 0:
            continue
        t_local[idx] = local_times(rng, days[rng.integers(0, len(days), len(idx))], hours)
        lon[idx], lat[idx] = sample_points(rng, len(idx), hot, p_hot)
        outside[idx] = rng.random(len(idx)) < p_out
        premise[idx] = rng.choice(np.array(premises, dtype=object), len(idx))
        male[idx] = rng.random(len(idx)) < p_male
    # The district (and post) in force on the month's dates: the 2023 map from January 2023.
    when = day0.astype("datetime64[D]")
    district = district_of(lon, lat, when)
    lon, lat = round_inside(lon, lat, [d.geom for d in districts_on(when)], district.astype(np.int64) - 1)
    post, hood = posts_and_hoods(lon, lat, district, when)
    old_code = district_of(lon, lat)  # Old_District: the 1959-2022 map, whatever the date
    order = np.argsort(t_local, kind="stable")
    codes, cls, t_local, lon, lat = codes[order], cls[order], t_local[order], lon[order], lat[order]
    outside, premise, male = outside[order], premise[order], male[order]
    district, post, hood, old_code = district[order], post[order], hood[order], old_code[order]

    # Complaint numbers: a sorted sample of a sequence space three times the number of Part 1
    # rows (other reports take numbers in between; traces use those for gun cases).
    space = max(3 * n, 1000)
    used = np.sort(rng.choice(np.arange(1, space + 1), n, replace=False))
    cc = case_number(year, np.full(n, m), used, np.full(n, max(5, len(str(space)))))

    names = np.array([""] + [district_name(c) for c in range(1, 10)], dtype=object)
    dname = names[district]
    r = rng.random(n)
    old_name = names[old_code]
    variant = np.array([_DISTRICT_VARIANTS.get(d, d.title()) for d in names], dtype=object)[old_code]
    old = np.where(r < 0.015, variant, old_name)
    old = np.where((r >= 0.015) & (r < 0.02), "", old)

    age = np.where(cls == "gun", 14 + rng.gamma(3.0, 5.0, n), 10 + rng.gamma(3.0, 9.0, n))
    age = age.astype(int).astype(object)
    age[(np.isin(cls, ["property", "vehicle", "burglary"])) & (rng.random(n) < 0.35)] = ""
    age[rng.random(n) < 0.0005] = 160  # the impossible ages of real exports
    gender = np.where(male, "M", "F").astype(object)
    gender[rng.random(n) < 0.03] = "U"
    inside = np.where(outside, "O", "I").astype(object)
    long_form = rng.random(n) < 0.03
    inside[long_form] = np.where(outside[long_form], "Outside", "Inside")

    desc = np.array([config.OTHER_CRIME[c][1] if c in config.OTHER_CRIME else
                     ("HOMICIDE" if c == "1F" else "SHOOTING") for c in codes], dtype=object)
    weapon = np.array([config.OTHER_CRIME[c][2] if c in config.OTHER_CRIME else "FIREARM"
                       for c in codes], dtype=object)
    weapon[(weapon == "NA") & (rng.random(n) < 0.3)] = ""

    # Mess: blank or zero coordinates (never on shootings/homicides, which the demo maps).
    coord_r = rng.random(n)
    is_event = np.isin(codes, ["1F", "9S"])
    blank_xy = (coord_r < 0.004) & ~is_event
    zero_xy = (coord_r >= 0.004) & (coord_r < 0.006) & ~is_event
    x, y = _to_state_plane().transform(lon, lat)
    lat_s, lon_s = fixed(lat, 6), fixed(lon, 6)
    x_s, y_s = fixed(x, 4), fixed(y, 4)
    geo = np.array([f"({a},{b})" for a, b in zip(lat_s, lon_s, strict=True)], dtype=object)
    for arr in (lat_s, lon_s, x_s, y_s, geo):
        arr[blank_xy] = ""
    for arr in (lat_s, lon_s, x_s, y_s):
        arr[zero_xy] = "0"
    geo[zero_xy] = "(0,0)"

    df = {
        "X": x_s, "Y": y_s, "RowID": np.arange(row_id, row_id + n), "CCNumber": cc,
        "CrimeDateTime": utc_crime_datetimes(local_to_utc(t_local)), "CrimeCode": codes,
        "Description": desc, "Inside_Outside": inside, "Weapon": weapon, "Post": post,
        "Gender": gender, "Age": age, "Race": _pick(rng, _RACES, n),
        "Ethnicity": _pick(rng, _ETHNICITY, n), "Location": block_addresses(rng, district),
        "Old_District": old, "New_District": dname, "Neighborhood": hood, "Latitude": lat_s,
        "Longitude": lon_s, "GeoLocation": geo, "PremiseType": premise, "Total_Incidents": np.ones(n, dtype=np.int64),
        "_t_local": t_local, "_lon": lon, "_lat": lat, "_district": district,
    }
    return df, used, space


def unused_case_numbers(rng: np.random.Generator, inc: YearIncidents, days: np.ndarray) -> np.ndarray:
    """Complaint numbers for the given dates that match no Part 1 incident (gun possession,
    drug and found-property reports)."""
    days = np.asarray(days, dtype="datetime64[D]")
    month = days.astype("datetime64[M]").astype(int) % 12
    out = np.empty(len(days), dtype=object)
    for m in np.unique(month):
        idx = np.flatnonzero(month == m)
        space, used = inc.seq_space.get(m, 1000), inc.used_seq.get(m, np.empty(0, np.int64))
        cand = rng.integers(1, space + 1, 3 * len(idx) + 20)
        cand = cand[~np.isin(cand, used)]
        _, first = np.unique(cand, return_index=True)
        cand = cand[np.sort(first)]
        while len(cand) < len(idx):  # practically never: the space is two-thirds free
            more = rng.integers(1, space + 1, 3 * len(idx))
            cand = np.unique(np.concatenate([cand, more[~np.isin(more, used)]]))
        width = np.full(len(idx), max(5, len(str(space))))
        out[idx] = case_number(inc.year, np.full(len(idx), m), cand[:len(idx)], width)
    return out
