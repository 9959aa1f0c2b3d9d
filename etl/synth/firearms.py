"""Firearm descriptions: a catalog of makes and models seen among US crime guns, ghost guns and
pre-1968 guns, with maker-specific serial number shapes.

Maker shares follow Everytown's 2023 city-level data (Glock 18.4%, Taurus 9.3%, S&W 9.2%,
Ruger 4.7%) once ghost and pre-1968 guns are mixed in; the model mix keeps pistols near 75%.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

US = "UNITED STATES"
# maker: (share, country, importer, serial pattern, [(model, type, caliber, weight), ...])
# Serial patterns: L letter, D digit, other characters literal.
CATALOG: dict[str, tuple[float, str, str, str, list[tuple[str, str, str, float]]]] = {
    "GLOCK": (0.205, "AUSTRIA", "GLOCK INC", "LLLDDD", [
        ("19", "PISTOL", "9MM", 5), ("17", "PISTOL", "9MM", 2), ("26", "PISTOL", "9MM", 2),
        ("43", "PISTOL", "9MM", 1.5), ("23", "PISTOL", ".40 S&W", 1.5), ("22", "PISTOL", ".40 S&W", 1),
        ("27", "PISTOL", ".40 S&W", 0.8), ("30", "PISTOL", ".45 AUTO", 0.5),
        ("42", "PISTOL", ".380 AUTO", 0.6), ("48", "PISTOL", "9MM", 0.6)]),
    "TAURUS": (0.10, "BRAZIL", "TAURUS INTERNATIONAL MFG", "LLLDDDDDD", [
        ("G2C", "PISTOL", "9MM", 4), ("PT111 MILLENNIUM G2", "PISTOL", "9MM", 2),
        ("G3C", "PISTOL", "9MM", 1.5), ("PT738", "PISTOL", ".380 AUTO", 1), ("G3", "PISTOL", "9MM", 1),
        ("85", "REVOLVER", ".38 SPL", 1.0), ("605", "REVOLVER", ".357 MAG", 0.5),
        ("JUDGE", "REVOLVER", ".45 COLT", 0.5)]),
    "SMITH & WESSON": (0.10, US, "", "LLLDDDD", [
        ("M&P9 SHIELD", "PISTOL", "9MM", 4), ("SD9VE", "PISTOL", "9MM", 3),
        ("M&P40", "PISTOL", ".40 S&W", 1.5), ("SD40VE", "PISTOL", ".40 S&W", 1),
        ("BODYGUARD 380", "PISTOL", ".380 AUTO", 1), ("M&P9", "PISTOL", "9MM", 1.5),
        ("642", "REVOLVER", ".38 SPL", 1.5), ("60", "REVOLVER", ".357 MAG", 0.6),
        ("10", "REVOLVER", ".38 SPL", 0.7), ("M&P15", "RIFLE", "5.56MM", 0.5)]),
    "RUGER": (0.05, US, "", "DDD-DDDDD", [
        ("LCP", "PISTOL", ".380 AUTO", 2), ("SR9C", "PISTOL", "9MM", 1.5), ("EC9S", "PISTOL", "9MM", 1.5),
        ("SECURITY-9", "PISTOL", "9MM", 1), ("P95", "PISTOL", "9MM", 1), ("LCR", "REVOLVER", ".38 SPL", 1),
        ("GP100", "REVOLVER", ".357 MAG", 0.5), ("10/22", "RIFLE", ".22 LR", 1),
        ("MINI-14", "RIFLE", "5.56MM", 0.3)]),
    "HI-POINT": (0.06, US, "", "PDDDDDDD", [
        ("C9", "PISTOL", "9MM", 4), ("JCP", "PISTOL", ".40 S&W", 1), ("JHP", "PISTOL", ".45 AUTO", 1),
        ("CF380", "PISTOL", ".380 AUTO", 1.5), ("995", "RIFLE", "9MM", 0.8)]),
    "SCCY": (0.04, US, "", "DDDDDD", [("CPX-2", "PISTOL", "9MM", 3), ("CPX-1", "PISTOL", "9MM", 1)]),
    "SIG SAUER": (0.045, US, "", "LLLDDDDDD", [
        ("P365", "PISTOL", "9MM", 3), ("P320", "PISTOL", "9MM", 2), ("P238", "PISTOL", ".380 AUTO", 0.7),
        ("P226", "PISTOL", "9MM", 0.5)]),
    "SPRINGFIELD ARMORY": (0.035, "CROATIA", "SPRINGFIELD ARMORY", "LLDDDDDD", [
        ("XD-9", "PISTOL", "9MM", 2), ("XD-40", "PISTOL", ".40 S&W", 1), ("XD-S", "PISTOL", ".45 AUTO", 0.8),
        ("HELLCAT", "PISTOL", "9MM", 1.2)]),
    "KEL-TEC": (0.03, US, "", "LLLDD", [
        ("P-11", "PISTOL", "9MM", 1.5), ("PF-9", "PISTOL", "9MM", 1.5), ("P-3AT", "PISTOL", ".380 AUTO", 1.5),
        ("SUB-2000", "RIFLE", "9MM", 0.5)]),
    "CANIK": (0.03, "TURKEY", "CENTURY ARMS", "LLDDDDDDD", [
        ("TP9SF", "PISTOL", "9MM", 2), ("TP9SA", "PISTOL", "9MM", 1), ("TP9 ELITE SC", "PISTOL", "9MM", 1)]),
    "BERSA": (0.02, "ARGENTINA", "EAGLE IMPORTS", "LDDDDDD", [
        ("THUNDER 380", "PISTOL", ".380 AUTO", 3), ("TPR9C", "PISTOL", "9MM", 1)]),
    "JIMENEZ ARMS": (0.015, US, "", "DDDDDDD", [
        ("J.A. 380", "PISTOL", ".380 AUTO", 2), ("JA-22", "PISTOL", ".22 LR", 1)]),
    "HERITAGE": (0.015, US, "", "LDDDDDD", [("ROUGH RIDER", "REVOLVER", ".22 LR", 1)]),
    "MOSSBERG": (0.045, US, "", "LDDDDDD", [
        ("500", "SHOTGUN", "12GA", 3), ("MAVERICK 88", "SHOTGUN", "12GA", 1.5), ("590", "SHOTGUN", "12GA", 0.8),
        ("702 PLINKSTER", "RIFLE", ".22 LR", 0.5)]),
    "REMINGTON": (0.025, US, "", "LDDDDDDDL", [
        ("870", "SHOTGUN", "12GA", 3), ("R51", "PISTOL", "9MM", 0.5), ("770", "RIFLE", ".30-06", 0.5)]),
    "SAVAGE": (0.015, US, "", "LDDDDDD", [("AXIS", "RIFLE", ".308 WIN", 1), ("301", "SHOTGUN", "20GA", 0.5)]),
    "MARLIN": (0.015, US, "", "DDDDDDDD", [("60", "RIFLE", ".22 LR", 2), ("336", "RIFLE", ".30-30 WIN", 1)]),
    "BERETTA": (0.025, "ITALY", "BERETTA USA", "LLDDDDDDL", [
        ("92FS", "PISTOL", "9MM", 2), ("PX4 STORM", "PISTOL", "9MM", 1), ("APX", "PISTOL", "9MM", 1),
        ("TOMCAT", "PISTOL", ".32 AUTO", 0.5)]),
    "COLT": (0.01, US, "", "DDDDDDL", [
        ("1911 GOVERNMENT", "PISTOL", ".45 AUTO", 1), ("DETECTIVE SPECIAL", "REVOLVER", ".38 SPL", 0.6),
        ("AR-15", "RIFLE", "5.56MM", 0.5)]),
    "CHARTER ARMS": (0.015, US, "", "DDDDDDD", [
        ("UNDERCOVER", "REVOLVER", ".38 SPL", 2), ("BULLDOG", "REVOLVER", ".44 SPL", 1)]),
    "ROSSI": (0.01, "BRAZIL", "BRAZTECH", "LLDDDDDD", [("R352", "REVOLVER", ".38 SPL", 1)]),
    "DIAMONDBACK": (0.01, US, "", "LLDDDD", [("DB9", "PISTOL", "9MM", 1), ("DB380", "PISTOL", ".380 AUTO", 1)]),
    "FN HERSTAL": (0.01, "BELGIUM", "FN AMERICA", "DDDDDDDDD", [
        ("FIVE-SEVEN", "PISTOL", "5.7X28MM", 1), ("509", "PISTOL", "9MM", 1)]),
    "KIMBER": (0.008, US, "", "LDDDDDDD", [("MICRO 9", "PISTOL", "9MM", 1)]),
    "WALTHER": (0.01, "GERMANY", "WALTHER ARMS", "LLDDDDDD", [
        ("PPS M2", "PISTOL", "9MM", 1), ("PK380", "PISTOL", ".380 AUTO", 1)]),
    "CZ": (0.008, "CZECH REPUBLIC", "CZ-USA", "LDDDDDD", [("P-10 C", "PISTOL", "9MM", 1), ("75", "PISTOL", "9MM", 1)]),
    "HECKLER & KOCH": (0.006, "GERMANY", "HECKLER & KOCH INC", "DDD-DDDDDD", [("VP9", "PISTOL", "9MM", 1)]),
    "STOEGER": (0.008, "TURKEY", "STOEGER INDUSTRIES", "LDDDDDDD", [
        ("P3000", "SHOTGUN", "12GA", 1), ("COUGAR", "PISTOL", "9MM", 0.5)]),
    "HARRINGTON & RICHARDSON": (0.01, US, "", "LLDDDDDD", [
        ("PARDNER", "SHOTGUN", "12GA", 1), ("929", "REVOLVER", ".22 LR", 0.6)]),
    "CENTURY ARMS": (0.012, "ROMANIA", "CENTURY ARMS", "LL-DDDD-DD", [
        ("WASR-10", "RIFLE", "7.62X39", 1.5), ("DRACO", "PISTOL", "7.62X39", 1)]),
    "ANDERSON MANUFACTURING": (0.008, US, "", "LLDDDDDD", [("AM-15", "RIFLE", "5.56MM", 1)]),
    "PALMETTO STATE ARMORY": (0.01, US, "", "LLLDDDDDD", [
        ("PA-15", "RIFLE", "5.56MM", 1), ("DAGGER", "PISTOL", "9MM", 1)]),
    "NORTH AMERICAN ARMS": (0.006, US, "", "LDDDDD", [("MINI REVOLVER", "REVOLVER", ".22 MAG", 1)]),
    "COBRA": (0.006, US, "", "CTDDDDDD", [("CB38", "DERRINGER", ".38 SPL", 1)]),
    "BOND ARMS": (0.004, US, "", "DDDDDD", [("ROUGHNECK", "DERRINGER", ".357 MAG", 1)]),
}

# Ghost guns: make, model, type, caliber, weight. Serial usually absent (kits had none until the
# 2022 ATF rule).
GHOST = [("POLYMER80", "PF940C", "PISTOL", "9MM", 40), ("POLYMER80", "PF940SC", "PISTOL", "9MM", 20),
         ("POLYMER80", "PF940V2", "PISTOL", "9MM", 15), ("POLYMER80", "PF45", "RIFLE", "5.56MM", 5),
         ("POLYMER80", "PF9SS", "PISTOL", "9MM", 5), ("JSD SUPPLY", "JSD 17", "PISTOL", "9MM", 5),
         ("80 PERCENT ARMS", "GST-9", "PISTOL", "9MM", 4), ("PRIVATELY MADE", "UNKNOWN", "PISTOL", "9MM", 6)]
# Guns made before 1968 (not traceable).
PRE_1968 = [("COLT", "OFFICIAL POLICE", "REVOLVER", ".38 SPL", 3), ("SMITH & WESSON", "10", "REVOLVER", ".38 SPL", 4),
            ("HIGH STANDARD", "SENTINEL", "REVOLVER", ".22 LR", 2),
            ("IVER JOHNSON", "SAFETY AUTOMATIC", "REVOLVER", ".32 S&W", 2),
            ("HARRINGTON & RICHARDSON", "922", "REVOLVER", ".22 LR", 2), ("WINCHESTER", "12", "SHOTGUN", "12GA", 2),
            ("REMINGTON", "11", "SHOTGUN", "12GA", 1), ("COLT", "1911", "PISTOL", ".45 AUTO", 1),
            ("SAVAGE", "24", "RIFLE", ".22 LR", 1)]

FIREARM_COLUMNS = ("manufacturer", "model", "caliber", "firearm_type", "country_of_origin",
                   "importer", "serial_number")

_LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPRSTUVWXYZ", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def serials(rng: np.random.Generator, pattern: str, n: int) -> np.ndarray:
    """n serial numbers shaped like `pattern` (vectorized: one byte matrix per pattern)."""
    if n == 0:
        return np.empty(0, dtype=object)
    cols = []
    for ch in pattern:
        if ch == "L":
            cols.append(_LETTERS[rng.integers(0, len(_LETTERS), n)])
        elif ch == "D":
            cols.append(_DIGITS[rng.integers(0, 10, n)])
        else:
            cols.append(np.full(n, ord(ch), dtype=np.uint8))
    mat = np.ascontiguousarray(np.column_stack(cols))
    return mat.view(f"S{len(pattern)}").ravel().astype(str).astype(object)


def _table() -> pd.DataFrame:
    rows = []
    for maker, (share, country, importer, pattern, models) in CATALOG.items():
        total = sum(m[3] for m in models)
        for model, ftype, cal, w in models:
            rows.append((maker, model, cal, ftype, country, importer, pattern, share * w / total))
    return pd.DataFrame(rows, columns=["manufacturer", "model", "caliber", "firearm_type",
                                       "country_of_origin", "importer", "pattern", "p"])


CATALOG_TABLE = _table()


@lru_cache(maxsize=2)
def _retail_table(handguns_only: bool) -> pd.DataFrame:
    """The catalog (or its pistols and revolvers), indexed 0..n-1."""
    t = CATALOG_TABLE
    if handguns_only:
        t = t[t["firearm_type"].isin(["PISTOL", "REVOLVER"])]
    return t.reset_index(drop=True)


def _with_serials(rng: np.random.Generator, table: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    out = table.iloc[idx].reset_index(drop=True)
    patterns = out["pattern"].to_numpy()
    serial = np.empty(len(out), dtype=object)
    for pattern in pd.unique(patterns):  # in order of first appearance: the draws' order
        mask = patterns == pattern
        serial[mask] = serials(rng, pattern, int(mask.sum()))
    out["serial_number"] = serial
    return out[list(FIREARM_COLUMNS)]


def sample_retail(rng: np.random.Generator, n: int, handguns_only: bool = False,
                  calibers: np.ndarray | None = None) -> pd.DataFrame:
    """n commercially made firearms with serial numbers; optionally of given calibers."""
    t = _retail_table(handguns_only)
    p = t["p"].to_numpy()
    if calibers is None:
        idx = rng.choice(len(t), n, p=p / p.sum())
    else:
        idx = np.empty(n, dtype=np.int64)
        for cal in np.unique(calibers):
            want = np.flatnonzero(calibers == cal)
            pool = np.flatnonzero(t["caliber"].to_numpy() == cal)
            if len(pool) == 0:
                pool = np.flatnonzero(t["caliber"].to_numpy() == "9MM")
            idx[want] = pool[rng.choice(len(pool), len(want), p=p[pool] / p[pool].sum())]
    return _with_serials(rng, t, idx)


def sample_ghost(rng: np.random.Generator, n: int, year: int) -> pd.DataFrame:
    w = np.array([g[4] for g in GHOST], dtype=float)
    idx = rng.choice(len(GHOST), n, p=w / w.sum())
    rows = [GHOST[i] for i in idx]
    serial = np.full(n, "", dtype=object)
    # After the 2022 rule some kits carry a serial (ASSUMPTION: 30% of 2023+ recoveries).
    has = rng.random(n) < (0.3 if year >= 2023 else 0.02)
    serial[has] = serials(rng, "PFLLDDDDD", int(has.sum()))
    return pd.DataFrame({"manufacturer": [r[0] for r in rows], "model": [r[1] for r in rows],
                         "caliber": [r[3] for r in rows], "firearm_type": [r[2] for r in rows],
                         "country_of_origin": "", "importer": "", "serial_number": serial})


def sample_pre1968(rng: np.random.Generator, n: int) -> pd.DataFrame:
    w = np.array([g[4] for g in PRE_1968], dtype=float)
    idx = rng.choice(len(PRE_1968), n, p=w / w.sum())
    rows = [PRE_1968[i] for i in idx]
    return pd.DataFrame({"manufacturer": [r[0] for r in rows], "model": [r[1] for r in rows],
                         "caliber": [r[3] for r in rows], "firearm_type": [r[2] for r in rows],
                         "country_of_origin": US, "importer": "",
                         "serial_number": serials(rng, "DDDDDD", n)})
