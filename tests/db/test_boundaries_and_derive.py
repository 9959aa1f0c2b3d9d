"""Boundaries in any CRS and format, and the derivations the app relies on."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from etl.derive import derive
from etl.errors import LoadError
from etl.loader import load_file
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

# Two rough halves of west Baltimore as test districts.
WEST = box(-76.70, 39.28, -76.64, 39.33)
CENTER = box(-76.64, 39.27, -76.60, 39.33)


def _districts(tmp_path, suffix: str, crs: int = 4326, field: str = "Dist_Name"):
    frame = gpd.GeoDataFrame({field: ["Western", "Central"], "population": [50000, 40000]},
                             geometry=[WEST, CENTER], crs=4326).to_crs(crs)
    path = tmp_path / f"districts{suffix}"
    frame.to_file(path)
    return path


@pytest.mark.parametrize(("suffix", "crs"), [(".geojson", 4326), (".shp", 2248), (".gpkg", 3857)])
def test_boundaries_load_from_any_format_and_crs(empty_db, sql, tmp_path, suffix, crs):
    result = load_file(_districts(tmp_path, suffix, crs), progress=False)
    assert (result.kind, result.read, result.loaded) == ("boundaries", 2, 2)
    rows = sql("SELECT name, population, ST_SRID(geom), round(ST_XMin(geom)::numeric, 3) FROM boundary "
               "WHERE kind = 'district' ORDER BY name")
    assert [r[0] for r in rows] == ["CENTRAL", "WESTERN"]
    assert rows[1][1] == 50000 and rows[1][2] == 4326
    assert float(rows[1][3]) == pytest.approx(-76.70, abs=0.001)


def test_reloading_boundaries_replaces_that_kind(empty_db, sql, tmp_path):
    load_file(_districts(tmp_path, ".geojson"), progress=False)
    again = load_file(_districts(tmp_path, ".geojson"), progress=False)
    assert (again.loaded, again.updated, again.duplicate) == (0, 0, 2)
    only_west = gpd.GeoDataFrame({"Dist_Name": ["Western"]}, geometry=[WEST], crs=4326)
    path = tmp_path / "west.geojson"
    only_west.to_file(path)
    load_file(path, progress=False)
    assert sql("SELECT name FROM boundary WHERE kind = 'district'") == [("WESTERN",)]


def test_boundary_files_load_whole_or_not_at_all(empty_db, sql, tmp_path):
    load_file(_districts(tmp_path, ".geojson"), progress=False)
    before = sql("SELECT kind, name, md5(ST_AsBinary(geom)) FROM boundary ORDER BY name")
    for names, geoms, match in (
        (["Western", None], [WEST, CENTER], "feature 2 has no Dist_Name"),
        (["Western", "Central"], [WEST, Point(-76.6, 39.3)], r"feature 2 \(CENTRAL\) is a Point"),
        (["Western", "Central"], [WEST, None], r"feature 2 \(CENTRAL\) has no geometry"),
    ):
        path = tmp_path / "mixed.geojson"
        gpd.GeoDataFrame({"Dist_Name": names}, geometry=geoms, crs=4326).to_file(path)
        with pytest.raises(LoadError, match=match):
            load_file(path, progress=False)
        assert sql("SELECT kind, name, md5(ST_AsBinary(geom)) FROM boundary ORDER BY name") == before
    assert sql("SELECT count(*) FROM etl_run WHERE status = 'running'") == [(0,)]
    odd = gpd.GeoDataFrame({"zone_label": ["A"]}, geometry=[WEST], crs=4326)
    odd_path = tmp_path / "zones.geojson"
    odd.to_file(odd_path)
    with pytest.raises(LoadError, match="--kind"):
        load_file(odd_path, progress=False)
    result = load_file(odd_path, boundary_kind="neighborhood", name_field="zone_label", progress=False)
    assert result.loaded == 1


def test_derive_districts_ttc_sources_alerts_and_nibin(empty_db, sql, tmp_path):
    load_file(_districts(tmp_path, ".geojson"), progress=False)
    for name in ("ffl_current.csv", "ffl_legacy.txt", "incidents_2022.csv", "shots_chicago.csv",
                 "traces_canonical.csv", "nibin_leads.csv"):
        load_file(FIXTURES / name, progress=False)
    derive(full=True)
    # Districts come from the polygons.
    assert sql("SELECT district FROM incident WHERE cc_number = '22C01234'") == [("WESTERN",)]
    # Time-to-crime and source flags: bought 2021-06-01 in Virginia, recovered 2022-03-01.
    assert sql("SELECT ttc_days, source_state, source_in_state, source_in_city, possessor_is_purchaser "
               "FROM trace WHERE trace_number = 'T20220000001'") == [(273, "VA", False, False, False)]
    # The recovery is tied to the shooting with its case number.
    assert sql("SELECT i.cc_number FROM recovery r JOIN trace t ON t.id = r.trace_id "
               "JOIN incident i ON i.id = r.incident_id WHERE t.trace_number = 'T20220000001'") == [("22C01234",)]
    # The alert 28 s before the shooting, 15 m away, corroborates it; the others corroborate nothing.
    assert sql("SELECT s.source_id, i.cc_number FROM shot_alert s LEFT JOIN incident i ON i.id = s.incident_id "
               "ORDER BY s.source_id") == [("SST-1001", "22C01234"), ("SST-1002", None)]
    # NIBIN: the two scenes and the test fire of the Glock form one gun group, so the Glock is tied
    # to both shootings, one of them only through NIBIN.
    links = sql("SELECT i.cc_number, fi.via, fi.lead_id FROM firearm_incident fi "
                "JOIN incident i ON i.id = fi.incident_id JOIN firearm f ON f.id = fi.firearm_id "
                "WHERE f.firearm_key = 'GLOCK|ABC123' ORDER BY 1")
    assert links == [("22C01234", "recovery", "NL-2022-0001"), ("22C07777", "nibin", "NL-2022-0001")]
    assert sql("SELECT count(DISTINCT gun_group) FROM ballistic_evidence") == [(1,)]


def test_city_dealer_counts_as_in_city(empty_db, sql):
    load_file(FIXTURES / "ffl_current.csv", progress=False)
    derive(full=True)
    assert sql("SELECT ffl_key FROM dealer WHERE in_city") == [("8-52-510-01-00077",)]
