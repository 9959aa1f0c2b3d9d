"""The vectorised fast path (etl/vector.py) stages exactly what the row path stages: the same rows,
line numbers and values in `stg`, the same rejects (line, raw text, reason), the same counts, notes
and stored rows — on the synthetic Baltimore files and on files full of the real exports' mess."""

from __future__ import annotations

import itertools
import random

import psycopg
import pytest

from etl import loader, rowparse, vector, vector_columns
from etl.loader import load_file
from tests.conftest import FIXTURES, TABLES

pytestmark = pytest.mark.db

HEADER_2022 = ("X,Y,RowID,CCNumber,CrimeDateTime,CrimeCode,Description,Inside_Outside,Weapon,Post,Gender,Age,Race,"
               "Ethnicity,Location,Old_District,New_District,Neighborhood,Latitude,Longitude,GeoLocation,PremiseType,"
               "Total_Incidents")
HEADER_2021 = ("X,Y,RowID,CrimeDateTime,CrimeCode,Location,Description,Inside_Outside,Weapon,Post,District,"
               "Neighborhood,Latitude,Longitude,GeoLocation,Premise,VRIName,Total_Incidents")
HEADER_CHICAGO = ("DATE,BLOCK,ZIP_CODE,WARD,COMMUNITY_AREA,AREA,DISTRICT,BEAT,STREET_OUTREACH_ORGANIZATION,UNIQUE_ID,"
                  "MONTH,DAY_OF_WEEK,HOUR,INCIDENT_TYPE_DESCRIPTION,ROUNDS,ILLINOIS_HOUSE_DISTRICT,"
                  "ILLINOIS_SENATE_DISTRICT,LATITUDE,LONGITUDE,LOCATION")
HEADER_DC = "ID,SOURCE,TYPE,DATETIME,LATITUDE,LONGITUDE"

# The mess of real exports, one list per column; each row draws one value of each list at random
# (seeded by its number), so the values meet in many combinations.
WHEN = ["2022/06/21 03:48:00+00", "2022-06-21T03:48:00Z", "2022/06/21 03:48:00", "2022-06-21 03:48:00+0000",
        "2022/06/21 03:48:00+00:00", "2022/06/21 03:48:00-05:00", "2022/02/30 03:00:00+00", "1900/01/01 00:00:00+00",
        "2099/01/01 00:00:00+00", "06/21/2022 11:48:00 PM", "06/21/2022 12:05:00 AM", "06/21/2022 23:48:00",
        "6/21/2022 11:48 PM", "06/21/2022 00:48:00 AM", "13/21/2022 01:00:00", "2022/06/21 24:00:00",
        "2022/06/21 12:00:60", "", "NA", " 2022/06/21 03:48:00+00", "garbage", "2022/03/13 02:30:00",
        "2022/11/06 01:30:00", "2021/03/14 07:30:00+00", "1969/07/20 20:17:00", "2022/06/21 03:48:00+05:30",
        "2022/06/21 03:48:00.5+00", "2022/6/1 03:48:00+00", "06/21/2022 11:48:00 pm", "01/01/1901 00:00:00"]
CODES = ["9S", "1F", "4A", "3B", "6E", "5A", "9s", " 1F ", "", "NA", "3JF", "=1F", "4E", "ZZ"]
DESCRIPTION = ["", "SHOOTING", "agg. assault", "N/A", "ROBBERY - STREET", "-ROBBERY", "HOMICIDE"]
INSIDE = ["O", "I", "Inside", "outside", "X", "", "na"]
WEAPON = ["FIREARM", "NA", "N/A", "null", " none ", "firearm", "UNKNOWN", "HANDS", ""]
POST = ["123", "123.0", ".0", "12", "abc", "", "913", "=1+1"]
AGE = ["25", "", "NA", "160", "-1", "25.0", "2 5", "abc", "110", "0", '"1,000"']
DISTRICT = ["WESTERN", "western", "Western District", "SW", "NWD", "north west", "Central dist.", "", "NA",
            "Nowhere", "SOUTHEAST"]
