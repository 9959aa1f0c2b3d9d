"""Boundaries (city, districts, posts, neighborhoods, CSAs) from GeoJSON, Shapefile or GeoPackage, any CRS.

All or nothing: every feature must be a named polygon, the file must be in a known CRS (or plainly in
longitude/latitude) and overlap the agency's region, or the load stops with one line saying what to
fix and nothing already loaded is replaced.

A file is one map, in force from `valid_from` to `valid_to` (inclusive dates; None = open), given as
options or as `valid_from`/`valid_to` properties of the file. A dated file replaces the map of its kind that
starts on the same date and leaves the others (the 1959-2022 police districts and those of 2023 live side by
side); a file without dates replaces every map of its kind.
The name property is picked when one is obviously the name (see `guess_name_field`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg

from etl.errors import LoadError
from etl.parse import normalize_district

KINDS = ("city", "district", "post", "neighborhood", "csa")
_KIND_FIELDS = {  # property names that say what the polygons are, most specific first
    "post": ("post", "posts"),
    "district": ("dist_name", "district", "district_name", "new_district", "dist"),
    "neighborhood": ("nbrdesc", "neighborhood", "neighborhd", "nbhd", "label"),
    "csa": ("csa2020", "csa2010", "csa_name", "csa"),
}
# Property names that hold a polygon's name whatever its kind (lower case), most telling first; then any *_name.
_NAME_FIELDS = ("name", "dist_name", "csa2020", "csa2010", "neighborhood", "nbrdesc", "label")
# A city outline with no text property at all is named after the agency's city.
CITY_NAME = "BALTIMORE"
_CODE_FIELDS = ("district_code", "code", "number", "dist_num")


def guess_name_field(columns: list[str], text_columns: list[str], kind: str | None = None) -> str | None:
    """The property that obviously holds each polygon's name, or None when it is not obvious.

    A property named like a name (name/Name/NAME, Dist_Name, CSA2010, Neighborhood, or the kind's own
    field such as Post), else any *_NAME property, else the only text property."""
    lower = {c.lower(): c for c in columns}
    for f in (*_NAME_FIELDS, *_KIND_FIELDS.get(kind or "", ())):
        if f in lower:
            return lower[f]
    suffixed = [c for c in columns if c.lower().endswith("_name")]
    if len(suffixed) == 1:
        return suffixed[0]
    if len(text_columns) == 1:
        return text_columns[0]
    return None


def _text_columns(frame, columns: list[str]) -> list[str]:
    """Properties holding text (not numbers, dates or booleans) in at least one feature."""
    out = []
    for c in columns:
        values = [v for v in frame[c].tolist() if not _missing(v)]
        if values and all(isinstance(v, str) for v in values) and any(v.strip() for v in values):
            out.append(c)
    return out


def _date_option(value, what: str, path: Path) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()) or _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise LoadError(f"{path.name}: {what} {value!r} is not a date (YYYY-MM-DD); nothing was replaced") from None


def _file_validity(frame, columns: list[str], path: Path) -> tuple[dt.date | None, dt.date | None]:
    """valid_from / valid_to properties of the file: one value each for the whole file, or none."""
    lower = {c.lower(): c for c in columns}
    out = []
    for key in ("valid_from", "valid_to"):
        if key not in lower:
            out.append(None)
            continue
        values = {_date_option(v, key, path) for v in frame[lower[key]].tolist()}
        if len(values) > 1:
            raise LoadError(f"{path.name}: features disagree on {key} ({', '.join(sorted(map(str, values)))}); "
                            "a file is one map — split it or give --valid-from/--valid-to")
        out.append(values.pop() if values else None)
    return out[0], out[1]


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
                    crs: str | None = None, valid_from: dt.date | str | None = None,
                    valid_to: dt.date | str | None = None):
    import geopandas as gpd
    from shapely import make_valid
    from shapely.geometry import MultiPolygon, Polygon, box

    from etl.loader import LoadResult, agency_region
    from etl.runs import fail_run, finish_run, record_rejects, start_run
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
    text_columns = _text_columns(frame, columns)
    file_from, file_to = _file_validity(frame, columns, path)
    valid_from = _date_option(valid_from, "--valid-from", path) or file_from
    valid_to = _date_option(valid_to, "--valid-to", path) or file_to
    if valid_from and valid_to and valid_to < valid_from:
        raise LoadError(f"{path.name}: --valid-to {valid_to} is before --valid-from {valid_from}; nothing was replaced")
    if name_field and name_field not in frame.columns:
        raise LoadError(f"{path.name}: no property {name_field!r} (properties: {', '.join(columns)})")
    if kind is None:
        detected = _detect_kind(columns)
        if detected is None:
            if "city" in path.stem.lower():
                detected = ("city", guess_name_field(columns, text_columns, "city") or "")
            else:
                raise LoadError(f"{path.name}: cannot tell what these polygons are; add --kind "
                                f"{'|'.join(KINDS)} and --name-field (properties: {', '.join(columns)})")
        kind, guessed = detected
        name_field = name_field or guessed
    elif kind not in KINDS:
        raise LoadError(f"--kind must be one of {', '.join(KINDS)}")
    if not name_field:
        name_field = guess_name_field(columns, text_columns, kind)
    city_name = None
    if not name_field and kind == "city" and not text_columns:
        city_name = CITY_NAME  # an outline with nothing but numbers (or nothing) is the city itself
    if not name_field and not city_name:
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
        name = city_name or raw.get(name_field)
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
        code_field = next((lower[f] for f in _CODE_FIELDS if f in lower), "")
        code = raw.get(code_field, None)
        code = None if _missing(code) else code
        approximate = bool(raw.get(lower.get("approximate", ""), False)) if "approximate" in lower else False
        shape = MultiPolygon(parts)
        shapes.append(shape)
        rows.append((number, kind, name, valid_from, valid_to, None if code is None else str(code)[:32],
                     approximate, _population(population), str(path), shape.wkb_hex))
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
                conn.execute("""CREATE TEMP TABLE stg (line_number int, kind text, name text, valid_from date,
                    valid_to date, code text, approximate boolean, population integer, source_file text,
                    geom geometry) ON COMMIT DROP""")
                with conn.cursor() as cur:
                    with cur.copy("COPY stg FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    # Several features with one name are one boundary (e.g. a district in two parts).
                    cur.execute("""CREATE TEMP TABLE stg_u ON COMMIT DROP AS
                        SELECT kind, name, valid_from, valid_to, max(code) AS code, bool_or(approximate) AS approximate,
                               max(population) AS population, max(source_file) AS source_file,
                               ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(ST_SetSRID(geom, 4326))), 3))
                                   ::geometry(MultiPolygon, 4326) AS geom
                        FROM stg GROUP BY kind, name, valid_from, valid_to""")
                    empty = cur.execute("SELECT name FROM stg_u WHERE geom IS NULL OR ST_IsEmpty(geom) LIMIT 1"
                                        ).fetchone()
                    if empty:
                        raise LoadError(f"{path.name}: {empty[0]} has no polygon area once made valid; fix its "
                                        "geometry — nothing was replaced")
                    result.loaded, result.updated = upsert(
                        cur, "boundary", ("kind", "name", "valid_from", "valid_to", "code", "approximate", "population",
                                          "source_file", "geom"),
                        ("kind", "name", "valid_from"), result.run_id)
                    # A file with a validity replaces the map of this kind that starts on the same date (names
                    # it no longer has go) and keeps the others; a file without one replaces the whole kind.
                    dated = valid_from is not None or valid_to is not None
                    cur.execute("DELETE FROM boundary b WHERE b.kind = %(kind)s AND (b.valid_from IS DISTINCT FROM "
                                "%(vf)s AND NOT %(dated)s OR b.valid_from IS NOT DISTINCT FROM %(vf)s AND NOT EXISTS "
                                "(SELECT 1 FROM stg_u s WHERE s.name = b.name))",
                                {"kind": kind, "vf": valid_from, "dated": dated})
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
