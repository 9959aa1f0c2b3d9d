"""Firearm histories behind the traces: what the gun is, who sold it, to whom and when.

A history row holds the trace outcome and the retail side; traces.py adds the recovery side
(where, from whom, which case). Base histories follow the calibrated mixes; NIBIN guns and
re-recovered guns reuse the same building blocks.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from etl.synth import config, firearms
from etl.synth.dealers import choose_sources, closed_dealers
from etl.synth.people import PERSON_FIELDS, addresses_near, make_people

PURCHASER_RACE = {"W": 0.55, "B": 0.38, "A": 0.03, "U": 0.04}  # NCIC race codes
YEAR_DAYS = 365.25


def empty_history(n: int) -> pd.DataFrame:
    df = pd.DataFrame({
        "kind": np.full(n, "base", dtype=object), "scheme_id": np.full(n, "", dtype=object),
        "gun": np.full(n, -1, dtype=np.int64), "trace_status": np.full(n, "", dtype=object),
        "serial_obliterated": np.full(n, "N", dtype=object), "dealer_idx": np.full(n, -1, np.int64),
        "purchase_day": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "ttc_days": np.full(n, -1, dtype=np.int64),
        "multiple_sale": np.full(n, "", dtype=object),
        "recovery_day": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "case_number": np.full(n, "", dtype=object), "ncic_crime_code": np.full(n, "", dtype=object),
        "lon": np.full(n, np.nan), "lat": np.full(n, np.nan), "street": np.full(n, "", dtype=object),
    })
    for c in firearms.FIREARM_COLUMNS:
        df[c] = np.full(n, "", dtype=object)
    for f in PERSON_FIELDS:
        df[f"purchaser_{f}"] = (np.full(n, np.datetime64("NaT"), dtype="datetime64[D]") if f == "dob"
                                else np.full(n, "", dtype=object))
    return df


def _lognorm_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


def fast_share(year: int, target: float | None = None) -> float:
    """Share of the new-gun TTC component that yields the year's share under one year."""
    if target is None:
        target = config.TTC_UNDER_1Y_BY_YEAR.get(year, config.TTC_UNDER_1Y_DEFAULT)
    f = _lognorm_cdf(1.0, config.TTC_FAST_MEDIAN_Y, config.TTC_FAST_SIGMA)
    s = _lognorm_cdf(1.0, config.TTC_SLOW_MEDIAN_Y, config.TTC_SLOW_SIGMA)
    return (target - s) / (f - s)


def _group_factor(group: str) -> float:
    return config.TTC_FAST_FACTOR.get(group, config.TTC_FAST_FACTOR_DEFAULT)


def _mean_factor() -> float:
    out_p = np.array(list(config.OUT_OF_STATE_MIX.values()))
    out_p = out_p / out_p.sum()
    shares = config.SOURCE_REGION_SHARES
    mean = shares["CITY"] * _group_factor("CITY") + shares["MD"] * _group_factor("MD")
    for st, p in zip(config.OUT_OF_STATE_MIX, out_p, strict=True):
        mean += shares["OUT"] * p * _group_factor(st)
    return mean


def sample_ttc_days(rng: np.random.Generator, groups: np.ndarray, year: int,
                    planted: dict[str, tuple[int, int]] | None = None) -> np.ndarray:
    """Time to crime in days for guns from the given source groups (CITY, MD or a state).

    `planted` = {group: (completed planted traces this year, how many under one year)}: the
    ordinary guns of each source make up for them, so every source's TTC (and the year's share
    under one year) stays on target whatever the schemes add.
    """
    f1 = _lognorm_cdf(1.0, config.TTC_FAST_MEDIAN_Y, config.TTC_FAST_SIGMA)
    s1 = _lognorm_cdf(1.0, config.TTC_SLOW_MEDIAN_Y, config.TTC_SLOW_SIGMA)
    w = fast_share(year) / _mean_factor()
    p_fast = np.zeros(len(groups))
    for g in np.unique(groups):
        mask = groups == g
        p = min(0.95, _group_factor(g) * w)
        n_plant, n_short = (planted or {}).get(g, (0, 0))
        if n_plant:
            n_base = int(mask.sum())
            under = p * f1 + (1 - p) * s1
            under = (under * (n_base + n_plant) - n_short) / n_base
            p = float(np.clip((under - s1) / (f1 - s1), 0.0, 0.95))
        p_fast[mask] = p
    fast = rng.random(len(groups)) < p_fast
    years = np.where(fast,
                     rng.lognormal(math.log(config.TTC_FAST_MEDIAN_Y), config.TTC_FAST_SIGMA, len(groups)),
                     rng.lognormal(math.log(config.TTC_SLOW_MEDIAN_Y), config.TTC_SLOW_SIGMA, len(groups)))
    return np.maximum(1, (years * YEAR_DAYS).astype(np.int64))


def source_groups(dealers: pd.DataFrame, idx: np.ndarray) -> np.ndarray:
    region = dealers["region"].to_numpy()[idx]
    return np.where(region == "OUT", dealers["PREMISE_STATE"].to_numpy()[idx], region)


