"""Many points are placed in districts by a grid of squares before any is tested against the pieces
(etl/grid.py, etl/districts.py): the districts a big load stores and those a derive over a big table
finds are those the piece-by-piece way gives, for every point, on each map in force, on the days the maps
change, and for rows without a time or a point."""

from __future__ import annotations

import psycopg
import pytest

from etl import districts, grid
from layers import db

pytestmark = pytest.mark.db

KEY = ("agency", "source_key")


def _stage(conn: psycopg.Connection) -> int:
    """`stg_u` as a load stages it: the synthetic incidents, again two years earlier, and again at the instants
    around local midnight of each map's first day; points on a lattice over the maps and around them, on a
    day of each; rows without a time and without a point."""
    conn.execute("""CREATE TEMP TABLE stg_u ON COMMIT DROP AS
        SELECT row_number() OVER ()::int AS line_number, * FROM (
            SELECT agency, source_key, crime_datetime, reported_district, geom FROM incident
            UNION ALL
            SELECT agency, source_key || ':early', crime_datetime - interval '2 years', reported_district, geom FROM incident
            UNION ALL
            SELECT i.agency, i.source_key || ':' || b.valid_from || ':' || s.n,
                   (b.valid_from::timestamp AT TIME ZONE 'America/New_York') + make_interval(secs => s.n),
                   i.reported_district, i.geom
            FROM (SELECT DISTINCT valid_from FROM boundary WHERE kind = 'district' AND valid_from IS NOT NULL) b,
                 (SELECT * FROM incident ORDER BY id LIMIT 300) i, (VALUES (-1), (0)) s(n)
            UNION ALL
            SELECT 'BPD', 'lattice:' || x || ':' || y || ':' || t, t, 'REPORTED', ST_SetSRID(ST_MakePoint(x::float8, y::float8), 4326)
            FROM (SELECT ST_XMin(e) AS x0, ST_XMax(e) AS x1, ST_YMin(e) AS y0, ST_YMax(e) AS y1
                  FROM (SELECT ST_Extent(geom)::geometry AS e FROM boundary WHERE kind = 'district') b) e,
                 generate_series((e.x0 - 0.01)::numeric, (e.x1 + 0.01)::numeric, 0.0013) x,
                 generate_series((e.y0 - 0.01)::numeric, (e.y1 + 0.01)::numeric, 0.0013) y,
                 (VALUES (TIMESTAMPTZ '2022-06-01 12:00+00'), (TIMESTAMPTZ '2024-06-01 12:00+00')) w(t)
            UNION ALL
            SELECT agency, source_key || ':untimed', NULL, reported_district, geom FROM (SELECT * FROM incident LIMIT 50) u
            UNION ALL
            SELECT agency, source_key || ':unplaced', crime_datetime, reported_district, NULL FROM (SELECT * FROM incident LIMIT 50) v
        ) rows ORDER BY agency, source_key""")
    return conn.execute("SELECT count(*) FROM stg_u").fetchone()[0]


def _placed(conn: psycopg.Connection, cells_from: float, monkeypatch) -> list[tuple]:
    monkeypatch.setattr(grid, "CELLS_FROM", cells_from)
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        _stage(conn)
        districts.fill_staged(cur, "crime_datetime", KEY)
        return cur.execute("SELECT source_key, district FROM stg_u ORDER BY 1").fetchall()


def test_the_grid_places_every_point_as_the_pieces_do(synthetic_db, monkeypatch):
    with psycopg.connect(db.dsn(synthetic_db)) as conn:
        maps = conn.execute("SELECT count(DISTINCT (valid_from, valid_to)) FROM boundary WHERE kind = 'district'").fetchone()[0]
        assert maps >= 1
        by_pieces = _placed(conn, float("inf"), monkeypatch)
        by_grid = _placed(conn, 0, monkeypatch)
        assert len(by_grid) == len(by_pieces) > 1000
        assert by_grid == by_pieces
        assert len({d for _, d in by_grid}) >= 5
        outside = sum(k.startswith("lattice:") and d == "REPORTED" for k, d in by_grid)
        assert outside > 1000  # lattice points in no district
        # Both kinds of square were met: wholly one district's, and crossed by an outline.
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            districts.create_pieces(cur)
            listed = districts.maps(cur)
            districts.create_cells(cur)
            whole, crossed = cur.execute("SELECT count(*) FILTER (WHERE whole), count(*) FILTER (WHERE NOT whole) "
                                         "FROM district_cell").fetchone()
            assert len(listed) == maps and whole > 1000 and crossed > 100


def test_the_derive_places_rows_by_the_grid_as_the_pieces_do(synthetic_db, monkeypatch):
    """A new map or `derive --full`: the districts of the incidents and alerts (etl/districts.py `of_rows`)
    and of the recoveries (by their date) by the grid, against the piece-by-piece way, over the same rows."""
    with psycopg.connect(db.dsn(synthetic_db)) as conn, conn.transaction(force_rollback=True), conn.cursor() as cur:
        _stage(conn)
        cur.execute("ALTER TABLE stg_u ADD COLUMN id int, ADD COLUMN day date, ADD COLUMN district varchar(16)")
        cur.execute("UPDATE stg_u SET id = line_number, day = (crime_datetime AT TIME ZONE 'America/New_York')::date")
        districts.create_pieces(cur)
        monkeypatch.setattr(grid, "CELLS_FROM", 0)
        listed = districts.grid_for(cur, ["stg_u"])
        assert listed
        for placed in (None, listed):
            *prepare, query = districts.of_rows("stg_u", "crime_datetime", "TRUE", placed)
            for statement in prepare:
                cur.execute(statement)
            by_time = sorted(cur.execute(query).fetchall())
            join, value = districts.by_cell(placed, date="x.day") if placed else ("", districts.in_force("x.day"))
            by_date = cur.execute(f"SELECT x.id, {value} FROM stg_u x {join} ORDER BY 1").fetchall()
            if placed is None:
                expected = by_time, by_date
        assert (by_time, by_date) == expected
        assert len(by_time) > 1000 and sum(d is None for _, d in by_date) > 1000
