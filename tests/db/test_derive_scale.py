"""`derive` at scale gives what its plain rules give: the alert matched to each firearm incident, the guns
tied to scenes through NIBIN groups and the districts stored by the load, each against SQL written the
obvious way (every pair compared, no index, no temporary table), including a district map replaced after
the records were loaded."""

from __future__ import annotations

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import box

from etl import alert_match, grid
from etl.derive import MATCH_METERS, MATCH_MINUTES, derive
from etl.loader import load_file
from layers import db, settings
from layers.map_filters import TTC_BAND_SQL
from tests.bench.scaling import columns as table_columns
from tests.conftest import FIXTURES, add_run

pytestmark = pytest.mark.db

# For each alert, every firearm incident of its agency within the match window and distance; the nearest
# in time wins, then the nearest in space, then the first recorded.
EVERY_ALERT_PAIR = """
    SELECT DISTINCT ON (s.id) s.id, i.id
    FROM shot_alert s JOIN incident i ON i.agency = s.agency AND i.is_firearm AND i.geom IS NOT NULL
         AND abs(extract(epoch FROM i.crime_datetime - s.alert_time)) <= %(minutes)s * 60
         AND ST_DWithin(i.geom, s.geom, 0.005) AND ST_DistanceSphere(i.geom, s.geom) <= %(meters)s
    ORDER BY s.id, abs(extract(epoch FROM i.crime_datetime - s.alert_time)), ST_Distance(i.geom, s.geom), i.id"""

# Guns tied to scenes: recovered at the incident of their case, or test-fired in a group holding a
# casing of the scene, named by a lead touching that casing (a HIT first, then the earliest, then the
# first numbered).
EVERY_GUN_LINK = """
    WITH nibin AS (
        SELECT DISTINCT ON (g.firearm_id, c.incident_id) g.firearm_id, c.incident_id, l.lead_id, l.lead_status
        FROM ballistic_evidence g JOIN ballistic_evidence c ON c.gun_group = g.gun_group
        JOIN nibin_lead l ON c.id = l.evidence_a_id OR c.id = l.evidence_b_id
        WHERE g.evidence_type = 'TEST_FIRE' AND g.firearm_id IS NOT NULL
          AND c.evidence_type = 'CASING' AND c.incident_id IS NOT NULL
        ORDER BY g.firearm_id, c.incident_id, (l.lead_status = 'HIT') DESC, l.lead_date, l.id),
    recovered AS (SELECT DISTINCT firearm_id, incident_id FROM recovery WHERE incident_id IS NOT NULL)
    SELECT firearm_id, incident_id, CASE WHEN r.firearm_id IS NOT NULL THEN 'recovery' ELSE 'nibin' END,
           n.lead_id, n.lead_status
    FROM recovered r FULL JOIN nibin n USING (firearm_id, incident_id)
    ORDER BY 1, 2"""


def test_alert_matches_and_gun_links_are_those_of_the_plain_rules(synthetic_db):
    """Synthetic Baltimore as loaded and derived: every alert's incident and every gun-scene link."""
    with psycopg.connect(db.dsn(synthetic_db)) as conn:
        expected = dict(conn.execute(EVERY_ALERT_PAIR, {"minutes": MATCH_MINUTES, "meters": MATCH_METERS}))
        stored = dict(conn.execute("SELECT id, incident_id FROM shot_alert WHERE incident_id IS NOT NULL"))
        assert len(expected) > 50 and stored == expected
        links = conn.execute(EVERY_GUN_LINK).fetchall()
        assert sum(via == "nibin" for _, _, via, _, _ in links) > 5
        assert conn.execute("SELECT firearm_id, incident_id, via, lead_id, lead_status FROM firearm_incident "
                            "ORDER BY 1, 2").fetchall() == links


