"""The demo geography: the official Baltimore boundaries shipped in assets/geo (city outline, the police
districts of 1959-2022 and of 2023 on, neighborhoods), synthetic posts nested in the districts, ShotSpotter
coverage areas, and point samplers that use them.

Points are placed on land inside both district maps, so every point has a district on either map; a
record's district is the one in force on its date (`district_of(..., day)`). Everything here is
deterministic (fixed seeds, no dependence on the generator's seed).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import Point, shape

from etl.synth import config, geodata, pointgrid, shipped

LAT0, LON0 = 39.29, -76.62
M_PER_DEG_LAT = 110_990.0
M_PER_DEG_LON = 111_320.0 * float(np.cos(np.radians(LAT0)))
SQM_PER_SQMI = 2_589_988.0
ASSET_DIR = shipped.ASSET_DIR
REDISTRICTING_DAY = int((shipped.REDISTRICTING_2023 - dt.date(1970, 1, 1)).days)  # days since 1970-01-01


def to_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local metres (equirectangular about the city centre: < 0.1% error at city scale)."""
    return (np.asarray(lon) - LON0) * M_PER_DEG_LON, (np.asarray(lat) - LAT0) * M_PER_DEG_LAT


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(x) / M_PER_DEG_LON + LON0, np.asarray(y) / M_PER_DEG_LAT + LAT0


def _geom_to_xy(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_xy(c[:, 0], c[:, 1])))


def _geom_to_lonlat(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1])))


@dataclass(frozen=True)
class District:
    name: str
    code: int
    population: int
    geom: object           # lon/lat (Multi)Polygon, official
    land: object           # lon/lat, the part where points are placed (inside both maps)


@dataclass(frozen=True)
class DistrictMap:
    label: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    districts: tuple[District, ...]
    post_xy: np.ndarray          # (n, 2) local metres
    post_district: np.ndarray    # district code of each post seed
    post_code: np.ndarray        # "711", ...


@dataclass(frozen=True)
class Coverage:
    district: str
    code: int
    start: dt.date
    geom: object           # lon/lat
    area_sqmi: float


@dataclass(frozen=True)
class Geography:
    city: object                       # official outline (land and water)
    land: object                       # where points go: inside the city and both district maps
    maps: tuple[DistrictMap, ...]      # 1959-2022, then 2023 on
    coverage: tuple[Coverage, ...]
    hood_geoms: np.ndarray             # official neighborhood polygons
    hood_name: np.ndarray

    @property
    def districts(self) -> tuple[District, ...]:
        """The 1959-2022 districts (the map of records dated before 2023)."""
        return self.maps[0].districts


def _lloyd_seeds(poly_xy, k: int, rng: np.random.Generator, iterations: int = 12) -> np.ndarray:
    """k well-spread seeds inside a polygon (a few Lloyd iterations over a dense sample)."""
    minx, miny, maxx, maxy = poly_xy.bounds
    pts = rng.uniform((minx, miny), (maxx, maxy), size=(6000, 2))
    pts = pts[shapely.contains_xy(poly_xy, pts[:, 0], pts[:, 1])]
    seeds = pts[rng.choice(len(pts), size=k, replace=False)]
    for _ in range(iterations):
        d = ((pts[:, None, :] - seeds[None, :, :]) ** 2).sum(-1)
        nearest = d.argmin(1)
        seeds = np.array([pts[nearest == i].mean(0) if (nearest == i).any() else seeds[i]
                          for i in range(k)])
    return seeds


def _coverage_area(land_xy, center_xy, target_sqmi: float):
    """Land within a disc around a district's worst hot spot, sized to the target area (a coverage area
    can reach into the neighbouring districts, as Baltimore's do)."""
    lo, hi = 100.0, 8000.0
    centre = Point(*center_xy)
    land_xy = land_xy.intersection(centre.buffer(hi, 16))
    for _ in range(30):
        mid = (lo + hi) / 2
        area = land_xy.intersection(centre.buffer(mid, 64)).area / SQM_PER_SQMI
        lo, hi = (mid, hi) if area < target_sqmi else (lo, mid)
    return land_xy.intersection(centre.buffer(hi, 64))


def _features(s: shipped.Shipped) -> list[dict]:
    return json.loads((ASSET_DIR / s.file).read_text(encoding="utf-8"))["features"]


