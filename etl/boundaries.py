"""Boundaries (city, districts, posts, neighborhoods) from GeoJSON, Shapefile or GeoPackage, any CRS."""

from __future__ import annotations

from pathlib import Path

import psycopg

from etl.errors import LoadError
from etl.parse import normalize_district

KINDS = ("city", "district", "post", "neighborhood")
_KIND_FIELDS = {  # property names that say what the polygons are, most specific first
    "post": ("post", "posts"),
    "district": ("dist_name", "district", "district_name", "new_district", "dist"),
    "neighborhood": ("nbrdesc", "neighborhood", "neighborhd", "nbhd", "label"),
}


def _detect_kind(columns: list[str]) -> tuple[str, str] | None:
    lower = {c.lower(): c for c in columns}
    for kind, fields in _KIND_FIELDS.items():
        for f in fields:
            if f in lower:
                return kind, lower[f]
    return None


def _missing(value) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def load_boundaries(path: Path, dsn: str, kind: str | None = None, name_field: str | None = None):
    import geopandas as gpd
    from shapely import make_valid
    from shapely.geometry import MultiPolygon, Polygon

    from etl.loader import LoadResult, fail_run, finish_run, record_rejects, start_run
    from etl.sources.base import upsert

    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    target = f"zip://{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        frame = gpd.read_file(target)
    except Exception as exc:  # pyogrio raises several types; all mean "cannot read this file"
        raise LoadError(f"{path.name}: cannot read as GeoJSON/Shapefile/GeoPackage ({str(exc).splitlines()[0]})") from None
    columns = [c for c in frame.columns if c != "geometry"]
    if name_field and name_field not in frame.columns:
        raise LoadError(f"{path.name}: no property {name_field!r} (properties: {', '.join(columns)})")
    if kind is None:
        detected = _detect_kind(columns)
        if detected is None:
            if "name" in [c.lower() for c in columns] and "city" in path.stem.lower():
                detected = ("city", [c for c in columns if c.lower() == "name"][0])
            else:
                raise LoadError(f"{path.name}: cannot tell what these polygons are; add --kind "
                                f"{'|'.join(KINDS)} and --name-field (properties: {', '.join(columns)})")
        kind, guessed = detected
        name_field = name_field or guessed
    elif kind not in KINDS:
        raise LoadError(f"--kind must be one of {', '.join(KINDS)}")
    if not name_field:
        lower = {c.lower(): c for c in columns}
        name_field = next((lower[f] for f in ("name", *(_KIND_FIELDS.get(kind, ()))) if f in lower), None)
        if not name_field:
            raise LoadError(f"{path.name}: which property holds the name? add --name-field "
                            f"(properties: {', '.join(columns)})")
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (-180 <= minx <= 180 and -90 <= miny <= 90 and -180 <= maxx <= 180 and -90 <= maxy <= 90):
            raise LoadError(f"{path.name}: no coordinate reference system and the coordinates are not degrees; "
                            "add a .prj file or export with a CRS")
        frame = frame.set_crs(4326)
    frame = frame.to_crs(4326)
    lower = {c.lower(): c for c in columns}
    result = LoadResult(str(path), "boundaries", f"{kind}:{path.suffix.lstrip('.').lower()}")
    rows, rejects = [], []
    for number, feature in enumerate(frame.itertuples(index=False), start=1):
        raw = {c: getattr(feature, c, None) for c in columns}
        result.read += 1
        geom = feature.geometry
        name = raw.get(name_field)
        name = None if _missing(name) else (str(name).strip().upper() or None)
        if kind == "district" and name:
            name = normalize_district(name) or name
        if not name:
            rejects.append((number, str(raw), f"feature has no {name_field}"))
            continue
        if geom is None or geom.is_empty:
            rejects.append((number, str(raw), "feature has no geometry"))
            continue
        if not geom.is_valid:
            geom = make_valid(geom)
        polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
        if not polys:
            rejects.append((number, str(raw), f"geometry is a {geom.geom_type}, not a polygon"))
            continue
        parts = [p for g in polys for p in getattr(g, "geoms", [g])]
        population = raw.get(lower["population"]) if "population" in lower else None
        population = None if _missing(population) else population
        code = raw.get(lower.get("district_code", lower.get("code", "")), None)
        code = None if _missing(code) else code
        approximate = bool(raw.get(lower.get("approximate", ""), False)) if "approximate" in lower else False
        rows.append((number, kind, name, None if code is None else str(code), approximate,
                     int(float(population)) if population is not None and str(population).replace(".", "", 1).isdigit()
                     else None,
                     str(path), MultiPolygon(parts).wkb_hex))
    with psycopg.connect(dsn) as conn:
        result.run_id = start_run(conn, path, "boundaries", result.layout)
        try:
            with conn.transaction():
                conn.execute("""CREATE TEMP TABLE stg (line_number int, kind text, name text, code text,
                    approximate boolean, population integer, source_file text, geom geometry) ON COMMIT DROP""")
                with conn.cursor() as cur:
                    with cur.copy("COPY stg FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    # Several features with one name are one boundary (e.g. a district in two parts).
                    cur.execute("""CREATE TEMP TABLE stg_u ON COMMIT DROP AS
                        SELECT kind, name, max(code) AS code, bool_or(approximate) AS approximate,
                               max(population) AS population, max(source_file) AS source_file,
                               ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(ST_SetSRID(geom, 4326))), 3))
                                   ::geometry(MultiPolygon, 4326) AS geom
                        FROM stg GROUP BY kind, name""")
                    result.loaded, result.updated = upsert(
                        cur, "boundary", ("kind", "name", "code", "approximate", "population", "source_file", "geom"),
                        ("kind", "name"), result.run_id)
                    # The file replaces this kind: boundaries it no longer names go.
                    cur.execute("DELETE FROM boundary b WHERE b.kind = %s AND NOT EXISTS "
                                "(SELECT 1 FROM stg_u s WHERE s.name = b.name)", (kind,))
                    record_rejects(cur, result, rejects)
                finish_run(conn, result)
        except psycopg.Error as exc:
            fail_run(dsn, result.run_id, str(exc).splitlines()[0])
            raise LoadError(f"{path.name}: the database refused the load ({str(exc).splitlines()[0]})") from None
    return result
