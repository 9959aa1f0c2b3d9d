"""The map's choropleth by post (and neighborhood): counts of the filtered points inside each polygon,
computed in PostGIS, checked against independent SQL on a throwaway database holding a small synthetic
Baltimore plus three test posts (loaded through the real ETL). Not the session's shared synthetic database:
loading posts there would change what other tests see."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from layers import district_panel, districts
from layers.map_filters import MapFilters
from tests.conftest import build_synthetic_database, drop_database, project_database, query_runner

pytestmark = pytest.mark.db

YEAR = MapFilters(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
# (name, west, south, east, north, population): two neighbouring posts in the middle of the synthetic city,
# one to the north without a population.
POSTS = [("111", -76.63, 39.28, -76.59, 39.31, 8000), ("713", -76.67, 39.29, -76.63, 39.32, 6000),
         ("914", -76.66, 39.32, -76.60, 39.36, None)]

SHOOTINGS_IN = """SELECT b.name, count(i.id) FROM boundary b LEFT JOIN incident i ON ST_Intersects(b.geom, i.geom)
    AND i.is_firearm AND i.category IN ('shooting', 'homicide')
    AND (i.crime_datetime AT TIME ZONE 'America/New_York')::date BETWEEN %s AND %s
    WHERE b.kind = 'post' GROUP BY b.name"""
ALERTS_IN = """SELECT b.name, count(a.id) FROM boundary b LEFT JOIN shot_alert a ON ST_Intersects(b.geom, a.geom)
    AND (a.alert_time AT TIME ZONE 'America/New_York')::date BETWEEN %s AND %s
    WHERE b.kind = 'post' GROUP BY b.name"""


def write_posts(path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    gpd.GeoDataFrame({"post_id": [p[0] for p in POSTS], "population": [p[5] for p in POSTS]},
                     geometry=[box(*p[1:5]) for p in POSTS], crs=4326).to_file(path)


@pytest.fixture(scope="module")
def posts_url(database_url, tmp_path_factory):
    """A throwaway database: synthetic Baltimore (2024–2025, 2% scale) and the test posts, dropped after."""
    out = tmp_path_factory.mktemp("posts")
    write_posts(out / "posts.geojson")
    url = build_synthetic_database(f"cga_test_{os.getpid()}_posts", out, seed=11, scale=0.02,
                                   extra=[(out / "posts.geojson", {"boundary_kind": "post", "name_field": "post_id"})])
    yield url
    drop_database(url)


@pytest.fixture
def posts_db(posts_url, monkeypatch):
    with project_database(posts_url, monkeypatch) as url:
        yield url


def test_post_kind_is_offered_and_drawn(posts_db):
    assert districts.boundary_kinds() == ["district", "post", "neighborhood", "csa"]  # the demo ships both
    outline = districts.boundaries_geojson("post")
    assert [f["properties"]["name"] for f in outline["features"]] == ["111", "713", "914"]
    assert {f["properties"]["kind"] for f in outline["features"]} == {"post"}


def test_post_measures_match_a_spatial_join_in_sql(posts_db):
    sql = query_runner(posts_db)
    now = dict(sql(SHOOTINGS_IN, ("2025-01-01", "2025-12-31")))
    before = dict(sql(SHOOTINGS_IN, ("2024-01-01", "2024-12-31")))
    alerts = dict(sql(ALERTS_IN, ("2025-01-01", "2025-12-31")))
    recoveries = dict(sql("""SELECT b.name, count(r.id) FROM boundary b LEFT JOIN recovery r
        ON ST_Intersects(b.geom, r.geom) AND r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31'
        WHERE b.kind = 'post' GROUP BY b.name"""))
    assert sum(now.values()) > 0 and sum(alerts.values()) > 0 and sum(recoveries.values()) > 0
    rows = {r["name"]: r for r in district_panel.boundary_measures("post", YEAR)}
    assert set(rows) == {"111", "713", "914"}
    for name, *_, population in POSTS:
        r = rows[name]
        assert (r["shootings"], r["alerts"], r["recoveries"]) == (now[name], alerts[name], recoveries[name]), name
        assert r["shootings_before"] == before[name]
        assert r["shootings_change"] == district_panel.pct_change(now[name], before[name])
        assert r["population"] == population
        assert r["alerts_rate"] == (round(1000 * alerts[name] / population, 2) if population else None)
    # Points outside every post are not counted anywhere.
    city = sql("""SELECT count(*) FROM shot_alert WHERE (alert_time AT TIME ZONE 'America/New_York')::date
                  BETWEEN '2025-01-01' AND '2025-12-31'""")[0][0]
    assert sum(r["alerts"] for r in rows.values()) == sum(alerts.values()) < city
    assert district_panel.boundary_counts("post", "713", YEAR) == rows["713"]


def test_post_measures_respect_the_map_filters(posts_db):
    sql = query_runner(posts_db)
    district = sql("""SELECT i.district FROM incident i JOIN boundary b ON b.kind = 'post' AND b.name = '713'
                      AND ST_Intersects(b.geom, i.geom) WHERE i.district IS NOT NULL
                      GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""")[0][0]
    f = MapFilters(dt.date(2024, 1, 1), dt.date(2025, 12, 31), districts=(district,), firearm_types=("PISTOL",))
    shootings = dict(sql(SHOOTINGS_IN.replace("WHERE b.kind", "AND i.district = %s WHERE b.kind"),
                         ("2024-01-01", "2025-12-31", district)))
    recoveries = dict(sql("""SELECT b.name, count(r.id) FROM boundary b LEFT JOIN (recovery r JOIN firearm f
        ON f.id = r.firearm_id AND f.firearm_type = 'PISTOL') ON ST_Intersects(b.geom, r.geom)
        AND r.recovery_date BETWEEN '2024-01-01' AND '2025-12-31' AND r.district = %s
        WHERE b.kind = 'post' GROUP BY b.name""", (district,)))
    rows = {r["name"]: r for r in district_panel.boundary_measures("post", f)}
    assert {n: r["shootings"] for n, r in rows.items()} == shootings
    assert {n: r["recoveries"] for n, r in rows.items()} == recoveries
    assert rows["713"]["shootings"] > 0


def test_district_measures_unchanged_by_the_generalisation(posts_db):
    districts_rows = district_panel.district_measures(YEAR)
    generic = district_panel.boundary_measures("district", YEAR)
    assert [r["district"] for r in districts_rows] == [r["name"] for r in generic]
    assert all("name" not in r for r in districts_rows)
    assert [r["shootings"] for r in districts_rows] == [r["shootings"] for r in generic]
    with pytest.raises(ValueError):
        district_panel.boundary_measures("county", YEAR)
