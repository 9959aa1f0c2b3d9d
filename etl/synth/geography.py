"""The demo geography: city outline, nine police districts (Voronoi cells around the stations),
posts, neighborhoods, ShotSpotter coverage areas, and point samplers that use them.

Everything here is deterministic (fixed seeds, no dependence on the generator's seed), so the
committed GeoJSON in assets/geo is exactly what `build_demo_geography` writes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, mapping
from shapely.geometry.polygon import orient
from shapely.ops import unary_union, voronoi_diagram

from etl.synth import config, geodata

LAT0, LON0 = 39.29, -76.62
M_PER_DEG_LAT = 110_990.0
M_PER_DEG_LON = 111_320.0 * float(np.cos(np.radians(LAT0)))
SQM_PER_SQMI = 2_589_988.0
CITY_NAME = "BALTIMORE CITY (approximate)"
CITY_POPULATION = 570_000
CITY_FILE = "baltimore_city_approx.geojson"
DISTRICTS_FILE = "police_districts_approx.geojson"
ASSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "geo"


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
    geom: Polygon          # lon/lat
    land: Polygon          # lon/lat, water removed


@dataclass(frozen=True)
class Coverage:
    district: str
    code: int
    start: dt.date
    geom: Polygon          # lon/lat
    area_sqmi: float


@dataclass(frozen=True)
class Geography:
    city: Polygon
    land: Polygon
    districts: tuple[District, ...]
    coverage: tuple[Coverage, ...]
    post_xy: np.ndarray          # (n, 2) local metres
    post_district: np.ndarray    # district code of each post seed
    post_code: np.ndarray        # "711", ...
    hood_xy: np.ndarray
    hood_district: np.ndarray
    hood_name: np.ndarray


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


def _voronoi_districts(city_xy) -> dict[int, Polygon]:
    seeds, owner = [], []
    for _, code, _, station, aux in geodata.DISTRICTS:
        for lon, lat in (station, *aux):
            seeds.append(to_xy(lon, lat))
            owner.append(code)
    cells = voronoi_diagram(MultiPoint([Point(float(x), float(y)) for x, y in seeds]),
                            envelope=city_xy.buffer(5000))
    parts: dict[int, list] = {}
    for cell in cells.geoms:
        inside = [i for i, (x, y) in enumerate(seeds) if cell.contains(Point(float(x), float(y)))]
        parts.setdefault(owner[inside[0]], []).append(cell.intersection(city_xy))
    out = {}
    for code, geoms in parts.items():
        merged = unary_union(geoms)
        if merged.geom_type != "Polygon":  # keep the largest piece: one polygon per district
            merged = max(merged.geoms, key=lambda g: g.area)
        out[code] = merged
    return out


def _coverage_area(district_xy, center_xy, target_sqmi: float):
    """District intersected with a disc around its worst hot spot, sized to the target area."""
    lo, hi = 100.0, 8000.0
    centre = Point(*center_xy)
    for _ in range(40):
        mid = (lo + hi) / 2
        area = district_xy.intersection(centre.buffer(mid, 64)).area / SQM_PER_SQMI
        lo, hi = (mid, hi) if area < target_sqmi else (lo, mid)
    return district_xy.intersection(centre.buffer(hi, 64))


@lru_cache(maxsize=1)
def demo_geography() -> Geography:
    city_ll = orient(Polygon(geodata.CITY_OUTLINE), 1.0)
    city_xy = _geom_to_xy(city_ll)
    water_xy = unary_union([_geom_to_xy(Polygon(w)) for w in geodata.HARBOR_WATER])
    land_xy = city_xy.difference(water_xy)
    cells = _voronoi_districts(city_xy)
    districts = []
    for name, code, pop, _, _ in geodata.DISTRICTS:
        geom_xy = cells[code]
        land = geom_xy.difference(water_xy)
        if land.geom_type != "Polygon":
            land = max(land.geoms, key=lambda g: g.area)
        districts.append(District(name, code, pop, _round(orient(_geom_to_lonlat(geom_xy), 1.0)),
                                  _geom_to_lonlat(land)))
    # Rebuild the city as the union of the rounded districts so both files agree exactly.
    city_ll = _round(orient(unary_union([d.geom for d in districts]), 1.0))
    if city_ll.geom_type != "Polygon":
        city_ll = max(city_ll.geoms, key=lambda g: g.area)

    rng = np.random.default_rng(20180531)  # fixed: the geography never depends on the data seed
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

    hood_ll = np.array([(lon, lat) for _, lon, lat in geodata.NEIGHBORHOODS])
    hood_district = district_codes(districts, hood_ll[:, 0], hood_ll[:, 1])
    hx, hy = to_xy(hood_ll[:, 0], hood_ll[:, 1])

    coverage = []
    by_name = {d.name: d for d in districts}
    hot = np.array(geodata.VIOLENCE_HOTSPOTS)
    hot_d = district_codes(districts, hot[:, 0], hot[:, 1])
    for name, sqmi, start in config.COVERAGE_AREAS:
        d = by_name[name]
        cand = np.flatnonzero(hot_d == d.code)
        centre = hot[cand[hot[cand, 3].argmax()], :2] if len(cand) else np.array(d.land.centroid.coords[0])
        geom_xy = _coverage_area(_geom_to_xy(d.land), to_xy(centre[0], centre[1]), sqmi)
        coverage.append(Coverage(name, d.code, dt.date.fromisoformat(start), _geom_to_lonlat(geom_xy),
                                 geom_xy.area / SQM_PER_SQMI))
    return Geography(city_ll, _geom_to_lonlat(land_xy), tuple(districts), tuple(coverage),
                     np.array(post_xy), np.array(post_d), np.array(post_c),
                     np.column_stack([hx, hy]), hood_district,
                     np.array([n for n, _, _ in geodata.NEIGHBORHOODS], dtype=object))


def _round(geom, ndigits: int = 6):
    return shapely.set_precision(geom, 10.0 ** -ndigits)


def district_codes(districts, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """District code (1-9) of each point, 0 outside every district."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    out = np.zeros(lon.shape, dtype=np.int8)
    for d in districts:
        out[(out == 0) & shapely.contains_xy(d.geom, lon, lat)] = d.code
    return out


