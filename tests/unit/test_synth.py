"""The synthetic Baltimore generator: files follow docs/formats.md, link to each other, plant the
schemes the ground truth describes, and match the calibration targets (small scale, two years)."""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from etl.synth import calibration_report, generate

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ROOT / "docs" / "formats.md"
YEARS = (2021, 2022)
SCALE = 0.2
SOURCE_GLOBS = ("boundaries/*.geojson", "dealers/*.csv", "traces/*.csv", "incidents/*.csv", "shots/*.csv",
                "nibin/*.csv")
FFL = re.compile(r"^\d-\d{2}-\d{3}-\d{2}-(\d[A-HJ-M]-)?\d{5}$")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("synth")
    generate(path, seed=11, years=YEARS, scale=SCALE, progress=False)
    return path


def _csv(paths) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(paths)],
                     ignore_index=True)


@pytest.fixture(scope="module")
def traces(out) -> pd.DataFrame:
    return _csv((out / "traces").glob("etrace_*.csv"))


@pytest.fixture(scope="module")
def incidents(out) -> pd.DataFrame:
    return _csv((out / "incidents").glob("part1_crime_*.csv"))


@pytest.fixture(scope="module")
def dealers(out) -> pd.DataFrame:
    return _csv([out / "dealers" / "ffl_list.csv"])


@pytest.fixture(scope="module")
def shots(out) -> pd.DataFrame:
    return _csv([out / "shots" / "shotspotter_alerts.csv"])


@pytest.fixture(scope="module")
def leads(out) -> pd.DataFrame:
    return _csv([out / "nibin" / "nibin_leads.csv"])


@pytest.fixture(scope="module")
def truth(out) -> dict:
    return json.loads((out / "ground_truth.json").read_text())


def _ffl_key(ffl: pd.Series) -> pd.Series:
    """License key without the expiry part: R-DD-CCC-TT-SSSSS."""
    parts = ffl.str.split("-")
    return parts.str[:4].str.join("-") + "-" + parts.str[-1]


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").fillna(
        pd.to_datetime(s, format="%m/%d/%Y", errors="coerce"))


def _doc_columns(section_start: str, pattern: str) -> list[str]:
    """Column names as docs/formats.md lists them (the file contract the loaders implement)."""
    text = FORMATS.read_text()
    body = text[text.index(section_start):]
    match = re.search(pattern, body, re.S)
    assert match, f"formats.md: {pattern!r} not found after {section_start!r}"
    return [c.strip() for c in match.group(1).replace("\n", " ").split(",")]


def _doc_table_columns(section_start: str) -> list[str]:
    text = FORMATS.read_text()
    body = text[text.index(section_start):]
    body = body[:body.index("\n\n", body.index("|---"))]
    cols = []
    for line in body.splitlines():
        if line.startswith("| `"):
            cols += re.findall(r"`([a-z_]+)`", line.split("|")[1])
    return cols


def test_manifest_lists_every_file_in_load_order(out):
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["years"] == list(YEARS) and manifest["scale"] == SCALE
    kinds = [f["kind"] for f in manifest["files"]]
    order = ["boundaries", "dealers", "incidents", "shots", "traces", "nibin"]
    assert sorted(kinds, key=order.index) == kinds and set(kinds) == set(order)
    for f in manifest["files"]:
        path = out / f["path"]
        assert path.exists()
        if path.suffix == ".csv":
            with path.open() as fh:
                assert sum(1 for _ in fh) - 1 == f["rows"] > 0
    assert {f["path"] for f in manifest["files"] if f["kind"] == "traces"} == {
        f"traces/etrace_{y}.csv" for y in range(YEARS[0], YEARS[1] + 1)}


def test_headers_follow_formats_doc(out):
    expected = {
        "traces/etrace_2021.csv": _doc_table_columns("## 1. Traces"),
        "nibin/nibin_leads.csv": _doc_table_columns("## 5. NIBIN"),
        "dealers/ffl_list.csv": _doc_columns("## 2. Dealers", r"Current layout[^`]*`([^`]+)`"),
        "incidents/part1_crime_2022.csv": _doc_columns("## 3. Crime incidents", r"\n3\. `([^`]+)`"),
        "shots/shotspotter_alerts.csv": _doc_columns("## 4. ShotSpotter", r"Chicago data portal: `([^`]+)`"),
    }
    for rel, cols in expected.items():
        header = (out / rel).read_text().split("\n", 1)[0].split(",")
        assert header == cols, rel


