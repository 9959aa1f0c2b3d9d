"""The official Baltimore boundaries shipped in assets/geo, on the real database: valid polygons, the district
stations inside their districts, two district maps side by side with their validity, records assigned to
the map in force on their date, and name properties found without --name-field."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from etl.derive import derive
from etl.loader import load_file
from etl.synth import geodata, shipped
from layers import districts

pytestmark = pytest.mark.db

OLD, NEW = shipped.DISTRICTS_1959, shipped.DISTRICTS_2023
# A point that changed district in 2023: Northeastern on the 1959-2022 map, Eastern from 2023.
MOVED = (-76.5700, 39.3200)


def _load(s, **options):
    return load_file(shipped.ASSET_DIR / s.file, progress=False, boundary_kind=s.kind, **options)


@pytest.fixture
def both_maps(empty_db):
    _load(OLD, valid_from=OLD.valid_from, valid_to=OLD.valid_to)
    _load(NEW, valid_from=NEW.valid_from)
    return empty_db


def test_shipped_districts_are_valid_and_hold_their_stations(both_maps, sql):
    assert sql("SELECT count(*), bool_and(ST_IsValid(geom)) FROM boundary WHERE kind = 'district'") == [(18, True)]
    for valid_from in (OLD.valid_from, NEW.valid_from):
        for name, _, _, (lon, lat), _ in geodata.DISTRICTS:  # station addresses, geocoded approximately
            found = sql("SELECT name FROM boundary WHERE kind = 'district' AND valid_from = %s "
                        "AND ST_Contains(geom, ST_SetSRID(ST_Point(%s, %s), 4326))", (valid_from, lon, lat))
            assert found == [(name,)], (valid_from, name)


def test_loading_a_dated_map_keeps_the_other(both_maps, sql):
    maps = sql("SELECT valid_from, valid_to, count(*) FROM boundary WHERE kind = 'district' "
               "GROUP BY 1, 2 ORDER BY 1")
    assert maps == [(dt.date(1959, 1, 1), dt.date(2022, 12, 31), 9), (dt.date(2023, 1, 1), None, 9)]
    _load(NEW, valid_from=NEW.valid_from)  # reloading one map touches only that map
    assert sql("SELECT count(*) FROM boundary WHERE kind = 'district'") == [(18,)]
    assert [m["label"] for m in districts.boundary_maps()] == ["police districts 1959–2022",
                                                               "police districts from 2023"]


def test_records_get_the_district_in_force_on_their_date(both_maps, sql):
    sql_insert = """INSERT INTO incident (agency, source_key, crime_datetime, is_firearm, category, total_incidents,
                        source_layout, reported_district, geom)
                    VALUES ('MDBPD0000', %s, %s, true, 'shooting', 1, 'test', 'SOUTHERN',
                            ST_SetSRID(ST_Point(%s, %s), 4326)) RETURNING id"""
    import psycopg

    with psycopg.connect(both_maps.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        for key, when in (("a", "2022-12-31 23:30-05"), ("b", "2023-06-01 12:00-04"), ("c", "2023-01-01 00:30-05")):
            conn.execute(sql_insert, (key, when, *MOVED))
    derive(dsn=both_maps.replace("postgresql+psycopg://", "postgresql://", 1), full=True)
    got = dict(sql("SELECT source_key, district FROM incident"))
    assert got == {"a": "NORTHEASTERN", "b": "EASTERN", "c": "EASTERN"}
    span = districts.district_map_for(dt.date(2022, 6, 1), dt.date(2023, 6, 1))
    assert span["label"] == "police districts from 2023" and span["spans_redistricting"]
    assert span["maps"] == ["police districts 1959–2022", "police districts from 2023"]
    year = districts.district_map_for(dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    assert (year["label"], year["valid_to"], year["spans_redistricting"]) == (
        "police districts 1959–2022", dt.date(2022, 12, 31), False)
    assert len(districts.boundaries_geojson("district", dt.date(2022, 1, 1), dt.date(2022, 12, 31))["features"]) == 9
    assert districts.district_names() == sorted(d[0] for d in geodata.DISTRICTS)


def test_undated_load_replaces_every_map_of_the_kind(both_maps, sql):
    _load(OLD)
    assert sql("SELECT count(*), count(valid_from) FROM boundary WHERE kind = 'district'") == [(9, 0)]


def test_name_property_found_without_name_field(empty_db, sql, tmp_path):
    # A CSA-style file with one text column, and a city outline with numbers only.
    csa = tmp_path / "csa.geojson"
    gpd.GeoDataFrame({"CSA2010": ["Upton/Druid Heights", "Midtown"], "Shape_Area": [1.5, 2.5]},
                     geometry=[box(-76.64, 39.30, -76.62, 39.31), box(-76.62, 39.30, -76.60, 39.31)],
                     crs=4326).to_file(csa)
    load_file(csa, progress=False, boundary_kind="neighborhood")
    city = tmp_path / "outline.geojson"
    gpd.GeoDataFrame({"aland": [209650970.0]}, geometry=[box(-76.71, 39.19, -76.52, 39.38)], crs=4326).to_file(city)
    load_file(city, progress=False, boundary_kind="city")
    _load(shipped.CSAS)
    assert sql("SELECT kind, count(*) FROM boundary GROUP BY kind ORDER BY kind") == [
        ("city", 1), ("csa", 56), ("neighborhood", 2)]
    assert sql("SELECT name FROM boundary WHERE kind = 'city'") == [("BALTIMORE",)]
    assert sql("SELECT name FROM boundary WHERE kind = 'neighborhood' ORDER BY name") == [
        ("MIDTOWN",), ("UPTON/DRUID HEIGHTS",)]


def test_demo_files_carry_their_validity():
    doc = json.loads(shipped.with_validity(NEW))
    assert {f["properties"]["valid_from"] for f in doc["features"]} == {"2023-01-01"}
