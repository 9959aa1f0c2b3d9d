"""Boundaries (city, districts, posts, neighborhoods) from GeoJSON, Shapefile or GeoPackage, any CRS.

All or nothing: every feature must be a named polygon, the file must be in a known CRS (or plainly in
longitude/latitude) and overlap the agency's region, or the load stops with one line saying what to
fix and nothing already loaded is replaced."""

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


def load_boundaries(path: Path, dsn: str, kind: str | None = None, name_field: str | None = None,
                    crs: str | None = None):
    import geopandas as gpd
    from shapely import make_valid
    from shapely.geometry import MultiPolygon, Polygon, box

    from etl.loader import LoadResult, agency_region, fail_run, finish_run, record_rejects, start_run
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
    if frame.empty:
        raise LoadError(f"{path.name} has no features; nothing was replaced")
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
    if frame.crs is not None and path.suffix.lower() in (".geojson", ".json") and not _declares_crs(path):
        # GDAL reads every GeoJSON as EPSG:4326 (RFC 7946); a file without a "crs" member has not said so.
        frame = frame.set_crs(None, allow_override=True)
    if crs:
        try:
            frame = frame.set_crs(crs, allow_override=True)
        except Exception as exc:  # pyproj's CRSError and kin
            raise LoadError(f"--crs {crs!r} is not a CRS pyproj knows ({str(exc).splitlines()[0]})") from None
    frame = _reproject(frame, path)
    lower = {c.lower(): c for c in columns}
    result = LoadResult(str(path), "boundaries", f"{kind}:{path.suffix.lstrip('.').lower()}")
    rows, shapes = [], []
    for number, feature in enumerate(frame.itertuples(index=False), start=1):
        raw = {c: getattr(feature, c, None) for c in columns}
        result.read += 1
        name = raw.get(name_field)
        name = None if _missing(name) else (str(name).strip().upper() or None)
        if kind == "district" and name:
            name = normalize_district(name) or name
        label = f"feature {number}" + (f" ({name})" if name else "")
        if not name:
            _refuse(path, f"{label} has no {name_field}; give every feature a name (or pick the property "
                          "with --name-field)")
        geom = feature.geometry
        if geom is None or geom.is_empty:
            _refuse(path, f"{label} has no geometry; fix or remove it")
        if not geom.is_valid:
            geom = make_valid(geom)
        polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
        parts = [p for g in polys for p in getattr(g, "geoms", [g]) if not p.is_empty and p.area > 0]
        if not parts:
            _refuse(path, f"{label} is a {feature.geometry.geom_type}, not a polygon; a boundary file holds "
                          "polygons only")
        population = raw.get(lower["population"]) if "population" in lower else None
        population = None if _missing(population) else population
        code = raw.get(lower.get("district_code", lower.get("code", "")), None)
        code = None if _missing(code) else code
        approximate = bool(raw.get(lower.get("approximate", ""), False)) if "approximate" in lower else False
        shape = MultiPolygon(parts)
        shapes.append(shape)
        rows.append((number, kind, name, None if code is None else str(code)[:32], approximate,
                     _population(population), str(path), shape.wkb_hex))
    with psycopg.connect(dsn) as conn:
        region = agency_region(conn)
        if not any(shape.intersects(box(*region)) for shape in shapes):
            minx, miny, maxx, maxy = frame.total_bounds
            _refuse(path, f"the polygons (lon {minx:.3f}..{maxx:.3f}, lat {miny:.3f}..{maxy:.3f}) do not overlap "
                          f"the agency's region (lon {region[0]:.3f}..{region[2]:.3f}, lat {region[1]:.3f}.."
                          f"{region[3]:.3f}); check the CRS (give a .prj) or whether longitude and latitude "
                          "are swapped")
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
                    empty = cur.execute("SELECT name FROM stg_u WHERE geom IS NULL OR ST_IsEmpty(geom) LIMIT 1"
                                        ).fetchone()
                    if empty:
                        raise LoadError(f"{path.name}: {empty[0]} has no polygon area once made valid; fix its "
                                        "geometry — nothing was replaced")
                    result.loaded, result.updated = upsert(
                        cur, "boundary", ("kind", "name", "code", "approximate", "population", "source_file", "geom"),
                        ("kind", "name"), result.run_id)
                    # The file replaces this kind: boundaries it no longer names go.
                    cur.execute("DELETE FROM boundary b WHERE b.kind = %s AND NOT EXISTS "
                                "(SELECT 1 FROM stg_u s WHERE s.name = b.name)", (kind,))
                    record_rejects(cur, result, [])
                finish_run(conn, result)
        except BaseException as exc:
            message = (str(exc).splitlines() or [type(exc).__name__])[0]
            fail_run(dsn, result.run_id, message)
            if isinstance(exc, LoadError | KeyboardInterrupt | SystemExit):
                raise
            raise LoadError(f"{path.name}: the database refused the load ({message}); nothing was replaced") from None
    return result


def _declares_crs(path: Path) -> bool:
    with open(path, "rb") as f:
        return b'"crs"' in f.read()


def _refuse(path: Path, message: str) -> None:
    raise LoadError(f"{path.name}: {message} — nothing was replaced")


def _population(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if 0 <= number < 2**31 else None


def _reproject(frame, path: Path):
    """The frame in EPSG:4326. Without a CRS the coordinates must already be longitude/latitude."""
    import math

    minx, miny, maxx, maxy = frame.total_bounds
    finite = all(math.isfinite(v) for v in (minx, miny, maxx, maxy))
    if frame.crs is None:
        if not finite or not (-180 <= minx <= 180 and -90 <= miny <= 90 and -180 <= maxx <= 180
                              and -90 <= maxy <= 90):
            _refuse(path, "the file has no CRS and its coordinates are not longitude/latitude; give --crs or a .prj")
        return frame.set_crs(4326)
    try:
        out = frame.to_crs(4326)
    except Exception as exc:  # pyproj raises several types for an unusable CRS
        _refuse(path, f"cannot reproject from {frame.crs} to longitude/latitude ({str(exc).splitlines()[0]})")
    bx = out.total_bounds
    if not all(math.isfinite(v) for v in bx) or not (-180 <= bx[0] <= bx[2] <= 180 and -90 <= bx[1] <= bx[3] <= 90):
        _refuse(path, f"the coordinates are not valid in the file's CRS ({frame.crs}); check the .prj")
    return out