def test_same_seed_is_byte_identical_and_another_seed_differs(out, tmp_path):
    again = tmp_path / "again"
    generate(again, seed=11, years=YEARS, scale=SCALE, progress=False)
    for pattern in SOURCE_GLOBS + ("ground_truth.json",):
        for path in sorted(out.glob(pattern)):
            assert filecmp.cmp(path, again / path.relative_to(out), shallow=False), path.name
    other = tmp_path / "other"
    generate(other, seed=12, years=(2021, 2021), scale=0.05, progress=False)
    assert (other / "traces" / "etrace_2021.csv").read_bytes() != (out / "traces" / "etrace_2021.csv").read_bytes()


def test_output_does_not_depend_on_string_hashing(tmp_path):
    """Sets of strings iterate in a per-process order: nothing written may depend on it."""
    code = ("import sys; from pathlib import Path; from etl.synth import generate; "
            "generate(Path(sys.argv[1]), seed=3, years=(2022, 2022), scale=0.05, progress=False)")
    for name, hash_seed in (("a", "1"), ("b", "987")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True, cwd=ROOT, env=env)
    for pattern in SOURCE_GLOBS + ("ground_truth.json",):
        for path in sorted((tmp_path / "a").glob(pattern)):
            assert filecmp.cmp(path, tmp_path / "b" / path.relative_to(tmp_path / "a"), shallow=False)


def test_import_is_light():
    code = "import sys, etl.synth; print('numpy' in sys.modules, 'pandas' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
    assert res.stdout.split() == ["False", "False"]


def test_trace_rows_are_valid(traces, incidents):
    from etl.synth.geography import demo_geography

    status = traces["trace_status"].str.upper()
    assert set(status) <= {"COMPLETED", "DEALER_ONLY", "NO_RECORD", "OUT_OF_BUSINESS", "PRE_1968", "TOO_OLD",
                           "SERIAL_PROBLEM", "STOLEN", "PRIVATELY_MADE", "FORM_ERROR", "PENDING"}
    assert {"STOLEN", "OUT_OF_BUSINESS", "TOO_OLD"} <= set(status)
    # Too old to trace: a small share, the dealer named but no purchaser or sale date.
    too_old = status == "TOO_OLD"
    assert 0.002 < too_old.mean() < 0.04
    assert (traces.loc[too_old, "purchaser_last_name"] == "").all() and (traces.loc[too_old, "purchase_date"] == "").all()
    assert (traces.loc[too_old, "dealer_ffl"] != "").all()
    # Dealer burglaries are stolen from a licensee; restored serials only on obliterated guns.
    assert (traces.loc[status == "STOLEN", "stolen_from"] == "FFL").all()
    assert set(traces["stolen_from"]) == {"", "FFL", "PRIVATE"}
    restored = traces["restored_serial"] != ""
    assert restored.any() and (traces.loc[restored, "serial_obliterated"] == "Y").all()
    assert {"COMPLETED", "DEALER_ONLY", "SERIAL_PROBLEM", "PRIVATELY_MADE", "PRE_1968"} <= set(status)
    assert traces["trace_number"].is_unique
    assert traces["trace_number"].str.fullmatch(r"T20\d{2}\d{7}").all()
    assert (traces["requesting_ori"] == "MDBPD0000").all()
    request, recovery, purchase = (_dates(traces[c]) for c in ("request_date", "recovery_date", "purchase_date"))
    assert request.notna().all() and recovery.notna().all()
    assert (recovery <= request).all()
    has_purchase = traces["purchase_date"] != ""
    assert (purchase[has_purchase] <= recovery[has_purchase]).all()
    assert (purchase[has_purchase].dt.year >= 1970).all()
    assert set(traces["firearm_type"].str.upper()) <= {"PISTOL", "REVOLVER", "RIFLE", "SHOTGUN", "DERRINGER",
                                                      "MACHINE GUN", "OTHER"}
    oblit = traces["serial_obliterated"] == "Y"
    assert set(traces["serial_obliterated"]) == {"Y", "N"}
    assert (traces.loc[oblit, "serial_number"] == "").all()
    assert oblit[status == "SERIAL_PROBLEM"].all()
    ghost = status == "PRIVATELY_MADE"
    assert (traces.loc[ghost, "dealer_ffl"] == "").all() and (traces.loc[ghost, "purchaser_last_name"] == "").all()
    assert traces.loc[ghost, "manufacturer"].str.upper().eq("POLYMER80").mean() > 0.6
    done = traces[status == "COMPLETED"]
    for col in ("purchaser_last_name", "purchaser_dob", "purchase_date", "dealer_ffl", "dealer_state"):
        assert (done[col] != "").all(), col
    assert traces.loc[traces["dealer_ffl"] != "", "dealer_ffl"].str.match(FFL).all()
    assert set(traces["multiple_sale"]) <= {"Y", "N", ""}
    # Every recovery is inside the demo city outline.
    city = demo_geography().city
    lon, lat = traces["recovery_longitude"].astype(float), traces["recovery_latitude"].astype(float)
    assert shapely.contains_xy(city, lon.to_numpy(), lat.to_numpy()).all()
    # Some recoveries happened at Part 1 scenes; the other case numbers match no incident.
    at_scene = traces["case_number"].isin(set(incidents["CCNumber"]))
    assert 0.03 < at_scene.mean() < 0.2
    # A real export's mess, still valid: US-style dates, lower-case text, short license numbers.
    assert traces["request_date"].str.match(r"\d\d/\d\d/\d{4}$").any()
    assert traces["manufacturer"].str.contains("[a-z]").any()
    assert traces["dealer_ffl"].str.fullmatch(r"\d-\d{2}-\d{3}-\d{2}-\d{5}").any()