NEIGHBORHOOD = ["SANDTOWN", "Café Hill", "İstanbul", "straße", "", "N/A", "@mention", "\"A \"\"B\"\" C\""]
LOCATION = ["100 N MOUNT ST", '"=HYPERLINK(""x"")"', "+1 N AVE", "-5", "@SUM(A1)", "\"100 N, MOUNT ST\"",
            "x" * 300, "\"\tTAB\"", "- 100 N", "   ", "200 S ST  ", "\\N", "\\n"]
LONLAT = [("-76.6123", "39.2901"), ("", ""), ("0", "0"), ("39.2901", "-76.6123"), ("-74.0", "40.7"),
          ("-76.6", "39.3"), ("-76.61234567", "39.29"), ("-076.6", "39.3"), ("+-76.6", "39.3"), ("1e1", "39.3"),
          (" -76.6", "39.3"), ('"-76,6"', "39.3"), ("-76.6123456", "39.2901234"), ("-76.0", "39.0"),
          ("-0.0", "39.3"), ("nan", "39.3"), ("-76.61", "")]
GEOLOCATION = ["\"(39.29,-76.61)\"", "", "\"(0,0)\"", "\"(40.7,-74.0)\"", "POINT (-76.6 39.3)"]
TOTAL = ["1", "", "2", "1001", "x", "0", "NA"]
CC = ["22C{i:05d}", "22C{i:05d}", "", "22c{j:05d}", "NA", "{long}"]


def _pick(values, i):
    """A value of `values` for row `i` and the list: random but repeatable."""
    return random.Random(f"{i}:{values[0]}:{len(values)}").choice(values)


