"""What a source kind declares, and the set-based upsert most kinds share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from etl.parse import DEFAULT_REGION, Region


@dataclass(frozen=True)
class Layout:
    """One header generation of a source: the normalized columns that must be present."""

    name: str
    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    description: str = ""


@dataclass
class LoadContext:
    """What a parser may need besides the row: the agency default and the file's layout."""

    agency: str
    file_path: str
    layout: Layout
    # Where the agency's points may lie (etl/parse.py): from the loaded boundaries, else Baltimore's box.
    region: Region | None = DEFAULT_REGION
    # The clock of times without a UTC offset (`--timezone`, else the kind's CGA_TZ_* setting); None:
    # the layout's documented clock (docs/formats.md).
    tz: dt.tzinfo | None = None


def schema_widths(table: str, columns: Iterable[str], rename: dict[str, str] | None = None) -> dict[str, int]:
    """{staging column: character limit} for the columns that land in varchar columns of `table`
    (layers/schema.py); `rename` maps a staging column to its target column when the names differ."""
    from layers.schema import Base

    target = Base.metadata.tables[table]
    widths = {}
    for column in columns:
        name = (rename or {}).get(column, column)
        length = getattr(target.c[name].type, "length", None) if name in target.c else None
        if length:
            widths[column] = length
    return widths


class Source:
    kind: str = ""
    layouts: tuple[Layout, ...] = ()
    # Staging columns in order: (name, SQL type). `line_number` is added by the loader.
    staging: tuple[tuple[str, str], ...] = ()
    # Columns identifying a record inside a file (the last occurrence wins).
    key: tuple[str, ...] = ()
    # True when rows repeating a key are distinct records (victims of one incident), not duplicates:
    # the loader then numbers the repeats (key, key:1, key:2 ...) in file order.
    repeats_are_distinct: bool = False
    # Tables `merge` fills, whose secondary indexes a load adding as many rows as the table holds rebuilds
    # instead of updating them row by row (etl/loader.py, BULK_MIN_ROWS): the first keyed by `key`, which
    # tells how many of the staged rows are new, the others filled from the same rows.
    bulk_tables: tuple[str, ...] = ()
    # True when `prepare` rewrites `stg_u` in key order (etl/districts.py, fill_staged): the loader then
    # removes repeated keys in place instead of copying the staged rows sorted by key for the upsert.
    prepare_sorts_by_key: bool = False

    def widths(self) -> dict[str, int]:
        """{staging column: most characters its target column holds}; longer values reject the row."""
        return {}

    def parse(self, rec: dict[str, str], ctx: LoadContext) -> dict[str, Any]:
        raise NotImplementedError

    def prepare(self, cur: psycopg.Cursor) -> None:
        """Work on the deduplicated staging table `stg_u` that reads none of the tables the load writes
        (districts from the maps): done before the load waits its turn to write (etl/batch.py)."""

    def merge(self, cur: psycopg.Cursor, run_id: int) -> tuple[int, int]:
        """Upsert from the deduplicated staging table `stg_u`; return (inserted, updated)."""
        raise NotImplementedError


def upsert(cur: psycopg.Cursor, table: str, columns: Sequence[str], conflict: Sequence[str],
           run_id: int, source: str = "stg_u", extra_set: str = "", carried: Sequence[str] = ()) -> tuple[int, int]:
    """INSERT ... ON CONFLICT DO UPDATE only when something changed; count inserts and updates.

    Rows whose key exists with identical content are neither: the caller counts them as duplicates.
    `carried`: columns of the staged rows that are not the file's content (a district worked out from it,
    etl/districts.py): stored with every row inserted or updated, never compared.
    """
    compared = [c for c in columns if c not in conflict]
    columns = [*columns, *carried]
    cols = ", ".join(columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*compared, *carried]) + ", run_id = EXCLUDED.run_id"
    if extra_set:
        sets += ", " + extra_set
    old = ", ".join(f"{table}.{c}" for c in compared)
    new = ", ".join(f"EXCLUDED.{c}" for c in compared)
    if _holds_exclusive_lock(cur, table):
        return _update_then_insert(cur, table, columns, conflict, compared, run_id, source, extra_set, carried)
    # Rows already stored exactly as the file has them are left out before the upsert (ON CONFLICT
    # would lock, and so write, every one of them only to find nothing to change). They are left out
    # into a table of their own first: an INSERT whose SELECT looks into the table it fills may be
    # planned to rescan the rows it has just added, once per row.
    match = " AND ".join(f"t.{c} = s.{c}" for c in conflict)
    same = (f"({', '.join(f't.{c}' for c in compared)}) IS NOT DISTINCT FROM ({', '.join(f's.{c}' for c in compared)})"
            if compared else "true")
    # Probed through the key's index: as a hash anti join it read the whole table to compare a file's
    # rows with it, a cost growing with the table (a year of 10x incidents against four: 3.0 s, 1.3 s so).
    cur.execute("SET LOCAL enable_hashjoin = off")
    cur.execute("SET LOCAL enable_mergejoin = off")
    changed = _scratch(cur, table, f"SELECT s.* FROM {source} s WHERE NOT EXISTS (SELECT 1 FROM {table} t"
                                   f" WHERE {match} AND {same})", conflict)
    cur.execute("RESET enable_hashjoin")
    cur.execute("RESET enable_mergejoin")
    sql = f"""
        WITH up AS (
            INSERT INTO {table} ({cols}, run_id)
            SELECT {cols}, %(run_id)s FROM {changed}
            ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {sets}
            WHERE ({old}) IS DISTINCT FROM ({new})
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
    """
    cur.execute(sql, {"run_id": run_id})
    inserted, updated = cur.fetchone()
    return inserted, updated