def _district_map(s: shipped.Shipped, land, rng: np.random.Generator) -> DistrictMap:
    pops = {name: pop for name, _, pop, _, _ in geodata.DISTRICTS}
    codes = {name: code for name, code, _, _, _ in geodata.DISTRICTS}
    districts = []
    for f in _features(s):
        name = f["properties"]["name"].upper()
        geom = shipped.polygons(shape(f["geometry"]))
        d_land = shipped.polygons(geom.intersection(land))
        shapely.prepare(geom)
        shapely.prepare(d_land)
        districts.append(District(name, codes[name], pops[name], geom, d_land))
    districts.sort(key=lambda d: d.code)
    post_xy, post_d, post_c = [], [], []
    for d in districts:
        land_d = _geom_to_xy(d.land)
        k = int(np.clip(round(land_d.area / 2.2e6), 8, 16))  # one post per ~2.2 km2
        seeds = _lloyd_seeds(land_d, k, rng)
        order = np.lexsort((seeds[:, 0], -np.round(seeds[:, 1] / 900)))  # north to south, west to east
        for i, j in enumerate(order):
            post_xy.append(seeds[j])
            post_d.append(d.code)
            post_c.append(f"{d.code}{i // 4 + 1}{i % 4 + 1}")
    label = f"police districts {s.valid_from.year}–{s.valid_to.year}" if s.valid_to else \
        f"police districts from {s.valid_from.year}"
    return DistrictMap(label, s.valid_from, s.valid_to, tuple(districts), np.array(post_xy),
                       np.array(post_d), np.array(post_c))


@lru_cache(maxsize=1)
def demo_geography() -> Geography:
    city = shipped.polygons(shape(_features(shipped.CITY)[0]["geometry"]))
    unions = [shapely.union_all([shipped.polygons(shape(f["geometry"])) for f in _features(s)])
              for s in (shipped.DISTRICTS_1959, shipped.DISTRICTS_2023)]
    # Land: inside the city and both district maps (the districts leave out the harbor's water).
    land = shipped.polygons(shapely.intersection_all([city, *unions]))
    land = shipped.polygons(shapely.MultiPolygon([p for p in land.geoms if p.area > 1e-7]))  # no slivers
    shapely.prepare(land)
    shapely.prepare(city)
    rng = np.random.default_rng(20180531)  # fixed: the geography never depends on the data seed
    maps = tuple(_district_map(s, land, rng) for s in (shipped.DISTRICTS_1959, shipped.DISTRICTS_2023))

    hoods = _features(shipped.NEIGHBORHOODS)
    hood_geoms = np.array([shipped.polygons(shape(f["geometry"])) for f in hoods], dtype=object)
    hood_name = np.array([f["properties"]["name"] for f in hoods], dtype=object)

    coverage = []
    districts = maps[0].districts
    by_name = {d.name: d for d in districts}
    hot = np.array(geodata.VIOLENCE_HOTSPOTS)
    hot_d = district_codes(districts, hot[:, 0], hot[:, 1])
    land_xy = _geom_to_xy(land)
    for name, sqmi, start in config.COVERAGE_AREAS:
        d = by_name[name]
        cand = np.flatnonzero(hot_d == d.code)
        centre = hot[cand[hot[cand, 3].argmax()], :2] if len(cand) else np.array(d.land.centroid.coords[0])
        geom_xy = _coverage_area(land_xy, to_xy(centre[0], centre[1]), sqmi)
        geom = _geom_to_lonlat(geom_xy)
        shapely.prepare(geom)
        coverage.append(Coverage(name, d.code, dt.date.fromisoformat(start), geom, geom_xy.area / SQM_PER_SQMI))
    return Geography(city, land, maps, tuple(coverage), hood_geoms, hood_name)


def map_index(day) -> np.ndarray | int:
    """Which district map is in force on each day (days since 1970-01-01, or datetime64): 0 = 1959-2022,
    1 = from 2023."""
    days = np.asarray(day)
    if np.issubdtype(days.dtype, np.datetime64):
        days = days.astype("datetime64[D]").astype(np.int64)
    return (days >= REDISTRICTING_DAY).astype(np.int64)


def districts_on(day) -> tuple[District, ...]:
    """The districts in force on one day."""
    return demo_geography().maps[int(map_index(day))].districts


def _round(geom, ndigits: int = 6):
    return shapely.set_precision(geom, 10.0 ** -ndigits)


