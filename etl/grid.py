"""Placing many points in the district pieces by a grid of squares first (etl/districts.py: the districts of
a big load, and of a derive after a new map or with --full).

A CELL-degree square that the pieces of one polygon name meet and no polygon's outline crosses lies wholly in
that polygon: every point in it takes that name without a polygon test, through a hash join on the square's
numbers. Only points in squares an outline crosses are tested against the pieces (in Baltimore about a fifth
of the district map's squares). Building the squares costs a few tenths of a second per map, so callers use
the grid only for many points (CELLS_FROM). At 100x: a load's 2.76 million alerts placed in 24.6 s instead of
52.7 s, the first derive's 1.25 million recoveries in 7.0 s instead of 21.0 s; a year's 4.1 million incidents
in 17.9 s with their copy in key order, once the squares are joined by hash (etl/districts.py SORT_FREE: the
planner sorted the rows by square on disk for a merge join, 46.0 s). Tried for the daily counts' 278
neighbourhoods and 56 CSAs too, where more squares are crossed and each point in them searched the pieces
alone: 150 s of the first derive instead of 86 s, so those stay as they were (layers/daily.py). Tried again
with the crossed squares' points counted the daily way (through an index on just them): at 10x, with the
derive's memory, the alerts' neighbourhood counts took 1.32 s with 0.002-degree squares (58% of the points in
crossed ones), 1.00 s with 0.001 and 2.34 s with 0.0005 (building 90,000 squares), against 0.97 s as they are.
"""

from __future__ import annotations

from typing import Any

CELL = 0.002
# Points from which callers place them by the grid; fewer: each piece finds its points through an index.
CELLS_FROM = 200_000


def create_cells(cur: Any, table: str, pieces: str, outlines: str, group: str) -> None:
    """Temporary `table` (group, i, j, name, whole): for each `group` of the `pieces` (a table of group, name
    and polygon pieces, spatially indexed) the squares over its extent that some piece meets, `whole` when the
    pieces meeting it all bear one name and no line of `outlines` (group and the polygons' outlines, spatially
    indexed) of its group crosses it. Each square is widened by a nanodegree, so a point a rounding error
    outside it still counts as in it."""
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"""CREATE TEMP TABLE {table} ON COMMIT DROP AS
        WITH extent AS (
            SELECT {group} AS grp, floor(min(ST_XMin(geom)) / {CELL})::int AS i0, floor(max(ST_XMax(geom)) / {CELL})::int AS i1,
                   floor(min(ST_YMin(geom)) / {CELL})::int AS j0, floor(max(ST_YMax(geom)) / {CELL})::int AS j1
            FROM {pieces} GROUP BY 1),
        square AS (
            SELECT e.grp, i, j,
                   ST_Expand(ST_MakeEnvelope(i * {CELL}, j * {CELL}, (i + 1) * {CELL}, (j + 1) * {CELL}, 4326), 1e-9) AS box
            FROM extent e, generate_series(e.i0, e.i1) i, generate_series(e.j0, e.j1) j)
        SELECT q.grp AS {group}, q.i, q.j, p.names[1] AS name,
               cardinality(p.names) = 1 AND NOT EXISTS (
                   SELECT 1 FROM {outlines} o WHERE o.{group} = q.grp AND ST_Intersects(o.geom, q.box)) AS whole
        FROM square q CROSS JOIN LATERAL (
            SELECT array_agg(DISTINCT b.name ORDER BY b.name) AS names FROM {pieces} b
            WHERE b.{group} = q.grp AND ST_Intersects(b.geom, q.box)) p
        WHERE p.names IS NOT NULL""")
    cur.execute(f"ANALYZE {table}")


def square_join(table: str, group: str, group_sql: str) -> str:
    """SQL joining row x (with a point `geom`) to its square of `table` in the group `group_sql` gives."""
    return (f"LEFT JOIN {table} c ON c.{group} = {group_sql} AND c.i = floor(ST_X(x.geom) / {CELL})::int "
            f"AND c.j = floor(ST_Y(x.geom) / {CELL})::int")


def placed(group_sql: str, exact: str) -> str:
    """SQL: the name of row x's polygon: its square's where the square is whole or meets no piece of the group
    (then none), else `exact` (a test against the pieces); `exact` too when `group_sql` is NULL."""
    return f"CASE WHEN {group_sql} IS NOT NULL AND coalesce(c.whole, TRUE) THEN c.name ELSE {exact} END"