def _copies(conn, table: str, time_column: str, row_id: int, rows: list[tuple[str, str, float, float]]) -> None:
    """Insert copies of one row of `table` under new keys, times and points: (key, time, lon, lat)."""
    columns = [c for c in table_columns(conn, table) if c != "id"]
    chosen = {"source_key": "%(key)s", time_column: "%(at)s::timestamptz",
              "geom": "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"}
    values = ", ".join(chosen.get(c, c) for c in columns)
    for key, at, lon, lat in rows:
        conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} WHERE id = %(id)s",
                     {"key": key, "at": at, "lon": lon, "lat": lat, "id": row_id})


@pytest.fixture(params=["by time", "by square and time"])
def matching(request, monkeypatch):
    """Alerts matched through the time index alone (a city as sparse as Baltimore), and through the squares
    around each alert (a denser one: etl/alert_match.py `dense`)."""
    monkeypatch.setattr(alert_match, "DENSE_PER_HOUR", float("inf") if request.param == "by time" else 0.0)
    return request.param


def test_alerts_all_around_a_cluster_of_shootings_match_as_the_plain_rule_says(empty_db, sql, tmp_path, matching):
    """Four shootings minutes and metres apart, 36 alerts around them on every side, within and beyond
    the match window and distance: each alert gets what comparing every pair gives (the nearest in time,
    then in space), or nothing. The cluster sits on the corner of four 0.01-degree squares."""
    header, shooting = (FIXTURES / "incidents_2022.csv").read_text().splitlines()[:2]
    (tmp_path / "one.csv").write_text(f"{header}\n{shooting}\n")
    load_file(tmp_path / "one.csv", progress=False)
    load_file(FIXTURES / "shots_chicago.csv", progress=False)
    corner_lon, corner_lat, corner_at = -76.62, 39.30, "2022-03-01 00:00:00+00"
    with psycopg.connect(db.dsn(empty_db), autocommit=True) as conn:
        incident, agency = conn.execute("SELECT id, agency FROM incident WHERE is_firearm").fetchone()
        alert = conn.execute("SELECT min(id) FROM shot_alert").fetchone()[0]
        conn.execute("UPDATE shot_alert SET agency = %s", (agency,))
        _copies(conn, "incident", "crime_datetime", incident, [
            (f"EDGE-I{n}", corner_at, corner_lon + dx, corner_lat + dy)
            for n, (dx, dy) in enumerate(((-0.0004, -0.0004), (0.0004, -0.0003), (-0.0003, 0.0004), (0.0012, 0.0011)))])
        conn.execute("UPDATE incident SET crime_datetime = crime_datetime + make_interval(secs => (id % 5) * 400 - 800)"
                     " WHERE source_key LIKE 'EDGE-I%'")
        offsets = (-0.0031, -0.0016, -0.0002, 0.0002, 0.0016, 0.0031)
        _copies(conn, "shot_alert", "alert_time", alert, [
            (f"EDGE-A{n}", corner_at, corner_lon + dx, corner_lat + dy)
            for n, (dx, dy) in enumerate((dx, dy) for dx in offsets for dy in offsets)])
        conn.execute("UPDATE shot_alert SET alert_time = alert_time"
                     " + make_interval(secs => (id % 9) * 450 - 1800 + (id % 2) * 5), incident_id = NULL"
                     " WHERE source_key LIKE 'EDGE-A%'")
    derive(full=True)
    params = {"minutes": MATCH_MINUTES, "meters": MATCH_METERS}
    expected = dict(sql(EVERY_ALERT_PAIR, params))
    edge = {i for (i,) in sql("SELECT id FROM shot_alert WHERE source_key LIKE 'EDGE-A%'")}
    matched = {a for a in expected if a in edge}
    assert len(edge) == 36 and 10 <= len(matched) < 36  # some out of reach
    assert len({expected[a] for a in matched}) >= 3
    assert dict(sql("SELECT id, incident_id FROM shot_alert WHERE incident_id IS NOT NULL")) == expected


