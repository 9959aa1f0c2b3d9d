"""calibration_report(): re-read the WRITTEN files and compare them with config.py's targets.

Nothing here uses the generator's internal state, so the report also checks that the files say
what the generator meant (formats, dates, coverage, links between files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from etl.synth import config

Row = tuple[str, str, str, bool]
TRACE_COLUMNS = ["trace_number", "case_number", "trace_status", "serial_number", "manufacturer", "firearm_type",
                 "recovery_date", "purchase_date", "multiple_sale", "dealer_ffl", "dealer_state",
                 "possessor_last_name", "possessor_first_name", "possessor_dob", "purchaser_last_name",
                 "purchaser_first_name", "purchaser_dob"]


def _read(paths: list[Path], usecols: list[str] | None = None) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False, usecols=usecols).assign(_file=p.stem)
              for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=usecols or [])


def _dates(s: pd.Series) -> pd.Series:
    iso = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    us = pd.to_datetime(s, format="%m/%d/%Y", errors="coerce")
    return iso.fillna(us)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _in(x: float, lo_hi: tuple[float, float]) -> bool:
    return lo_hi[0] - 1e-9 <= x <= lo_hi[1] + 1e-9


def _range(lo_hi: tuple[float, float], pct: bool = True) -> str:
    f = _pct if pct else (lambda v: f"{v:.2f}")
    return f"{f(lo_hi[0])}-{f(lo_hi[1])}"


def _near(label: str, got: float, target: float, rel: float, floor: float = 3.0) -> Row:
    tol = max(rel * target, floor)
    return (label, f"{target:.0f} ±{tol:.0f}", f"{got:.0f}", abs(got - target) <= tol)


def _share(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


def _trace_rows(tr: pd.DataFrame, scale: float, years: list[int]) -> list[Row]:
    rows: list[Row] = []
    t = config.TOLERANCE
    for y in years:
        sub = tr[tr["_file"] == f"etrace_{y}"]
        rows.append(_near(f"guns recovered/traced {y}", len(sub),
                          config.RECOVERIES_PER_YEAR.get(y, config.RECOVERIES_DEFAULT) * scale,
                          t["recoveries_rel"]))
        ghost = (sub["trace_status"].str.upper() == "PRIVATELY_MADE").sum()
        rows.append(_near(f"ghost guns (PRIVATELY_MADE) {y}", ghost,
                          config.GHOST_GUNS_PER_YEAR.get(y, config.GHOST_GUNS_DEFAULT) * scale,
                          t["ghost_rel"], 8))
    status = tr["trace_status"].str.upper()
    done = tr[status == "COMPLETED"]
    rows.append(("trace completion (COMPLETED share)", _range(t["completed_share"]) + " (assumed)",
                 _pct(len(done) / len(tr)), _in(len(done) / len(tr), t["completed_share"])))
    sold = tr[tr["dealer_ffl"] != ""]
    county = sold["dealer_ffl"].str.split("-").str[2]
    in_city = (sold["dealer_state"].str.upper() == "MD") & (county == "510")
    out_city = 1 - in_city.mean()
    rows.append(("bought outside the city", "82% (" + _range(t["outside_city"]) + ")", _pct(out_city),
                 _in(out_city, t["outside_city"])))
    out_md = (sold["dealer_state"].str.upper() != "MD").mean()
    rows.append(("bought outside Maryland", "63-65% (" + _range(t["outside_md"]) + ")", _pct(out_md),
                 _in(out_md, t["outside_md"])))
    oos = sold[sold["dealer_state"].str.upper() != "MD"]["dealer_state"].str.upper().value_counts(normalize=True)
    top = ", ".join(f"{s} {100 * v:.0f}%" for s, v in oos.head(6).items())
    ok = len(oos) >= 2 and oos.index[0] == "VA" and oos.index[1] == "PA" and _in(oos.iloc[0], t["va_share_of_out"])
    rows.append(("out-of-state source mix", "VA top (" + _range(t["va_share_of_out"], True) + "), then PA",
                 top, ok))
    purchase, recovery = _dates(done["purchase_date"]), _dates(done["recovery_date"])
    ttc_all = (recovery - purchase).dt.days / 365.25
    ttc = ttc_all.dropna()
    for key, label, value in (("ttc_under_1y", "TTC under 1 year", (ttc < 1).mean()),
                              ("ttc_le_3y", "TTC 3 years or less", (ttc <= 3).mean())):
        rows.append((label, _range(t[key]), _pct(value), _in(value, t[key])))
    med = float(ttc.median()) if len(ttc) else float("nan")
    rows.append(("median TTC (years)", _range(t["ttc_median_y"], False) + " (implied)", f"{med:.2f}",
                 _in(med, t["ttc_median_y"])))
    va = ttc_all[done["dealer_state"].str.upper() == "VA"].dropna()
    va_med = float(va.median()) if len(va) else float("nan")
    rows.append(("median TTC, Virginia guns (years)", "1.6 (" + _range(t["va_median_ttc_y"], False) + ")",
                 f"{va_med:.2f}", _in(va_med, t["va_median_ttc_y"])))
    typed = tr[tr["firearm_type"] != ""]
    pistols = (typed["firearm_type"].str.upper() == "PISTOL").mean()
    rows.append(("pistols share", "~75% (" + _range(t["pistol_share"]) + ")", _pct(pistols),
                 _in(pistols, t["pistol_share"])))
    maker = tr["manufacturer"].str.upper()
    for name, key, target in (("GLOCK", "glock_share", "18.4%"), ("TAURUS", "taurus_share", "9.3%"),
                              ("SMITH & WESSON", "sw_share", "9.2%"), ("RUGER", "ruger_share", "4.7%")):
        v = (maker == name).mean()
        rows.append((f"maker share {name}", f"{target} ({_range(t[key])})", _pct(v), _in(v, t[key])))
    named = done[done["possessor_last_name"] != ""]
    same = ((named["possessor_last_name"].str.upper() == named["purchaser_last_name"].str.upper())
            & (named["possessor_first_name"].str.upper() == named["purchaser_first_name"].str.upper())
            & (_dates(named["possessor_dob"]) == _dates(named["purchaser_dob"])))
    v = 1 - same.mean()
    rows.append(("possessor != purchaser (completed, possessor named)", "~90% (" +
                 _range(t["possessor_not_purchaser"]) + ")", _pct(v), _in(v, t["possessor_not_purchaser"])))
    v = (done["multiple_sale"].str.upper() == "Y").mean()
    rows.append(("multiple sale (completed)", _range(t["multiple_sale"]), _pct(v), _in(v, t["multiple_sale"])))
    parts = sold["dealer_ffl"].str.split("-")
    key = parts.str[0] + "-" + parts.str[1] + "-" + parts.str[2] + "-" + parts.str[3] + "-" + parts.str[-1]
    v = key.value_counts().head(10).sum() / len(sold)
    rows.append(("top 10 dealers' share of traced guns", "~25% (" + _range(t["top10_dealer_share"]) + ")",
                 _pct(v), _in(v, t["top10_dealer_share"])))
    serial = tr["serial_number"].str.upper().str.replace(r"[\s-]", "", regex=True)
    fid = maker.str.replace(r"[^A-Z0-9]", "", regex=True) + "|" + serial
    again = fid[serial != ""].value_counts()
    rows.append(("firearms recovered twice or more", "> 0", str(int((again > 1).sum())),
                 bool((again > 1).sum() > 0) or len(years) < 2))
    return rows


@dataclass
class Incidents:
    """What the report needs from the (possibly very large) incident files, read in chunks."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # file stem -> counts
    gun: pd.DataFrame = field(default_factory=pd.DataFrame)            # 1F / 9S rows
    found: set[str] = field(default_factory=set)                       # referenced CCNumbers that exist


