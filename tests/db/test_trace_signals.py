"""Signals the sources hold load and are kept: stolen reports, restored serials, the outcomes ATF
reports, NIBIN items' serial, date and place; and a ShotSpotter file read with the wrong clock is
caught after loading, with the offset that fixes it."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from etl.derive import derive
from etl.loader import load_file
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db


def _reasons(sql, run_id) -> dict[int, str]:
    return dict(sql("SELECT line_number, reason FROM etl_rejected_row WHERE run_id = %s", (run_id,)))


def test_new_trace_columns_load(empty_db, sql):
    result = load_file(FIXTURES / "traces_signals.csv", progress=False)
    assert (result.read, result.loaded, result.rejected) == (10, 6, 4) and result.adds_up()
    rows = {r[0]: r[1:] for r in sql(
        "SELECT trace_number, trace_status, reported_stolen, stolen_from, stolen_report_date FROM trace")}
    assert rows["T20240000001"] == ("STOLEN", True, "FFL", dt.date(2023, 11, 20))
    assert rows["T20240000002"] == ("COMPLETED", True, "PRIVATE", dt.date(2023, 8, 1))
    assert rows["T20240000003"] == ("COMPLETED", False, None, None)
    assert rows["T20240000004"][0] == "OUT_OF_BUSINESS"  # "Out of Business" in the file
    assert rows["T20240000005"] == ("TOO_OLD", None, None, None)


def test_restored_serial_and_obliterated_flag_are_both_kept(empty_db, sql):
    load_file(FIXTURES / "traces_signals.csv", progress=False)
    firearm = sql("SELECT f.serial_number, f.serial_obliterated, f.serial_restored, f.firearm_key FROM firearm f "
                  "JOIN trace t ON t.firearm_id = f.id WHERE t.trace_number = 'T20240000003'")
    assert firearm == [("RST-333", True, True, "GLOCK|RST333")]
    # The restored serial identifies the gun: recovered again under its serial, it is the same firearm.
    assert sql("SELECT serial_obliterated, serial_restored FROM firearm f JOIN trace t ON t.firearm_id = f.id "
               "WHERE t.trace_number = 'T20240000001'") == [(False, None)]


def test_bad_outcomes_and_contradictions_are_rejected_with_a_reason(empty_db, sql):
    result = load_file(FIXTURES / "traces_signals.csv", progress=False)
    reasons = _reasons(sql, result.run_id)
    assert "trace_status 'LOST_IN_MAIL' is not one of" in reasons[7] and "OUT_OF_BUSINESS" in reasons[7]
    assert "stolen_report_date 2021-01-01 is before purchase_date 2022-06-01" in reasons[8]
    assert "restored_serial 'BAD008R'" in reasons[9] and "serial_obliterated is N" in reasons[9]
    assert "stolen_from 'NEIGHBOUR' is not FFL" in reasons[10]


def test_an_old_layout_file_loads_exactly_as_before(empty_db, sql):
    result = load_file(FIXTURES / "traces_canonical.csv", progress=False)
    assert (result.read, result.loaded, result.rejected) == (6, 4, 2)
    assert sql("SELECT count(*) FROM trace WHERE reported_stolen IS NOT NULL OR stolen_from IS NOT NULL "
               "OR stolen_report_date IS NOT NULL") == [(0,)]
    assert sql("SELECT count(*) FROM firearm WHERE serial_restored IS NOT NULL") == [(0,)]
    # Loading it again changes nothing: the new columns compare equal when the file does not carry them.
    again = load_file(FIXTURES / "traces_canonical.csv", progress=False)
    assert (again.loaded, again.updated, again.duplicate) == (0, 0, 4)


def test_nibin_test_fire_serial_and_evidence_date_and_place(empty_db, sql):
    load_file(FIXTURES / "traces_signals.csv", progress=False)
    result = load_file(FIXTURES / "nibin_signals.csv", progress=False)
    assert (result.read, result.loaded, result.rejected) == (4, 2, 2)
    rows = {r[0]: r[1:] for r in sql(
        "SELECT evidence_id, evidence_type, test_fire_serial, evidence_date, address, "
        "round(ST_Y(geom)::numeric, 4)::text, round(ST_X(geom)::numeric, 4)::text FROM ballistic_evidence")}
    assert rows["TF-T20240000010"] == ("TEST_FIRE", "TF010", dt.date(2024, 3, 12), "1000 N MOUNT ST",
                                       "39.3005", "-76.6455")
    # Named in two leads, the second without its date or place: the first lead's are kept.
    assert rows["24C00050-CC01"][1:4] == (None, dt.date(2024, 2, 2), "500 W NORTH AVE")
    assert rows["24C00051-CC01"][2] == dt.date(2024, 3, 1) and rows["24C00051-CC01"][3] is None
    reasons = _reasons(sql, result.run_id)
    assert "test_fire_serial_a 'SER1' is given for evidence 24C00052-CC01, a CASING" in reasons[4]
    assert "evidence_a_date 2024-04-01 is after lead_date 2024-03-25" in reasons[5]
    # The test fire still ties the gun to the scene.
    derive(full=True)
    assert sql("SELECT count(*) FROM ballistic_evidence e JOIN firearm f ON f.id = e.firearm_id "
               "WHERE e.evidence_id = 'TF-T20240000010' AND f.serial_number = 'TF010'") == [(1,)]


# --- ShotSpotter clock -----------------------------------------------------------------------------

SHOOTINGS = 30
START = dt.datetime(2024, 7, 1, 2, 0, tzinfo=dt.UTC)  # July: Baltimore is UTC-4


def _clock_files(tmp_path, start=START, tag=""):
    """30 shootings (2022-on Open Baltimore layout, UTC with an offset) and an alert for each, 60 m and a
    minute away, in the Chicago layout whose DATE carries no offset, written in UTC wall-clock time."""
    incidents, shots = tmp_path / f"shootings{tag}.csv", tmp_path / f"alerts{tag}.csv"
    with incidents.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["CCNumber", "CrimeDateTime", "CrimeCode", "Description", "Weapon", "Latitude", "Longitude"])
        for i in range(SHOOTINGS):
            when = start + dt.timedelta(days=i, hours=(i * 5) % 24)
            lat, lon = 39.28 + 0.002 * (i % 6), -76.66 + 0.003 * (i // 6)
            w.writerow([f"24G{tag}{i:05d}", when.strftime("%Y/%m/%d %H:%M:%S+00"), "9S", "SHOOTING", "FIREARM",
                        f"{lat:.5f}", f"{lon:.5f}"])
    with shots.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["DATE", "UNIQUE_ID", "INCIDENT_TYPE_DESCRIPTION", "ROUNDS", "LATITUDE", "LONGITUDE"])
        for i in range(SHOOTINGS):
            when = start + dt.timedelta(days=i, hours=(i * 5) % 24, minutes=-1)
            lat, lon = 39.28 + 0.002 * (i % 6) + 0.0005, -76.66 + 0.003 * (i // 6)
            w.writerow([when.strftime("%m/%d/%Y %I:%M:%S %p"), f"SST-{tag}{i}", "MULTIPLE GUNSHOTS", "3",
                        f"{lat:.5f}", f"{lon:.5f}"])
    return incidents, shots


def test_alerts_read_with_the_wrong_clock_are_caught_with_the_offset_that_fixes_them(empty_db, tmp_path):
    incidents, shots = _clock_files(tmp_path)
    load_file(incidents, progress=False)
    load_file(shots, progress=False)  # UTC wall-clock read as local (UTC-4): every alert lands 4 h late
    check = derive(full=True).clock_check
    assert check is not None and check.shootings == SHOOTINGS
    assert check.share < 0.1
    assert check.best_offset_hours == -4 and check.best_share == 1.0
    assert check.warning and "shifting the alerts by -4 h" in check.warning and "--timezone" in check.warning


def test_alerts_read_with_the_right_clock_do_not_warn(empty_db, tmp_path, monkeypatch):
    incidents, shots = _clock_files(tmp_path)
    load_file(incidents, progress=False)
    result = load_file(shots, progress=False, timezone="UTC")
    assert "times without a UTC offset read as UTC" in result.notes
    check = derive(full=True).clock_check
    assert (check.matched, check.share, check.best_offset_hours, check.warning) == (SHOOTINGS, 1.0, 0, None)
    # The per-source setting does the same as --timezone.
    monkeypatch.setenv("CGA_TZ_SHOTS", "UTC")
    load_file(shots, progress=False)
    assert derive(full=True).clock_check.warning is None


def test_a_new_file_read_with_the_wrong_clock_is_caught_among_months_read_right(empty_db, tmp_path):
    """After a load, the clock check judges the period the load brought: a month of alerts read with the wrong
    clock is caught even when the months before it, read right, would hide it in the share over all of them."""
    incidents, shots = _clock_files(tmp_path)
    load_file(incidents, progress=False)
    load_file(shots, progress=False, timezone="UTC")
    assert derive(full=True).clock_check.warning is None
    later_incidents, later_shots = _clock_files(tmp_path, START + dt.timedelta(days=40), tag="B")
    runs = [load_file(later_incidents, progress=False).run_id, load_file(later_shots, progress=False).run_id]
    check = derive(run_ids=runs).clock_check
    assert check.shootings == SHOOTINGS and check.best_offset_hours == -4
    assert check.warning and "shifting the alerts by -4 h" in check.warning
    whole = derive(full=True).clock_check  # over both months: half match either way
    assert whole.shootings == 2 * SHOOTINGS and whole.warning is None


def test_an_unknown_time_zone_stops_the_load(empty_db, tmp_path):
    from etl.errors import LoadError

    _, shots = _clock_files(tmp_path)
    with pytest.raises(LoadError, match="time zone 'Mars/Olympus' is not known"):
        load_file(shots, progress=False, timezone="Mars/Olympus")


def test_clock_check_pairs_only_alerts_near_in_time_and_counts_as_pairing_them_all(synthetic_db):
    """The clock check pairs a shooting only with alerts within the widest offset tried (plus the match
    window): the same coverage, matches and shares as pairing it with every alert near it over all the
    years, on synthetic Baltimore as loaded and with every alert moved 3 h."""
    import psycopg

    from etl.clock import CLOCK_OFFSETS, MATCH_METERS, MATCH_MINUTES, clock_check
    from layers import db

    every_pair = """
        WITH span AS (SELECT min(alert_time) AS lo, max(alert_time) AS hi FROM shot_alert),
        sh AS (SELECT i.id, i.agency, i.crime_datetime, i.geom FROM incident i CROSS JOIN span
               WHERE i.is_firearm AND i.category IN ('shooting', 'homicide') AND i.geom IS NOT NULL
                 AND i.crime_datetime BETWEEN span.lo - make_interval(hours => 12) AND span.hi + make_interval(hours => 12)),
        pair AS (SELECT sh.id, extract(epoch FROM sh.crime_datetime - a.alert_time) AS d
                 FROM sh JOIN shot_alert a ON a.agency = sh.agency AND ST_DWithin(a.geom, sh.geom, 0.005)
                      AND ST_DistanceSphere(a.geom, sh.geom) <= %(m)s)
        SELECT h, (SELECT count(DISTINCT id) FROM pair),
               (SELECT count(DISTINCT id) FROM pair WHERE abs(d - h * 3600) <= %(min)s * 60)
        FROM generate_series(-12, 12) h ORDER BY h"""
    assert (min(CLOCK_OFFSETS), max(CLOCK_OFFSETS)) == (-12, 12)
    with psycopg.connect(db.dsn(synthetic_db)) as conn:
        for shift in (0, 3):
            with conn.transaction():
                conn.execute("UPDATE shot_alert SET alert_time = alert_time + make_interval(hours => %s)", (shift,))
                rows = conn.execute(every_pair, {"m": MATCH_METERS, "min": MATCH_MINUTES}).fetchall()
                check = clock_check(conn)
                covered = rows[0][1]
                assert covered > 50 and check.shootings == covered
                assert check.shares == {h: n / covered for h, _, n in rows}, shift
                assert check.best_offset_hours == -shift
                raise psycopg.Rollback()  # leave the shared database as it was


def test_the_clock_check_judges_a_sample_when_a_period_holds_more_shootings_than_a_share_needs(
        empty_db, tmp_path, monkeypatch):
    """Past CLOCK_SAMPLE shootings the check judges a sample of them, the same one on every run: a wrong
    clock is still caught with the offset that fixes it, and the message says how many it judged of how many."""
    from etl import clock

    incidents, shots = _clock_files(tmp_path)
    load_file(incidents, progress=False)
    load_file(shots, progress=False)  # 4 h late, as in the first test
    whole = derive(full=True).clock_check
    assert whole.sampled_from is None and "sample" not in whole.message
    monkeypatch.setattr(clock, "CLOCK_SAMPLE", SHOOTINGS // 2)
    check = derive(full=True).clock_check
    assert check.shootings == SHOOTINGS // 2 and check.sampled_from == SHOOTINGS
    assert check.best_offset_hours == -4 and check.best_share == 1.0 and check.warning
    assert f"judged on a sample of {SHOOTINGS // 2:,} of the period's {SHOOTINGS:,} shootings" in check.message
    again = derive(full=True).clock_check
    assert (again.shootings, again.shares) == (check.shootings, check.shares)