def test_a_derive_after_a_few_loads_matches_as_the_plain_rule_across_the_edges_of_what_they_loaded(
        empty_db, sql, tmp_path, matching):
    """The derive after a load matches alerts against the firearm incidents near the loaded rows in time
    only: an alert loaded 29 minutes after a shooting loaded long before still finds it, and an alert near
    a newly loaded shooting goes to an older one nearer in time, lying beyond the new one's match window."""
    header, shooting = (FIXTURES / "incidents_2022.csv").read_text().splitlines()[:2]
    (tmp_path / "one.csv").write_text(f"{header}\n{shooting}\n")
    load_file(tmp_path / "one.csv", progress=False)
    load_file(FIXTURES / "shots_chicago.csv", progress=False)
    params = {"minutes": MATCH_MINUTES, "meters": MATCH_METERS}
    with psycopg.connect(db.dsn(empty_db), autocommit=True) as conn:
        incident, agency, lon, lat = conn.execute(
            "SELECT id, agency, ST_X(geom), ST_Y(geom) FROM incident WHERE is_firearm").fetchone()
        alert = conn.execute("SELECT min(id) FROM shot_alert").fetchone()[0]
        conn.execute("UPDATE shot_alert SET agency = %s", (agency,))
    derive(full=True)
    stored = "SELECT id, incident_id FROM shot_alert WHERE incident_id IS NOT NULL"
    assert dict(sql(stored)) == dict(sql(EVERY_ALERT_PAIR, params))

    def at(minutes: int) -> str:
        return sql("SELECT (crime_datetime + make_interval(mins => %s))::text FROM incident WHERE id = %s",
                   (minutes, incident))[0][0]

    with psycopg.connect(db.dsn(empty_db), autocommit=True) as conn:  # an alert alone in a run of its own
        _copies(conn, "shot_alert", "alert_time", alert, [("LATE-ALERT", at(29), lon + 0.001, lat)])
        conn.execute("UPDATE shot_alert SET run_id = %s, incident_id = NULL WHERE source_key = 'LATE-ALERT'",
                     (add_run(conn, "shots", rows=1),))
    derive()
    assert sql("SELECT incident_id FROM shot_alert WHERE source_key = 'LATE-ALERT'") == [(incident,)]
    with psycopg.connect(db.dsn(empty_db), autocommit=True) as conn:
        # Hours later: an alert and a shooting 20 minutes after it, loaded before (the alert still unmatched),
        # then a shooting 25 minutes before the alert, alone in a run of its own.
        _copies(conn, "incident", "crime_datetime", incident, [("OLD-NEAR", at(225), lon, lat + 0.001)])
        _copies(conn, "shot_alert", "alert_time", alert, [("WAITING", at(205), lon, lat + 0.0005)])
        conn.execute("UPDATE shot_alert SET incident_id = NULL WHERE source_key = 'WAITING'")
        _copies(conn, "incident", "crime_datetime", incident, [("NEW-FAR", at(180), lon, lat)])
        conn.execute("UPDATE incident SET run_id = %s WHERE source_key = 'NEW-FAR'", (add_run(conn, "incidents", rows=1),))
    derive()
    assert sql("SELECT i.source_key FROM shot_alert s JOIN incident i ON i.id = s.incident_id "
               "WHERE s.source_key = 'WAITING'") == [("OLD-NEAR",)]
    assert dict(sql(stored)) == dict(sql(EVERY_ALERT_PAIR, params))


# The district of every recovery: the piece of the map in force on its date that contains it (none without).
EVERY_RECOVERY_DISTRICT = """
    SELECT r.id, (SELECT b.name FROM boundary b WHERE b.kind = 'district' AND ST_Intersects(b.geom, r.geom)
                    AND (b.valid_from IS NULL OR b.valid_from <= r.recovery_date)
                    AND (b.valid_to IS NULL OR r.recovery_date <= b.valid_to)
                  ORDER BY b.valid_from DESC NULLS LAST, b.name LIMIT 1)
    FROM recovery r ORDER BY r.id"""


