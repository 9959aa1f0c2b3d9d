"""Federal firearms licensees: the ATF listing extract (dealers/ffl_list.csv) and the hidden
"sales weight" that decides which of them supply Baltimore's crime guns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.synth import config, names
from etl.synth.people import zip_table

LISTING_COLUMNS = ("LIC_REGN", "LIC_DIST", "LIC_CNTY", "LIC_TYPE", "LIC_XPRDTE", "LIC_SEQN",
                   "LICENSE_NAME", "BUSINESS_NAME", "PREMISE_STREET", "PREMISE_CITY",
                   "PREMISE_STATE", "PREMISE_ZIP_CODE", "MAIL_STREET", "MAIL_CITY", "MAIL_STATE",
                   "MAIL_ZIP_CODE", "VOICE_PHONE")
MONTH_LETTERS = "ABCDEFGHJKLM"  # A-M without I: January..December


def _possessive(name: str) -> str:
    return name + "'" if name.endswith("S") else name + "'S"


def _names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """LICENSE_NAME (a person or a company) and BUSINESS_NAME (trade name, sometimes blank)."""
    a = rng.choice(np.array(names.DEALER_WORDS_A, dtype=object), n)
    b = rng.choice(np.array(names.DEALER_WORDS_B, dtype=object), n)
    suffix = rng.choice(np.array(names.COMPANY_SUFFIX, dtype=object), n)
    last = rng.choice(np.array(names.LAST, dtype=object), n)
    first = rng.choice(np.array(names.MALE_FIRST + names.FEMALE_FIRST, dtype=object), n)
    initial = rng.choice(np.array(list("ABCDEFGHJKLMNPRSTW"), dtype=object), n)
    person = rng.random(n) < 0.45
    trade = np.array([f"{x} {y}" for x, y in zip(a, b, strict=True)], dtype=object)
    license_name = np.where(person, [f"{x}, {y} {z}" for x, y, z in zip(last, first, initial, strict=True)],
                            [f"{t} {s}" for t, s in zip(trade, suffix, strict=True)])
    own = np.array([f"{_possessive(x)} {y}" for x, y in zip(last, b, strict=True)], dtype=object)
    business = np.where(person, np.where(rng.random(n) < 0.5, own, trade), trade)
    business = np.where(rng.random(n) < 0.15, "", business)
    return license_name.astype(object), business.astype(object)


def build_dealers(rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """All licensees (listed ones and a few out-of-business ones that only traces mention).

    Columns: the listing columns, plus internal ones: `ffl` (full license number), `region`
    (CITY / MD / OUT), `weight` (share of crime-gun sales within its region/state), `listed`,
    `zip_idx` (row of the ZIP table).
    """
    t = zip_table()
    factor = max(scale, 0.01) ** 0.5
    parts = []
    for state, base in config.DEALERS_PER_STATE.items():
        n = max(4, int(round(base * factor)))
        pool = np.flatnonzero(t.state == state)
        if state == "MD":
            city = np.flatnonzero((t.state == "MD") & (t.county_fips == "510"))
            n_city = max(6, int(round(config.BALTIMORE_CITY_DEALERS * factor)))
            rest = pool[t.county_fips[pool] != "510"]
            z = np.concatenate([city[rng.integers(0, len(city), n_city)],
                                rest[rng.integers(0, len(rest), n - n_city)]])
        else:
            z = pool[rng.integers(0, len(pool), n)]
        parts.append(pd.DataFrame({"state": state, "zip_idx": z}))
    d = pd.concat(parts, ignore_index=True)
    n = len(d)
    # A few more licensees that closed: traces (NO_RECORD) still name them; the listing does not.
    closed = max(10, int(round(0.03 * n)))
    extra = d.sample(n=closed, random_state=int(rng.integers(1 << 31)), replace=True)
    d = pd.concat([d, extra], ignore_index=True)
    d["listed"] = np.arange(len(d)) < n
    n = len(d)

    z = d["zip_idx"].to_numpy()
    state = d["state"].to_numpy()
    prefix = np.array([config.LICENSE_PREFIX[s] for s in state])
    regn, dist = prefix[:, 0].astype(object), prefix[:, 1].astype(object)
    dist = np.where((state == "PA") & (t.lon[z] < -78.0), config.PA_WEST_DISTRICT, dist)
    cnty = t.county_fips[z]
    types = list(config.LICENSE_TYPE_MIX)
    ltype = rng.choice(np.array(types), n, p=list(config.LICENSE_TYPE_MIX.values()))
    xpr = [f"{y}{m}" for y, m in zip(rng.integers(6, 9, n), rng.choice(list(MONTH_LETTERS), n), strict=True)]
    # Sequence numbers unique within a state, so every license key is unique.
    seqn = np.empty(n, dtype=object)
    for s in np.unique(state):
        idx = np.flatnonzero(state == s)
        seqn[idx] = [f"{v:05d}" for v in rng.choice(np.arange(1, 100_000), len(idx), replace=False)]
    license_name, business = _names(rng, n)
    from etl.synth.people import street_addresses

    premise = street_addresses(rng, n)
    mail_kind = rng.random(n)
    po_box = np.array([f"PO BOX {v}" for v in rng.integers(10, 9999, n)], dtype=object)
    mail_street = np.where(mail_kind < 0.7, premise, np.where(mail_kind < 0.9, po_box, ""))
    has_mail = mail_kind < 0.9
    phone = [f"{a}{e}{s:04d}" for a, e, s in zip(t.area_code[z], rng.integers(200, 999, n),
                                                 rng.integers(0, 10_000, n), strict=True)]
    out = pd.DataFrame({
        "LIC_REGN": regn, "LIC_DIST": dist, "LIC_CNTY": cnty, "LIC_TYPE": ltype, "LIC_XPRDTE": xpr,
        "LIC_SEQN": seqn, "LICENSE_NAME": license_name, "BUSINESS_NAME": business,
        "PREMISE_STREET": premise, "PREMISE_CITY": t.city[z], "PREMISE_STATE": state,
        "PREMISE_ZIP_CODE": t.zip[z], "MAIL_STREET": mail_street,
        "MAIL_CITY": np.where(has_mail, t.city[z], ""), "MAIL_STATE": np.where(has_mail, state, ""),
        "MAIL_ZIP_CODE": np.where(has_mail, t.zip[z], ""), "VOICE_PHONE": phone,
    })
    out["ffl"] = [f"{a}-{b}-{c}-{e}-{x}-{s}" for a, b, c, e, x, s in
                  zip(regn, dist, cnty, ltype, xpr, seqn, strict=True)]
    out["name"] = np.where(business != "", business, license_name)
    out["region"] = np.where(state != "MD", "OUT", np.where(cnty == "510", "CITY", "MD"))
    out["zip_idx"] = z
    out["listed"] = d["listed"].to_numpy()
    # Sales weight: Zipf over a rank, the rank drawn from a noisy "size" that favours pawnshops
    # and retailers over makers, and Maryland counties near the city. A Zipf shape (rather than
    # raw lognormal weights) keeps the top-10 concentration stable from one seed to the next.
    size = rng.lognormal(0.0, 0.6, n)
    size *= np.where(ltype == "07", 0.3, np.where(ltype == "02", 1.2, 1.0))
    size *= np.where(state == "MD", np.array([config.MD_COUNTY_FACTOR.get(c, 1.0) for c in cnty]), 1.0)
    group = np.where(state != "MD", state, np.where(cnty == "510", "CITY", "MD"))
    weight = np.zeros(n)
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        rank = np.empty(len(idx))
        rank[np.argsort(-size[idx], kind="stable")] = np.arange(1, len(idx) + 1)
        weight[idx] = rank ** -config.DEALER_ZIPF_EXPONENT
    out["weight"] = weight
    # Sort by license so the listing reads like ATF's (by region, district, county, ...).
    out = out.sort_values(["LIC_REGN", "LIC_DIST", "LIC_CNTY", "LIC_TYPE", "LIC_SEQN"], kind="stable")
    return out.reset_index(drop=True)


def choose_sources(rng: np.random.Generator, dealers: pd.DataFrame, n: int,
                   listed_only: bool = True, regions: dict[str, float] | None = None) -> np.ndarray:
    """Row indices of the dealers that first sold n crime guns, by region and state mix (`regions`
    overrides the region shares)."""
    shares = regions or config.SOURCE_REGION_SHARES
    region = rng.choice(np.array(list(config.SOURCE_REGION_SHARES)), n,
                        p=[shares[r] for r in config.SOURCE_REGION_SHARES])
    states = list(config.OUT_OF_STATE_MIX)
    p = np.array(list(config.OUT_OF_STATE_MIX.values()))
    out_state = rng.choice(np.array(states), n, p=p / p.sum())
    group = np.where(region == "OUT", out_state, region)
    avail = dealers["listed"].to_numpy() if listed_only else np.ones(len(dealers), bool)
    key = np.where(dealers["region"].to_numpy() == "OUT", dealers["PREMISE_STATE"].to_numpy(),
                   dealers["region"].to_numpy())
    weight = dealers["weight"].to_numpy()
    out = np.empty(n, dtype=np.int64)
    for g in np.unique(group):
        want = np.flatnonzero(group == g)
        pool = np.flatnonzero((key == g) & avail)
        w = weight[pool]
        out[want] = pool[rng.choice(len(pool), len(want), p=w / w.sum())]
    return out


def closed_dealers(dealers: pd.DataFrame) -> np.ndarray:
    return np.flatnonzero(~dealers["listed"].to_numpy())