def test_some_firearms_are_recovered_twice(traces):
    serial = traces["serial_number"].str.upper().str.replace(r"[\s-]", "", regex=True)
    key = traces["manufacturer"].str.upper() + "|" + serial
    repeated = key[serial != ""].value_counts()
    assert (repeated > 1).sum() >= 3
    # ... and a repeated gun keeps its retail history.
    twice = traces[key.isin(repeated[repeated > 1].index) & (serial != "")]
    for _, grp in twice.groupby(key[twice.index]):
        assert grp["purchase_date"].map(lambda s: str(_dates(pd.Series([s]))[0])).nunique() == 1


def test_dealer_listing(dealers, traces):
    assert dealers["LIC_REGN"].str.fullmatch(r"\d").all()
    assert dealers["LIC_DIST"].str.fullmatch(r"\d\d").all()
    assert dealers["LIC_CNTY"].str.fullmatch(r"\d{3}").all()
    assert dealers["LIC_SEQN"].str.fullmatch(r"\d{5}").all()
    assert dealers["LIC_XPRDTE"].str.fullmatch(r"\d[A-HJ-M]").all()
    assert set(dealers["LIC_TYPE"]) == {"01", "02", "07"}
    assert dealers["LIC_TYPE"].eq("01").mean() > 0.75
    key = dealers[["LIC_REGN", "LIC_DIST", "LIC_CNTY", "LIC_TYPE", "LIC_SEQN"]].agg("-".join, axis=1)
    assert key.is_unique
    prefix = dealers["LIC_REGN"] + "-" + dealers["LIC_DIST"]
    by_state = prefix.groupby(dealers["PREMISE_STATE"]).agg(set)
    assert by_state["MD"] == {"8-52"} and by_state["VA"] == {"1-54"} and by_state["PA"] <= {"8-23", "8-25"}
    city = dealers[(dealers["PREMISE_STATE"] == "MD") & (dealers["LIC_CNTY"] == "510")]
    assert len(city) >= 5 and (city["PREMISE_CITY"] == "BALTIMORE").all()
    assert (dealers.loc[(dealers["PREMISE_STATE"] == "MD"), "LIC_CNTY"] == "005").any()
    import zipcodes

    for _, row in dealers.sample(60, random_state=1).iterrows():
        z = zipcodes.matching(row["PREMISE_ZIP_CODE"])
        assert z and z[0]["state"] == row["PREMISE_STATE"] and z[0]["city"].upper() == row["PREMISE_CITY"]
    # Most licensees never sold a traced gun; traced ones are listed unless out of business.
    traced = traces.loc[traces["dealer_ffl"] != ""]
    traced_key = _ffl_key(traced["dealer_ffl"])
    assert (~key.isin(set(traced_key))).mean() > 0.5
    listed = traced_key.isin(set(key))
    assert listed[traced["trace_status"].str.upper() == "COMPLETED"].all()
    assert not listed[traced["trace_status"].str.upper() == "NO_RECORD"].all()


