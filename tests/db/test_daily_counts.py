"""The daily counts (layers/daily.py, migration 0008) against the scans they replace, on a synthetic
Baltimore spanning the 2023 redistricting: whole-city counts, choropleths of every boundary kind, the
district table and panel and the public charts, for several filter combinations and periods; the
incremental refresh after a run, a reloaded record that moved to another day, and a derive with nothing
to do."""

from __future__ import annotations

import datetime as dt
import os

import psycopg
import pytest

from etl.derive import derive
from layers import access, daily, district_panel, public_stats, viewport
from layers.map_filters import MapFilters
from tests.conftest import add_run, build_synthetic_database, drop_database, project_database, query_runner

pytestmark = pytest.mark.db

ANALYST = access.Viewer("daily-test", "analyst", purpose="daily count tests")
PRESS = access.Viewer("daily-press", "press")
COMMANDER = access.Viewer("daily-commander", "commander")


@pytest.fixture(scope="module")
def two_maps_url(database_url, tmp_path_factory):
    """A small synthetic Baltimore over 2022-2023: points on both police district maps."""
    url = build_synthetic_database(f"cga_test_{os.getpid()}_daily", tmp_path_factory.mktemp("daily"), seed=23,
                                   scale=0.04, years=(2022, 2023))
    yield url
    drop_database(url)