def test_recovery_districts_are_those_of_the_plain_rule_and_a_wrong_one_is_mended(synthetic_db):
    """Every recovery's district as the rule gives it; one set wrong by hand is put right by a full derive,
    which writes only the recoveries whose district changes."""
    dsn = db.dsn(synthetic_db)
    with psycopg.connect(dsn) as conn:
        expected = conn.execute(EVERY_RECOVERY_DISTRICT).fetchall()
        assert len(expected) > 50 and sum(d is not None for _, d in expected) > 50
        assert conn.execute("SELECT id, district FROM recovery ORDER BY id").fetchall() == expected
        wrong = expected[0][0]
        conn.execute("UPDATE recovery SET district = 'NOWHERE' WHERE id = %s", (wrong,))
        untouched = conn.execute("SELECT xmin::text FROM recovery WHERE id = %s", (expected[1][0],)).fetchone()[0]
    derive(dsn=dsn, full=True)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT id, district FROM recovery ORDER BY id").fetchall() == expected
        assert conn.execute("SELECT xmin::text FROM recovery WHERE id = %s", (expected[1][0],)).fetchone()[0] == untouched


def _districts(tmp_path, west: str, center: str):
    frame = gpd.GeoDataFrame({"Dist_Name": [west, center]},
                             geometry=[box(-76.70, 39.28, -76.64, 39.33), box(-76.64, 39.27, -76.60, 39.33)], crs=4326)
    path = tmp_path / f"districts_{west}.geojson"
    frame.to_file(path)
    return path


# The district of every incident and alert: the (only) district polygon containing its point, else the
# district the source reported.
EVERY_DISTRICT = """
    SELECT 'incident', x.source_key, coalesce((SELECT b.name FROM boundary b WHERE b.kind = 'district'
                                                 AND ST_Intersects(b.geom, x.geom)), x.reported_district)
    FROM incident x
    UNION ALL
    SELECT 'alert', x.source_key, coalesce((SELECT b.name FROM boundary b WHERE b.kind = 'district'
                                              AND ST_Intersects(b.geom, x.geom)), x.reported_district)
    FROM shot_alert x ORDER BY 1, 2"""
STORED_DISTRICT = """SELECT 'incident', source_key, district FROM incident
                     UNION ALL SELECT 'alert', source_key, district FROM shot_alert ORDER BY 1, 2"""


@pytest.mark.parametrize("placing", ["piece by piece", "by the grid"])
def test_the_load_stores_the_districts_derive_keeps_until_the_map_changes(empty_db, sql, tmp_path, placing,
                                                                          monkeypatch):
    """Incidents and alerts get their district as they are loaded, the one the rule gives, so the derive
    rewrites no incident; a district map loaded afterwards still moves them all. (The reported districts
    are WESTERN and CENTRAL, the maps' names others.) Both ways of placing points: each piece finding its
    points, and the grid's squares first (etl/grid.py: for many points)."""
    if placing == "by the grid":
        monkeypatch.setattr(grid, "CELLS_FROM", 0)
    load_file(_districts(tmp_path, "Northern", "Southern"), progress=False)
    load_file(FIXTURES / "incidents_2022.csv", progress=False)
    load_file(FIXTURES / "shots_chicago.csv", progress=False)
    load_file(FIXTURES / "traces_canonical.csv", progress=False)
    loaded = sql(STORED_DISTRICT)
    assert loaded == sql(EVERY_DISTRICT)
    assert {d for _, _, d in loaded} >= {"NORTHERN", "SOUTHERN"}
    recoveries = sql("SELECT id, district FROM recovery ORDER BY id")  # recoveries too
    assert recoveries == sql(EVERY_RECOVERY_DISTRICT) and ("NORTHERN" in {d for _, d in recoveries})
    versions = sql("SELECT source_key, xmin::text FROM incident ORDER BY 1")
    derive()
    assert sql(STORED_DISTRICT) == loaded
    assert sql("SELECT source_key, xmin::text FROM incident ORDER BY 1") == versions  # none written again
    assert sql("SELECT id, district FROM recovery ORDER BY id") == recoveries
    # The map redrawn (undated: it replaces the other): the halves swap names, every point follows.
    load_file(_districts(tmp_path, "Southern", "Northern"), progress=False)
    derive()
    moved = sql(STORED_DISTRICT)
    assert moved == sql(EVERY_DISTRICT) and moved != loaded
    assert sql("SELECT id, district FROM recovery ORDER BY id") == sql(EVERY_RECOVERY_DISTRICT) != recoveries