def test_incidents(incidents):
    from etl.synth import config
    from etl.synth.geography import demo_geography

    assert incidents["CrimeDateTime"].str.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\+00").all()
    assert incidents["CCNumber"].is_unique and incidents["RowID"].is_unique
    for year in YEARS:
        rows = incidents[incidents["CCNumber"].str.startswith(str(year)[2:])]
        assert (rows["Description"] == "HOMICIDE").sum() == round(config.HOMICIDES_PER_YEAR.get(
            year, config.HOMICIDES_DEFAULT) * SCALE)
        assert (rows["CrimeCode"] == "9S").sum() == round(config.SHOOTINGS_PER_YEAR.get(
            year, config.SHOOTINGS_DEFAULT) * SCALE)
    codes = {d.name: d.code for d in demo_geography().districts}
    assert (incidents["Post"].str[0].astype(int) == incidents["New_District"].map(codes)).all()
    placed = incidents[~incidents["Latitude"].isin(["", "0"])]
    geoms = {d.name: d.geom for d in demo_geography().districts}
    for name, grp in placed.groupby("New_District"):
        inside = shapely.contains_xy(geoms[name], grp["Longitude"].astype(float), grp["Latitude"].astype(float))
        assert inside.all(), name
    assert (incidents["Latitude"] == "").any() and (incidents["Latitude"] == "0").any()
    assert (incidents["Age"] == "160").any()
    assert (incidents["Old_District"] == "").any()
    assert incidents["Old_District"].str.contains("[a-z]").any()
    # Violence peaks in summer.
    gun = incidents[incidents["CrimeCode"].isin(["1F", "9S"])]
    month = gun["CrimeDateTime"].str[5:7].astype(int)
    assert month.isin([6, 7, 8]).sum() > 1.15 * month.isin([12, 1, 2]).sum()
    # ... and in the western and eastern hot spots more than in the quieter north.
    per_district = gun["New_District"].value_counts()
    assert per_district["WESTERN"] > per_district["NORTHERN"] and per_district["EASTERN"] > per_district["CENTRAL"]


def test_shotspotter_alerts(shots, incidents):
    from etl.synth.geography import M_PER_DEG_LAT, M_PER_DEG_LON, coverage_index

    assert shots["UNIQUE_ID"].str.fullmatch(r"SST-\d+").all() and shots["UNIQUE_ID"].is_unique
    assert set(shots["INCIDENT_TYPE_DESCRIPTION"]) == {"SINGLE GUNSHOT", "MULTIPLE GUNSHOTS",
                                                        "GUNSHOT OR FIRECRACKER"}
    assert (shots["ILLINOIS_HOUSE_DISTRICT"] == "").all() and (shots["ILLINOIS_SENATE_DISTRICT"] == "").all()
    assert (shots["BEAT"].str[0].astype(int) > 0).all()
    when = pd.to_datetime(shots["DATE"], format="%m/%d/%Y %I:%M:%S %p")
    lon, lat = shots["LONGITUDE"].astype(float).to_numpy(), shots["LATITUDE"].astype(float).to_numpy()
    assert (shots["LOCATION"] == "POINT (" + shots["LONGITUDE"] + " " + shots["LATITUDE"] + ")").all()
    day = when.to_numpy().astype("datetime64[D]").astype(np.int64)
    assert (coverage_index(lon, lat, day) >= 0).all()
    assert (when.dt.hour == shots["HOUR"].astype(int)).all()
    # Most covered shootings have an alert within a minute and 100 m.
    gun = incidents[incidents["CrimeCode"].isin(["1F", "9S"])]
    t = pd.to_datetime(gun["CrimeDateTime"].str[:-3]).dt.tz_localize("UTC").dt.tz_convert(
        "America/New_York").dt.tz_localize(None)
    g_lon, g_lat = gun["Longitude"].astype(float).to_numpy(), gun["Latitude"].astype(float).to_numpy()
    covered = np.flatnonzero(coverage_index(g_lon, g_lat, t.to_numpy().astype("datetime64[D]").astype(np.int64)) >= 0)
    assert len(covered) > 20
    a_t = when.to_numpy().astype("datetime64[s]").astype(np.int64)
    g_t = t.to_numpy().astype("datetime64[s]").astype(np.int64)
    hits = 0
    for i in covered:
        near = np.abs(a_t - g_t[i]) <= 61
        d = np.hypot((lon[near] - g_lon[i]) * M_PER_DEG_LON, (lat[near] - g_lat[i]) * M_PER_DEG_LAT)
        hits += bool(((d >= 20) & (d <= 105)).any())
    assert hits / len(covered) > 0.75
    assert len(shots) > 5 * len(covered)  # most alerts have no incident report


