"""The canonical eTrace CSV (docs/formats.md §1), one file per recovery year.

Each year's rows are firearm histories (base, planted schemes, NIBIN guns, re-recovered guns)
given a recovery: place, date, case number (a Part 1 incident when recovered at a homicide,
shooting, robbery or assault scene, otherwise a report number that matches no incident),
possessor, associate, request date and trace number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.synth import config, geodata
from etl.synth.geography import block_addresses, demo_geography, district_of, round_inside, sample_points
from etl.synth.histories import base_histories, nibin_histories, rerecovery_histories, source_groups
from etl.synth.incidents import YearIncidents, unused_case_numbers
from etl.synth.people import (
    PERSON_FIELDS,
    baltimore_addresses,
    make_people,
    maryland_suburb_addresses,
    nearest_city_zip,
)
from etl.synth.writer import fixed, iso_dates, us_dates

COLUMNS = (
    "trace_number", "request_date", "priority", "ncic_crime_code", "requesting_ori", "case_number",
    "trace_status", "serial_number", "serial_obliterated", "manufacturer", "model", "caliber",
    "firearm_type", "country_of_origin", "importer", "recovery_date", "recovery_street",
    "recovery_city", "recovery_state", "recovery_zip", "recovery_latitude", "recovery_longitude",
    *(f"possessor_{f}" for f in PERSON_FIELDS),
    "associate_last_name", "associate_first_name", "associate_dob",
    *(f"purchaser_{f}" for f in PERSON_FIELDS),
    "purchase_date", "multiple_sale", "dealer_ffl", "dealer_name", "dealer_street", "dealer_city",
    "dealer_state", "dealer_zip", "reported_stolen", "stolen_from", "stolen_report_date", "restored_serial",
)
# Signals beyond the first generation of the layout (ASSUMPTIONS): dealer burglaries end some traces
# that would have reached only the dealer; some closed dealers' traces fail as out of business; the lab
# restores some obliterated serials; some purchasers had reported their gun stolen.
FFL_THEFT_SHARE_OF_DEALER_ONLY = 0.3
OUT_OF_BUSINESS_SHARE_OF_NAMED_NO_RECORD = 0.6
RESTORED_SHARE = 0.3
PRIVATE_THEFT_SHARE = 0.08
# ATF: traces of guns sold long ago often fail on missing records. ASSUMPTION: a third of completed
# traces of guns bought more than twenty years before the recovery end as too old to trace.
TOO_OLD_AFTER_DAYS = 20 * 365
TOO_OLD_SHARE_OF_OLD = 0.35
SCENE_NCIC = {"1F": "0999", "9S": "1399", "3AF": "1299", "4A": "1399"}
OTHER_NCIC = {"5299": 0.62, "3599": 0.17, "7399": 0.08, "1399": 0.07, "1299": 0.04, "0999": 0.02}
POSSESSOR_RACE = {"B": 0.85, "W": 0.11, "U": 0.03, "A": 0.01}


@dataclass
class TraceYear:
    written: pd.DataFrame      # the rows as written (strings)
    internal: pd.DataFrame     # kind, scheme_id, gun, trace_number (for ground truth and NIBIN)


def _scene_recoveries(rng: np.random.Generator, df: pd.DataFrame, inc: YearIncidents, n_year: int) -> None:
    """Put some base recoveries at firearm crime scenes: same date, place and case number."""
    events = inc.events
    taken = set(df["case_number"])
    base = np.flatnonzero((df["kind"] == "base").to_numpy())
    base = base[rng.permutation(len(base))]
    used = 0
    for code, share in config.SCENE_RECOVERY_SHARE.items():
        ev = events[(events["code"] == code) & ~events["cc"].isin(taken)]
        k = min(round(share * n_year), len(ev), len(base) - used)
        if k <= 0:
            continue
        ev = ev.iloc[rng.choice(len(ev), k, replace=False)]
        rows = base[used:used + k]
        used += k
        df.loc[rows, "recovery_day"] = ev["t_local"].to_numpy().astype("datetime64[D]")
        df.loc[rows, "lon"] = ev["lon"].to_numpy()
        df.loc[rows, "lat"] = ev["lat"].to_numpy()
        df.loc[rows, "case_number"] = ev["cc"].to_numpy()
        df.loc[rows, "street"] = ev["location"].to_numpy()
        df.loc[rows, "ncic_crime_code"] = SCENE_NCIC[code]


def _people_columns(rng: np.random.Generator, df: pd.DataFrame) -> None:
    n = len(df)
    rec = df["recovery_day"].to_numpy()
    pos = make_people(rng, n, rec, "possessor", 0.93, POSSESSOR_RACE)
    in_city = rng.random(n) < 0.92
    addr = baltimore_addresses(rng, n)
    sub = maryland_suburb_addresses(rng, n)
    for f in ("street", "city", "state", "zip"):
        addr[f] = np.where(in_city, addr[f].to_numpy(), sub[f].to_numpy())
    for f in ("last_name", "first_name", "dob", "sex", "race"):
        df[f"possessor_{f}"] = pos[f].to_numpy()
    for f in ("street", "city", "state", "zip"):
        df[f"possessor_{f}"] = addr[f].to_numpy()
    missing = (df["ncic_crime_code"] == "7399").to_numpy()
    for f in PERSON_FIELDS:
        df.loc[missing, f"possessor_{f}"] = np.datetime64("NaT") if f == "dob" else ""
    # ~10% of completed traces: the purchaser still had the gun (mostly Maryland purchases).
    done = (df["trace_status"] == "COMPLETED").to_numpy() & ~missing & (df["kind"] != "scheme").to_numpy()
    md = done & (df["purchaser_state"] == "MD").to_numpy()
    n_done = int(((df["trace_status"] == "COMPLETED").to_numpy() & ~missing).sum())
    p = min(0.95, config.POSSESSOR_IS_PURCHASER_SHARE * n_done / max(1, int(md.sum())))
    same = md & (rng.random(n) < p)
    # Planted long-held own guns were recovered from their buyer.
    if "own_gun" in df:
        same = same | (df["own_gun"].eq(True).to_numpy() & ~missing)
    for f in PERSON_FIELDS:
        df.loc[same, f"possessor_{f}"] = df.loc[same, f"purchaser_{f}"].to_numpy()
    assoc = make_people(rng, n, rec, "possessor", 0.8, POSSESSOR_RACE)
    has = ~missing & (rng.random(n) < config.ASSOCIATE_SHARE)
    for f in ("last_name", "first_name", "dob"):
        df[f"associate_{f}"] = np.where(has, assoc[f].to_numpy(), np.datetime64("NaT") if f == "dob" else "")


def _finish_dates(df: pd.DataFrame) -> None:
    rec = df["recovery_day"].to_numpy().astype("datetime64[D]")
    ttc = df["ttc_days"].to_numpy()
    earliest = np.datetime64(f"{config.EARLIEST_PURCHASE_YEAR}-01-01", "D")
    need = np.isnat(df["purchase_day"].to_numpy()) & (ttc >= 0)
    ttc = np.minimum(ttc, (rec - earliest).astype(np.int64))
    purchase = df["purchase_day"].to_numpy().astype("datetime64[D]").copy()
    purchase[need] = rec[need] - ttc[need].astype("timedelta64[D]")
    df["purchase_day"] = purchase


def _trace_numbers(rng: np.random.Generator, request: np.ndarray, year: int) -> np.ndarray:
    """'T' + request year + 7 digits, increasing with the request date. Requests made in the next
    January draw from the top of that year's range, which this year's file owns."""
    req_year = request.astype("datetime64[Y]").astype(int) + 1970
    out = np.empty(len(request), dtype=object)
    for y in np.unique(req_year):
        idx = np.flatnonzero(req_year == y)
        lo, hi = (1, 8_000_000) if y == year else (8_000_000, 10_000_000)
        seq = np.sort(rng.choice(np.arange(lo, hi), len(idx), replace=False))
        order = idx[np.argsort(request[idx], kind="stable")]
        out[order] = [f"T{y}{s:07d}" for s in seq]
    return out


def generate_year(rng: np.random.Generator, year: int, scale: float, dealers: pd.DataFrame,
                  inc: YearIncidents, planted: pd.DataFrame, nibin_guns: pd.DataFrame,
                  pool: pd.DataFrame | None, end_day: np.datetime64) -> TraceYear:
    n_year = round(config.RECOVERIES_PER_YEAR.get(year, config.RECOVERIES_DEFAULT) * scale)
    parts = [planted.assign(kind="scheme"), nibin_histories(rng, nibin_guns, year, dealers)]
    n_rerec = round(n_year * config.RERECOVERY_SHARE) if pool is not None else 0
    if pool is not None and n_rerec:
        parts.append(rerecovery_histories(rng, pool, n_rerec, year))
    n_base = max(0, n_year - sum(len(p) for p in parts))
    by_group: dict[str, tuple[int, int]] = {}
    if len(planted):
        groups = source_groups(dealers, planted["dealer_idx"].to_numpy())
        short = planted["ttc_days"].to_numpy() < 365
        for g in np.unique(groups):
            by_group[str(g)] = (int((groups == g).sum()), int(short[groups == g].sum()))
    ghosts = sum(int((p["trace_status"] == "PRIVATELY_MADE").sum()) for p in parts)
    parts.append(base_histories(rng, n_base, year, scale, dealers, end_day, by_group, ghosts))
    df = pd.concat([p for p in parts if len(p)], ignore_index=True)
    n = len(df)

    # NIBIN guns recovered at a scene take the scene's place and date.
    ev = inc.events.set_index("cc")
    at_scene = (df["case_number"] != "").to_numpy() & df["case_number"].isin(ev.index).to_numpy()
    if at_scene.any():
        cc = df.loc[at_scene, "case_number"]
        df.loc[at_scene, "lon"] = ev.loc[cc, "lon"].to_numpy()
        df.loc[at_scene, "lat"] = ev.loc[cc, "lat"].to_numpy()
        df.loc[at_scene, "street"] = ev.loc[cc, "location"].to_numpy()
        df.loc[at_scene, "ncic_crime_code"] = [SCENE_NCIC[c] for c in ev.loc[cc, "code"]]
    _scene_recoveries(rng, df, inc, n_year)
    free = np.isnan(df["lon"].to_numpy())
    lon, lat = sample_points(rng, int(free.sum()), geodata.VIOLENCE_HOTSPOTS, 0.7)
    df.loc[free, "lon"], df.loc[free, "lat"] = lon, lat
    other = (df["ncic_crime_code"] == "").to_numpy()
    keys = np.array(list(OTHER_NCIC), dtype=object)
    p = np.array(list(OTHER_NCIC.values()))
    df.loc[other, "ncic_crime_code"] = keys[rng.choice(len(keys), int(other.sum()), p=p / p.sum())]
    # NIBIN guns were used in shootings: recovered in gun or assault cases, never "found" here.
    found_nibin = (df["kind"] == "nibin").to_numpy() & (df["ncic_crime_code"] == "7399").to_numpy()
    df.loc[found_nibin, "ncic_crime_code"] = "5299"
    no_case = (df["case_number"] == "").to_numpy()
    df.loc[no_case, "case_number"] = unused_case_numbers(rng, inc, df.loc[no_case, "recovery_day"].to_numpy())
    _finish_dates(df)
    _people_columns(rng, df)

    rec = df["recovery_day"].to_numpy().astype("datetime64[D]")
    delay = rng.choice([0, 1, 2, 3, 5, 8, 14], n, p=[0.35, 0.3, 0.12, 0.08, 0.07, 0.05, 0.03])
    request = rec + delay.astype("timedelta64[D]")
    df["request_day"] = request
    df["trace_number"] = _trace_numbers(rng, request, year)
    df = df.sort_values(["request_day", "trace_number"], kind="stable").reset_index(drop=True)
    # A stream of its own (spawned: the parent's draws are unchanged), so the other columns stay as they were.
    _signals(rng.spawn(1)[0], df)
    return TraceYear(_written(rng, df, dealers), df)


def _signals(rng: np.random.Generator, df: pd.DataFrame) -> None:
    """Stolen reports, restored serials and the outcomes of closed and burgled dealers."""
    n = len(df)
    status = df["trace_status"].to_numpy().astype(object)
    base = (df["kind"] == "base").to_numpy()
    rec = df["recovery_day"].to_numpy().astype("datetime64[D]")
    u = rng.random((5, n))
    stolen_from = np.full(n, "", dtype=object)
    report = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    # Dealer burglaries: the trace ends at the licensee's theft report, months before the recovery.
    burgled = base & (status == "DEALER_ONLY") & (u[0] < FFL_THEFT_SHARE_OF_DEALER_ONLY)
    status[burgled] = "STOLEN"
    stolen_from[burgled] = "FFL"
    report[burgled] = rec[burgled] - rng.integers(20, 900, n)[burgled].astype("timedelta64[D]")
    # Purchasers who reported the gun stolen between the purchase and the recovery.
    purchase = df["purchase_day"].to_numpy().astype("datetime64[D]")
    done = base & (status == "COMPLETED") & ~np.isnat(purchase) & (u[1] < PRIVATE_THEFT_SHARE)
    span = np.maximum((rec - purchase).astype("timedelta64[D]").astype(np.int64), 1)
    stolen_from[done] = "PRIVATE"
    report[done] = purchase[done] + (u[2][done] * span[done]).astype(np.int64).astype("timedelta64[D]")
    # Closed dealers named on a failed trace: out of business.
    oob = (status == "NO_RECORD") & (df["dealer_idx"].to_numpy() >= 0) & (u[3] < OUT_OF_BUSINESS_SHARE_OF_NAMED_NO_RECORD)
    status[oob] = "OUT_OF_BUSINESS"
    # Old sales whose dealer records are past retention: some completed traces of guns bought more than
    # twenty years before end as too old to trace.
    old = (base & (status == "COMPLETED") & ~np.isnat(purchase)
           & ((rec - purchase).astype("timedelta64[D]").astype(np.int64) > TOO_OLD_AFTER_DAYS)
           & (u[4] < TOO_OLD_SHARE_OF_OLD) & (stolen_from == ""))
    status[old] = "TOO_OLD"  # the dealer is known, the sale record is not: no purchaser, no sale date
    for f in PERSON_FIELDS:
        df.loc[old, f"purchaser_{f}"] = np.datetime64("NaT") if f == "dob" else ""
    df.loc[old, "purchase_day"] = np.datetime64("NaT")
    df.loc[old, "multiple_sale"] = ""
    df.loc[old, "ttc_days"] = -1
    # Planted burglary victims reported their guns stolen.
    if "plant_stolen_from" in df:
        planted = df["plant_stolen_from"].fillna("").to_numpy().astype(str) != ""
        stolen_from[planted] = df["plant_stolen_from"].to_numpy()[planted]
        report[planted] = df["plant_stolen_day"].to_numpy().astype("datetime64[D]")[planted]
    df["trace_status"] = status
    df["stolen_from"] = stolen_from
    df["reported_stolen"] = np.where(stolen_from != "", "Y", "")
    df["stolen_report_day"] = report
    # Obliterated serials the lab restored (a serial of the synthetic gun's own).
    oblit = np.flatnonzero((df["serial_obliterated"] == "Y").to_numpy())
    restored = oblit[rng.random(len(oblit)) < RESTORED_SHARE]
    df["restored_serial"] = ""
    if len(restored):
        digits = rng.integers(0, 10, (len(restored), 7))
        df.loc[restored, "restored_serial"] = ["R" + "".join(map(str, d)) for d in digits]


def _written(rng: np.random.Generator, df: pd.DataFrame, dealers: pd.DataFrame) -> pd.DataFrame:
    n = len(df)
    out = pd.DataFrame({"trace_number": df["trace_number"].to_numpy()})
    dates = {"request_date": df["request_day"], "recovery_date": df["recovery_day"],
             "purchase_date": df["purchase_day"], "possessor_dob": df["possessor_dob"],
             "purchaser_dob": df["purchaser_dob"], "associate_dob": df["associate_dob"],
             "stolen_report_date": df["stolen_report_day"]}
    messy_dates = rng.random(n) < config.MESSY_DATE_SHARE
    for col, values in dates.items():
        v = values.to_numpy().astype("datetime64[D]")
        out[col] = np.where(messy_dates, us_dates(v), iso_dates(v))
    urgent = np.isin(df["ncic_crime_code"].to_numpy(), ["0999", "1399", "1299"])
    out["priority"] = np.where(rng.random(n) < np.where(urgent, 0.5, 0.05), "URGENT", "ROUTINE")
    out["ncic_crime_code"] = df["ncic_crime_code"].to_numpy()
    out["requesting_ori"] = config.REQUESTING_ORI
    for col in ("case_number", "trace_status", "serial_number", "serial_obliterated", "manufacturer",
                "model", "caliber", "firearm_type", "country_of_origin", "importer", "multiple_sale",
                "reported_stolen", "stolen_from", "restored_serial"):
        out[col] = df[col].to_numpy()
    lon, lat = round_inside(df["lon"].to_numpy(), df["lat"].to_numpy(), [demo_geography().city],
                            np.zeros(n, dtype=np.int64))
    district = district_of(lon, lat)
    street = block_addresses(rng, np.where(district == 0, 1, district), exact=True)
    out["recovery_street"] = np.where(df["street"].to_numpy() != "", df["street"].to_numpy(), street)
    out["recovery_city"] = "BALTIMORE"
    out["recovery_state"] = "MD"
    out["recovery_zip"] = nearest_city_zip(lon, lat)
    out["recovery_latitude"], out["recovery_longitude"] = fixed(lat, 6), fixed(lon, 6)
    for role in ("possessor", "purchaser"):
        for f in PERSON_FIELDS:
            if f != "dob":
                out[f"{role}_{f}"] = df[f"{role}_{f}"].to_numpy()
    out["associate_last_name"] = df["associate_last_name"].to_numpy()
    out["associate_first_name"] = df["associate_first_name"].to_numpy()

    d_idx = df["dealer_idx"].to_numpy()
    has = d_idx >= 0
    safe = np.where(has, d_idx, 0)
    ffl = dealers["ffl"].to_numpy()[safe]
    # Some agency exports drop the expiry part of the license number (formats.md allows it).
    short = np.array([f[:12] + f[15:] for f in ffl], dtype=object)
    ffl = np.where(rng.random(n) < 0.03, short, ffl)
    for col, src in (("dealer_ffl", ffl), ("dealer_name", dealers["name"].to_numpy()[safe]),
                     ("dealer_street", dealers["PREMISE_STREET"].to_numpy()[safe]),
                     ("dealer_city", dealers["PREMISE_CITY"].to_numpy()[safe]),
                     ("dealer_state", dealers["PREMISE_STATE"].to_numpy()[safe]),
                     ("dealer_zip", dealers["PREMISE_ZIP_CODE"].to_numpy()[safe])):
        out[col] = np.where(has, src, "")
    # A few rows typed by hand: lower-case free text (values stay valid).
    messy = np.flatnonzero(rng.random(n) < config.MESSY_CASE_SHARE)
    for col in ("manufacturer", "model", "possessor_last_name", "possessor_first_name", "recovery_city",
                "recovery_street"):
        out.loc[messy, col] = out.loc[messy, col].str.lower()
    return out.loc[:, list(COLUMNS)]


def pool_sample(rng: np.random.Generator, internal: pd.DataFrame) -> pd.DataFrame:
    """Histories that may be recovered again later (traced, serialized guns)."""
    ok = (internal["trace_status"].isin(["COMPLETED", "DEALER_ONLY"]).to_numpy()
          & (internal["serial_number"] != "").to_numpy() & (internal["kind"] != "scheme").to_numpy())
    sub = internal[ok & (rng.random(len(internal)) < 0.08)]
    keep = [c for c in sub.columns if not c.startswith(("possessor_", "associate_"))
            and c not in ("request_day", "trace_number")]
    return sub[keep].reset_index(drop=True)
