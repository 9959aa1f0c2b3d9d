"""The approximate demo geography: committed GeoJSON equals what the generator builds; districts
tile the city; stations, coverage areas and posts sit where they should."""

from __future__ import annotations

import json

import numpy as np
import shapely
from shapely.geometry import Point, shape

from etl.synth import geodata
from etl.synth.geography import (
    ASSET_DIR,
    CITY_FILE,
    DISTRICTS_FILE,
    SQM_PER_SQMI,
    _geom_to_xy,
    build_demo_geography,
    demo_geography,
    district_of,
    geojson_texts,
    posts_and_hoods,
    round_inside,
)


def test_committed_assets_are_the_built_geography(tmp_path):
    build_demo_geography(tmp_path)
    for name in (CITY_FILE, DISTRICTS_FILE):
        assert (tmp_path / name).read_bytes() == (ASSET_DIR / name).read_bytes(), name
        assert (ASSET_DIR / name).read_text() == geojson_texts()[name]


def test_city_outline():
    doc = json.loads((ASSET_DIR / CITY_FILE).read_text())
    (feature,) = doc["features"]
    assert feature["properties"] == {"name": "BALTIMORE CITY (approximate)", "approximate": True,
                                     "population": 570000}
    city = shape(feature["geometry"])
    assert city.is_valid and city.geom_type == "Polygon"
    assert 25 <= len(city.exterior.coords) - 1 <= 60
    minx, miny, maxx, maxy = city.bounds
    assert abs(minx + 76.711) < 0.003 and abs(maxx + 76.529) < 0.003
    assert abs(miny - 39.197) < 0.003 and abs(maxy - 39.372) < 0.003
    assert 85 < _geom_to_xy(city).area / SQM_PER_SQMI < 100  # Baltimore: 92 sq mi with water


def test_districts_tile_the_city():
    doc = json.loads((ASSET_DIR / DISTRICTS_FILE).read_text())
    props = [f["properties"] for f in doc["features"]]
    assert [p["name"] for p in props] == [d[0] for d in geodata.DISTRICTS]
    assert sorted(p["district_code"] for p in props) == list(range(1, 10))
    assert all(p["approximate"] is True and p["district"] == p["name"] for p in props)
    assert sum(p["population"] for p in props) == 570000
    geoms = [shape(f["geometry"]) for f in doc["features"]]
    assert all(g.is_valid and g.geom_type == "Polygon" for g in geoms)
    city = shape(json.loads((ASSET_DIR / CITY_FILE).read_text())["features"][0]["geometry"])
    union = shapely.union_all(geoms)
    assert abs(union.area - city.area) / city.area < 1e-4
    overlap = sum(g.area for g in geoms) - union.area
    assert overlap / city.area < 1e-4
    for (name, code, _, station, _), geom in zip(geodata.DISTRICTS, geoms, strict=True):
        assert geom.contains(Point(station)), f"{name} station outside its district"
        assert district_of(np.array([station[0]]), np.array([station[1]]))[0] == code


def test_coverage_areas_inside_their_districts():
    g = demo_geography()
    by_name = {d.name: d for d in g.districts}
    western = g.coverage[0]
    assert western.district == "WESTERN" and str(western.start) == "2018-05-31"
    assert abs(western.area_sqmi - 5.0) < 0.05
    for c in g.coverage:
        assert by_name[c.district].geom.buffer(1e-6).contains(c.geom)
        assert c.area_sqmi < _geom_to_xy(by_name[c.district].geom).area / SQM_PER_SQMI


def test_posts_and_neighborhoods_follow_the_district():
    g = demo_geography()
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = g.land.bounds
    lon, lat = rng.uniform(minx, maxx, 3000), rng.uniform(miny, maxy, 3000)
    keep = shapely.contains_xy(g.land, lon, lat)
    lon, lat = lon[keep], lat[keep]
    codes = district_of(lon, lat)
    assert (codes > 0).all()
    posts, hoods = posts_and_hoods(lon, lat, codes)
    assert all(len(p) == 3 and int(p[0]) == c for p, c in zip(posts, codes, strict=True))
    assert len(set(hoods)) > 60
    # Rounding to 6 decimals keeps points inside their polygons even on the boundary.
    d = g.districts[0]
    edge = np.array(d.geom.exterior.coords[:-1])
    inward = edge + (np.array(d.geom.representative_point().coords[0]) - edge) * 1e-9
    r_lon, r_lat = round_inside(inward[:, 0], inward[:, 1], [d.geom], np.zeros(len(edge), dtype=np.int64))
    assert shapely.contains_xy(d.geom, r_lon, r_lat).all()
    assert np.allclose(r_lon, inward[:, 0], atol=1e-5)