def test_nibin_leads_link_real_records(leads, incidents, traces):
    assert leads["lead_id"].is_unique
    assert set(leads["lead_status"]) == {"LEAD", "HIT"}
    assert set(leads["evidence_a_type"]) | set(leads["evidence_b_type"]) == {"CASING", "TEST_FIRE"}
    scenes = incidents.set_index("CCNumber")
    for side in ("a", "b"):
        casing = leads[f"evidence_{side}_type"] == "CASING"
        cases = leads.loc[casing, f"case_number_{side}"]
        assert cases.isin(scenes.index).all()
        assert scenes.loc[cases, "CrimeCode"].isin(["1F", "9S"]).all()
        tf = leads[~casing]
        assert (tf[f"trace_number_{side}"] != "").all() and (tf[f"case_number_{side}"] == "").all()
    tr = traces.set_index("trace_number")
    tf = leads[leads["evidence_a_type"] == "TEST_FIRE"]
    assert tf["trace_number_a"].isin(tr.index).all()
    assert (pd.to_datetime(tf["lead_date"]).to_numpy()
            >= _dates(tr.loc[tf["trace_number_a"], "recovery_date"]).to_numpy()).all()
    gun = incidents[incidents["CrimeCode"].isin(["1F", "9S"])]
    linked = set(leads["case_number_a"]) | set(leads["case_number_b"])
    assert 0.2 < gun["CCNumber"].isin(linked).mean() < 0.5
    # Each item's own place; a test fire carries its gun's serial (the restored one after restoration).
    for side in ("a", "b"):
        casing = leads[f"evidence_{side}_type"] == "CASING"
        rows = leads[casing]
        assert (rows[f"evidence_{side}_address"] != "").all() and (rows[f"test_fire_serial_{side}"] == "").all()
        assert rows[f"evidence_{side}_latitude"].astype(float).between(39.19, 39.38).all()
        assert (scenes.loc[rows[f"case_number_{side}"], "Location"].to_numpy()
                == rows[f"evidence_{side}_address"].to_numpy()).all()
    t = tr.loc[tf["trace_number_a"]]
    serial = np.where(t["restored_serial"] != "", t["restored_serial"], t["serial_number"])
    assert (tf["test_fire_serial_a"].to_numpy() == serial).all() and (tf["test_fire_serial_a"] != "").any()
    assert (tf["evidence_a_address"].to_numpy() == t["recovery_street"].to_numpy()).all()


