"""Synthetic people (name, date of birth, sex, race, address) and the ZIP-code table they live in.

A person is identified downstream by name + date of birth, so a repeat purchaser must reuse
exactly the same values: people are made once as rows and copied, never re-drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pandas as pd

from etl.synth import names

PERSON_FIELDS = ("last_name", "first_name", "dob", "sex", "race", "street", "city", "state", "zip")

# Maryland county FIPS (real); other states get the usual alphabetical odd numbering, with
# Virginia-style independent cities from 510 upwards.
MD_COUNTY_FIPS = {
    "allegany": "001", "anne arundel": "003", "baltimore": "005", "calvert": "009",
    "caroline": "011", "carroll": "013", "cecil": "015", "charles": "017", "dorchester": "019",
    "frederick": "021", "garrett": "023", "harford": "025", "howard": "027", "kent": "029",
    "montgomery": "031", "prince georges": "033", "queen annes": "035", "st marys": "037",
    "somerset": "039", "talbot": "041", "washington": "043", "wicomico": "045",
    "worcester": "047", "baltimore city": "510",
}


def _county_key(county: str) -> str:
    key = county.lower().replace("'", "").replace(".", "").strip()
    if key.endswith(" city"):
        return key  # an independent city (Baltimore city, Richmond city, ...)
    return re.sub(r"\s+(county|parish|borough|census area|municipality)$", "", key)


@dataclass(frozen=True)
class ZipTable:
    zip: np.ndarray
    city: np.ndarray
    state: np.ndarray
    county_fips: np.ndarray
    area_code: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


# Fallback telephone area code by state, for ZIPs the package lists without one.
_AREA_CODE = {"MD": "410", "VA": "804", "PA": "717", "NC": "919", "SC": "803", "GA": "404",
              "FL": "904", "WV": "304", "DE": "302", "OH": "614", "TX": "512", "NY": "518",
              "AL": "205", "TN": "615", "KY": "502", "NJ": "609", "IN": "317", "MI": "517",
              "IL": "217", "MO": "573", "LA": "225", "MS": "601", "AZ": "602", "CA": "916",
              "CO": "303", "WA": "360"}


@lru_cache(maxsize=1)
def zip_table() -> ZipTable:
    """Standard, active ZIP codes with a centroid, from the offline `zipcodes` package."""
    import zipcodes

    rows = [z for z in zipcodes.list_all()
            if z["zip_code_type"] == "STANDARD" and z["active"] and float(z["lat"]) != 0.0
            and z["county"]]
    rows.sort(key=lambda z: z["zip_code"])
    county_keys = [_county_key(z["county"]) for z in rows]
    by_state: dict[str, set[str]] = {}
    for z, key in zip(rows, county_keys, strict=True):
        by_state.setdefault(z["state"], set()).add(key)
    fips: dict[tuple[str, str], str] = {}
    for state in sorted(by_state):
        counties = sorted(by_state[state])
        plain = [c for c in counties if not c.endswith(" city")]
        cities = [c for c in counties if c.endswith(" city")]
        for i, c in enumerate(plain):
            fips[(state, c)] = f"{2 * i + 1:03d}"
        for i, c in enumerate(cities):
            fips[(state, c)] = f"{510 + 10 * i:03d}"
    for c, code in MD_COUNTY_FIPS.items():
        fips[("MD", c)] = code
    return ZipTable(
        zip=np.array([z["zip_code"] for z in rows]),
        city=np.array([z["city"].upper() for z in rows], dtype=object),
        state=np.array([z["state"] for z in rows]),
        county_fips=np.array([fips[(z["state"], key)] for z, key in zip(rows, county_keys, strict=True)]),
        area_code=np.array([(z["area_codes"] or [_AREA_CODE.get(z["state"], "800")])[0] for z in rows]),
        lon=np.array([float(z["long"]) for z in rows]),
        lat=np.array([float(z["lat"]) for z in rows]),
    )


@lru_cache(maxsize=1)
def baltimore_zip_index() -> np.ndarray:
    t = zip_table()
    return np.flatnonzero((t.state == "MD") & (t.county_fips == "510"))


def nearest_city_zip(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The Baltimore City ZIP whose centroid is nearest to each point."""
    from scipy.spatial import cKDTree

    t, idx = zip_table(), baltimore_zip_index()
    coslat = np.cos(np.radians(39.29))
    tree = cKDTree(np.column_stack([t.lon[idx] * coslat, t.lat[idx]]))
    _, j = tree.query(np.column_stack([np.asarray(lon) * coslat, np.asarray(lat)]))
    return t.zip[idx[j]]


@cache
def _state_zip_tree(state: str):
    """The ZIPs of one state (table indices), the cosine of their mean latitude and a k-d tree of
    their centroids (x scaled by that cosine), built once per state."""
    from scipy.spatial import cKDTree

    t = zip_table()
    pool = np.flatnonzero(t.state == state)
    coslat = np.cos(np.radians(t.lat[pool].mean()))
    return pool, coslat, cKDTree(np.column_stack([t.lon[pool] * coslat, t.lat[pool]]))