@pytest.fixture
def city(two_maps_url, monkeypatch):
    with project_database(two_maps_url, monkeypatch) as url:
        yield url


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def filter_sets(q) -> list[MapFilters]:
    """Periods (a week, a month across New Year, a year, one spanning the 2023 redistricting, a DST change)
    times filter combinations, with values the data holds."""
    district = q("SELECT district FROM incident WHERE district IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 2")
    districts = tuple(r[0] for r in district)
    alert_type = q("SELECT alert_type FROM shot_alert GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
    firearm_type = q("SELECT firearm_type FROM firearm GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
    state = q("SELECT source_state FROM trace WHERE source_state IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC "
              "LIMIT 1")[0][0]
    periods = [(dt.date(2022, 3, 7), dt.date(2022, 3, 14)), (dt.date(2022, 12, 15), dt.date(2023, 1, 14)),
               (dt.date(2023, 1, 1), dt.date(2023, 12, 31)), (dt.date(2022, 6, 1), dt.date(2023, 5, 31))]
    combos = [dict(), dict(districts=districts), dict(alert_types=(alert_type,), firearm_types=(firearm_type,)),
              dict(ttc_bands=("under 1 year", "unknown"), districts=districts[:1]),
              dict(source_states=(state,)), dict(out_of_state_only=True)]
    return [MapFilters(start=a, end=b, **c) for a, b in periods for c in combos]


def both(fn, *args, **kwargs):
    """fn's answer from the daily tables, and from the scans."""
    from layers.db import read_engine

    with read_engine().connect() as conn:
        assert daily.usable(conn), "the derived database must hold current daily counts"
    fast = fn(*args, **kwargs)
    with daily.scans_only():
        slow = fn(*args, **kwargs)
    return fast, slow


@pytest.mark.parametrize("viewer", [ANALYST, PRESS], ids=["analyst", "press"])
def test_map_counts_equal_the_scans(city, viewer):
    """What each role receives is the same from the daily counts as from the scans (press: small counts
    suppressed the same way)."""
    q = query_runner(city)
    checked = 0
    with access.use_viewer(viewer):
        for f in filter_sets(q):
            fast, slow = both(viewport.layer_totals, f)
            assert fast == slow, f
            checked += sum(slow.values())
            for kind in ("district", "neighborhood", "csa"):
                fast, slow = both(district_panel.boundary_measures, kind, f)
                assert fast == slow, (kind, f)
            fast, slow = both(district_panel.district_table, f, viewer)
            assert fast == slow, f
    assert checked > 1000, "the filters must select real data"


@pytest.mark.parametrize("viewer", [ANALYST, COMMANDER, PRESS], ids=["analyst", "commander", "press"])
def test_source_ranking_equals_the_scans(city, viewer):
    """Counts, shares and median time-to-crime of source states and dealers, from the weighted daily rows."""
    q = query_runner(city)
    medians = 0
    with access.use_viewer(viewer):
        for f in filter_sets(q):
            fast, slow = both(district_panel.source_ranking, f, viewer)
            assert fast == slow, f
            medians += sum(1 for r in fast["states"] + fast["dealers"] if r["median_ttc"] is not None)
    assert medians > (5 if viewer is PRESS else 20), "medians must be compared too"


@pytest.mark.parametrize("viewer", [ANALYST, COMMANDER], ids=["analyst", "commander"])
def test_source_dealers_and_flows_equal_the_scans(city, viewer):
    """The national view's dealers and state flows from the daily source counts: the same dealers, guns and
    guns sold under a year; the same states and guns, each flow starting at its dealers' gun-weighted centroid."""
    from layers import dealers_map

    q = query_runner(city)
    compared = 0
    with access.use_viewer(viewer):
        for f in filter_sets(q):
            fast, slow = both(dealers_map.source_dealers, f)
            assert fast == slow, f
            fast, slow = both(dealers_map.state_flows, f)
            assert [x["properties"] for x in fast["geojson"]["features"]] == \
                [x["properties"] for x in slow["geojson"]["features"]], f
            assert {k: v for k, v in fast.items() if k not in ("geojson", "labels")} == \
                {k: v for k, v in slow.items() if k not in ("geojson", "labels")}, f
            for a, b in zip(fast["geojson"]["features"], slow["geojson"]["features"], strict=True):
                for (x1, y1), (x2, y2) in zip(a["geometry"]["coordinates"], b["geometry"]["coordinates"], strict=True):
                    assert abs(x1 - x2) < 1e-3 and abs(y1 - y2) < 1e-3, (f, a, b)
            compared += len(slow["geojson"]["features"])
    assert compared > 20, "flows must be compared too"
    with access.use_viewer(viewer):
        fast, slow = both(dealers_map.source_states)
    assert fast == slow and len(fast) > 3


def test_redistricting_counts_each_point_in_its_own_map(city):
    """Over 2022-2023 the district table holds districts of both maps, as the scans count them."""
    q = query_runner(city)
    f = MapFilters(start=dt.date(2022, 1, 1), end=dt.date(2023, 12, 31))
    with access.use_viewer(ANALYST):
        fast, slow = both(district_panel.district_table, f)
    assert fast == slow
    maps = q("SELECT count(DISTINCT valid_from) FROM boundary WHERE kind = 'district'")[0][0]
    assert maps == 2, "the fixture must hold both police district maps"
    moved = q("""SELECT count(*) FROM incident i JOIN boundary b ON b.kind = 'district' AND b.valid_to IS NULL
                 AND ST_Intersects(b.geom, i.geom)
                 WHERE i.crime_datetime < '2023-01-01' AND i.district IS DISTINCT FROM b.name""")[0][0]
    assert moved, "some 2022 points must lie in a differently named district on the 2023 map"
    with access.use_viewer(ANALYST):
        halves = [district_panel.district_table(MapFilters(start=a, end=b)) for a, b in
                  ((dt.date(2022, 1, 1), dt.date(2022, 12, 31)), (dt.date(2023, 1, 1), dt.date(2023, 12, 31)))]
    for row in fast:
        for key in district_panel.TABLE_MEASURES:
            parts = [next((r[key] for r in half if r["district"] == row["district"]), 0) for half in halves]
            assert row[key] == sum(parts), (row["district"], key)


@pytest.mark.parametrize("viewer", [ANALYST, COMMANDER, PRESS], ids=["analyst", "commander", "press"])
def test_district_panel_equals_the_scans(city, viewer):
    q = query_runner(city)
    names = [r[0] for r in q("SELECT DISTINCT district FROM incident WHERE district IS NOT NULL ORDER BY 1")][:4]
    listed = 0
    with access.use_viewer(viewer):
        for f in filter_sets(q)[::3]:
            for name in names:
                fast, slow = both(district_panel.district_panel, name, f)
                assert fast == slow, (name, f)
                listed += len(fast["top_locations"])
    assert listed or viewer is PRESS, "top locations must be compared too"


@pytest.mark.parametrize("viewer", [ANALYST, PRESS], ids=["analyst", "press"])
def test_public_charts_equal_the_scans(city, viewer):
    q = query_runner(city)
    districts = [q("SELECT district FROM recovery WHERE district IS NOT NULL LIMIT 1")[0][0]]
    with access.use_viewer(viewer):
        for start, end in ((dt.date(2022, 1, 1), dt.date(2023, 12, 31)), (dt.date(2023, 2, 10), dt.date(2023, 8, 3))):
            for ds in (None, districts):
                for key, fn in public_stats.FUNCTIONS.items():
                    fast, slow = both(fn, start, end, ds)
                    assert fast == slow, (key, start, end, ds)
                fast, slow = both(public_stats.out_of_state_share, start, end, ds)
                assert fast == slow


def test_incremental_refresh_recomputes_only_the_touched_days(city):
    """A run adding alerts on two days and moving one shooting to another day: derive recomputes those days
    (the moved record's old day through the totals check) and the counts equal the scans again."""
    q = query_runner(city)
    with psycopg.connect(dsn(city)) as conn:
        run = add_run(conn, "shots")
        conn.execute("""
            INSERT INTO shot_alert (agency, source_key, alert_time, alert_type, rounds, geom, source_layout, run_id)
            SELECT agency, md5(source_key || '-again'), alert_time + interval '1 day', alert_type,
                   rounds, geom, source_layout, %s FROM shot_alert WHERE alert_time::date IN ('2023-04-10', '2023-04-11')""", (run,))
        moved = conn.execute("""SELECT id FROM incident WHERE is_firearm AND category = 'shooting'
                                AND crime_datetime >= '2023-05-01' ORDER BY id LIMIT 1""").fetchone()[0]
        conn.execute("UPDATE incident SET crime_datetime = crime_datetime - interval '40 days', run_id = %s WHERE id = %s",
                     (run, moved))
        conn.commit()
        touched = daily.refresh(conn, [run])
        conn.rollback()  # keep the refresh for derive to do: this call only reports what it would recompute
    assert touched["alerts"] in (1, 2, 3) and touched["recoveries"] == 0
    assert touched["shootings"] == "full", "the moved shooting's old day is found through the totals"
    timings = derive(dsn=dsn(city), run_ids=[run])
    assert "daily counts" in timings
    f = MapFilters(start=dt.date(2023, 3, 1), end=dt.date(2023, 6, 30))
    with access.use_viewer(ANALYST):
        fast, slow = both(viewport.layer_totals, f)
        assert fast == slow
        fast, slow = both(district_panel.boundary_measures, "neighborhood", f)
        assert fast == slow
        moved_to = q("SELECT district FROM incident WHERE id = %s", (moved,))[0][0]
        panel_fast, panel_slow = both(district_panel.district_panel, moved_to, f)
        assert panel_fast == panel_slow
    expected = q("SELECT count(*) FROM shot_alert WHERE alert_time >= '2023-03-01 05:00+00' "
                 "AND alert_time < '2023-07-01 04:00+00'")[0][0]
    assert fast and expected


def test_derive_with_nothing_new_returns_at_once(city):
    first = derive(dsn=dsn(city))  # derives whatever an earlier test left pending
    again = derive(dsn=dsn(city))
    assert "nothing to derive" in again and len(again) == 1, again
    assert again["nothing to derive"] < 0.5
    assert first is not None


def test_stale_daily_counts_are_not_used(city):
    """A run not yet derived: readers scan (and get the new rows) until derive catches up."""
    with psycopg.connect(dsn(city)) as conn:
        run = add_run(conn, "shots")
        conn.execute("""INSERT INTO shot_alert (agency, source_key, alert_time, alert_type, rounds, geom,
                        source_layout, run_id) SELECT agency, md5(source_key || '-stale'), alert_time, alert_type,
                        rounds, geom, source_layout, %s FROM shot_alert WHERE alert_time::date = '2023-09-05'""", (run,))
        added = conn.execute("SELECT count(*) FROM shot_alert WHERE run_id = %s", (run,)).fetchone()[0]
        conn.commit()
    assert added
    f = MapFilters(start=dt.date(2023, 9, 1), end=dt.date(2023, 9, 30))
    from layers.db import read_engine

    with access.use_viewer(ANALYST):
        with read_engine().connect() as conn:
            assert not daily.usable(conn)
        stale = viewport.layer_totals(f)
        derive(dsn=dsn(city))
        with read_engine().connect() as conn:
            assert daily.usable(conn)
        assert viewport.layer_totals(f) == stale


def _makers_scan(q, f: MapFilters, top: int) -> list[dict]:
    """The top makers under any filters, counted from the recoveries themselves (independent of the daily rows)."""
    from sqlalchemy import text

    from layers.db import read_engine
    from layers.map_filters import LAYERS, where_clause

    where, params = where_clause(LAYERS["recoveries"], f)
    with read_engine().connect() as conn:
        return [dict(r) for r in conn.execute(text(f"""
            SELECT coalesce(nullif(trim(f.manufacturer), ''), 'UNKNOWN') AS manufacturer, count(*)::int AS n
            FROM {LAYERS["recoveries"].from_sql} WHERE {where} GROUP BY 1 ORDER BY n DESC, 1 LIMIT :top"""),
            {**params, "top": top}).mappings()]


def test_daily_makers_equal_the_scan_under_every_filter(city):
    """The makers' daily rows under every period and filter combination the map uses (firearm type, time-to-crime
    band, source state, out of state, districts): the same makers, counts and order as the scan."""
    from layers.db import read_engine

    q = query_runner(city)
    compared = 0
    for f in filter_sets(q):
        for top in (3, public_stats.TOP_MAKERS, 1000):
            with read_engine().connect() as conn:
                assert daily.usable(conn) and daily.has_makers(conn)
                fast = daily.ranked_makers(conn, f, top)
            assert fast == _makers_scan(q, f, top), (f, top)
            compared += sum(r["n"] for r in fast)
    assert compared > 1000, "the filters must select real recoveries"


@pytest.mark.parametrize("viewer", [ANALYST, COMMANDER, PRESS], ids=["analyst", "commander", "press"])
def test_top_makers_and_year_to_date_equal_the_scans(city, viewer):
    """The two public charts that scanned longest, from the daily tables, as each role receives them (press: small
    counts suppressed the same way): every period of the filter sets, all districts, one and two."""
    q = query_runner(city)
    districts = tuple(r[0] for r in q("SELECT district FROM recovery WHERE district IS NOT NULL GROUP BY 1 "
                                      "ORDER BY count(*) DESC LIMIT 2"))
    periods = sorted({(f.start, f.end) for f in filter_sets(q)} | {(dt.date(2023, 1, 1), dt.date(2023, 3, 12))})
    makers = suppressed = shown = 0
    with access.use_viewer(viewer):
        for start, end in periods:
            for ds in (None, districts[:1], districts):
                for limit in (public_stats.TOP_MAKERS, 3):
                    fast, slow = both(public_stats.top_makers, start, end, ds, limit=limit)
                    assert fast == slow, (start, end, ds, limit)
                    makers += len(fast)
                    suppressed += sum(1 for r in fast if r["guns"] is None)
                fast, slow = both(public_stats.ytd_comparison, start, end, ds)
                assert fast == slow, (start, end, ds)
                shown += sum(1 for r in fast if r["this_year"] or r["last_year"])
    assert makers > 50 and shown > 20
    assert suppressed if viewer is PRESS else not suppressed


def test_makers_follow_a_traces_run(city):
    """A run renaming the maker of the guns recovered on one day recomputes that day's makers; a recovery moved
    to another day recomputes the recoveries in full; the top makers equal the scans after each derive."""
    q = query_runner(city)
    # The busiest day whose guns were recovered on no other day (renaming a gun's maker touches every day it
    # was recovered on), ties broken by date so every run picks the same day.
    day = q("SELECT p.recovery_date FROM recovery p WHERE p.recovery_date >= '2023-01-01' GROUP BY 1 "
            "HAVING bool_and(NOT EXISTS (SELECT 1 FROM recovery o WHERE o.firearm_id = p.firearm_id "
            "AND o.recovery_date <> p.recovery_date)) ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]
    start, end = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
    with psycopg.connect(dsn(city)) as conn:
        run = add_run(conn, "traces")
        conn.execute("UPDATE firearm f SET manufacturer = 'ACME DAILY TEST', run_id = %s FROM recovery p "
                     "WHERE p.firearm_id = f.id AND p.recovery_date = %s", (run, day))
        conn.commit()
        touched = daily.refresh(conn, [run])
        conn.rollback()
    assert touched["recoveries"] == 1
    derive(dsn=dsn(city), run_ids=[run])
    with access.use_viewer(ANALYST):
        fast, slow = both(public_stats.top_makers, start, end, None, limit=1000)
    assert fast == slow and "ACME DAILY TEST" in {r["manufacturer"] for r in fast}
    with psycopg.connect(dsn(city)) as conn:
        run = add_run(conn, "traces")
        moved = conn.execute("SELECT p.id FROM recovery p JOIN firearm f ON f.id = p.firearm_id "
                             "WHERE f.manufacturer = 'ACME DAILY TEST' ORDER BY p.id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE recovery SET recovery_date = recovery_date + 60 WHERE id = %s", (moved,))
        conn.execute("UPDATE trace SET run_id = %s WHERE id = (SELECT trace_id FROM recovery WHERE id = %s)", (run, moved))
        conn.commit()
        touched = daily.refresh(conn, [run])
        conn.rollback()
    assert touched["recoveries"] == "full", "the moved recovery's old day is found through the totals"
    derive(dsn=dsn(city), run_ids=[run])
    with access.use_viewer(ANALYST):
        for a, b in ((start, end), (day, day), (day + dt.timedelta(days=60), day + dt.timedelta(days=60))):
            fast, slow = both(public_stats.top_makers, a, b, None, limit=1000)
            assert fast == slow, (a, b)


def test_migration_fills_the_makers_as_derive_does(city):
    """Migration 0009 fills the new table from the rows loaded (so a current database need not be recounted):
    the same rows as derive's full refresh."""
    import importlib.util
    import pathlib

    path = pathlib.Path(daily.__file__).parent / "migrations" / "versions" / "0009_daily_makers.py"
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with psycopg.connect(dsn(city)) as conn:
        daily.refresh(conn, full=True)
        conn.execute("CREATE TEMP TABLE by_derive AS SELECT * FROM derived.daily_maker")
        conn.execute("DELETE FROM derived.daily_maker")
        conn.execute(migration.FILL_SQL)
        rows = conn.execute("SELECT count(*) FROM by_derive").fetchone()[0]
        differ = conn.execute("""SELECT count(*) FROM ((TABLE by_derive EXCEPT ALL TABLE derived.daily_maker)
                                 UNION ALL (TABLE derived.daily_maker EXCEPT ALL TABLE by_derive)) x""").fetchone()[0]
        conn.rollback()
    assert rows > 100 and differ == 0


def test_a_point_on_the_line_between_two_areas_counts_for_the_first_by_name(city):
    """The area counts' rule for a point two areas share (on their common border): the first by name, as
    the choropleth's scan counts it. Checked on an alert moved onto such a point, in a transaction that
    is rolled back."""
    with psycopg.connect(dsn(city)) as conn:
        shared = conn.execute("""
            SELECT a.name, b.name, d.geom FROM boundary a JOIN boundary b ON a.kind = 'neighborhood'
              AND b.kind = 'neighborhood' AND a.name < b.name AND a.geom && b.geom
            CROSS JOIN LATERAL ST_DumpPoints(a.geom) d
            WHERE ST_Intersects(b.geom, d.geom) LIMIT 1""").fetchone()
        assert shared, "the fixture must hold two neighborhoods with a common border"
        first, second, point = shared
        alert = conn.execute("SELECT id FROM shot_alert ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE shot_alert SET geom = %s WHERE id = %s", (point, alert))
        daily.refresh(conn, full=True)
        counted = dict(conn.execute(
            "SELECT area, sum(n) FROM derived.daily_area_count WHERE layer = 'alerts' AND area_kind = 'neighborhood'"
            " GROUP BY 1").fetchall())
        scanned = dict(conn.execute("""
            SELECT a.name, count(*) FROM shot_alert p CROSS JOIN LATERAL (
                SELECT b.name FROM boundary b WHERE b.kind = 'neighborhood' AND ST_Intersects(b.geom, p.geom)
                ORDER BY b.name LIMIT 1) a WHERE p.alert_time IS NOT NULL GROUP BY 1""").fetchall())
        names = [r[0] for r in conn.execute("SELECT name FROM boundary WHERE kind = 'neighborhood'"
                                            " AND ST_Intersects(geom, %s) ORDER BY name", (point,))]
        assert {first, second} <= set(names), "the point lies in both areas"
        assert counted == scanned
        assert counted[names[0]] >= 1 and counted.get(names[-1], 0) == scanned.get(names[-1], 0)
        conn.rollback()