def test_ground_truth_schemes_are_planted(truth, traces):
    schemes = truth["schemes"]
    kinds = {s["type"] for s in schemes}
    assert kinds == {"straw_purchaser", "high_risk_dealer", "i95_pipeline", "nibin_chain",
                     "lookalike_high_volume_dealer", "lookalike_burglary_victim", "lookalike_long_held_own_guns"}
    assert truth["plan"]["straw"] >= 2 and truth["plan"]["lawful_dealer"] >= 2
    tr = traces.set_index("trace_number")
    ttc = (_dates(traces["recovery_date"]) - _dates(traces["purchase_date"])).dt.days
    ttc.index = traces["trace_number"]
    straw = [s for s in schemes if s["type"] == "straw_purchaser"]
    assert {s["pattern"] for s in straw} == {"one_store", "several_stores", "slow_several_stores"}
    for s in (x for x in straw if x["pattern"] == "slow_several_stores"):
        # Slow straw buying: never a multiple sale, purchases weeks apart, several stores, fast guns elsewhere.
        rows = tr.loc[s["trace_numbers"]]
        assert (rows["multiple_sale"] == "N").all() and (ttc[s["trace_numbers"]] <= 2 * 365).all()
        days = np.sort(_dates(rows["purchase_date"]).to_numpy().astype("datetime64[D]"))
        assert (np.diff(days).astype(int) >= 21).all() and _ffl_key(rows["dealer_ffl"]).nunique() > 1
        assert (rows["possessor_last_name"].str.upper() != s["purchaser"]["last_name"]).all()
    for s in (x for x in straw if x["pattern"] != "slow_several_stores"):
        rows = tr.loc[s["trace_numbers"]]
        who = s["purchaser"]
        assert (rows["purchaser_last_name"].str.upper() == who["last_name"]).all()
        assert (_dates(rows["purchaser_dob"]) == pd.Timestamp(who["dob"])).all()
        assert (rows["multiple_sale"] == "Y").all() and (ttc[s["trace_numbers"]] < 3 * 365).all()
        assert not (rows["possessor_last_name"].str.upper() == who["last_name"]).all()
        days = np.sort(_dates(rows["purchase_date"]).to_numpy().astype("datetime64[D]"))
        assert (np.busday_count(days[:-1], days[1:]) < 5).any()  # bought again within five business days
        assert (_ffl_key(rows["dealer_ffl"]).nunique() > 1) == (s["pattern"] == "several_stores")
    dealers = [s for s in schemes if s["type"] == "high_risk_dealer"]
    assert {s["dealer_state"] == "MD" for s in dealers} == {True, False}
    short_all = (ttc[traces["purchase_date"].ne("").to_numpy()] < 365).mean()
    for s in dealers:
        key = _ffl_key(pd.Series([s["dealer_ffl"]]))[0]
        mine = _ffl_key(traces["dealer_ffl"]).eq(key).to_numpy() & traces["purchase_date"].ne("").to_numpy()
        assert (ttc[mine] < 365).mean() > short_all + 0.2
    for s in (x for x in schemes if x["type"] == "i95_pipeline"):
        rows = tr.loc[s["trace_numbers"]]
        assert s["source_state"] in ("VA", "NC", "SC", "GA", "FL")
        assert (rows["dealer_state"] == s["source_state"]).all()
        assert (rows["purchaser_state"] == s["source_state"]).all()
        assert (ttc[s["trace_numbers"]] <= 500).all()
    # Innocent look-alikes: big stores at the usual time-to-crime, burglary victims, owners' own old guns.
    counts = _ffl_key(traces.loc[traces["dealer_ffl"] != "", "dealer_ffl"]).value_counts()
    for s in (x for x in schemes if x["type"] == "lookalike_high_volume_dealer"):
        key = _ffl_key(pd.Series([s["dealer_ffl"]]))[0]
        assert s["innocent"] and counts[key] >= counts.quantile(0.95)
        mine = _ffl_key(traces["dealer_ffl"]).eq(key).to_numpy() & traces["purchase_date"].ne("").to_numpy()
        assert (ttc[mine] < 365).mean() < short_all + 0.25
    for s in (x for x in schemes if x["type"] == "lookalike_burglary_victim"):
        rows = tr.loc[s["trace_numbers"]]
        assert s["innocent"] and len(rows) >= 2 and (rows["stolen_from"] == "PRIVATE").all()
        assert (_dates(rows["stolen_report_date"]) <= _dates(rows["recovery_date"])).all()
        assert (rows["purchaser_last_name"].str.upper() == s["purchaser"]["last_name"]).all()
    for s in (x for x in schemes if x["type"] == "lookalike_long_held_own_guns"):
        rows = tr.loc[s["trace_numbers"]]
        assert s["innocent"] and (ttc[s["trace_numbers"]] >= 5 * 365).all()
        assert (rows["possessor_last_name"] == rows["purchaser_last_name"]).all()
        assert (rows["possessor_dob"] == rows["purchaser_dob"]).all()
    chains = [s for s in schemes if s["type"] == "nibin_chain"]
    assert any(c["firearm_trace_number"] for c in chains) and any(c["firearm_trace_number"] is None for c in chains)
    for c in chains:
        assert len(c["case_numbers"]) >= 2 and c["lead_ids"]
        if c["firearm_trace_number"]:
            assert c["firearm_trace_number"] in tr.index


def test_ground_truth_stays_out_of_the_source_files(out, truth):
    ids = [s["id"] for s in truth["schemes"]]
    for pattern in SOURCE_GLOBS:
        for path in out.glob(pattern):
            text = path.read_text()
            header = text.split("\n", 1)[0].lower()
            assert not any(w in header for w in ("scheme", "truth", "straw", "planted", "gun_id"))
            assert not any(i in text for i in ids[:5] + ids[-3:]), path.name


def test_calibration_report_passes_and_catches_a_broken_file(out, tmp_path):
    text, ok = calibration_report(out)
    assert ok, text
    assert "bought outside the city" in text and "guns linked to 2+ shootings" in text
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    path = broken / "traces" / "etrace_2022.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[df["dealer_state"] != "", "dealer_state"] = "MD"   # every gun now bought in Maryland
    df.iloc[: len(df) // 2].to_csv(path, index=False)           # and half the recoveries gone
    text, ok = calibration_report(broken)
    assert not ok
    lines = {line.split("|")[0].strip(): line for line in text.splitlines() if "|" in line}
    assert lines["bought outside Maryland"].rstrip().endswith("NO")
    assert lines["guns recovered/traced 2022"].rstrip().endswith("NO")
    assert lines["guns recovered/traced 2021"].rstrip().endswith("yes")