def _region_shares(planted: dict[str, tuple[int, int]] | None, n_sold: int) -> dict[str, float] | None:
    """Region shares for the ordinary guns that make up for the planted ones, so that the year's guns
    together keep the published in-city / rest-of-Maryland / out-of-state split."""
    if not planted or n_sold <= 0:
        return None
    plant = {"CITY": 0, "MD": 0, "OUT": 0}
    for group, (n, _) in planted.items():
        plant[group if group in ("CITY", "MD") else "OUT"] += n
    total = n_sold + sum(plant.values())
    want = {r: max(0.0, share * total - plant[r]) for r, share in config.SOURCE_REGION_SHARES.items()}
    s = sum(want.values())
    return {r: w / s for r, w in want.items()} if s > 0 else None


def set_firearms(df: pd.DataFrame, rows: np.ndarray, fa: pd.DataFrame) -> None:
    for c in firearms.FIREARM_COLUMNS:
        df.loc[rows, c] = fa[c].to_numpy()


def set_purchasers(rng: np.random.Generator, df: pd.DataFrame, rows: np.ndarray,
                   dealers: pd.DataFrame, ref_day: np.ndarray) -> None:
    """New purchasers living near the selling dealer (handgun buyers must be residents)."""
    if len(rows) == 0:
        return
    people = make_people(rng, len(rows), ref_day, "purchaser", 0.8, PURCHASER_RACE)
    addr = addresses_near(rng, dealers["zip_idx"].to_numpy()[df.loc[rows, "dealer_idx"].to_numpy()])
    for f in ("last_name", "first_name", "dob", "sex", "race"):
        df.loc[rows, f"purchaser_{f}"] = people[f].to_numpy()
    for f in ("street", "city", "state", "zip"):
        df.loc[rows, f"purchaser_{f}"] = addr[f].to_numpy()


def _statuses(rng: np.random.Generator, n: int, n_ghost: int, allow_pre1968: bool = True) -> np.ndarray:
    mix = dict(config.STATUS_MIX)
    if not allow_pre1968:
        mix.pop("PRE_1968")
    keys = np.array(list(mix), dtype=object)
    p = np.array(list(mix.values()))
    status = keys[rng.choice(len(keys), n, p=p / p.sum())]
    status[rng.permutation(n)[:n_ghost]] = "PRIVATELY_MADE"
    return status


def fill_histories(rng: np.random.Generator, df: pd.DataFrame, rows: np.ndarray, status: np.ndarray,
                   year: int, dealers: pd.DataFrame, calibers: np.ndarray | None = None,
                   planted: dict[str, tuple[int, int]] | None = None) -> None:
    """Firearm, dealer, TTC, purchaser and multiple-sale flag for rows with the given outcomes."""
    df.loc[rows, "trace_status"] = status
    ghost = rows[status == "PRIVATELY_MADE"]
    old = rows[status == "PRE_1968"]
    retail = rows[(status != "PRIVATELY_MADE") & (status != "PRE_1968")]
    set_firearms(df, ghost, firearms.sample_ghost(rng, len(ghost), year))
    set_firearms(df, old, firearms.sample_pre1968(rng, len(old)))
    cal = None if calibers is None else calibers[np.isin(rows, retail)]
    set_firearms(df, retail, firearms.sample_retail(rng, len(retail), calibers=cal))
    oblit = rows[status == "SERIAL_PROBLEM"]
    df.loc[oblit, "serial_number"] = ""
    df.loc[oblit, "serial_obliterated"] = "Y"

    sold = rows[np.isin(status, ["COMPLETED", "DEALER_ONLY"])]
    df.loc[sold, "dealer_idx"] = choose_sources(rng, dealers, len(sold), regions=_region_shares(planted, len(sold)))
    no_rec = rows[status == "NO_RECORD"]
    named = no_rec[rng.random(len(no_rec)) < config.NO_RECORD_DEALER_SHARE]
    closed = closed_dealers(dealers)
    df.loc[named, "dealer_idx"] = closed[rng.integers(0, len(closed), len(named))]

    done = rows[status == "COMPLETED"]
    groups = source_groups(dealers, df.loc[done, "dealer_idx"].to_numpy())
    rec = df.loc[done, "recovery_day"].to_numpy().astype("datetime64[D]")
    ref = np.where(np.isnat(rec), np.datetime64(f"{year}-07-01", "D"), rec)
    earliest = np.datetime64(f"{config.EARLIEST_PURCHASE_YEAR}-01-01", "D")
    ttc = np.minimum(sample_ttc_days(rng, groups, year, planted), (ref - earliest).astype(np.int64))
    df.loc[done, "ttc_days"] = ttc
    purchase = ref - ttc.astype("timedelta64[D]")
    set_purchasers(rng, df, done, dealers, purchase)
    handgun = df.loc[done, "firearm_type"].isin(["PISTOL", "REVOLVER"]).to_numpy()
    df.loc[done, "multiple_sale"] = np.where(handgun & (rng.random(len(done)) < config.MULTIPLE_SALE_SHARE),
                                             "Y", "N")
    # A few ordinary repeat buyers: the previous sale of the same store was to the same person.
    if len(done) > 2:
        order = done[np.argsort(df.loc[done, "dealer_idx"].to_numpy(), kind="stable")]
        same = df.loc[order[1:], "dealer_idx"].to_numpy() == df.loc[order[:-1], "dealer_idx"].to_numpy()
        pick = np.flatnonzero(same & (rng.random(len(order) - 1) < 0.04))
        for f in PERSON_FIELDS:
            df.loc[order[pick + 1], f"purchaser_{f}"] = df.loc[order[pick], f"purchaser_{f}"].to_numpy()