def district_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return district_codes(demo_geography().districts, lon, lat)


def district_name(code: int) -> str:
    return {d.code: d.name for d in demo_geography().districts}[int(code)]


def _nearest_in_district(xy: np.ndarray, seed_xy: np.ndarray, seed_d: np.ndarray,
                         codes: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    out = np.zeros(len(codes), dtype=np.int64)
    for code in np.unique(codes):
        mask = codes == code
        idx = np.flatnonzero(seed_d == code)
        if len(idx) == 0:
            idx = np.arange(len(seed_d))
        _, j = cKDTree(seed_xy[idx]).query(xy[mask])
        out[mask] = idx[j]
    return out


def posts_and_hoods(lon: np.ndarray, lat: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Post code and neighborhood name of each point (nearest seed within its district)."""
    g = demo_geography()
    xy = np.column_stack(to_xy(lon, lat))
    posts = g.post_code[_nearest_in_district(xy, g.post_xy, g.post_district, codes)]
    hoods = g.hood_name[_nearest_in_district(xy, g.hood_xy, g.hood_district, codes)]
    return posts, hoods


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
        ok = shapely.contains_xy(area, lon, lat)
        if within is not None:
            ok &= shapely.contains_xy(g.land, lon, lat)
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
        bad = idx[~shapely.contains_xy(geom, lon_r[idx], lat_r[idx])]
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
    return lon_r, lat_r


def coverage_index(lon: np.ndarray, lat: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index of the active coverage area containing each point on its date (days since epoch),
    -1 when none."""
    out = np.full(len(lon), -1, dtype=np.int64)
    for i, c in enumerate(demo_geography().coverage):
        start = (c.start - dt.date(1970, 1, 1)).days
        hit = (out < 0) & (np.asarray(day) >= start) & shapely.contains_xy(c.geom, lon, lat)
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
        out[mask] = [f"{n} {s}" for n, s in zip(numbers[mask], rng.choice(streets, int(mask.sum())), strict=True)]
    return out


def _feature_collection(features: list[dict]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":")) + "\n"


def geojson_texts() -> dict[str, str]:
    """The two demo GeoJSON documents, by file name (stable bytes)."""
    g = demo_geography()
    city = [{"type": "Feature", "properties": {"name": CITY_NAME, "approximate": True,
                                               "population": CITY_POPULATION},
             "geometry": mapping(g.city)}]
    districts = [{"type": "Feature",
                  "properties": {"name": d.name, "district": d.name, "district_code": d.code,
                                 "approximate": True, "population": d.population},
                  "geometry": mapping(d.geom)} for d in g.districts]
    return {CITY_FILE: _feature_collection(city), DISTRICTS_FILE: _feature_collection(districts)}


def build_demo_geography(out_dir: Path = ASSET_DIR) -> list[Path]:
    """(Re)write the approximate city outline and police districts as GeoJSON into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in geojson_texts().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
