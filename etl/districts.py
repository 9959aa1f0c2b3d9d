"""The police district of a point: the piece of the district map in force on the record's local date that
contains it (the 1959-2022 districts for a 2022 shooting, the 2023 ones for a 2024 one), else the district
the source reported.

One rule, two callers. `derive` (etl/derive.py) decides every stored district. The loader stores the
district of the incidents and alerts it inserts or changes by the same rule against the maps loaded so
far, so that the derive after a load finds them right and writes nothing: a district set afterwards by an
UPDATE writes a new version of every row into each of the incident table's indexes (twelve then; the
freshly loaded pages are full and the district was indexed, so no update stays on its page). After loading 10x
Baltimore (2 million incidents) the incident districts took 159 s of the derive, and 0.5 s with the
districts stored by the load, which takes 7 s longer (149 to 157 s). The derive computes them again for
the rows loaded before a newer map, and for rows without one.
"""

from __future__ import annotations

import psycopg

from etl import grid
from layers.map_filters import LOCAL_TZ  # the zone of the records' local dates, as the map counts them

# The number of a district map (the polygons of one validity), over the boundary table's district rows.
_MAP = "dense_rank() OVER (ORDER BY valid_from NULLS FIRST, valid_to NULLS LAST)::int"


# Around a statement joining many rows to their squares (`by_cell`): a hash join on the few squares, never
# a merge join. Planned on the estimates, a year of 100x incidents (4.1 million rows) was sorted by square
# on disk for a merge join: 46.0 s to place and copy them in key order, 17.9 s by the hash join.
SORT_FREE = ("SET LOCAL enable_mergejoin = off", "RESET enable_mergejoin")


def create_pieces(conn: psycopg.Connection | psycopg.Cursor) -> None:
    """Temporary `district_piece`: the district polygons cut into pieces of at most 64 vertices, indexed.
    Point-in-polygon against small pieces is far cheaper than against whole districts."""
    conn.execute("DROP TABLE IF EXISTS district_piece")
    conn.execute(f"""CREATE TEMP TABLE district_piece ON COMMIT DROP AS
        SELECT {_MAP} AS map, name, valid_from, valid_to, ST_Subdivide(geom, 64) AS geom
        FROM boundary WHERE kind = 'district'""")
    conn.execute("CREATE INDEX ON district_piece USING gist (geom)")
    conn.execute("ANALYZE district_piece")


def _day(when: str) -> str:
    return f"coalesce(({when})::date, current_date)"


def in_force(when: str) -> str:
    """SQL: name of the district piece containing x.geom on the map in force on date `when` (the latest
    map starting on or before it; a point on the line between two districts gets the first name); a
    record without a date gets today's map."""
    day = _day(when)
    return f"""(SELECT b.name FROM district_piece b
        WHERE ST_Intersects(b.geom, x.geom) AND (b.valid_from IS NULL OR b.valid_from <= {day})
          AND (b.valid_to IS NULL OR {day} <= b.valid_to)
        ORDER BY b.valid_from DESC NULLS LAST, b.name LIMIT 1)"""


def of_point(time_column: str) -> str:
    """SQL: the district of row x, whose time (a timestamptz) is column `time_column`: the piece in force
    on its local date, else the district the source reported."""
    return f"coalesce({in_force(_local(time_column))}, x.reported_district)"


def of_rows(table: str, time_column: str, scope: str, listed: list[tuple] | None = None) -> list[str]:
    """SQL statements whose last is a query of (id, district, stored: the district the row holds) of the rows x
    of `table` matching `scope`, by the rule of `of_point`. With the maps of a grid (`grid_for`), the rows are
    placed by it (run with merge joins off: `SORT_FREE`). Else the rows' points are first copied into a temporary table with a spatial
    index (a sorted build), then each piece of the map finds its points through that index and is tested
    against them in a row, which PostGIS does far faster than searching the pieces once per point (all 2
    million incidents of 10x Baltimore, after a new map or with `derive --full`: 18.5 s, the copy and its
    index included, against 27 s). The copy is needed for incidents, whose table keeps no index of all its
    points (migration 0015); joining the table through that index took 12 s."""
    if listed:
        join, value = by_cell(listed, time_column)
        return [f"SELECT x.id, coalesce({value}, x.reported_district) AS district, x.district AS stored"
                f" FROM {table} x {join} WHERE {scope}"]
    points = f"{table}_point"
    # Each row's local day is worked out once, in the copy, not once per piece its point is tested against.
    return [f"DROP TABLE IF EXISTS {points}",
            f"""CREATE TEMP TABLE {points} ON COMMIT DROP AS
                SELECT x.id, {_day(_local(time_column))} AS day, x.reported_district, x.district AS stored, x.geom
                FROM {table} x WHERE {scope}""",
            f"CREATE INDEX ON {points} USING gist (geom)",
            f"ANALYZE {points}",
            f"""SELECT x.id, coalesce(h.name, x.reported_district) AS district, x.stored FROM {points} x
                LEFT JOIN ({_piece_per_point(points, "id", "x.day", "x.day")}) h ON h.id = x.id"""]