def _scan_incidents(paths: list[Path], referenced: set[str]) -> Incidents:
    out, guns = Incidents(), []
    cols = ["CCNumber", "CrimeDateTime", "CrimeCode", "Description", "Latitude", "Longitude"]
    for path in paths:
        c = out.counts.setdefault(path.stem, {"rows": 0, "homicide": 0, "1F": 0, "9S": 0})
        for chunk in pd.read_csv(path, dtype=str, keep_default_na=False, usecols=cols, chunksize=500_000):
            c["rows"] += len(chunk)
            c["homicide"] += int((chunk["Description"] == "HOMICIDE").sum())
            c["1F"] += int((chunk["CrimeCode"] == "1F").sum())
            c["9S"] += int((chunk["CrimeCode"] == "9S").sum())
            guns.append(chunk[chunk["CrimeCode"].isin(config.FIREARM_VIOLENCE_CODES)])
            out.found |= referenced & set(chunk["CCNumber"])
    out.gun = pd.concat(guns, ignore_index=True) if guns else pd.DataFrame(columns=cols)
    return out


def _incident_rows(inc: Incidents, scale: float, years: list[int]) -> list[Row]:
    rows: list[Row] = []
    t = config.TOLERANCE
    for y in years:
        c = inc.counts.get(f"part1_crime_{y}", {"rows": 0, "homicide": 0, "1F": 0, "9S": 0})
        rows.append(_near(f"homicides {y}", c["homicide"],
                          config.HOMICIDES_PER_YEAR.get(y, config.HOMICIDES_DEFAULT) * scale, t["homicides_rel"]))
        rows.append(_near(f"non-fatal shootings {y}", c["9S"],
                          config.SHOOTINGS_PER_YEAR.get(y, config.SHOOTINGS_DEFAULT) * scale, t["shootings_rel"]))
    v = _share(sum(c["1F"] for c in inc.counts.values()), sum(c["homicide"] for c in inc.counts.values()))
    rows.append(("homicides by firearm", "85-90%", _pct(v), 0.84 <= v <= 0.91))
    per_year = sum(c["rows"] for c in inc.counts.values()) / max(1, len(years))
    rows.append(("Part 1 crime rows per year", f"{35_000 * scale:.0f}-{45_000 * scale:.0f}", f"{per_year:.0f}",
                 35_000 * scale * 0.9 <= per_year <= 45_000 * scale * 1.1))
    return rows


