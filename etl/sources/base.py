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

    def widths(self) -> dict[str, int]:
        """{staging column: most characters its target column holds}; longer values reject the row."""
        return {}

    def parse(self, rec: dict[str, str], ctx: LoadContext) -> dict[str, Any]:
        raise NotImplementedError

    def merge(self, cur: psycopg.Cursor, run_id: int) -> tuple[int, int]:
        """Upsert from the deduplicated staging table `stg_u`; return (inserted, updated)."""
        raise NotImplementedError


def upsert(cur: psycopg.Cursor, table: str, columns: Sequence[str], conflict: Sequence[str],
           run_id: int, source: str = "stg_u", extra_set: str = "") -> tuple[int, int]:
    """INSERT ... ON CONFLICT DO UPDATE only when something changed; count inserts and updates.

    Rows whose key exists with identical content are neither: the caller counts them as duplicates.
    """
    cols = ", ".join(columns)
    compared = [c for c in columns if c not in conflict]
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in compared) + ", run_id = EXCLUDED.run_id"
    if extra_set:
        sets += ", " + extra_set
    old = ", ".join(f"{table}.{c}" for c in compared)
    new = ", ".join(f"EXCLUDED.{c}" for c in compared)
    sql = f"""
        WITH up AS (
            INSERT INTO {table} ({cols}, run_id)
            SELECT {cols}, %(run_id)s FROM {source}
            ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {sets}
            WHERE ({old}) IS DISTINCT FROM ({new})
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
    """
    cur.execute(sql, {"run_id": run_id})
    inserted, updated = cur.fetchone()
    return inserted, updated