def update_statements(table: str, time_column: str, scope: str, listed: list[tuple] | None) -> list[str]:
    """Statements storing the district of `table`'s rows matching `scope` (by the grid of
    `listed` maps if given), writing only the rows whose district changes."""
    *prepare, query = of_rows(table, time_column, scope, listed)
    return [*prepare, *store_moved(table, query)]


def store_moved(table: str, query: str) -> list[str]:
    """Statements writing the district of the rows of `query` (id, district, stored) whose district is not
    the one stored. The rows that move are found first, each district worked out once (an UPDATE joined to
    the query worked it out twice, for the comparison and for the value, and joined every row in scope to
    the table: at 100x, 4.1 million incidents of a year took 35 s of a derive --full to find none moving)."""
    moved = f"{table}_moved"
    return [SORT_FREE[0], f"DROP TABLE IF EXISTS {moved}",
            f"""CREATE TEMP TABLE {moved} ON COMMIT DROP AS
                SELECT q.id, q.district FROM ({query} OFFSET 0) q WHERE q.district IS DISTINCT FROM q.stored""",
            SORT_FREE[1], f"ANALYZE {moved}",
            f"UPDATE {table} t SET district = m.district FROM {moved} m WHERE m.id = t.id"]


def _piece_per_point(points: str, ident: str, day: str, carried: str) -> str:
    """SQL: (ident, name) for each point of `points` (which has a spatial index) that a piece of the map in
    force on its `day` holds, by the rule of `in_force`; `carried` are the columns `day` reads. LATERAL:
    each piece of the map leads and reads its points from the index, one prepared polygon tested against
    them in a row, whatever the estimates say."""
    return f"""SELECT DISTINCT ON (x.{ident}) x.{ident}, b.name
        FROM district_piece b CROSS JOIN LATERAL (
            SELECT x.{ident}, {carried} FROM {points} x WHERE ST_Intersects(b.geom, x.geom)) x
        WHERE (b.valid_from IS NULL OR b.valid_from <= {day}) AND (b.valid_to IS NULL OR {day} <= b.valid_to)
        ORDER BY x.{ident}, b.valid_from DESC NULLS LAST, b.name"""


def _local(time_column: str) -> str:
    return f"x.{time_column} AT TIME ZONE {LOCAL_TZ!r}"


def maps(cur: psycopg.Cursor) -> list[tuple]:
    """The district maps of `district_piece`: (number, first and last local date, first and end of the instants
    of those dates (None: open))."""
    return cur.execute(f"""SELECT DISTINCT map, valid_from, valid_to, valid_from::timestamp AT TIME ZONE {LOCAL_TZ!r},
            (valid_to + 1)::timestamp AT TIME ZONE {LOCAL_TZ!r} FROM district_piece ORDER BY 1""").fetchall()


def grid_for(conn: psycopg.Connection | psycopg.Cursor, tables: list[str]) -> list[tuple] | None:
    """The maps (`maps`), with `district_cell` created, when one of `tables` holds enough rows (by its
    statistics) to place its points by the grid (etl/grid.py); else None."""
    rows = conn.execute("SELECT max(greatest(reltuples, 0)) FROM pg_class WHERE oid = ANY(%s::regclass[])", (tables,)).fetchone()[0]
    listed = maps(conn)
    if not listed or (rows or 0) < grid.CELLS_FROM:
        return None
    create_cells(conn)
    return listed


def create_cells(cur: psycopg.Cursor) -> None:
    """Temporary `district_cell`: the grid's squares of each map of `district_piece` (etl/grid.py)."""
    cur.execute("DROP TABLE IF EXISTS district_outline")
    cur.execute(f"""CREATE TEMP TABLE district_outline ON COMMIT DROP AS
        SELECT map, ST_Subdivide(ST_Boundary(geom), 64) AS geom
        FROM (SELECT {_MAP} AS map, geom FROM boundary WHERE kind = 'district') b""")
    cur.execute("CREATE INDEX ON district_outline USING gist (geom)")
    grid.create_cells(cur, "district_cell", "district_piece", "district_outline", "map")