def base_histories(rng: np.random.Generator, n: int, year: int, scale: float,
                   dealers: pd.DataFrame, end_day: np.datetime64,
                   planted: dict[str, tuple[int, int]] | None = None, ghosts_so_far: int = 0) -> pd.DataFrame:
    """The ordinary recoveries of a year; ghost guns fill up to the year's target."""
    from etl.synth.writer import seasonal_days

    df = empty_history(n)
    df["recovery_day"] = seasonal_days(rng, n, year)
    target = round(config.GHOST_GUNS_PER_YEAR.get(year, config.GHOST_GUNS_DEFAULT) * scale)
    n_ghost = min(n, max(0, target - ghosts_so_far))
    status = _statuses(rng, n, n_ghost)
    recent = df["recovery_day"].to_numpy() > np.datetime64(end_day, "D") - config.PENDING_RECENT_DAYS
    pend = recent & (status != "PRIVATELY_MADE") & (rng.random(n) < config.PENDING_RECENT_SHARE)
    status[pend] = "PENDING"
    fill_histories(rng, df, np.arange(n), status, year, dealers, planted=planted)
    return df


def nibin_histories(rng: np.random.Generator, guns: pd.DataFrame, year: int,
                    dealers: pd.DataFrame) -> pd.DataFrame:
    """Histories of guns used in shootings and recovered this year (caliber fixed by NIBIN)."""
    n = len(guns)
    df = empty_history(n)
    df["kind"] = "nibin"
    df["gun"] = guns["gun"].to_numpy()
    df["recovery_day"] = guns["recovery_day"].to_numpy()
    target = config.RECOVERIES_PER_YEAR.get(year, config.RECOVERIES_DEFAULT)
    ghost_share = config.GHOST_GUNS_PER_YEAR.get(year, config.GHOST_GUNS_DEFAULT) / target
    cal = guns["caliber"].to_numpy()
    n_ghost = int((rng.random(n) < ghost_share * (cal == "9MM") * 1.3).sum())
    status = _statuses(rng, n, 0, allow_pre1968=False)
    ghost_rows = np.flatnonzero(cal == "9MM")[:n_ghost]
    status[ghost_rows] = "PRIVATELY_MADE"
    fill_histories(rng, df, np.arange(n), status, year, dealers, calibers=cal)
    df["case_number"] = guns["recovery_cc"].to_numpy()
    return df


def rerecovery_histories(rng: np.random.Generator, pool: pd.DataFrame, n: int, year: int) -> pd.DataFrame:
    """Guns recovered again (returned to an owner, stolen, recovered): the same firearm and retail
    history as the earlier trace, a later recovery. Serials are sometimes written differently."""
    start, end = np.datetime64(f"{year}-01-01", "D"), np.datetime64(f"{year}-12-31", "D")
    cand = pool[pool["recovery_day"].to_numpy() < end - 45]
    if n == 0 or len(cand) == 0:
        return empty_history(0)
    pick = cand.iloc[rng.choice(len(cand), min(n, len(cand)), replace=False)].copy()
    lo = np.maximum(pick["recovery_day"].to_numpy().astype("datetime64[D]") + 30, start)
    span = (end - lo).astype(np.int64)
    pick["recovery_day"] = lo + (rng.random(len(pick)) * span).astype("timedelta64[D]")
    pick["kind"] = "rerecovery"
    pick["scheme_id"] = ""
    pick["gun"] = -1
    pick["case_number"] = ""
    pick["ncic_crime_code"] = ""
    pick["lon"] = np.nan
    pick["lat"] = np.nan
    pick["street"] = ""
    serial = pick["serial_number"].to_numpy().astype(str)
    style = rng.integers(0, 4, len(pick))
    serial = np.array([s if k == 0 or len(s) < 4 else
                       (s[:3] + "-" + s[3:] if k == 1 else s[:3] + " " + s[3:] if k == 2 else s.lower())
                       for s, k in zip(serial, style, strict=True)], dtype=object)
    pick["serial_number"] = serial
    # The TTC of the new recovery follows from the unchanged purchase date.
    purchase = pick["purchase_day"].to_numpy().astype("datetime64[D]")
    has = ~np.isnat(purchase)
    ttc = (pick["recovery_day"].to_numpy().astype("datetime64[D]") - purchase).astype(np.int64)
    pick["ttc_days"] = np.where(has, ttc, -1)
    return pick.reset_index(drop=True)