def _local(utc_text: pd.Series) -> pd.Series:
    t = pd.to_datetime(utc_text.str.replace("+00", "", regex=False), format="%Y/%m/%d %H:%M:%S")
    return t.dt.tz_localize("UTC").dt.tz_convert("America/New_York").dt.tz_localize(None)


def _shot_rows(shots: pd.DataFrame, inc: Incidents, years: list[int], scale: float) -> list[Row]:
    from etl.synth.geography import M_PER_DEG_LAT, M_PER_DEG_LON, coverage_index, demo_geography

    t = config.TOLERANCE
    when = pd.to_datetime(shots["DATE"], format="%m/%d/%Y %I:%M:%S %p")
    lon, lat = shots["LONGITUDE"].astype(float).to_numpy(), shots["LATITUDE"].astype(float).to_numpy()
    day = when.to_numpy().astype("datetime64[D]").astype(np.int64)
    inside = coverage_index(lon, lat, day) >= 0
    v = inside.mean() if len(inside) else 1.0
    rows: list[Row] = [("ShotSpotter alerts inside active coverage", "100%", _pct(v), v >= 1.0)]
    exposure = 0.0
    for c in demo_geography().coverage:
        for y in years:
            lo = max(np.datetime64(c.start, "D"), np.datetime64(f"{y}-01-01"))
            exposure += max(0, (np.datetime64(f"{y + 1}-01-01") - lo).astype(int)) / 365 * c.area_sqmi
    rate = len(shots) / exposure / scale if exposure else 0.0
    rows.append(("alerts per sq mi per year (in coverage)", f"{config.ALERTS_PER_SQMI_YEAR} ±20%", f"{rate:.0f}",
                 abs(rate - config.ALERTS_PER_SQMI_YEAR) <= 0.2 * config.ALERTS_PER_SQMI_YEAR or exposure == 0))
    gun = inc.gun[~inc.gun["Latitude"].isin(["", "0"])]
    g_local = _local(gun["CrimeDateTime"])
    g_lon, g_lat = gun["Longitude"].astype(float).to_numpy(), gun["Latitude"].astype(float).to_numpy()
    covered = coverage_index(g_lon, g_lat, g_local.to_numpy().astype("datetime64[D]").astype(np.int64)) >= 0
    order = np.argsort(when.to_numpy())
    a_t = when.to_numpy()[order].astype("datetime64[s]").astype(np.int64)
    a_lon, a_lat = lon[order], lat[order]
    found = 0
    g_t = g_local.to_numpy().astype("datetime64[s]").astype(np.int64)
    for i in np.flatnonzero(covered):
        lo, hi = np.searchsorted(a_t, [g_t[i] - 120, g_t[i] + 120])
        d = np.hypot((a_lon[lo:hi] - g_lon[i]) * M_PER_DEG_LON, (a_lat[lo:hi] - g_lat[i]) * M_PER_DEG_LAT)
        found += bool((d <= 150).any())
    v = _share(found, int(covered.sum()))
    rows.append(("covered shootings with an alert (±2 min, 150 m)", _range(t["corroborated_shootings"]),
                 _pct(v) if covered.any() else "n/a", covered.sum() == 0 or _in(v, t["corroborated_shootings"])))
    return rows


