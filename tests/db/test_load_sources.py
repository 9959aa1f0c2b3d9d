"""Each source layout loads through the real ETL into PostGIS, and every row is accounted for."""

from __future__ import annotations

import pytest

from etl.errors import LoadError
from etl.loader import load_file
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

LAYOUTS = [
    ("traces_canonical.csv", "traces", "etrace-canonical", 6, 4, 2),
    ("ffl_current.csv", "dealers", "atf-ffl-list", 4, 3, 1),
    ("ffl_legacy.txt", "dealers", "atf-ffl-list", 2, 2, 0),
    ("incidents_2012.csv", "incidents", "open-baltimore-2012", 5, 4, 1),
    ("incidents_api.csv", "incidents", "open-baltimore-api", 2, 2, 0),
    ("incidents_2021.csv", "incidents", "open-baltimore-2021", 2, 2, 0),
    ("incidents_2022.csv", "incidents", "open-baltimore-2022", 4, 3, 1),
    ("shots_chicago.csv", "shots", "shotspotter-chicago", 4, 2, 2),
    ("shots_dc.csv", "shots", "shotspotter-dc", 2, 2, 0),
    ("shots_dc_legacy.csv", "shots", "shotspotter-dc-legacy", 1, 1, 0),
    ("shots_generic.csv", "shots", "shotspotter-generic", 1, 1, 0),
]


@pytest.mark.parametrize(("name", "kind", "layout", "read", "loaded", "rejected"), LAYOUTS)
def test_layout_detected_and_rows_accounted(empty_db, sql, name, kind, layout, read, loaded, rejected):
    result = load_file(FIXTURES / name, progress=False)
    assert (result.kind, result.layout) == (kind, layout)
    assert (result.read, result.loaded, result.rejected) == (read, loaded, rejected)
    assert result.adds_up()
    stored = sql("SELECT count(*) FROM etl_rejected_row WHERE run_id = %s", (result.run_id,))[0][0]
    assert stored == rejected
    run = sql("SELECT status, rows_read, rows_loaded, rows_rejected FROM etl_run WHERE id = %s", (result.run_id,))[0]
    assert run == ("succeeded", read, loaded, rejected)


def test_rejected_rows_keep_file_line_raw_text_and_reason(empty_db, sql):
    load_file(FIXTURES / "shots_chicago.csv", progress=False)
    rows = sql("SELECT line_number, raw, reason FROM etl_rejected_row ORDER BY line_number")
    assert [r[0] for r in rows] == [4, 5]
    assert rows[1][1].startswith("03/01/2022 03:00:00 AM") and "FIREWORKS" in rows[1][1]
    assert "FIREWORKS" in rows[1][2]
    assert "coordinates" in rows[0][2]


def test_incident_values_are_normalized(empty_db, sql):
    load_file(FIXTURES / "incidents_2012.csv", progress=False)
    load_file(FIXTURES / "incidents_2022.csv", progress=False)
    rows = dict(sql("SELECT crime_code, reported_district FROM incident WHERE crime_code IN ('1F', '9S') "
                    "AND cc_number IS NULL"))
    assert rows["1F"] == "NORTHEASTERN"  # 'NORTHEAST' in the file
    assert rows["9S"] == "WESTERN"  # 'Western'
    # Zero coordinates: the incident loads without a point.
    assert sql("SELECT geom IS NULL FROM incident WHERE crime_code = '1F' AND cc_number IS NULL") == [(True,)]
    # Impossible age 160 is dropped, the incident kept; 2022-on times are UTC.
    age, hour = sql("SELECT victim_age, extract(hour FROM crime_datetime AT TIME ZONE 'UTC') "
                    "FROM incident WHERE cc_number = '22C05555'")[0]
    assert age is None and hour == 20
    # Two identical victim rows stay two incidents.
    assert sql("SELECT count(*) FROM incident WHERE crime_code = '9S' AND cc_number IS NULL "
               "AND location = '1000 N MOUNT ST'")[0][0] == 2


def test_local_times_are_baltimore_time(empty_db, sql):
    load_file(FIXTURES / "incidents_2012.csv", progress=False)
    hour = sql("SELECT extract(hour FROM crime_datetime AT TIME ZONE 'America/New_York') FROM incident "
               "WHERE crime_code = '4E'")[0][0]
    assert hour == 9


def test_traces_build_firearms_people_and_recoveries(empty_db, sql):
    load_file(FIXTURES / "traces_canonical.csv", progress=False)
    # Two traces of one Glock serial are one firearm recovered twice.
    assert sql("SELECT count(*) FROM trace t JOIN firearm f ON f.id = t.firearm_id "
               "WHERE f.firearm_key = 'GLOCK|ABC123'")[0][0] == 2
    # Obliterated serial: its own firearm, no serial stored.
    assert sql("SELECT serial_number, serial_obliterated FROM firearm WHERE firearm_key LIKE 'TRACE:%'") == [
        (None, True)]
    # One purchaser (same name and DOB on three traces), stored in the pii schema.
    assert sql("SELECT count(*) FROM pii.person WHERE last_name = 'ROE'")[0][0] == 1
    # Recovery without coordinates falls back to the ZIP centroid and says so.
    assert sql("SELECT geocode_precision, geom IS NOT NULL FROM recovery r JOIN trace t ON t.id = r.trace_id "
               "WHERE t.trace_number = 'T20220000002'") == [("zip", True)]
    # The selling dealer exists (from the trace) before any FFL list is loaded.
    assert sql("SELECT source, premise_state FROM dealer") == [("trace", "VA")]


def test_dealers_geocoded_by_zip_and_legacy_layout(empty_db, sql):
    load_file(FIXTURES / "ffl_legacy.txt", progress=False)
    rows = sql("SELECT ffl_key, premise_state, geocode_precision, round(ST_Y(geom)::numeric, 1) FROM dealer "
               "ORDER BY ffl_key")
    assert rows[0][:3] == ("1-56-183-01-00999", "NC", "zip")
    assert float(rows[1][3]) == pytest.approx(40.0, abs=0.2)  # Philadelphia


def test_column_mapping_renames_agency_headers(empty_db, tmp_path):
    text = (FIXTURES / "shots_dc.csv").read_text().replace("DATETIME,TYPE", "When,Kind", 1)
    path = tmp_path / "agency_export.csv"
    path.write_text(text)
    with pytest.raises(LoadError, match="header does not match"):
        load_file(path, progress=False)
    result = load_file(path, mapping={"DATETIME": "When", "TYPE": "Kind"}, progress=False)
    assert (result.kind, result.loaded) == ("shots", 2)


def test_forced_type_that_does_not_fit_says_what_is_missing(empty_db):
    with pytest.raises(LoadError, match="missing .*trace_number"):
        load_file(FIXTURES / "shots_dc.csv", kind="traces", progress=False)