def district_codes(districts, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """District code (1-9) of each point, 0 outside every district."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    out = np.zeros(lon.shape, dtype=np.int8)
    left = np.arange(lon.size)  # points without a district yet (flat indices)
    flat_lon, flat_lat, flat_out = lon.ravel(), lat.ravel(), out.reshape(-1)
    for d in districts:
        hit = pointgrid.contains_xy(d.geom, flat_lon[left], flat_lat[left])
        flat_out[left[hit]] = d.code
        left = left[~hit]
    return out


def district_of(lon: np.ndarray, lat: np.ndarray, day=None) -> np.ndarray:
    """District code of each point on the map in force on its day (a scalar or one per point; None: the
    1959-2022 map)."""
    maps = demo_geography().maps
    if day is None:
        return district_codes(maps[0].districts, lon, lat)
    which = np.broadcast_to(map_index(day), np.shape(lon))
    out = np.zeros(np.shape(lon), dtype=np.int8)
    for i, m in enumerate(maps):
        mask = which == i
        if mask.any():
            out[mask] = district_codes(m.districts, np.asarray(lon)[mask], np.asarray(lat)[mask])
    return out


def district_name(code: int) -> str:
    return {d.code: d.name for d in demo_geography().districts}[int(code)]


@lru_cache(maxsize=32)
def _post_tree(which_map: int, code: int):
    """The post seeds of one district on one map (indices into the map's posts; all of them for a code
    without posts) and their k-d tree."""
    from scipy.spatial import cKDTree

    m = demo_geography().maps[which_map]
    idx = np.flatnonzero(m.post_district == code)
    if len(idx) == 0:
        idx = np.arange(len(m.post_district))
    return idx, cKDTree(m.post_xy[idx])


def _nearest_in_district(xy: np.ndarray, which_map: int, codes: np.ndarray) -> np.ndarray:
    out = np.zeros(len(codes), dtype=np.int64)
    for code in np.unique(codes):
        mask = codes == code
        idx, tree = _post_tree(which_map, int(code))
        _, j = tree.query(xy[mask])
        out[mask] = idx[j]
    return out


@lru_cache(maxsize=1)
def _hood_index():
    """The neighborhoods prepared for point tests, their bounds (minx, miny, maxx, maxy) and a tree."""
    g = demo_geography()
    shapely.prepare(g.hood_geoms)
    return shapely.bounds(g.hood_geoms), shapely.STRtree(g.hood_geoms)


def neighborhoods_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Official neighborhood of each point (the nearest one for a point in none).

    Points are tested against each neighborhood whose bounds hold them (x-sorted, so each test sees
    only its strip); a point inside two (overlapping polygons) is settled by the tree query, which
    takes the first neighborhood it returns.
    """
    g = demo_geography()
    bounds, tree = _hood_index()
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    out = np.full(len(lon), -1, dtype=np.int64)
    hits = np.zeros(len(lon), dtype=np.int64)
    by_x = np.argsort(lon, kind="stable")
    xs = lon[by_x]
    for k, (minx, miny, maxx, maxy) in enumerate(bounds):
        cand = by_x[np.searchsorted(xs, minx, "left"):np.searchsorted(xs, maxx, "right")]
        cand = cand[(lat[cand] >= miny) & (lat[cand] <= maxy)]
        inside = cand[shapely.contains_xy(g.hood_geoms[k], lon[cand], lat[cand])]
        out[inside] = k
        hits[inside] += 1
    several = np.flatnonzero(hits > 1)
    if len(several):
        src, hit = tree.query(shapely.points(lon[several], lat[several]), predicate="within")
        out[several[src[::-1]]] = hit[::-1]  # the first neighborhood when two overlap
    missing = np.flatnonzero(out < 0)
    if len(missing):
        src, hit = tree.query_nearest(shapely.points(lon[missing], lat[missing]), all_matches=False)
        out[missing[src]] = hit
    return g.hood_name[out]


def posts_and_hoods(lon: np.ndarray, lat: np.ndarray, codes: np.ndarray,
                    day=None) -> tuple[np.ndarray, np.ndarray]:
    """Post code (nearest post seed within the point's district, on the map in force on its day; None:
    1959-2022) and official neighborhood of each point."""
    g = demo_geography()
    xy = np.column_stack(to_xy(lon, lat))
    codes = np.asarray(codes)
    which = np.zeros(len(codes), dtype=np.int64) if day is None else np.broadcast_to(map_index(day), codes.shape)
    posts = np.empty(len(codes), dtype=object)
    for i, m in enumerate(g.maps):
        mask = which == i
        if mask.any():
            posts[mask] = m.post_code[_nearest_in_district(xy[mask], i, codes[mask])]
    return posts, neighborhoods_of(lon, lat)


def sample_points(rng: np.random.Generator, n: int, hotspots, p_hot: float,
                  within=None) -> tuple[np.ndarray, np.ndarray]:
    """n points on land: a share p_hot from Gaussian hot spots, the rest uniform.

    `within` restricts to a polygon (lon/lat), e.g. a ShotSpotter coverage area.
    """
    g = demo_geography()
    area = g.land if within is None else within
    hot = np.array(hotspots, dtype=float)
    out_lon, out_lat = np.empty(0), np.empty(0)
    minx, miny, maxx, maxy = area.bounds
    need = n
    while need > 0:
        m = int(need * 1.6) + 16
        from_hot = rng.random(m) < p_hot
        lon = rng.uniform(minx, maxx, m)
        lat = rng.uniform(miny, maxy, m)
        k = int(from_hot.sum())
        if k:
            h = rng.choice(len(hot), size=k, p=hot[:, 3] / hot[:, 3].sum())
            r = rng.normal(size=(k, 2)) * hot[h, 2:3]
            lon[from_hot] = hot[h, 0] + r[:, 0] / M_PER_DEG_LON
            lat[from_hot] = hot[h, 1] + r[:, 1] / M_PER_DEG_LAT
        ok = pointgrid.contains_xy(area, lon, lat)
        if within is not None:
            ok &= pointgrid.contains_xy(g.land, lon, lat)
        out_lon = np.concatenate([out_lon, lon[ok][:need]])
        out_lat = np.concatenate([out_lat, lat[ok][:need]])
        need = n - len(out_lon)
    return out_lon, out_lat


def round_inside(lon: np.ndarray, lat: np.ndarray, geoms: list, which: np.ndarray,
                 digits: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Round coordinates to `digits` decimals so that each point stays inside geoms[which[i]]
    (rounding can push a point that hugs a boundary across it). which < 0: no constraint."""
    lon_r, lat_r = np.round(np.asarray(lon, float), digits), np.round(np.asarray(lat, float), digits)
    for k, geom in enumerate(geoms):
        idx = np.flatnonzero(which == k)
        bad = idx[~pointgrid.contains_xy(geom, lon_r[idx], lat_r[idx])]
        target = geom.representative_point()
        for step in range(1, 60):
            if len(bad) == 0:
                break
            dx, dy = target.x - lon[bad], target.y - lat[bad]
            norm = np.maximum(np.hypot(dx, dy), 1e-12)
            move = np.minimum(step * 2e-6 / norm, 1.0)  # ~0.2 m per step towards the inside
            lon_r[bad] = np.round(lon[bad] + dx * move, digits)
            lat_r[bad] = np.round(lat[bad] + dy * move, digits)
            bad = bad[~shapely.contains_xy(geom, lon_r[bad], lat_r[bad])]
        # Concave edges (real boundaries have many): try the nearest grid points around the point instead.
        unit = 10.0 ** -digits
        for radius in (1, 2, 3, 5, 8):
            if len(bad) == 0:
                break
            for dx in range(-radius, radius + 1):
                for dy in range(-radius, radius + 1):
                    if len(bad) == 0 or max(abs(dx), abs(dy)) != radius:
                        continue
                    c_lon = np.round(lon[bad], digits) + dx * unit
                    c_lat = np.round(lat[bad], digits) + dy * unit
                    ok = shapely.contains_xy(geom, c_lon, c_lat)
                    lon_r[bad[ok]], lat_r[bad[ok]] = np.round(c_lon[ok], digits), np.round(c_lat[ok], digits)
                    bad = bad[~ok]
    return lon_r, lat_r


def coverage_index(lon: np.ndarray, lat: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index of the active coverage area containing each point on its date (days since epoch),
    -1 when none."""
    out = np.full(len(lon), -1, dtype=np.int64)
    for i, c in enumerate(demo_geography().coverage):
        start = (c.start - dt.date(1970, 1, 1)).days
        hit = (out < 0) & (np.asarray(day) >= start) & pointgrid.contains_xy(c.geom, lon, lat)
        out[hit] = i
    return out


def block_addresses(rng: np.random.Generator, codes: np.ndarray, exact: bool = False) -> np.ndarray:
    """Synthetic street addresses in the district's streets: '1900 W NORTH AVE' (block) or an
    exact house number."""
    out = np.empty(len(codes), dtype=object)
    numbers = rng.integers(1, 60, len(codes)) * 100
    if exact:
        numbers = numbers + rng.integers(0, 99, len(codes))
    for code in np.unique(codes):
        mask = codes == code
        streets = np.array(geodata.STREETS.get(int(code), geodata.STREETS[1]), dtype=object)
        out[mask] = list(map("{} {}".format, numbers[mask].tolist(), rng.choice(streets, int(mask.sum()))))
    return out