def _nibin_rows(leads: pd.DataFrame, inc: Incidents, tr: pd.DataFrame, years: list[int],
                scale: float) -> list[Row]:
    t = config.TOLERANCE
    cases = inc.found
    gun_cases = set(inc.gun["CCNumber"])
    linked = (set(leads["case_number_a"]) | set(leads["case_number_b"])) - {""}
    n_years = max(1, len(years))
    rows: list[Row] = [("NIBIN leads per year", f"{config.NIBIN_LEADS_PER_YEAR[0] * scale:.0f}-"
                        f"{config.NIBIN_LEADS_PER_YEAR[1] * scale:.0f} (assumed)", f"{len(leads) / n_years:.0f}",
                        config.NIBIN_LEADS_PER_YEAR[0] * scale <= len(leads) / n_years
                        <= config.NIBIN_LEADS_PER_YEAR[1] * scale)]
    v = _share(len(linked & gun_cases), len(gun_cases))
    rows.append(("shootings/homicides with a NIBIN lead", _range(t["shootings_with_lead"]) + " (assumed)",
                 _pct(v), _in(v, t["shootings_with_lead"])))
    rows.append(("lead case numbers found in incidents", "100%", _pct(_share(len(linked & cases), len(linked))),
                 linked <= cases))
    traced = set(tr["trace_number"])
    tf = (set(leads["trace_number_a"]) | set(leads["trace_number_b"])) - {""}
    rows.append(("test-fire leads of recovered (traced) guns", "> 0, all traced", str(len(tf)),
                 tf <= traced and (len(tf) > 0 or len(leads) < 20)))
    # Guns tying 2+ scenes together: connected components of the evidence graph.
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(leads["evidence_a_id"], leads["evidence_b_id"], strict=True):
        parent[find(a)] = find(b)
    case_of = {}
    for side in ("a", "b"):
        for e, c in zip(leads[f"evidence_{side}_id"], leads[f"case_number_{side}"], strict=True):
            if c:
                case_of[e] = c
    comp: dict[str, set[str]] = {}
    for e, c in case_of.items():
        comp.setdefault(find(e), set()).add(c)
    chains = sum(len(v) >= 2 for v in comp.values())
    lo, hi = (x * scale * n_years for x in config.NIBIN_CHAINS_PER_YEAR)
    rows.append(("guns linked to 2+ shootings", f"{lo:.0f}-{hi:.0f} (assumed)", str(chains), lo <= chains <= hi))
    v = _share(tr["case_number"].isin(cases).sum(), len(tr))
    rows.append(("traces whose case is a Part 1 incident", "6-15% (scene recoveries)", _pct(v), 0.06 <= v <= 0.15))
    return rows


def _header_rows(out_dir: Path) -> list[Row]:
    from etl.synth import dealers, incidents, nibin, shots, traces

    expected = {"dealers/ffl_list.csv": dealers.LISTING_COLUMNS, "traces/etrace_*.csv": traces.COLUMNS,
                "incidents/part1_crime_*.csv": incidents.COLUMNS, "shots/shotspotter_alerts.csv": shots.COLUMNS,
                "nibin/nibin_leads.csv": nibin.LEAD_COLUMNS}
    bad = []
    for pattern, cols in expected.items():
        for p in sorted(out_dir.glob(pattern)):
            with p.open(encoding="utf-8") as fh:
                if tuple(fh.readline().rstrip("\n").split(",")) != tuple(cols):
                    bad.append(p.name)
    return [("source headers as in docs/formats.md", "all files", "ok" if not bad else "bad: " + ", ".join(bad),
             not bad)]


def calibration_report(out_dir: Path) -> tuple[str, bool]:
    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    scale = float(manifest["scale"])
    years = list(range(manifest["years"][0], manifest["years"][1] + 1))
    tr = _read(sorted((out_dir / "traces").glob("etrace_*.csv")), TRACE_COLUMNS)
    shots = _read([out_dir / "shots" / "shotspotter_alerts.csv"], ["DATE", "LATITUDE", "LONGITUDE"])
    leads = _read([out_dir / "nibin" / "nibin_leads.csv"])
    referenced = set(tr["case_number"]) | set(leads["case_number_a"]) | set(leads["case_number_b"])
    inc = _scan_incidents(sorted((out_dir / "incidents").glob("part1_crime_*.csv")), referenced - {""})
    rows = (_header_rows(out_dir) + _trace_rows(tr, scale, years) + _incident_rows(inc, scale, years)
            + _shot_rows(shots, inc, years, scale) + _nibin_rows(leads, inc, tr, years, scale))
    head = ("figure", "target", "generated", "ok")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(3)]
    lines = [f"Calibration report: {out_dir} (seed {manifest['seed']}, years {years[0]}-{years[-1]}, "
             f"scale {scale:g})",
             " | ".join(h.ljust(w) for h, w in zip(head[:3], widths, strict=True)) + " | ok",
             "-+-".join("-" * w for w in widths) + "-+---"]
    for r in rows:
        lines.append(" | ".join(str(v).ljust(w) for v, w in zip(r[:3], widths, strict=True)) + " | " + ("yes" if r[3] else "NO"))
    ok = all(r[3] for r in rows)
    lines.append(f"{sum(r[3] for r in rows)}/{len(rows)} figures within tolerance: {'OK' if ok else 'NOT OK'}")
    return "\n".join(lines), ok