def test_an_alert_between_equal_incidents_goes_to_the_first_recorded(empty_db, sql, tmp_path):
    """Two victims of one shooting are two incidents at the same time and place: the alert corroborates
    the first recorded, whatever order the rows lie in."""
    header, shooting = (FIXTURES / "incidents_2022.csv").read_text().splitlines()[:2]
    for name, cc in (("first.csv", "22C01299"), ("second.csv", "22C00001")):
        (tmp_path / name).write_text(f"{header}\n{shooting.replace('22C01234', cc)}\n")
        load_file(tmp_path / name, progress=False)
    load_file(FIXTURES / "shots_chicago.csv", progress=False)
    derive()
    assert sql("SELECT i.cc_number FROM shot_alert s JOIN incident i ON i.id = s.incident_id") == [("22C01299",)]


EVERY_TRACE_SOURCE = """
    SELECT t.id, d.id, r.recovery_date - t.purchase_date, coalesce(d.premise_state, t.dealer_state), d.in_city
    FROM trace t JOIN recovery r ON r.trace_id = t.id LEFT JOIN dealer d ON d.ffl_key = t.dealer_ffl_key
    ORDER BY t.id"""


def test_trace_sources_are_those_of_the_plain_rule_and_only_a_changed_one_is_written(synthetic_db):
    """Each trace's dealer, time-to-crime and source state as the rule gives them; one set wrong by hand is
    mended by a full derive, which leaves every unchanged trace as it was (its xmin stays)."""
    stored = "SELECT id, dealer_id, ttc_days, source_state, source_in_city FROM trace ORDER BY id"
    dsn = db.dsn(synthetic_db)
    with psycopg.connect(dsn) as conn:
        expected = conn.execute(EVERY_TRACE_SOURCE).fetchall()
        assert len(expected) > 50 and sum(d is not None for _, d, *_ in expected) > 50
        assert conn.execute(stored).fetchall() == expected
        wrong, other = expected[0][0], expected[1][0]
        conn.execute("UPDATE trace SET ttc_days = -1 WHERE id = %s", (wrong,))
        untouched = conn.execute("SELECT xmin::text FROM trace WHERE id = %s", (other,)).fetchone()[0]
    derive(dsn=dsn, full=True)
    with psycopg.connect(dsn) as conn:
        assert conn.execute(stored).fetchall() == expected
        assert conn.execute("SELECT xmin::text FROM trace WHERE id = %s", (other,)).fetchone()[0] == untouched


# The map's recovery markers by their rule: the gun's type, the trace's time-to-crime band and source state.
EVERY_RECOVERY_MARKER = f"""
    SELECT p.id, f.firearm_type, {TTC_BAND_SQL}, t.source_state, t.source_in_state
    FROM recovery p JOIN trace t ON t.id = p.trace_id JOIN firearm f ON f.id = p.firearm_id ORDER BY p.id"""
STORED_TRACE_SOURCE = """SELECT id, dealer_id, ttc_days, source_state, source_in_city, source_in_state,
                                possessor_is_purchaser FROM trace ORDER BY id"""