def nearby_zip_index(rng: np.random.Generator, zip_idx: np.ndarray, k: int = 15) -> np.ndarray:
    """For each ZIP (table index), a random one of its k nearest ZIPs in the same state: where a
    dealer's customers live."""
    t = zip_table()
    out = np.empty(len(zip_idx), dtype=np.int64)
    states = t.state[zip_idx]
    for st in np.unique(states):
        pool, coslat, tree = _state_zip_tree(str(st))
        mask = states == st
        src = zip_idx[mask]
        kk = min(k, len(pool))
        distinct, which = np.unique(src, return_inverse=True)  # each ZIP's neighbours looked up once
        _, nn = tree.query(np.column_stack([t.lon[distinct] * coslat, t.lat[distinct]]), k=kk)
        nn = np.asarray(nn).reshape(len(distinct), kk)[which.reshape(-1)]
        out[mask] = pool[nn[np.arange(len(src)), rng.integers(0, kk, len(src))]]
    return out


@cache
def _choices(name: str) -> np.ndarray:
    """A word list of names.py as an object array (made once; drawing from it is what costs)."""
    return np.array(getattr(names, name), dtype=object)


def street_addresses(rng: np.random.Generator, n: int) -> np.ndarray:
    nums = rng.integers(100, 9999, n)
    street = rng.choice(_choices("STREET_NAMES"), n)
    kind = rng.choice(_choices("STREET_TYPES"), n)
    return np.array([f"{a} {b} {c}" for a, b, c in zip(nums, street, kind, strict=True)], dtype=object)


def people_columns(rng: np.random.Generator, n: int, ref_day: np.ndarray, age_kind: str,
                   p_male: float, race_p: dict[str, float]) -> dict[str, np.ndarray]:
    """make_people's columns as arrays (no DataFrame: cheaper when people are made one at a time)."""
    male = rng.random(n) < p_male
    first = np.where(male, rng.choice(_choices("MALE_FIRST"), n), rng.choice(_choices("FEMALE_FIRST"), n))
    last = rng.choice(_choices("LAST"), n)
    if age_kind == "possessor":
        age_y = np.clip(16 + rng.gamma(2.2, 5.0, n), 16, 65)
    else:
        age_y = np.clip(21 + rng.gamma(2.0, 9.0, n), 21, 80)
    dob = (np.asarray(ref_day, dtype="datetime64[D]")
           - (age_y * 365.25).astype("int64").astype("timedelta64[D]"))
    dob = np.maximum(dob, np.datetime64("1925-01-01"))  # purchases start in 1970: no one born in 1890
    races = list(race_p)
    race = rng.choice(np.array(races, dtype=object), n, p=np.array([race_p[r] for r in races]))
    return {"last_name": last, "first_name": first, "dob": dob,
            "sex": np.where(male, "M", "F").astype(object), "race": race}


def make_people(rng: np.random.Generator, n: int, ref_day: np.ndarray, age_kind: str,
                p_male: float, race_p: dict[str, float]) -> pd.DataFrame:
    """n people: names, sex, race, and a date of birth giving a plausible age on ref_day.

    age_kind 'possessor' (median ~26, 16-60) or 'purchaser' (21+, median ~36).
    """
    return pd.DataFrame(people_columns(rng, n, ref_day, age_kind, p_male, race_p))


def baltimore_addresses(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Addresses of Baltimore City residents (synthetic street, real city ZIP)."""
    from etl.synth.geography import block_addresses, demo_geography

    g = demo_geography()
    pops = np.array([d.population for d in g.districts], dtype=float)
    codes = rng.choice(np.array([d.code for d in g.districts]), n, p=pops / pops.sum())
    t, idx = zip_table(), baltimore_zip_index()
    z = idx[rng.integers(0, len(idx), n)]
    return pd.DataFrame({"street": block_addresses(rng, codes, exact=True),
                         "city": np.full(n, "BALTIMORE", dtype=object),
                         "state": np.full(n, "MD", dtype=object), "zip": t.zip[z]})


def address_columns(rng: np.random.Generator, zip_idx: np.ndarray) -> dict[str, np.ndarray]:
    """addresses_near's columns as arrays (no DataFrame)."""
    t = zip_table()
    z = nearby_zip_index(rng, np.asarray(zip_idx))
    return {"street": street_addresses(rng, len(z)), "city": t.city[z],
            "state": t.state[z].astype(object), "zip": t.zip[z]}


def addresses_near(rng: np.random.Generator, zip_idx: np.ndarray) -> pd.DataFrame:
    """Addresses in a ZIP near each given ZIP (same state)."""
    return pd.DataFrame(address_columns(rng, zip_idx))


def maryland_suburb_addresses(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Addresses in the counties around the city (Baltimore, Anne Arundel, Howard, Harford)."""
    t = zip_table()
    pool = np.flatnonzero((t.state == "MD") & np.isin(t.county_fips, ["005", "003", "027", "025"]))
    return addresses_near(rng, pool[rng.integers(0, len(pool), n)])