def by_cell(listed: list[tuple], time_column: str | None = None, date: str | None = None) -> tuple[str, str]:
    """(join, value) for rows x whose time is column `time_column` (a timestamptz), or whose local date is
    `date` (SQL): the join to their square on the map in force then when exactly one is, and the SQL of the
    name of their district piece by the rule of `in_force`: from the square where it is whole or meets no
    piece, else (and for rows in force of no map or of several) tested against the pieces."""
    t = f"x.{time_column}" if time_column else date

    def within(first, last, start, end) -> str:
        if time_column:
            bounds = ([f"{t} >= TIMESTAMPTZ '{start.isoformat()}'"] if start is not None else []) + (
                [f"{t} < TIMESTAMPTZ '{end.isoformat()}'"] if end is not None else [])
        else:
            bounds = ([f"{t} >= DATE '{first.isoformat()}'"] if first is not None else []) + (
                [f"{t} <= DATE '{last.isoformat()}'"] if last is not None else [])
        return " AND ".join(bounds) or f"{t} IS NOT NULL"
    conditions = [(n, within(*bounds)) for n, *bounds in listed]
    one = " + ".join(f"(CASE WHEN {c} THEN 1 ELSE 0 END)" for _, c in conditions) or "0"
    map_of = f"(CASE WHEN {one} = 1 THEN (CASE {' '.join(f'WHEN {c} THEN {n}' for n, c in conditions)} END) END)"
    exact = in_force(_local(time_column) if time_column else date)
    return grid.square_join("district_cell", "map", map_of), grid.placed(map_of, exact)


def fill_staged(cur: psycopg.Cursor, time_column: str, key: tuple[str, ...], table: str = "stg_u") -> None:
    """Add a `district` column to the staged rows of a load, by `of_point` (the upsert stores it with the
    row); without a district map loaded yet it is the reported district, as the derive has it.

    From grid.CELLS_FROM staged rows, each point is placed by its square of the grid (etl/grid.py), and only
    those in squares an outline crosses are tested against the pieces (at 100x, 2.76 million alerts: 52.7 s
    the way below, 24.6 s this way; a year's 4.1 million incidents, placed and copied in key order, 17.9 s
    once the squares are joined by hash, `SORT_FREE`). Fewer rows get a spatial index and each piece of the map finds its
    points through it: one prepared polygon tested against its points in a row. Searching the pieces once per
    point for all of them spent most of its time finding the candidates (410,000 incidents of a 10x year:
    4.5 s; through the index 1.9 s with its build). The rows are copied in their order (that of their key, as
    staged; an UPDATE would move them, and the rows would be numbered in another order than without the
    district) and their key analyzed again for the upsert's plan."""
    create_pieces(cur)
    day = _day(_local(time_column))
    # Only the maps in force on some staged day take part (a year's file meets one map, not both).
    cur.execute(f"""DELETE FROM district_piece b USING (SELECT min({day}) AS first, max({day}) AS last FROM {table} x) d
        WHERE b.valid_to < d.first OR b.valid_from > d.last""")
    listed = maps(cur)
    if listed and cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= grid.CELLS_FROM:
        create_cells(cur)
        join, value = by_cell(listed, time_column)
        district = f"coalesce({value}, x.reported_district)"
    else:
        cur.execute(f"CREATE INDEX ON {table} USING gist (geom)")
        join = (f"LEFT JOIN ({_piece_per_point(table, 'line_number', day, f'x.{time_column}')}) h "
                "ON h.line_number = x.line_number")
        district = "coalesce(h.name, x.reported_district)"
    cur.execute(SORT_FREE[0])
    cur.execute(f"""CREATE TEMP TABLE {table}_district ON COMMIT DROP AS
        SELECT x.*, {district}::varchar(16) AS district FROM {table} x {join}
        ORDER BY {", ".join(f"x.{c}" for c in key)}""")
    cur.execute(SORT_FREE[1])
    cur.execute(f"DROP TABLE {table}")
    cur.execute(f"ALTER TABLE {table}_district RENAME TO {table}")
    cur.execute(f"ANALYZE {table} ({', '.join(key)})")