def _scratch(cur: psycopg.Cursor, table: str, select: str, key: Sequence[str], prefix: str = "stg_up_") -> str:
    """A temporary table holding `select`'s rows, computed in full before anything is written.

    Analyzed for its row count and its key columns only: it is read whole by the insert, and
    statistics of every column (geometry included) cost ~0.3 s of a 41k-row load."""
    name = prefix + table.replace(".", "_")
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    cur.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {select}")
    cur.execute(f"ANALYZE {name} ({', '.join(key)})")
    return name


def _holds_exclusive_lock(cur: psycopg.Cursor, table: str) -> bool:
    """True when this transaction holds `table` in ACCESS EXCLUSIVE mode (a bulk load, etl/loader.py):
    no other session can write it until the load commits."""
    return cur.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'relation' AND relation = %s::regclass"
        " AND pid = pg_backend_pid() AND mode = 'AccessExclusiveLock' AND granted)", (table,)).fetchone()[0]


# Values of the leading key columns (agencies: one or two a file) beyond which the range check is not worth
# one index search each: every staged key is probed then.
RANGE_GROUPS = 50


def _any_stored_in_range(cur: psycopg.Cursor, table: str, source: str, conflict: Sequence[str]) -> bool:
    """Could a staged key be stored already? False only when, for each value of the leading key columns,
    no stored key lies between the first and the last staged value of the last key column: one pass over
    the staged rows and one search of the key index per value, against a search per staged row (at 100x,
    6-9 s for each later year of 4.1 million incidents). True (probe them all) when a key column is null
    or there are too many values to search."""
    *group, last = conflict
    leading_sql = "".join(f", {c}" for c in group)
    rows = cur.execute(f"SELECT min({last}), max({last}), count(*) = count({last}){leading_sql} FROM {source}"
                       f"{f' GROUP BY {leading_sql[2:]}' if group else ''} LIMIT {RANGE_GROUPS + 1}").fetchall()
    if len(rows) > RANGE_GROUPS:
        return True
    within = " AND ".join([*(f"{c} = %s" for c in group), f"{last} BETWEEN %s AND %s"])
    for first, final, complete, *leading in rows:
        if not complete or None in leading:
            return True
        if first is not None and cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {within})",
                                             (*leading, first, final)).fetchone()[0]:
            return True
    return False


def _update_then_insert(cur: psycopg.Cursor, table: str, columns: Sequence[str], conflict: Sequence[str],
                        compared: Sequence[str], run_id: int, source: str, extra_set: str,
                        carried: Sequence[str] = ()) -> tuple[int, int]:
    """The upsert as an UPDATE of the rows whose key exists and changed, then a plain INSERT of the
    others: the same rows and counts as INSERT ... ON CONFLICT, without its per-row speculative
    insertion. Only safe while no other session can insert the same keys in between, i.e. under
    the exclusive lock of a bulk load."""
    cols = ", ".join(columns)
    if (cur.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()[0]
            or not _any_stored_in_range(cur, table, source, conflict)):
        # An empty table (a first load, a reload after emptying it), or no stored key between the first and
        # the last staged one (a new year's export: case numbers begin with the year): every staged row is new.
        cur.execute(f"INSERT INTO {table} ({cols}, run_id) SELECT {cols}, %(run_id)s FROM {source}", {"run_id": run_id})
        return cur.rowcount, 0
    match = " AND ".join(f"t.{c} = s.{c}" for c in conflict)
    sets = ", ".join(f"{c} = s.{c}" for c in [*compared, *carried]) + ", run_id = %(run_id)s"
    if extra_set:
        sets += ", " + extra_set
    old = ", ".join(f"t.{c}" for c in compared)
    new = ", ".join(f"s.{c}" for c in compared)
    # The keys stored already first, each key probed in the table's key index (in the staged rows' key order).
    # Planned as hash joins, the update and this read the whole table each: at 10x, a fifth incident year into
    # four spent 4.3 s updating nothing and 2.0 s finding the new rows. Only the keys are kept: a copy of the
    # new rows took a 100x incident year (4.1 million rows, none stored) 11.2 s, the keys 6.9 s.
    cur.execute("SET LOCAL enable_hashjoin = off")
    cur.execute("SET LOCAL enable_mergejoin = off")
    stored = _scratch(cur, table, f"SELECT {', '.join(f's.{c}' for c in conflict)} FROM {source} s"
                                  f" WHERE EXISTS (SELECT 1 FROM {table} t WHERE {match})", conflict, "stg_in_")
    cur.execute("RESET enable_hashjoin")
    cur.execute("RESET enable_mergejoin")
    if not cur.execute(f"SELECT EXISTS (SELECT 1 FROM {stored})").fetchone()[0]:
        cur.execute(f"INSERT INTO {table} ({cols}, run_id) SELECT {cols}, %(run_id)s FROM {source}", {"run_id": run_id})
        return cur.rowcount, 0
    # Some keys are stored already (a later export of a period loaded before): those whose content changed.
    cur.execute(f"UPDATE {table} AS t SET {sets} FROM {source} s WHERE {match} AND ({old}) IS DISTINCT FROM ({new})",
                {"run_id": run_id})
    updated = cur.rowcount
    known = " AND ".join(f"k.{c} = s.{c}" for c in conflict)
    cur.execute(f"INSERT INTO {table} ({cols}, run_id) SELECT {cols}, %(run_id)s FROM {source} s"
                f" WHERE NOT EXISTS (SELECT 1 FROM {stored} k WHERE {known})", {"run_id": run_id})
    return cur.rowcount, updated