def test_the_trace_load_stores_sources_and_markers_derive_keeps(empty_db, sql):
    """A trace is stored with its source dealer, time-to-crime and source state, and its recovery with the
    map's marker values, as the derive's rules give them: the derive after the load rewrites no trace and no
    recovery. A dealer list loaded afterwards still moves them (a trace-only dealer gets its license's state)."""
    load_file(FIXTURES / "ffl_current.csv", progress=False)
    load_file(FIXTURES / "traces_canonical.csv", progress=False)
    home = settings.get("CGA_HOME_STATE")
    rule = sql(f"""SELECT t.id, d.id, r.recovery_date - t.purchase_date, coalesce(d.premise_state, t.dealer_state),
                          d.premise_state = '{home}' AND d.lic_cnty = '{settings.get("CGA_HOME_COUNTY_FIPS")}',
                          coalesce(d.premise_state, t.dealer_state) = '{home}',
                          CASE WHEN t.possessor_id IS NOT NULL AND t.purchaser_id IS NOT NULL
                               THEN t.possessor_id = t.purchaser_id END
                   FROM trace t JOIN recovery r ON r.trace_id = t.id LEFT JOIN dealer d ON d.ffl_key = t.dealer_ffl_key
                   ORDER BY t.id""")
    loaded = sql(STORED_TRACE_SOURCE)
    assert loaded == rule
    assert sum(d is not None for _, d, *_ in loaded) >= 2 and sum(n is not None for _, _, n, *_ in loaded) >= 2
    markers = sql("SELECT id, firearm_type, ttc_band, source_state, source_in_state FROM recovery ORDER BY id")
    assert markers == sql(EVERY_RECOVERY_MARKER) and {m[2] for m in markers} - {"unknown"}
    versions = sql("SELECT 'trace', id, xmin::text FROM trace UNION ALL SELECT 'recovery', id, xmin::text "
                   "FROM recovery ORDER BY 1, 2")
    derive()
    assert sql(STORED_TRACE_SOURCE) == loaded
    assert sql("SELECT 'trace', id, xmin::text FROM trace UNION ALL SELECT 'recovery', id, xmin::text "
               "FROM recovery ORDER BY 1, 2") == versions  # none written again
    # Emptying the dealer list: the derive sends every trace back to the state on its trace.
    with psycopg.connect(db.dsn(empty_db)) as conn:
        conn.execute("UPDATE trace SET dealer_id = NULL")
        conn.execute("DELETE FROM dealer")
    derive(full=True)
    moved = sql(STORED_TRACE_SOURCE)
    assert moved != loaded and all(d is None for _, d, *_ in moved)
    assert sql("SELECT id, firearm_type, ttc_band, source_state, source_in_state FROM recovery ORDER BY id") == \
        sql(EVERY_RECOVERY_MARKER)


def test_a_recovery_links_to_one_incident_of_its_case_and_keeps_it(empty_db, sql, tmp_path):
    """Two incidents share the recovery's case number (an assault and the shooting it became): the recovery
    is tied to the firearm one, then the first recorded, and the same one after every derive (the link is not
    written again)."""
    header, shooting = (FIXTURES / "incidents_2022.csv").read_text().splitlines()[:2]
    assault = shooting.replace(",9S,SHOOTING,O,FIREARM,", ",4E,COMMON ASSAULT,O,HANDS,")
    (tmp_path / "incidents.csv").write_text(f"{header}\n{assault}\n{shooting.replace(',1,22C01234,', ',2,22C01234,')}\n")
    load_file(tmp_path / "incidents.csv", progress=False)
    load_file(FIXTURES / "traces_canonical.csv", progress=False)
    derive()
    linked = sql("SELECT r.id, i.crime_code FROM recovery r JOIN incident i ON i.id = r.incident_id "
                 "WHERE r.case_number = '22C01234'")
    assert [code for _, code in linked] == ["9S"]
    versions = sql("SELECT id, xmin::text FROM recovery ORDER BY id")
    for _ in range(3):
        derive(full=True)
        assert sql("SELECT id, xmin::text FROM recovery ORDER BY id") == versions
