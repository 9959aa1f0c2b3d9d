"""NIBIN: which gun fired at which scene, which guns were recovered, and the leads (docs/formats.md
§5) that link casings from different scenes, or a test fire of a recovered gun to its scenes.

No public Baltimore lead counts exist; the rates in config.py (NIBIN_*) are assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.synth import config

LEAD_COLUMNS = ("lead_id", "lead_date", "lead_status", "caliber", "evidence_a_id", "evidence_b_id",
                "evidence_a_type", "evidence_b_type", "case_number_a", "case_number_b",
                "trace_number_a", "trace_number_b", "test_fire_serial_a", "test_fire_serial_b",
                "evidence_a_date", "evidence_b_date", "evidence_a_address", "evidence_b_address",
                "evidence_a_latitude", "evidence_a_longitude", "evidence_b_latitude", "evidence_b_longitude")


@dataclass
class GunUse:
    scenes: pd.DataFrame   # cc, day, district, gun, entered (casings entered in NIBIN)
    guns: pd.DataFrame     # gun, caliber, recovery_day (NaT = never), recovery_cc, n_scenes


def assign_guns(rng: np.random.Generator, events: pd.DataFrame, end_day: np.datetime64) -> GunUse:
    """Walk the firearm scenes (1F, 9S) in time order; each either uses a new gun or reuses one
    still active in its district (sometimes anywhere in the city). After a use a gun may be
    recovered (then it fires no more)."""
    ev = events[events["code"].isin(config.FIREARM_VIOLENCE_CODES)].sort_values(
        ["t_local", "cc"], kind="stable").reset_index(drop=True)
    n = len(ev)
    day = ev["t_local"].to_numpy().astype("datetime64[D]").astype(np.int64)
    district = ev["district"].to_numpy().astype(np.int64)
    u_reuse, u_city, u_rec, u_pick = rng.random(n), rng.random(n), rng.random(n), rng.random(n)
    rec_delay = np.maximum(1, rng.exponential(config.NIBIN_RECOVERY_MEAN_DAYS, n)).astype(np.int64)
    at_scene = rng.random(n) < config.NIBIN_SCENE_RECOVERY_SHARE
    end = int(np.datetime64(end_day, "D").astype(np.int64))

    gun = np.empty(n, dtype=np.int64)
    last_use: list[int] = []
    recovery_day: list[int] = []
    recovery_ev: list[int] = []
    active: dict[int, list[int]] = {}
    citywide: list[int] = []

    def pick(pool: list[int], today: int, u: float) -> int:
        while pool:
            i = int(u * len(pool)) % len(pool)
            g = pool[i]
            if recovery_day[g] < 0 and today - last_use[g] <= config.NIBIN_ACTIVE_DAYS:
                return g
            pool[i] = pool[-1]  # stale or recovered: drop it (swap-pop)
            pool.pop()
        return -1

    for i in range(n):
        today, d = int(day[i]), int(district[i])
        g = -1
        if u_reuse[i] < config.NIBIN_REUSE_PROB:
            pool = citywide if u_city[i] < config.NIBIN_REUSE_CITYWIDE else active.setdefault(d, [])
            g = pick(pool, today, u_pick[i])
        if g < 0:
            g = len(last_use)
            last_use.append(today)
            recovery_day.append(-1)
            recovery_ev.append(-1)
            active.setdefault(d, []).append(g)
            citywide.append(g)
        gun[i] = g
        last_use[g] = today
        if u_rec[i] < config.NIBIN_RECOVERY_PROB:
            when = today if at_scene[i] else today + int(rec_delay[i])
            if when <= end:
                recovery_day[g] = when
                recovery_ev[g] = i if at_scene[i] else -1

    n_guns = len(last_use)
    cal_names = np.array(list(config.NIBIN_CALIBERS), dtype=object)
    cal_p = np.array(list(config.NIBIN_CALIBERS.values()))
    rec = np.array(recovery_day, dtype=np.int64)
    rec_ev = np.array(recovery_ev, dtype=np.int64)
    guns = pd.DataFrame({
        "gun": np.arange(n_guns),
        "caliber": cal_names[rng.choice(len(cal_names), n_guns, p=cal_p / cal_p.sum())],
        "recovery_day": np.where(rec >= 0, rec, np.iinfo(np.int64).min).astype("datetime64[D]"),
        "recovery_cc": np.where(rec_ev >= 0, ev["cc"].to_numpy()[np.maximum(rec_ev, 0)], ""),
        "n_scenes": np.bincount(gun, minlength=n_guns),
    })
    scenes = pd.DataFrame({"cc": ev["cc"].to_numpy(), "day": day.astype("datetime64[D]"),
                           "district": district, "gun": gun,
                           "entered": rng.random(n) < config.NIBIN_ENTRY_RATE})
    return GunUse(scenes, guns)


def build_leads(rng: np.random.Generator, use: GunUse, trace_of_gun: dict[int, str],
                end_day: np.datetime64) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """The NIBIN lead file and, per gun, the ids of its leads.

    A new casing correlates with the gun's most recent entered casing (sometimes also the one
    before); a test fire of a recovered gun correlates with its latest scene.
    """
    sc = use.scenes[use.scenes["entered"]].sort_values(["gun", "day", "cc"], kind="stable")
    caliber = use.guns.set_index("gun")["caliber"]
    recovery = use.guns.set_index("gun")["recovery_day"]
    end = np.datetime64(end_day, "D")
    rows: list[tuple] = []
    # Casing <-> casing.
    g = sc["gun"].to_numpy()
    cc = sc["cc"].to_numpy()
    day = sc["day"].to_numpy().astype("datetime64[D]")
    same_prev = np.flatnonzero(g[1:] == g[:-1]) + 1
    delay = rng.integers(1, 5, len(g)).astype("timedelta64[D]")
    second = rng.random(len(g)) < 0.15
    for i in same_prev:
        rows.append((int(g[i]), day[i] + delay[i], "CASING", cc[i], "", "CASING", cc[i - 1], "", day[i], day[i - 1]))
        if second[i] and i >= 2 and g[i - 2] == g[i]:
            rows.append((int(g[i]), day[i] + delay[i], "CASING", cc[i], "", "CASING", cc[i - 2], "", day[i],
                         day[i - 2]))
    # Test fire <-> latest casing before the recovery.
    last_idx = {int(x): i for i, x in enumerate(g)}  # sorted by day: the last wins
    for gun_id, trace in sorted(trace_of_gun.items()):
        i = last_idx.get(gun_id)
        rec_day = np.datetime64(recovery[gun_id], "D")
        if i is None or day[i] > rec_day:
            continue
        tf_day = rec_day + np.timedelta64(int(rng.integers(1, 8)), "D")
        rows.append((gun_id, tf_day + np.timedelta64(int(rng.integers(1, 4)), "D"), "TEST_FIRE", "",
                     trace, "CASING", cc[i], "", tf_day, day[i]))
    if not rows:
        return pd.DataFrame(columns=list(LEAD_COLUMNS)), {}
    df = pd.DataFrame(rows, columns=["gun", "lead_date", "a_type", "a_cc", "a_trace", "b_type",
                                     "b_cc", "b_trace", "a_day", "b_day"])
    df["lead_date"] = np.minimum(df["lead_date"].to_numpy().astype("datetime64[D]"), end)
    for side in "ab":  # an item is dated on or before the lead that correlates it
        df[f"{side}_day"] = np.minimum(df[f"{side}_day"].to_numpy().astype("datetime64[D]"),
                                       df["lead_date"].to_numpy().astype("datetime64[D]"))
    df = df.sort_values(["lead_date", "gun", "a_cc", "b_cc"], kind="stable").reset_index(drop=True)
    year = df["lead_date"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    seq = df.groupby(year).cumcount().to_numpy() + 1
    df["lead_id"] = [f"NL{y}-{s:05d}" for y, s in zip(year, seq, strict=True)]
    age = (end - df["lead_date"].to_numpy().astype("datetime64[D]")).astype(int)
    hit_p = np.where(age > 60, config.NIBIN_HIT_SHARE, 0.2)
    df["lead_status"] = np.where(rng.random(len(df)) < hit_p, "HIT", "LEAD")
    df["caliber"] = caliber.loc[df["gun"]].to_numpy()

    def evidence(kind: str, case: str, trace: str) -> str:
        return f"{case}-CC01" if kind == "CASING" else f"TF-{trace}"

    df["evidence_a_id"] = [evidence(k, c, t) for k, c, t in zip(df["a_type"], df["a_cc"], df["a_trace"], strict=True)]
    df["evidence_b_id"] = [evidence(k, c, t) for k, c, t in zip(df["b_type"], df["b_cc"], df["b_trace"], strict=True)]
    df = df.rename(columns={"a_type": "evidence_a_type", "b_type": "evidence_b_type",
                            "a_cc": "case_number_a", "b_cc": "case_number_b",
                            "a_trace": "trace_number_a", "b_trace": "trace_number_b"})
    from etl.synth.writer import iso_dates

    df["lead_date"] = iso_dates(df["lead_date"].to_numpy())
    # Each item's own date; serials and places are added by add_places() once the traces exist.
    for side in "ab":
        df[f"evidence_{side}_date"] = iso_dates(df[f"{side}_day"].to_numpy())
        for col in (f"test_fire_serial_{side}", f"evidence_{side}_address", f"evidence_{side}_latitude",
                    f"evidence_{side}_longitude"):
            df[col] = ""
    leads_of_gun: dict[int, list[str]] = {}
    for gun_id, lead_id in zip(df["gun"], df["lead_id"], strict=True):
        leads_of_gun.setdefault(int(gun_id), []).append(lead_id)
    return df, leads_of_gun


def add_places(leads: pd.DataFrame, events: pd.DataFrame, traced: pd.DataFrame) -> None:
    # traced: the written trace rows (trace_number, serial_number, restored_serial, recovery_*).
    """Fill each item's place and a test fire's serial: a casing at its scene (the incident's block and
    point), a test fire where its gun was recovered, with the gun's serial (the restored one when the
    lab restored an obliterated serial; blank when it stayed obliterated)."""
    if not len(leads):
        return
    from etl.synth.writer import fixed

    scene = events.drop_duplicates("cc").set_index("cc")
    gun = traced.drop_duplicates("trace_number").set_index("trace_number")
    for side in "ab":
        casing = (leads[f"evidence_{side}_type"] == "CASING").to_numpy()
        cc = leads[f"case_number_{side}"].to_numpy()
        tn = leads[f"trace_number_{side}"].to_numpy()
        # Hashed lookups: np.isin compares object arrays element by element (quadratic; 80 s at 10x).
        at_scene = casing & pd.Index(cc).isin(scene.index)
        test = ~casing & pd.Index(tn).isin(gun.index)
        address = np.full(len(leads), "", dtype=object)
        lon = np.full(len(leads), np.nan)
        lat = np.full(len(leads), np.nan)
        serial = np.full(len(leads), "", dtype=object)
        if at_scene.any():
            s = scene.loc[cc[at_scene]]
            address[at_scene] = s["location"].to_numpy()
            lon[at_scene], lat[at_scene] = s["lon"].to_numpy(), s["lat"].to_numpy()
        if test.any():
            g = gun.loc[tn[test]]
            address[test] = g["recovery_street"].to_numpy()
            lon[test] = pd.to_numeric(g["recovery_longitude"], errors="coerce").to_numpy()
            lat[test] = pd.to_numeric(g["recovery_latitude"], errors="coerce").to_numpy()
            restored = g["restored_serial"].to_numpy().astype(str)
            serial[test] = np.where(restored != "", restored, g["serial_number"].to_numpy().astype(str))
        known = ~np.isnan(lon)
        leads[f"test_fire_serial_{side}"] = serial
        leads[f"evidence_{side}_address"] = np.where(known, address, "")
        leads[f"evidence_{side}_latitude"] = np.where(known, fixed(np.nan_to_num(lat), 6), "")
        leads[f"evidence_{side}_longitude"] = np.where(known, fixed(np.nan_to_num(lon), 6), "")
