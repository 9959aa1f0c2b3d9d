"""derive after a run does only the work the run's source kinds call for: steps that read other kinds are
skipped, alerts are matched only where the run could change a match, and a derive with nothing new returns
at once; a full derive still does everything."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from etl.derive import derive
from layers import db, density
from layers.map_filters import TTC_BAND_SQL, MapFilters
from tests.conftest import add_run, derive_city

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def city(database_url, tmp_path_factory):
    with derive_city(tmp_path_factory, "dderive") as url:
        yield url


MATCHED = "SELECT count(*) FROM shot_alert WHERE incident_id IS NOT NULL AND alert_time >= %s AND alert_time < %s"
JUNE, JULY, NEXT_YEAR = "2023-06-01 04:00+00", "2023-07-01 04:00+00", "2024-01-01 05:00+00"


def test_an_incident_run_matches_the_alerts_near_its_incidents_only(city):
    with psycopg.connect(city) as conn:
        june = conn.execute(MATCHED, (JUNE, JULY)).fetchone()[0]
        everything = conn.execute(MATCHED, ("2000-01-01", NEXT_YEAR)).fetchone()[0]
        assert june and everything > june, "the synthetic city must have alerts matched in and outside June"
        # As if the alerts had been loaded before the incidents: nothing matched yet.
        conn.execute("UPDATE shot_alert SET incident_id = NULL")
        run = add_run(conn, "incidents")
        conn.execute("UPDATE incident SET run_id = %s WHERE crime_datetime >= %s AND crime_datetime < %s",
                     (run, JUNE, JULY))
        conn.commit()
    timings = derive(dsn=city, run_ids=[run])
    assert "alerts corroborating incidents" in timings
    assert "trace dealers and time-to-crime" not in timings and "dealer flags" not in timings
    with psycopg.connect(city) as conn:
        assert conn.execute(MATCHED, (JUNE, JULY)).fetchone()[0] == june
        assert conn.execute(MATCHED, ("2000-01-01", NEXT_YEAR)).fetchone()[0] == june, \
            "alerts far from the run's incidents are left alone"
    derive(dsn=city, full=True)
    with psycopg.connect(city) as conn:
        assert conn.execute(MATCHED, ("2000-01-01", NEXT_YEAR)).fetchone()[0] == everything


def test_a_shotspotter_run_skips_what_does_not_read_alerts(city):
    with psycopg.connect(city) as conn:
        run = add_run(conn, "shots")
        conn.commit()
    timings = derive(dsn=city, run_ids=[run])
    assert {"alert districts", "alerts corroborating incidents", "daily counts", "clock check"} <= set(timings)
    assert not {"trace dealers and time-to-crime", "recovery districts", "evidence incidents and guns",
                "NIBIN gun groups and firearm links", "incident districts"} & set(timings)
    again = derive(dsn=city)
    assert list(again) == ["nothing to derive"]


CELLS = ("SELECT layer, day, district, kind, i, j, sum(n) FROM derived.map_cell_day GROUP BY 1, 2, 3, 4, 5, 6 "
         "ORDER BY 1, 2, 3, 4, 5, 6")
MOVED = ("SELECT id FROM incident WHERE is_firearm AND category IN ('shooting', 'homicide') AND geom IS NOT NULL "
         "AND crime_datetime >= %s AND crime_datetime < %s ORDER BY id LIMIT 25")


def test_a_run_recounts_the_map_cells_of_the_days_it_touched(city):
    """The derive keeps the map's density cells by day: after a run moving some June shootings a kilometre
    east, they are what recounting every point gives, and the map may use them."""
    engine = db.engine(city.replace("postgresql://", "postgresql+psycopg://", 1))
    for east in (0.012, -0.012):  # there and back, leaving the city as it was for the other tests
        with psycopg.connect(city) as conn:
            before = conn.execute(CELLS).fetchall()
            run = add_run(conn, "incidents")
            conn.execute(f"UPDATE incident SET run_id = %s, geom = ST_Translate(geom, %s, 0) WHERE id IN ({MOVED})",
                         (run, east, JUNE, JULY))
            conn.commit()
        derive(dsn=city, run_ids=[run])
        with psycopg.connect(city) as conn:
            kept = conn.execute(CELLS).fetchall()
            days = conn.execute("SELECT count(DISTINCT day) FROM derived.map_cell_day WHERE layer = 'shootings'"
                                ).fetchone()[0]
        assert kept != before and days > 20
        assert density.precomputed("shootings", MapFilters(dt.date(2023, 6, 1), dt.date(2023, 6, 30)), 12)
        density.refresh_map_cells(engine, cells=True)
        with psycopg.connect(city) as conn:
            assert conn.execute(CELLS).fetchall() == kept
    engine.dispose()


# A recovery's copies of what its map marker and the map's filters read, against the gun and trace they copy.
MARKERS_DISAGREE = f"""SELECT count(*) FROM recovery p JOIN trace t ON t.id = p.trace_id JOIN firearm f ON f.id = p.firearm_id
    WHERE (p.firearm_type, p.ttc_band, p.source_state, p.source_in_state)
          IS DISTINCT FROM (f.firearm_type, {TTC_BAND_SQL}, t.source_state, t.source_in_state)"""


def test_a_dealer_or_trace_run_carries_its_changes_to_the_recovery_markers(city):
    with psycopg.connect(city) as conn:
        assert conn.execute(MARKERS_DISAGREE).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM recovery WHERE firearm_type IS NULL OR ttc_band IS NULL").fetchone()[0] == 0
        dealer, recovery, state = conn.execute(
            "SELECT d.id, p.id, d.premise_state FROM recovery p JOIN trace t ON t.id = p.trace_id "
            "JOIN dealer d ON d.id = t.dealer_id WHERE d.premise_state = 'MD' LIMIT 1").fetchone()
        run = add_run(conn, "dealers")
        conn.execute("UPDATE dealer SET premise_state = 'PA', run_id = %s WHERE id = %s", (run, dealer))
        conn.commit()
    assert "recovery markers" in derive(dsn=city, run_ids=[run])
    with psycopg.connect(city) as conn:
        assert conn.execute("SELECT source_state, source_in_state FROM recovery WHERE id = %s",
                            (recovery,)).fetchone() == ("PA", False)
        assert conn.execute(MARKERS_DISAGREE).fetchone()[0] == 0
        firearm = conn.execute("SELECT firearm_id FROM recovery WHERE id = %s", (recovery,)).fetchone()[0]
        run = add_run(conn, "traces")
        conn.execute("UPDATE firearm SET firearm_type = 'DERRINGER' WHERE id = %s", (firearm,))
        conn.execute("UPDATE dealer SET premise_state = %s WHERE id = %s", (state, dealer))
        conn.commit()
    derive(dsn=city, run_ids=[run])
    with psycopg.connect(city) as conn:
        assert conn.execute("SELECT firearm_type, source_state FROM recovery WHERE id = %s",
                            (recovery,)).fetchone() == ("DERRINGER", state)
        assert conn.execute(MARKERS_DISAGREE).fetchone()[0] == 0


SCORES = ("SELECT 'f', firearm_id, score FROM index.firearm_score UNION ALL SELECT 'p', person_id, score "
          "FROM index.purchaser_score UNION ALL SELECT 'd', dealer_id, score FROM index.dealer_score "
          "UNION ALL SELECT 'u', gun_group, incidents * 1000 + shootings FROM index.unrecovered ORDER BY 1, 2")
EVIDENCE_CASE = "EXISTS (SELECT 1 FROM ballistic_evidence e WHERE e.agency = i.agency AND e.case_number = i.cc_number)"


def test_an_incident_run_leaves_the_index_alone_unless_nibin_evidence_names_its_cases(city):
    from etl import index

    index.refresh(city, full=True)
    with psycopg.connect(city) as conn:
        before = conn.execute(SCORES).fetchall()
        assert before and conn.execute(f"SELECT count(*) FROM incident i WHERE {EVIDENCE_CASE}").fetchone()[0]
        run = add_run(conn, "incidents")
        conn.execute(f"UPDATE incident SET run_id = %s, category = 'homicide' WHERE id IN "
                     f"(SELECT i.id FROM incident i WHERE NOT {EVIDENCE_CASE} LIMIT 50)", (run,))
        conn.commit()
    assert "trafficking index" not in derive(dsn=city, run_ids=[run])
    index.refresh(city, full=True)
    with psycopg.connect(city) as conn:
        assert conn.execute(SCORES).fetchall() == before, "what the run changed reaches no score"
        run = add_run(conn, "incidents")
        conn.execute(f"UPDATE incident SET run_id = %s WHERE id = (SELECT i.id FROM incident i WHERE {EVIDENCE_CASE} "
                     "LIMIT 1)", (run,))
        conn.commit()
    assert "trafficking index" in derive(dsn=city, run_ids=[run])


GUN_SCENES = "SELECT firearm_id, incident_id, via, lead_id, lead_status FROM firearm_incident ORDER BY 1, 2"
GROUPS = "NIBIN gun groups and firearm links"
EVIDENCE_LINKS = "SELECT id, incident_id, firearm_id FROM ballistic_evidence ORDER BY id"


def test_an_incident_run_links_guns_to_scenes_again_only_when_it_moves_a_link(city):
    """Guns are tied to scenes through the incidents of recoveries and NIBIN evidence: a run changing
    incidents no recovery or evidence points to leaves the links alone; one that moves a recovery's
    incident (its case number changed) links again, as a full derive would."""
    with psycopg.connect(city) as conn:
        before = conn.execute(GUN_SCENES).fetchall()
        run = add_run(conn, "incidents")
        conn.execute(f"UPDATE incident SET run_id = %s, category = 'homicide' WHERE id IN (SELECT i.id FROM incident i "
                     f"WHERE NOT {EVIDENCE_CASE} AND NOT EXISTS (SELECT 1 FROM recovery r WHERE r.agency = i.agency "
                     "AND r.case_number = i.cc_number) LIMIT 50)", (run,))
        conn.commit()
    timings = derive(dsn=city, run_ids=[run])
    assert "recovery incidents" in timings and GROUPS not in timings
    with psycopg.connect(city) as conn:
        assert conn.execute(GUN_SCENES).fetchall() == before
        incident, case = conn.execute("SELECT i.id, i.cc_number FROM incident i JOIN recovery r ON r.incident_id = i.id "
                                      f"WHERE NOT {EVIDENCE_CASE} ORDER BY i.id LIMIT 1").fetchone()
        named, named_case = conn.execute(f"SELECT i.id, i.cc_number FROM incident i WHERE {EVIDENCE_CASE} AND "
                                         "NOT EXISTS (SELECT 1 FROM incident o WHERE o.agency = i.agency AND "
                                         "o.cc_number = i.cc_number AND o.id <> i.id) ORDER BY i.id LIMIT 1").fetchone()
    # A recovered gun's incident, then an incident NIBIN evidence names: each case number changed, then put back.
    for moved, case_number in ((incident, case), (named, named_case)):
        for cc in (case_number + "X", case_number):
            with psycopg.connect(city) as conn:
                run = add_run(conn, "incidents")
                conn.execute("UPDATE incident SET run_id = %s, cc_number = %s WHERE id = %s", (run, cc, moved))
                conn.commit()
            assert GROUPS in derive(dsn=city, run_ids=[run])
            with psycopg.connect(city) as conn:
                linked = conn.execute(GUN_SCENES).fetchall()
                evidence = conn.execute(EVIDENCE_LINKS).fetchall()
            assert (moved in {i for _, i, *_ in linked}) == (cc == case_number)
            assert (moved in {i for _, i, _ in evidence}) == (moved == named and cc == case_number)
            derive(dsn=city, full=True)
            with psycopg.connect(city) as conn:
                assert conn.execute(GUN_SCENES).fetchall() == linked
                assert conn.execute(EVIDENCE_LINKS).fetchall() == evidence
    assert linked == before


def test_the_derive_analyses_the_tables_a_run_changed_by_more_than_a_tenth(city):
    """A day's export changes a sliver of the incident table: its derive reads no statistics samples (left to
    autovacuum); a load changing more than a tenth of a table has it analysed before the derive plans on it."""
    from etl.derive import LOADED_TABLES, _stale_tables

    with psycopg.connect(city) as conn:
        conn.execute("ANALYZE incident")
        counted = conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'incident'::regclass").fetchone()[0]
        assert counted > 1000
        small, big = add_run(conn, "incidents", int(0.05 * counted)), add_run(conn, "incidents", int(0.2 * counted))
        assert _stale_tables(conn, [small], full=False) == []
        assert _stale_tables(conn, [small, big], full=False) == ["incident"]
        every = sorted({t for tables in LOADED_TABLES.values() for t in tables})
        assert _stale_tables(conn, [small], full=True) == every
        assert _stale_tables(conn, [add_run(conn, "something new", 1)], full=False) == every
        conn.rollback()


def test_derive_summarizes_the_block_ranges_a_load_left_unsummarized(city):
    """The run lookups read block-range indexes (migration 0016); the ranges of a load's new rows wait for
    autovacuum, whose requests overflow in a big build. The derive summarizes what is left before reading."""
    summarize = "SELECT brin_summarize_new_values('ix_shot_alert_run_ranges')"
    with psycopg.connect(city, autocommit=True) as conn:
        conn.execute("ALTER TABLE shot_alert SET (autovacuum_enabled = off)")
        conn.execute("ALTER INDEX ix_shot_alert_run_ranges SET (autosummarize = off)")
        try:
            conn.execute(summarize)
            moved = []
            for copy in range(2):  # once to see that a run's rows leave ranges unsummarized, once for the derive
                run = add_run(conn, "shots")
                # Copies of each alert, hours later, as the run's: new rows on new pages, past the last range
                # summarized (32 pages; the city's alerts fill 13).
                conn.execute(f"""INSERT INTO shot_alert (agency, source_key, source_id, alert_time, alert_type, rounds,
                        address, reported_district, beat, source_layout, geom, district, run_id)
                    SELECT agency, source_key || ':copy{copy}:' || n, source_id, alert_time + n * interval '1 hour',
                        alert_type, rounds, address, reported_district, beat, source_layout, geom, district, %s
                    FROM shot_alert, generate_series(1, 6) n WHERE source_key NOT LIKE '%%:copy%%'""", (run,))
                moved.append(run)
                if len(moved) == 1:
                    assert conn.execute(summarize).fetchone()[0] > 0
            derive(dsn=city, run_ids=[moved[-1]])
            assert conn.execute(summarize).fetchone()[0] == 0
        finally:
            conn.execute("DELETE FROM shot_alert WHERE source_key LIKE '%:copy%'")
            conn.execute("ALTER TABLE shot_alert RESET (autovacuum_enabled)")
            conn.execute("ALTER INDEX ix_shot_alert_run_ranges SET (autosummarize = on)")


def test_a_batch_session_has_the_derive_memory_and_no_open_transaction(city):
    with db.batch_session(psycopg.connect(city)) as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        conn.execute("CREATE TEMP TABLE t AS SELECT 1")  # temporary tables use the larger buffers
        assert conn.execute("SHOW temp_buffers").fetchone()[0] == "256MB"
        assert conn.execute("SHOW work_mem").fetchone()[0] == "256MB"
