"""The official Baltimore boundaries shipped in assets/geo, and how they were prepared from the shared copies.

`prepare(src_dir, out_dir)` rewrites them: every geometry made valid (GEOS rejects a few self-touching rings
of the originals), coordinates kept at 6 decimals, and the largest files simplified as a coverage (shared
edges stay shared, no gaps or slivers appear) with a tolerance of about a metre. Properties are unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "geo"
# The 2023 police districts took effect with the new year: the 1959-2022 map is used through 2022.
REDISTRICTING_2023 = dt.date(2023, 1, 1)


@dataclass(frozen=True)
class Shipped:
    file: str
    kind: str                      # boundary kind it loads as
    valid_from: dt.date | None
    valid_to: dt.date | None
    tolerance: float | None        # coverage simplification in degrees (None: none)


SHIPPED: tuple[Shipped, ...] = (
    Shipped("baltimore_city.geojson", "city", None, None, None),
    Shipped("baltimore_police_districts_1959-2022.geojson", "district", dt.date(1959, 1, 1),
            REDISTRICTING_2023 - dt.timedelta(days=1), None),
    Shipped("baltimore_police_districts_2023.geojson", "district", REDISTRICTING_2023, None, 1e-5),
    Shipped("baltimore_neighborhoods_2010.geojson", "neighborhood", None, None, 1.5e-5),
    Shipped("baltimore_csas_2010.geojson", "csa", None, None, None),
)
CITY, DISTRICTS_1959, DISTRICTS_2023, NEIGHBORHOODS, CSAS = SHIPPED


def polygons(geom):
    """The polygon parts of a (repaired) geometry as one MultiPolygon."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for g in getattr(geom, "geoms", [geom]) for p in getattr(g, "geoms", [g])
             if isinstance(p, Polygon) and not p.is_empty]
    return MultiPolygon(parts)


def prepare(src_dir: Path, out_dir: Path = ASSET_DIR) -> dict[str, int]:
    """Write the shipped files from the shared originals; return their sizes in bytes."""
    import shapely
    from shapely.geometry import mapping, shape

    sizes = {}
    for s in SHIPPED:
        doc = json.loads((Path(src_dir) / s.file).read_text(encoding="utf-8"))
        geoms = [polygons(shape(f["geometry"])) for f in doc["features"]]
        if s.tolerance:
            geoms = list(shapely.coverage_simplify(geoms, s.tolerance))
        geoms = [polygons(shapely.set_precision(g, 1e-6)) for g in geoms]
        features = [{"type": "Feature", "properties": f["properties"],
                     "geometry": json.loads(json.dumps(mapping(g)))}
                    for f, g in zip(doc["features"], geoms, strict=True)]
        text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                          separators=(",", ":")) + "\n"
        path = Path(out_dir) / s.file
        path.write_text(text, encoding="utf-8")
        sizes[s.file] = path.stat().st_size
    return sizes


def with_validity(s: Shipped) -> str:
    """The shipped file as GeoJSON text whose features carry its valid_from/valid_to (for the demo's load)."""
    doc = json.loads((ASSET_DIR / s.file).read_text(encoding="utf-8"))
    if s.valid_from or s.valid_to:
        for f in doc["features"]:
            f["properties"] = {**f["properties"],
                               "valid_from": s.valid_from.isoformat() if s.valid_from else None,
                               "valid_to": s.valid_to.isoformat() if s.valid_to else None}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
