"""The demo geography is the official Baltimore one shipped in assets/geo: files small and valid, districts
tile the city's land on both maps, stations in their districts, posts nested in the district map of their
date, coverage areas where they should be, points placed inside the city."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import shapely
from shapely.geometry import Point, shape

from etl.boundaries import guess_name_field
from etl.synth import geodata, shipped
from etl.synth.geography import (
    SQM_PER_SQMI,
    _geom_to_xy,
    demo_geography,
    district_of,
    map_index,
    posts_and_hoods,
    round_inside,
    sample_points,
)


def _features(s):
    return json.loads((shipped.ASSET_DIR / s.file).read_text())["features"]


def test_shipped_files_are_small_valid_and_named():
    counts = {"city": 1, "district": 9, "neighborhood": 278, "csa": 56}
    for s in shipped.SHIPPED:
        path = shipped.ASSET_DIR / s.file
        assert path.stat().st_size < 1_100_000, s.file
        features = _features(s)
        assert len(features) == counts[s.kind], s.file
        geoms = [shape(f["geometry"]) for f in features]
        assert all(g.is_valid and g.geom_type == "MultiPolygon" for g in geoms), s.file
        columns = list(features[0]["properties"])
        text = [c for c in columns if all(isinstance(f["properties"][c], str) for f in features)]
        assert guess_name_field(columns, text, s.kind) == "name", s.file
    assert shipped.DISTRICTS_1959.valid_to == dt.date(2022, 12, 31)
    assert shipped.DISTRICTS_2023.valid_from == dt.date(2023, 1, 1)


def test_name_field_guess():
    assert guess_name_field(["CSA2010"], ["CSA2010"], "neighborhood") == "CSA2010"
    assert guess_name_field(["OBJECTID", "Shape_Area", "Label2"], ["Label2"], "neighborhood") == "Label2"
    assert guess_name_field(["Dist_Name", "Area"], ["Dist_Name"], "district") == "Dist_Name"
    assert guess_name_field(["ID", "NBR_NAME", "TYPE"], ["NBR_NAME", "TYPE"], "neighborhood") == "NBR_NAME"
    assert guess_name_field(["Neighborhood", "Type"], ["Neighborhood", "Type"], "neighborhood") == "Neighborhood"
    assert guess_name_field(["aland", "awater"], [], "city") is None  # the loader names it after the city
    assert guess_name_field(["a", "b"], ["a", "b"], "district") is None  # not obvious: ask


def test_districts_tile_the_land_on_both_maps():
    g = demo_geography()
    city = g.city
    assert abs(_geom_to_xy(city).area / 1e6 - 238) < 3  # km², land and water
    for m in g.maps:
        assert [d.name for d in m.districts] == [d[0] for d in geodata.DISTRICTS]
        geoms = [d.geom for d in m.districts]
        union = shapely.union_all(geoms)
        assert abs(_geom_to_xy(union).area / 1e6 - 210) < 5  # km² of land
        assert (sum(g_.area for g_ in geoms) - union.area) / union.area < 1e-3  # no overlaps
        # The Census outline is generalized: 0.1% of the districts' area lies just outside it.
        assert _geom_to_xy(union.difference(city)).area / _geom_to_xy(union).area < 0.002
        for (name, _, _, station, _), d in zip(geodata.DISTRICTS, m.districts, strict=True):
            assert d.geom.contains(Point(station)), f"{name} station outside its district ({m.label})"
    assert [m.label for m in g.maps] == ["police districts 1959–2022", "police districts from 2023"]
    assert g.land.area < shapely.union_all([d.geom for d in g.districts]).area


def test_district_follows_the_date():
    # A point that changed district in 2023 (Northeastern -> Eastern at the Belair-Edison hot spot).
    lon, lat = np.array([-76.5700]), np.array([39.3200])
    assert district_of(lon, lat, np.datetime64("2022-12-31"))[0] == 4
    assert district_of(lon, lat, np.datetime64("2023-01-01"))[0] == 3
    assert district_of(lon, lat)[0] == 4
    assert list(map_index(np.array(["2022-12-31", "2023-01-01"], dtype="datetime64[D]"))) == [0, 1]


def test_coverage_areas_centred_in_their_districts():
    g = demo_geography()
    by_name = {d.name: d for d in g.districts}
    western = g.coverage[0]
    assert western.district == "WESTERN" and str(western.start) == "2018-05-31"
    for c, (_, sqmi, _) in zip(g.coverage, __import__("etl.synth.config", fromlist=["x"]).COVERAGE_AREAS,
                               strict=True):
        assert abs(c.area_sqmi - sqmi) < 0.05
        assert g.land.buffer(1e-6).contains(c.geom)
        assert c.geom.intersection(by_name[c.district].geom).area > 0.4 * c.geom.area


def test_points_posts_and_neighborhoods_on_real_geography():
    g = demo_geography()
    rng = np.random.default_rng(0)
    lon, lat = sample_points(rng, 3000, geodata.VIOLENCE_HOTSPOTS, 0.5)
    assert shapely.contains_xy(g.city, lon, lat).all() and shapely.contains_xy(g.land, lon, lat).all()
    for day in (np.datetime64("2022-06-01"), np.datetime64("2024-06-01")):
        codes = district_of(lon, lat, day)
        assert (codes > 0).mean() > 0.999
        ok = codes > 0
        posts, hoods = posts_and_hoods(lon[ok], lat[ok], codes[ok], day)
        assert all(len(p) == 3 and int(p[0]) == c for p, c in zip(posts, codes[ok], strict=True))
        assert len(set(hoods)) > 100 and set(hoods) <= set(g.hood_name)
    # Violence clusters where Baltimore's does: more in Western than in Northern, the larger district.
    codes = district_of(lon, lat)
    assert (codes == 7).sum() > (codes == 5).sum()
    # Rounding to 6 decimals keeps points inside their polygons even on the boundary.
    d = g.districts[6]
    ring = d.geom.buffer(-2e-7).boundary  # ~2 cm inside the edge: rounding alone would push some out
    near = shapely.line_interpolate_point(ring, np.linspace(0, 1, 500), normalized=True)
    xs, ys = shapely.get_x(near), shapely.get_y(near)
    r_lon, r_lat = round_inside(xs, ys, [d.geom], np.zeros(len(xs), dtype=np.int64))
    assert shapely.contains_xy(d.geom, r_lon, r_lat).all()
    assert np.allclose(r_lon, xs, atol=2e-5) and np.allclose(r_lat, ys, atol=2e-5)
    assert _geom_to_xy(g.land).area / SQM_PER_SQMI > 75