def _incident_2022(i: int) -> str:
    lon, lat = _pick(LONLAT, i)
    cc = _pick(CC, i * 7).format(i=i, j=i // 3, long="C" * 40)
    return ",".join((
        "", "", str(i), cc, _pick(WHEN, i), _pick(CODES, i * 3), _pick(DESCRIPTION, i), _pick(INSIDE, i),
        _pick(WEAPON, i), _pick(POST, i), "M", _pick(AGE, i), "BLACK", "", _pick(LOCATION, i * 5),
        _pick(DISTRICT, i), _pick(DISTRICT, i * 11), _pick(NEIGHBORHOOD, i), lat, lon, _pick(GEOLOCATION, i),
        "STREET", _pick(TOTAL, i)))


def _incident_2021(i: int) -> str:
    lon, lat = _pick(LONLAT, i * 3)
    return ",".join((
        "", "", str(i), _pick(WHEN, i), _pick(CODES, i), _pick(LOCATION, i), _pick(DESCRIPTION, i * 2),
        _pick(INSIDE, i), _pick(WEAPON, i), _pick(POST, i * 5), _pick(DISTRICT, i), _pick(NEIGHBORHOOD, i),
        lat, lon, _pick(GEOLOCATION, i * 7), "ROW/TOWNHOUSE", "", _pick(TOTAL, i * 3)))


KIND = ["SINGLE GUNSHOT", "MULTIPLE GUNSHOTS", "GUNSHOT OR FIRECRACKER", "single_gunshot", "FIREWORKS", "", "NA"]
ROUNDS = ["1", "2", "", "501", "x", "3.0", "NA"]
IDS = ["SST-{i}", "SST-{i}", "", "  SST-{j}  ", "NA", "=SST-{i}"]


def _chicago(i: int) -> str:
    lon, lat = _pick(LONLAT, i)
    when = _pick(["01/01/2021 12:03:52 AM", "03/14/2021 02:30:00 AM", "11/07/2021 01:12:18 AM",
                  "07/04/2021 11:59:59 PM", "07/04/2021 13:00:00 PM", "2021-07-04 10:00:00"] + WHEN, i)
    return ",".join((when, _pick(LOCATION, i * 3), "21229", "", "AREA", "", _pick(DISTRICT, i), _pick(POST, i), "",
                     _pick(IDS, i).format(i=i, j=i // 2), "1", "6", "0", _pick(KIND, i), _pick(ROUNDS, i), "", "",
                     lat, lon, _pick(["POINT (-76.689817 39.300321)", "", "POINT (0 0)"], i)))


def _dc(i: int) -> str:
    lon, lat = _pick(LONLAT, i * 5)
    return ",".join((_pick(IDS, i).format(i=i, j=i // 2), "ShotSpotter", _pick(KIND, i), _pick(WHEN, i * 7), lat,
                     lon))


def _write(path, header: str, rows: list[str], newline: str = "\n", bom: bool = False, blank_lines: bool = False,
           encoding: str = "utf-8"):
    if blank_lines:
        rows = list(itertools.chain.from_iterable((r, "") if i % 17 == 5 else (r,) for i, r in enumerate(rows)))
        rows.append("   ")
    text = ("\ufeff" if bom else "") + newline.join([header, *rows]) + newline
    path.write_bytes(text.encode(encoding))
    return path


STAGED = {"incidents": "line_number, agency, source_key, cc_number, crime_datetime, crime_code, description,"
                       " inside_outside, weapon, is_firearm, category, post, reported_district, neighborhood, location,"
                       " premise, victim_gender, victim_age, victim_race, victim_ethnicity, total_incidents,"
                       " source_layout, geom::text",
          "shots": "line_number, agency, source_key, source_id, alert_time, alert_type, rounds, address,"
                   " reported_district, beat, source_layout, geom::text"}
STORED = {"incidents": "SELECT agency, source_key, crime_datetime, crime_code, category, reported_district,"
                       " victim_age, geom::text, location FROM incident ORDER BY agency, source_key",
          "shots": "SELECT agency, source_key, alert_time, alert_type, rounds, geom::text FROM shot_alert"
                   " ORDER BY agency, source_key"}


def _load(path, dsn, monkeypatch, fast: bool, **options) -> dict:
    """Load `path` into emptied tables one way; what was staged, rejected, counted and stored."""
    with psycopg.connect(dsn) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    monkeypatch.setattr(vector, "ENABLED", fast)
    seen: dict = {}
    merge, fast_windows = loader._merge_staged, vector.fast_windows

    def capture(conn, source, reader, result, rejects, turn=None):
        seen["staged"] = conn.execute(f"SELECT {STAGED[source.kind]} FROM stg ORDER BY line_number").fetchall()
        seen["rejects"] = list(rejects)
        return merge(conn, source, reader, result, rejects, turn)

    def watched(*args, **kwargs):
        """The windows the loader staged, as one (None when the row path read the file)."""
        seen["fast"] = None
        windows = fast_windows(*args, **kwargs)
        if windows is None:
            return None

        def collect():
            parts = []
            for window in windows:
                parts.append(window)
                yield window
            seen["fast"] = vector.FastRows.joined(parts)
            seen["windows"] = len(parts)
        return collect()

    monkeypatch.setattr(loader, "_merge_staged", capture)
    monkeypatch.setattr(vector, "fast_windows", watched)
    try:
        result = load_file(path, progress=False, dsn=dsn, **options)
    finally:
        monkeypatch.setattr(loader, "_merge_staged", merge)
        monkeypatch.setattr(vector, "fast_windows", fast_windows)
    with psycopg.connect(dsn) as conn:
        seen["stored"] = conn.execute(STORED[result.kind]).fetchall()
        seen["rejected_rows"] = conn.execute(
            "SELECT line_number, raw, reason, reason_public FROM etl_rejected_row ORDER BY line_number").fetchall()
    seen["counts"] = (result.read, result.loaded, result.updated, result.duplicate, result.rejected,
                      result.neutralised, result.reasons, result.notes, result.kind, result.layout)
    return seen


def _same_both_ways(path, dsn, monkeypatch, expect_fast: bool = True, **options) -> dict:
    row = _load(path, dsn, monkeypatch, False, **options)
    fast = _load(path, dsn, monkeypatch, True, **options)
    assert row.get("fast") is None
    if expect_fast:
        assert fast["fast"] is not None, "the fast path read the file"
    else:
        assert fast["fast"] is None, "the fast path left the file to the row path"
    assert len(fast["staged"]) == len(row["staged"])
    for a, b in zip(fast["staged"], row["staged"], strict=True):
        assert a == b, f"staged row differs at line {b[0]}"
    assert fast["rejects"] == row["rejects"]
    assert fast["counts"] == row["counts"]
    assert fast["stored"] == row["stored"]
    assert fast["rejected_rows"] == row["rejected_rows"]
    return fast


@pytest.fixture
def dsn(empty_db):
    return empty_db.replace("postgresql+psycopg://", "postgresql://", 1)


def test_synthetic_baltimore_files_stage_the_same_both_ways(dsn, tmp_path, monkeypatch):
    from etl.synth import generate

    manifest = generate(tmp_path, seed=5, years=(2022, 2022), scale=0.05, progress=False)
    paths = [tmp_path / f["path"] for f in manifest["files"] if f["kind"] in ("incidents", "shots")]
    assert {p.parent.name for p in paths} == {"incidents", "shots"}
    for path in paths:
        fast = _same_both_ways(path, dsn, monkeypatch)
        assert fast["fast"].certified > 0.95 * fast["fast"].read, "nearly every synthetic row is certified"


@pytest.mark.parametrize("options", [{}, {"newline": "\r\n", "bom": True}, {"blank_lines": True}],
                         ids=["lf", "crlf-bom", "blank-lines"])
def test_messy_incidents_2022_stage_the_same_both_ways(dsn, tmp_path, monkeypatch, options):
    rows = [_incident_2022(i) for i in range(2400)]
    rows += rows[:40]  # repeated keys: victims of one incident and plain duplicates
    fast = _same_both_ways(_write(tmp_path / "inc.csv", HEADER_2022, rows, **options), dsn, monkeypatch)
    # The file exercises both ways: certified rows, rows the parser loads and rows it rejects.
    assert 0 < fast["fast"].certified < fast["fast"].read
    assert fast["rejects"] and fast["counts"][5] > 0, "rejects and neutralised cells"


def test_a_file_read_in_chunks_stages_the_same_both_ways(dsn, tmp_path, monkeypatch):
    monkeypatch.setattr(vector, "CHUNK_ROWS", 97)
    rows = [_incident_2022(i) for i in range(1000)]
    path = _write(tmp_path / "inc.csv", HEADER_2022, rows + rows[:30], newline="\r\n", blank_lines=True)
    fast = _same_both_ways(path, dsn, monkeypatch)
    assert len(fast["fast"].staged) == 11 and 0 < fast["fast"].certified < fast["fast"].read


def test_a_file_read_in_windows_stages_the_same_both_ways(dsn, tmp_path, monkeypatch):
    """A file bigger than a window is read a window of whole lines at a time (memory stays bounded
    whatever the file's size; before, a file over 256 MB took the row path)."""
    monkeypatch.setattr(vector, "WINDOW_CHARS", 20_000)
    monkeypatch.setattr(vector, "CHUNK_ROWS", 61)
    rows = [_incident_2022(i) for i in range(1500)]
    path = _write(tmp_path / "inc.csv", HEADER_2022, rows + rows[:30], newline="\r\n", blank_lines=True)
    fast = _same_both_ways(path, dsn, monkeypatch)
    assert fast["windows"] > 5 and 0 < fast["fast"].certified < fast["fast"].read
    assert fast["rejects"] and fast["counts"][5] > 0, "rejects and neutralised cells, in several windows"


def test_a_late_window_the_fast_way_cannot_read_sends_the_whole_file_the_row_way(dsn, tmp_path, monkeypatch):
    """Windows already staged are undone when a later one fails the checks (a line with a field too
    many near the end): the row path reads the whole file, rejecting that line for its reason."""
    monkeypatch.setattr(vector, "WINDOW_CHARS", 20_000)
    rows = [_incident_2022(i) for i in range(1500)]
    rows[1450] += ",an extra field"
    fast = _same_both_ways(_write(tmp_path / "inc.csv", HEADER_2022, rows), dsn, monkeypatch, expect_fast=False)
    assert any(line == 1452 for line, _, _ in fast["rejects"])


@pytest.mark.parametrize("timezone", ["local", "UTC", "-05:00", "+05:30", "America/Chicago"])
def test_messy_incidents_in_other_clocks_stage_the_same_both_ways(dsn, tmp_path, monkeypatch, timezone):
    rows = [_incident_2022(i * 7) for i in range(1500)]
    fast = _same_both_ways(_write(tmp_path / "inc.csv", HEADER_2022, rows), dsn, monkeypatch, timezone=timezone)
    assert 0 < fast["fast"].certified < fast["fast"].read


def test_a_polars_failure_leaves_the_file_to_the_row_path(dsn, tmp_path, monkeypatch):
    """E.g. a time zone the system knows and polars (chrono-tz) does not."""
    import polars as pl

    def refuse(*_args):
        raise pl.exceptions.ComputeError("unable to parse time zone")

    monkeypatch.setattr(vector_columns, "instants", refuse)
    rows = [_incident_2022(i) for i in range(200)]
    _same_both_ways(_write(tmp_path / "inc.csv", HEADER_2022, rows), dsn, monkeypatch, expect_fast=False)


def test_incidents_without_case_numbers_go_the_row_path(dsn, tmp_path, monkeypatch):
    """The ~2021 layout has no CCNumber: every key is the parser's content hash."""
    rows = [_incident_2021(i) for i in range(300)]
    _same_both_ways(_write(tmp_path / "inc21.csv", HEADER_2021, rows), dsn, monkeypatch, expect_fast=False)


@pytest.mark.parametrize("timezone", [None, "America/Chicago", "UTC"])
@pytest.mark.parametrize(("header", "make"), [(HEADER_CHICAGO, _chicago), (HEADER_DC, _dc)], ids=["chicago", "dc"])
def test_messy_shots_stage_the_same_both_ways(dsn, tmp_path, monkeypatch, header, make, timezone):
    rows = [make(i) for i in range(1800)]
    fast = _same_both_ways(_write(tmp_path / "shots.csv", header, rows, newline="\r\n"), dsn, monkeypatch,
                           timezone=timezone)
    assert 0 < fast["fast"].certified < fast["fast"].read


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"], ids=["tab", "semicolon", "pipe"])
def test_other_delimiters_stage_the_same_both_ways(dsn, tmp_path, monkeypatch, delimiter):
    rows = [_dc(i).replace(",", delimiter) for i in range(600)]
    fast = _same_both_ways(_write(tmp_path / "shots.txt", HEADER_DC.replace(",", delimiter), rows), dsn, monkeypatch)
    assert 0 < fast["fast"].certified < fast["fast"].read


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_other_encodings_stage_the_same_both_ways(dsn, tmp_path, monkeypatch, encoding):
    rows = [_incident_2022(i).replace("İstanbul", "Bélair") for i in range(600)]
    path = _write(tmp_path / "inc.csv", HEADER_2022, rows, newline="\r\n", encoding=encoding)
    fast = _same_both_ways(path, dsn, monkeypatch, encoding=encoding)
    assert 0 < fast["fast"].certified < fast["fast"].read


def test_the_fixture_files_stage_the_same_both_ways(dsn, monkeypatch):
    for name in ("incidents_2022.csv", "shots_chicago.csv", "shots_dc.csv"):
        _same_both_ways(FIXTURES / name, dsn, monkeypatch)
    for name in ("incidents_2012.csv", "incidents_2021.csv", "shots_generic.csv"):  # layouts the fast path leaves to the row path
        _same_both_ways(FIXTURES / name, dsn, monkeypatch, expect_fast=False)


@pytest.mark.parametrize("damage", ["short row", "unbalanced quote", "quoted newline", "nul", "lone cr",
                                    "stray quote", "long field"])
def test_files_the_fast_path_cannot_map_to_lines_go_the_row_path(dsn, tmp_path, monkeypatch, damage):
    rows = [_incident_2022(i * 13) for i in range(60)]
    if damage == "short row":
        rows[7] = rows[7].rsplit(",", 1)[0]
    elif damage == "unbalanced quote":
        rows[7] = rows[7] + '"'
    elif damage == "quoted newline":
        rows[7] = rows[7].replace("STREET", '"STREET\nCORNER"')
    elif damage == "nul":
        rows[7] = rows[7].replace("BLACK", "BL\x00ACK")
    elif damage == "lone cr":
        rows[7] = rows[7].replace("BLACK", "BL\rACK")
    elif damage == "stray quote":
        rows[7] = rows[7].replace("BLACK", 'BL"ACK')
    else:
        rows[7] = rows[7].replace("BLACK", "B" * (rowparse.MAX_FIELD + 1))
    _same_both_ways(_write(tmp_path / "bad.csv", HEADER_2022, rows), dsn, monkeypatch, expect_fast=False)
