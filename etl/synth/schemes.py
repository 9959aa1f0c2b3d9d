"""Planted trafficking schemes: the ground truth a trafficking index should find.

- straw purchasers: one person buys handguns in sprees (several within five business days,
  reported as multiple sales), at one store or at several; the guns turn up quickly in Baltimore
  in other people's hands;
- high-risk dealers: a few stores (two in Maryland near the city, one or more out of state)
  whose crime guns are many and new;
- I-95 pipelines: a small ring buying in VA/NC/SC/GA/FL, guns recovered in Baltimore quickly;
- slow straw purchasers: a few guns a year over several years at several stores, never a multiple
  sale, the guns recovered within two years in other people's hands.

And innocent look-alikes (ground-truth entries of type `lookalike_*`, `"innocent": true`), the
patterns a count-based list mistakes for trafficking:
- lawful high-volume dealers: big stores with many traces at the usual time-to-crime;
- burglary victims: one owner's several guns, bought over the years, stolen in one burglary the owner
  reported, recovered in other hands within months;
- long-held own guns: an owner's guns bought years ago and recovered from the owner.

Each row is a firearm history (see histories.py) tagged with its scheme id; the tags never reach
the source files: ground_truth.json lists the trace numbers afterwards.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from etl.synth import config, firearms
from etl.synth.histories import empty_history
from etl.synth.people import PERSON_FIELDS, address_columns, people_columns

NEAR_CITY_COUNTIES = ("005", "003", "027", "025")


def _business_days_after(start: np.datetime64, k: int, rng: np.random.Generator) -> np.ndarray:
    """k purchase dates within five business days from start (inclusive)."""
    days = np.busday_offset(start, rng.integers(0, 5, k), roll="forward")
    return np.sort(days.astype("datetime64[D]"))


def _dealer_pool(dealers: pd.DataFrame, state: str, near_city: bool = False) -> np.ndarray:
    ok = (dealers["listed"].to_numpy() & (dealers["PREMISE_STATE"].to_numpy() == state)
          & (dealers["LIC_TYPE"].to_numpy() != "07"))
    if near_city:
        ok &= np.isin(dealers["LIC_CNTY"].to_numpy(), NEAR_CITY_COUNTIES)
    return np.flatnonzero(ok)


def _pick_dealers(rng: np.random.Generator, dealers: pd.DataFrame, pool: np.ndarray, k: int) -> np.ndarray:
    w = np.sqrt(dealers["weight"].to_numpy()[pool])  # flatter than sales: any store will do
    return pool[rng.choice(len(pool), min(k, len(pool)), replace=False, p=w / w.sum())]


def _short_ttc(rng: np.random.Generator, n: int, median_days: float, sigma: float,
               lo: int = 5, hi: int = 900) -> np.ndarray:
    return np.clip(rng.lognormal(math.log(median_days), sigma, n), lo, hi).astype(np.int64)


def _person(rng: np.random.Generator, ref: np.datetime64, dealer_zip: int, young: bool) -> dict:
    cols = people_columns(rng, 1, np.array([ref]), "purchaser", 0.55 if young else 0.8,
                          {"B": 0.6, "W": 0.36, "U": 0.04})
    p = {f: v[0] for f, v in cols.items()}
    if young:  # straw buyers are often in their twenties
        p["dob"] = np.datetime64(ref, "D") - np.timedelta64(int(rng.integers(21 * 365, 29 * 365)), "D")
    a = {f: str(v[0]) for f, v in address_columns(rng, np.array([dealer_zip])).items()}
    return {**p, **a}


def _rows(rng: np.random.Generator, scheme_id: str, person_of_row: list[dict], dealer_idx: np.ndarray,
          purchase: np.ndarray, ttc: np.ndarray, multiple: np.ndarray) -> pd.DataFrame:
    n = len(dealer_idx)
    df = empty_history(n)
    df["kind"] = "scheme"
    df["scheme_id"] = scheme_id
    df["trace_status"] = "COMPLETED"
    df["dealer_idx"] = dealer_idx
    df["purchase_day"] = purchase.astype("datetime64[D]")
    df["ttc_days"] = ttc
    df["recovery_day"] = df["purchase_day"].to_numpy() + ttc.astype("timedelta64[D]")
    df["multiple_sale"] = np.where(multiple, "Y", "N")
    # Set by the look-alikes: the gun was recovered from its buyer; the buyer reported it stolen.
    df["own_gun"] = np.zeros(n, bool)
    df["plant_stolen_from"] = np.full(n, "", dtype=object)
    df["plant_stolen_day"] = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    fa = firearms.sample_retail(rng, n, handguns_only=True)
    for c in firearms.FIREARM_COLUMNS:  # every row: whole columns (what set_firearms gives, faster)
        df[c] = fa[c].to_numpy()
    for f in PERSON_FIELDS:
        df[f"purchaser_{f}"] = [p[f] for p in person_of_row]
    if n:
        df["purchaser_dob"] = df["purchaser_dob"].to_numpy().astype("datetime64[D]")
    return df


def _in_range(df: pd.DataFrame, start: np.datetime64, end: np.datetime64) -> pd.DataFrame:
    r = df["recovery_day"].to_numpy()
    return df[(r >= start) & (r <= end)]


def _who(p: dict) -> dict:
    return {"last_name": p["last_name"], "first_name": p["first_name"],
            "dob": str(np.datetime64(p["dob"], "D"))}


def _straw_guns(rng: np.random.Generator, scheme_id: str, person: dict, stores: np.ndarray,
                several: bool, first: np.datetime64) -> pd.DataFrame:
    """Handguns bought in sprees: 2-4 within five business days, sprees 20-120 days apart."""
    n_guns = int(rng.integers(4, 13))
    sprees, purchase, store = [], [], []
    day = np.datetime64(first, "D")
    while sum(sprees) < n_guns:
        size = min(int(rng.integers(2, 5)), n_guns - sum(sprees))
        sprees.append(size)
        purchase.extend(_business_days_after(day, size, rng))
        store.extend(stores[rng.integers(0, len(stores), size)] if several else [stores[0]] * size)
        day = day + int(rng.integers(20, 120))
    return _rows(rng, scheme_id, [person] * n_guns, np.array(store), np.array(purchase),
                 _short_ttc(rng, n_guns, 100, 0.8), np.ones(n_guns, bool))


def straw_purchasers(rng: np.random.Generator, dealers: pd.DataFrame, n: int,
                     start: np.datetime64, end: np.datetime64) -> tuple[list[pd.DataFrame], list[dict]]:
    frames, truth = [], []
    for k in range(n):
        state = ("MD", "MD", "VA", "MD", "PA", "VA")[k % 6]
        several = k % 2 == 1
        pool = _dealer_pool(dealers, state, near_city=state == "MD")
        stores = _pick_dealers(rng, dealers, pool, int(rng.integers(2, 5)) if several else 1)
        span = int((end - start).astype(int))
        first = start - 90 + int(rng.integers(0, max(1, span - 400)))
        person = _person(rng, np.datetime64(first, "D"), int(dealers["zip_idx"].iloc[stores[0]]), True)
        for _ in range(40):  # redraw the sprees until enough of the guns surface inside the years
            df = _straw_guns(rng, f"straw-{k + 1:03d}", person, stores, several, first)
            df = _in_range(df, start, end)
            days = np.sort(df["purchase_day"].to_numpy().astype("datetime64[D]"))
            spree = len(days) > 1 and bool((np.busday_count(days[:-1], days[1:]) < 5).any())
            if len(df) >= 3 and spree and (not several or df["dealer_idx"].nunique() > 1):
                break
        else:
            continue
        frames.append(df)
        truth.append({"id": f"straw-{k + 1:03d}", "type": "straw_purchaser",
                      "pattern": "several_stores" if several else "one_store", "purchaser": _who(person),
                      "dealer_ffls": sorted({dealers["ffl"].iloc[i] for i in df["dealer_idx"]})})
    return frames, truth


def high_risk_dealers(rng: np.random.Generator, dealers: pd.DataFrame, n: int, per_dealer: float,
                      start: np.datetime64, end: np.datetime64) -> tuple[list[pd.DataFrame], list[dict]]:
    frames, truth = [], []
    chosen: set[int] = set()
    for k in range(n):
        # Two of every three in Maryland near the city; the second one is always out of state.
        state = "MD" if k % 3 != 1 else ("VA", "PA", "NC", "GA")[(k // 3) % 4]
        pool = np.array([i for i in _dealer_pool(dealers, state, near_city=state == "MD") if i not in chosen])
        w = dealers["weight"].to_numpy()[pool]
        mid = pool[(w > np.quantile(w, 0.5)) & (w < np.quantile(w, 0.95))]
        dealer = int(mid[rng.integers(0, len(mid))] if len(mid) else pool[0])
        chosen.add(dealer)
        m = max(5, int(round(rng.uniform(*config.HIGH_RISK_EXTRA_TRACES) * per_dealer)))
        span = int((end - start).astype(int))
        purchase = start - 200 + rng.integers(0, span + 100, m)
        people = [_person(rng, np.datetime64(d, "D"), int(dealers["zip_idx"].iloc[dealer]), False)
                  for d in purchase]
        for i in range(1, m):  # some buyers come back for a second gun
            if rng.random() < 0.2:
                people[i] = people[i - 1]
                purchase[i] = purchase[i - 1] + int(rng.integers(0, 4))
        df = _rows(rng, f"dealer-{k + 1:03d}", people, np.full(m, dealer), purchase.astype("datetime64[D]"),
                   _short_ttc(rng, m, 150, 0.9), rng.random(m) < 0.3)
        df = _in_range(df, start, end)
        frames.append(df)
        truth.append({"id": f"dealer-{k + 1:03d}", "type": "high_risk_dealer",
                      "dealer_ffl": dealers["ffl"].iloc[dealer], "dealer_state": state})
    return frames, truth


def i95_pipelines(rng: np.random.Generator, dealers: pd.DataFrame, n: int,
                  start: np.datetime64, end: np.datetime64) -> tuple[list[pd.DataFrame], list[dict]]:
    frames, truth = [], []
    for k in range(n):
        state = config.I95_STATES[k % len(config.I95_STATES)]
        stores = _pick_dealers(rng, dealers, _dealer_pool(dealers, state), int(rng.integers(2, 6)))
        span = int((end - start).astype(int))
        first = start - 150 + int(rng.integers(0, max(1, span - 60)))
        ring = [_person(rng, np.datetime64(first, "D"), int(dealers["zip_idx"].iloc[stores[0]]), True)
                for _ in range(int(rng.integers(2, 5)))]
        for _ in range(40):  # redraw the purchases until enough guns surface inside the years
            people, store, purchase = [], [], []
            for p in ring:
                m = int(rng.integers(3, 9))
                people.extend([p] * m)
                store.extend(stores[rng.integers(0, len(stores), m)])
                purchase.extend(first + rng.integers(0, 150, m))
            m = len(people)
            df = _rows(rng, f"i95-{k + 1:03d}", people, np.array(store),
                       np.array(purchase).astype("datetime64[D]"), _short_ttc(rng, m, 120, 0.7, 20, 500),
                       rng.random(m) < 0.4)
            df = _in_range(df, start, end)
            if len(df) >= 3:
                break
        else:
            continue
        frames.append(df)
        present = set(zip(df["purchaser_last_name"], df["purchaser_first_name"], strict=True))
        ring = [p for p in ring if (p["last_name"], p["first_name"]) in present]
        truth.append({"id": f"i95-{k + 1:03d}", "type": "i95_pipeline", "source_state": state,
                      "purchasers": [_who(p) for p in ring],
                      "dealer_ffls": sorted({dealers["ffl"].iloc[i] for i in df["dealer_idx"]})})
    return frames, truth


def slow_straw_purchasers(rng: np.random.Generator, dealers: pd.DataFrame, n: int,
                          start: np.datetime64, end: np.datetime64) -> tuple[list[pd.DataFrame], list[dict]]:
    """Straw buying spread thin: one to three guns a year for three to five years at two to four stores,
    purchases weeks apart (no multiple-sale report), each gun recovered 2-24 months later elsewhere."""
    frames, truth = [], []
    for k in range(n):
        state = ("MD", "PA", "MD", "VA")[k % 4]
        stores = _pick_dealers(rng, dealers, _dealer_pool(dealers, state, near_city=state == "MD"),
                               int(rng.integers(2, 5)))
        span = int((end - start).astype(int))
        first = start - 3 * 365 + int(rng.integers(0, max(1, span)))
        person = _person(rng, np.datetime64(first, "D"), int(dealers["zip_idx"].iloc[stores[0]]), True)
        for _ in range(40):
            years = int(rng.integers(3, 6))
            purchase: list[np.datetime64] = []
            for y in range(years):
                for _ in range(int(rng.integers(1, 4))):
                    purchase.append(np.datetime64(first, "D") + y * 365 + int(rng.integers(0, 365)))
            purchase_arr = np.sort(np.array(purchase, dtype="datetime64[D]"))
            gaps = np.diff(purchase_arr).astype(np.int64)
            purchase_arr[1:] += np.cumsum(np.maximum(0, 21 - gaps)).astype("timedelta64[D]")  # weeks apart
            m = len(purchase_arr)
            df = _rows(rng, f"slow-{k + 1:03d}", [person] * m, stores[rng.integers(0, len(stores), m)],
                       purchase_arr, _short_ttc(rng, m, 250, 0.6, 60, 730), np.zeros(m, bool))
            df = _in_range(df, start, end)
            if len(df) >= 3 and df["dealer_idx"].nunique() > 1:
                break
        else:
            continue
        frames.append(df)
        truth.append({"id": f"slow-{k + 1:03d}", "type": "straw_purchaser", "pattern": "slow_several_stores",
                      "purchaser": _who(person),
                      "dealer_ffls": sorted({dealers["ffl"].iloc[i] for i in df["dealer_idx"]})})
    return frames, truth


def lawful_big_dealers(rng: np.random.Generator, dealers: pd.DataFrame, n: int, per_dealer: float,
                       exclude: set[int], start: np.datetime64, end: np.datetime64,
                       ) -> tuple[list[pd.DataFrame], list[dict]]:
    """Look-alike: the biggest stores near the city sell even more crime guns, every one to a different
    ordinary buyer at the usual time-to-crime of its source group and the usual multiple-sale rate."""
    from etl.synth.histories import sample_ttc_days, source_groups

    frames, truth = [], []
    pool = np.array([i for i in _dealer_pool(dealers, "MD", near_city=True) if i not in exclude])
    top = pool[np.argsort(-dealers["weight"].to_numpy()[pool], kind="stable")][: max(n, 1) * 3]
    for k, dealer in enumerate(top[rng.permutation(len(top))][:n]):
        m = max(6, int(round(rng.uniform(*config.LAWFUL_BIG_DEALER_EXTRA_TRACES) * per_dealer)))
        span = int((end - start).astype(int))
        recovery = start + rng.integers(0, span + 1, m)
        year = int(np.datetime64(start, "Y").astype(int)) + 1970
        ttc = sample_ttc_days(rng, source_groups(dealers, np.full(m, dealer)), year)
        earliest = np.datetime64(f"{config.EARLIEST_PURCHASE_YEAR}-01-01", "D")
        ttc = np.minimum(ttc, (recovery.astype("datetime64[D]") - earliest).astype(np.int64))
        purchase = recovery.astype("datetime64[D]") - ttc.astype("timedelta64[D]")
        people = [_person(rng, d, int(dealers["zip_idx"].iloc[dealer]), False) for d in purchase]
        df = _rows(rng, f"lawful-dealer-{k + 1:03d}", people, np.full(m, dealer), purchase, ttc,
                   rng.random(m) < config.MULTIPLE_SALE_SHARE)
        frames.append(_in_range(df, start, end))
        truth.append({"id": f"lawful-dealer-{k + 1:03d}", "type": "lookalike_high_volume_dealer",
                      "innocent": True, "dealer_ffl": dealers["ffl"].iloc[int(dealer)]})
    return frames, truth


def burglary_victims(rng: np.random.Generator, dealers: pd.DataFrame, n: int,
                     start: np.datetime64, end: np.datetime64) -> tuple[list[pd.DataFrame], list[dict]]:
    """Look-alike: an owner's three to six guns, bought over two to fifteen years at one to three stores,
    stolen in one burglary the owner reported the next days, recovered in other hands within a year."""
    frames, truth = [], []
    for k in range(n):
        stores = _pick_dealers(rng, dealers, _dealer_pool(dealers, "MD", near_city=True), int(rng.integers(1, 4)))
        span = int((end - start).astype(int))
        burglary = start - 120 + int(rng.integers(0, max(1, span - 60)))
        m = int(rng.integers(3, 7))
        held = int(rng.integers(2, 16)) * 365
        purchase = np.sort(burglary - rng.integers(30, held, m)).astype("datetime64[D]")
        recovery = burglary + rng.integers(10, 365, m)
        person = _person(rng, purchase[0], int(dealers["zip_idx"].iloc[stores[0]]), False)
        df = _rows(rng, f"burglary-{k + 1:03d}", [person] * m, stores[rng.integers(0, len(stores), m)],
                   purchase, (recovery.astype("datetime64[D]") - purchase).astype(np.int64), np.zeros(m, bool))
        df["plant_stolen_from"] = "PRIVATE"
        df["plant_stolen_day"] = np.datetime64(burglary, "D") + int(rng.integers(0, 3))
        df = _in_range(df, start, end)
        if len(df) < 2:
            continue
        frames.append(df)
        truth.append({"id": f"burglary-{k + 1:03d}", "type": "lookalike_burglary_victim", "innocent": True,
                      "purchaser": _who(person), "burglary_date": str(np.datetime64(burglary, "D"))})
    return frames, truth


def long_held_own_guns(rng: np.random.Generator, dealers: pd.DataFrame, n: int,
                       start: np.datetime64, end: np.datetime64) -> tuple[list[pd.DataFrame], list[dict]]:
    """Look-alike: an owner's two to four guns bought five to twenty-five years before, recovered from
    the owner on one day (seized at a call, or turned in)."""
    frames, truth = [], []
    for k in range(n):
        stores = _pick_dealers(rng, dealers, _dealer_pool(dealers, "MD"), int(rng.integers(1, 3)))
        span = int((end - start).astype(int))
        recovery = np.datetime64(start + int(rng.integers(0, span + 1)), "D")
        m = int(rng.integers(2, 5))
        earliest = np.datetime64(f"{config.EARLIEST_PURCHASE_YEAR}-01-01", "D")
        ttc = np.minimum(rng.integers(5 * 365, 25 * 365, m), int((recovery - earliest).astype(int)))
        purchase = recovery - ttc.astype("timedelta64[D]")
        person = _person(rng, purchase.min(), int(dealers["zip_idx"].iloc[stores[0]]), False)
        df = _rows(rng, f"own-{k + 1:03d}", [person] * m, stores[rng.integers(0, len(stores), m)],
                   purchase, ttc, np.zeros(m, bool))
        df["own_gun"] = True
        df["ncic_crime_code"] = "5299"
        frames.append(df)
        truth.append({"id": f"own-{k + 1:03d}", "type": "lookalike_long_held_own_guns", "innocent": True,
                      "purchaser": _who(person)})
    return frames, truth


# What a city plants at scale 1 over five years (grows with scale and years); generate(schemes=...)
# overrides any of these counts exactly (the benchmark varies them).
PLAN_KEYS = ("straw", "dealer", "pipeline", "slow_straw", "lawful_dealer", "burglary", "own_guns")


def plan_counts(years: tuple[int, int], scale: float, plan: dict[str, int] | None = None) -> dict[str, int]:
    span_factor = (years[1] - years[0] + 1) / 5  # counts are per five years at scale 1
    # At least one of each kind (both straw patterns, a Maryland and an out-of-state dealer).
    out = {"straw": max(2, round(config.STRAW_PURCHASERS * scale * span_factor)),
           "dealer": max(2, round(config.HIGH_RISK_DEALERS * math.sqrt(max(scale, 0.01)))),
           "pipeline": max(1, round(config.I95_PIPELINES * scale * span_factor)),
           "slow_straw": max(1, round(config.SLOW_STRAW_PURCHASERS * scale * span_factor)),
           "lawful_dealer": max(2, round(config.LAWFUL_BIG_DEALERS * math.sqrt(max(scale, 0.01)))),
           "burglary": max(2, round(config.BURGLARY_VICTIMS * scale * span_factor)),
           "own_guns": max(2, round(config.LONG_HELD_OWNERS * scale * span_factor))}
    for key, value in (plan or {}).items():
        if key not in PLAN_KEYS:
            raise ValueError(f"unknown scheme count {key!r}; expected one of {', '.join(PLAN_KEYS)}")
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"scheme count {key!r} must be a whole number >= 0, got {value!r}")
        out[key] = value
    return out


def plant_schemes(rng: np.random.Generator, dealers: pd.DataFrame, years: tuple[int, int],
                  scale: float, plan: dict[str, int] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """All planted histories (recovery dates inside the years) and their ground-truth entries."""
    start = np.datetime64(f"{years[0]}-01-01", "D")
    end = np.datetime64(f"{years[1]}-12-31", "D")
    span_factor = (years[1] - years[0] + 1) / 5
    counts = plan_counts(years, scale, plan)
    per_dealer = max(scale, 0.01) ** 0.5 * span_factor
    frames, truth = [], []
    for f, t in (straw_purchasers(rng, dealers, counts["straw"], start, end),
                 high_risk_dealers(rng, dealers, counts["dealer"], per_dealer, start, end),
                 i95_pipelines(rng, dealers, counts["pipeline"], start, end)):
        frames += f
        truth += t
    # Drawn after the schemes above from the same stream, so those stay as they were. The lawful big
    # stores are none that a scheme bought from.
    f, t = slow_straw_purchasers(rng, dealers, counts["slow_straw"], start, end)
    frames += f
    truth += t
    used = {int(i) for f in frames for i in f["dealer_idx"]}
    for f, t in (lawful_big_dealers(rng, dealers, counts["lawful_dealer"], max(scale, 0.01) * span_factor,
                                    used, start, end),
                 burglary_victims(rng, dealers, counts["burglary"], start, end),
                 long_held_own_guns(rng, dealers, counts["own_guns"], start, end)):
        frames += f
        truth += t
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True), truth
