"""Load one file: detect, stream and validate (etl/vector.py, etl/rowparse.py), COPY to staging, set-based
upsert, account for every row.

One transaction per file: a failure anywhere leaves the database as it was before that file, and
the failure itself is recorded in `etl_run`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from etl import deferred, rowparse, vector
from etl.detect import apply_mapping, detect
from etl.errors import LoadError
from etl.parse import (
    DEFAULT_REGION,
    REGION_MARGIN,
    Region,
    resolve_timezone,
)
from etl.reader import CsvSource, RawRow
from etl.runs import (
    cancelled,
    fail_run,
    finish_run,
    record_rejects,
    running_load,
    start_run,
    stop_if_cancelled,
)
from etl.sources import LoadContext, Source
from layers import db, settings

BOUNDARY_SUFFIXES = (".geojson", ".json", ".shp", ".gpkg", ".zip")
# Kinds whose files carry clock times, and the setting holding each one's default clock.
CLOCK_SETTINGS = {"shots": "CGA_TZ_SHOTS", "incidents": "CGA_TZ_INCIDENTS"}
# A load adding at least this many rows, and at least BULK_SHARE times as many as the target table
# holds, rebuilds the table's secondary indexes after the upsert instead of updating them row by row.
# Measured on a year of 10x incidents (410k rows) added to a table holding one year: 18.2 s row by row,
# 14.4 s rebuilding; to one holding two years the two ways cost the same (18.1 s and 20.2 s).
BULK_MIN_ROWS = 10_000
BULK_SHARE = 0.75


@dataclass
class LoadResult:
    path: str
    kind: str = ""
    layout: str = ""
    run_id: int | None = None
    read: int = 0
    loaded: int = 0
    updated: int = 0
    duplicate: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # Text values stored with a leading ' so a spreadsheet opening an export cannot run them.
    neutralised: int = 0
    notes: list[str] = field(default_factory=list)
    # Seconds spent in each step of the load (reading, parsing and staging; deduplicating; the upsert;
    # building indexes again; storing rejects and closing the run): where a slow load spends its time.
    seconds: dict[str, float] = field(default_factory=dict)

    def adds_up(self) -> bool:
        return self.read == self.loaded + self.updated + self.duplicate + self.rejected


def parse_mapping(text: str | None) -> dict[str, str]:
    """`canonical=header,...` or a JSON file path -> {canonical: header}."""
    if not text:
        return {}
    path = Path(text)
    if path.suffix == ".json" and path.is_file():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise LoadError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise LoadError(f"{path}: expected an object {{\"canonical\": \"file header\"}}")
        return {str(k): str(v) for k, v in data.items()}
    mapping = {}
    for part in text.split(","):
        if "=" not in part:
            raise LoadError(f"--map entry {part!r} is not canonical=header")
        key, value = part.split("=", 1)
        mapping[key.strip()] = value.strip()
    return mapping


def agency_region(conn: psycopg.Connection) -> Region:
    """Where the agency's points may lie: the loaded city outline (else districts) plus a margin,
    else the default box around Baltimore (etl/parse.py)."""
    row = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM boundary"
        " WHERE kind = (SELECT kind FROM boundary WHERE kind IN ('city', 'district')"
        "               ORDER BY kind = 'city' DESC LIMIT 1)) x").fetchone()
    if row is None or row[0] is None:
        return DEFAULT_REGION
    m = REGION_MARGIN
    return (row[0] - m, row[1] - m, row[2] + m, row[3] + m)


def load_file(path: Path, kind: str | None = None, mapping: dict[str, str] | None = None,
              encoding: str = "utf-8", agency: str | None = None, progress: bool = True,
              dsn: str | None = None, boundary_kind: str | None = None,
              name_field: str | None = None, crs: str | None = None, valid_from=None,
              valid_to=None, timezone: str | None = None, turn: Callable[[float], bool] | None = None
              ) -> LoadResult:
    """Load one file; raise LoadError (one line, actionable) when the file as a whole cannot load.

    `timezone` is the clock of the file's times without a UTC offset (else the kind's CGA_TZ_* setting,
    else the layout's documented clock). `turn(timeout)`, when given, says whether the load may write
    yet: the file is read, staged and prepared first, then the load waits for its turn (etl/batch.py:
    the file before it that writes the same tables has ended)."""
    path = Path(path)
    dsn = dsn or db.dsn()
    agency = agency or settings.get("CGA_AGENCY")
    if kind == "boundaries" or (kind is None and path.suffix.lower() in BOUNDARY_SUFFIXES):
        from etl.boundaries import load_boundaries

        return load_boundaries(path, dsn=dsn, kind=boundary_kind, name_field=name_field, crs=crs,
                               valid_from=valid_from, valid_to=valid_to)
    reader = CsvSource(path, encoding=encoding, progress=progress)
    header = apply_mapping(reader.header, mapping) if mapping else reader.header
    source, layout = detect(header, kind, path.name)
    clock = timezone if timezone else (settings.get(CLOCK_SETTINGS[source.kind]) if source.kind in CLOCK_SETTINGS
                                       else None)
    try:
        tz = resolve_timezone(clock) if source.kind in CLOCK_SETTINGS else None
    except ValueError as exc:
        origin = "--timezone" if timezone else CLOCK_SETTINGS[source.kind]
        raise LoadError(f"{path.name}: {origin}: {exc}") from None
    result = LoadResult(str(path), source.kind, layout.name)
    if tz is not None:
        result.notes.append(f"times without a UTC offset read as {clock.strip()}")
    with psycopg.connect(dsn) as conn:
        result.run_id = start_run(conn, path, source.kind, layout.name)
        with running_load(conn):
            try:
                with conn.transaction():
                    ctx = LoadContext(agency, str(path), layout, agency_region(conn), tz)
                    _load_rows(conn, source, reader, header, ctx, result, turn)
            except BaseException as exc:
                stopped = isinstance(exc, psycopg.errors.QueryCanceled) and cancelled(conn)
                message = ("interrupted" if isinstance(exc, KeyboardInterrupt) or stopped
                           else (str(exc).splitlines() or [""])[0])
                fail_run(dsn, result.run_id, message or type(exc).__name__)
                if isinstance(exc, LoadError | KeyboardInterrupt | SystemExit | GeneratorExit):
                    raise
                if stopped:
                    raise LoadError(f"{path.name}: interrupted; nothing from this file was kept") from None
                if isinstance(exc, psycopg.Error):
                    raise LoadError(f"{path.name}: the database refused the load ({message}); nothing from this "
                                    "file was kept") from None
                raise LoadError(f"{path.name}: internal error ({type(exc).__name__}: {message}); nothing from this "
                                "file was kept — please report it with the file") from None
    return result


def _load_rows(conn: psycopg.Connection, source: Source, reader: CsvSource, header: list[str],
               ctx: LoadContext, result: LoadResult, turn: Callable[[float], bool] | None = None) -> None:
    names = [c for c, _ in source.staging]
    cols = ", ".join(f"{c} {t}" for c, t in source.staging)
    conn.execute(f"CREATE TEMP TABLE stg (line_number integer, {cols}) ON COMMIT DROP")
    rejects: list[tuple[int, str, str]] = []
    started = time.perf_counter()
    # The big kinds' ordinary rows are staged column-wise (etl/vector.py), a window of the file at a time,
    # the rows it leaves parsed row by row; a window it cannot read undoes the windows before it (a
    # savepoint) and the whole file is read row by row. One COPY takes all the windows, the next one
    # computed in a thread while this one is written (vector._ahead); so the few rows left to the
    # parser are parsed here, not in forked workers.
    windows = vector.fast_windows(source, reader, header, ctx, rowparse.MAX_FIELD)
    staged = False
    if windows is not None:
        before = (result.read, result.neutralised)
        try:
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                    f"COPY stg (line_number, {', '.join(names)}) FROM STDIN (FORMAT csv, NULL '{vector.NULL}')"
            ) as copy:
                for window in windows:
                    stop_if_cancelled(conn)
                    result.read += window.read
                    records = ((RawRow(n, raw, fields), None) for n, fields, raw in window.fallback)
                    parsed = []
                    for line_number, values, raw, reason in rowparse.parsed(source, reader, header, ctx, result, records):
                        if reason is None:
                            parsed.append((line_number, values))
                        else:
                            rejects.append((line_number, rowparse.safe_raw(raw), reason))
                    for chunk in window.copy_csv(parsed):
                        copy.write(chunk)
            staged = True
        except vector.NotFast:
            result.read, result.neutralised = before
            rejects.clear()
    if not staged:
        parse = rowparse.parser_for(reader.path)
        with conn.cursor() as cur, cur.copy(f"COPY stg (line_number, {', '.join(names)}) FROM STDIN") as copy:
            for line_number, values, raw, reason in parse(source, reader, header, ctx, result):
                if reason is None:
                    copy.write_row((line_number, *values))
                else:
                    rejects.append((line_number, rowparse.safe_raw(raw), reason))
    result.seconds["read, parse and stage"] = time.perf_counter() - started
    if result.read == 0:
        raise LoadError(f"{reader.path.name} has a header but no rows")
    _merge_staged(conn, source, reader, result, rejects, turn)


def _merge_staged(conn: psycopg.Connection, source: Source, reader: CsvSource, result: LoadResult,
                  rejects: list[tuple[int, str, str]], turn: Callable[[float], bool] | None = None) -> None:
    """Number repeated keys, keep the last row of each key, prepare them, wait for the load's `turn` to
    write, upsert, store the rejects, close the run."""
    if result.neutralised:
        result.notes.append(f"{result.neutralised:,} formula-like cells neutralised (stored with a leading ')")
    if reader.progress and sys.stderr.isatty() and result.read >= 100_000:
        # The bar ends with the reading; say what the wait that follows is.
        print(f"  {reader.path.name}: merging {result.read - len(rejects):,} rows ...", file=sys.stderr, flush=True)
    key = ", ".join(source.key)
    seconds, started = result.seconds, time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        stop_if_cancelled(conn)
        now = time.perf_counter()
        seconds[name] = seconds.get(name, 0.0) + now - started
        started = now

    with conn.cursor() as cur:
        if source.repeats_are_distinct:
            # Numbered in SQL, not in a Python dict that would grow with the file: the n-th row of a key
            # becomes key:n-1 (then the last row of each numbered key is kept).
            last = source.key[-1]
            cur.execute(f"""UPDATE stg SET {last} = stg.{last} || ':' || (r.n - 1) FROM (
                    SELECT line_number, n FROM (
                        SELECT line_number, row_number() OVER (PARTITION BY {key} ORDER BY line_number) AS n
                        FROM stg) o WHERE n > 1) r
                WHERE r.line_number = stg.line_number""")
        if source.prepare_sorts_by_key:
            # Repeated keys are found among the staged rows' keys and line numbers alone, and the earlier
            # rows of a key removed in place: sorting and copying every staged row, as the DISTINCT ON
            # below does, took 1.6-2.3 s of a 410k-row load (10x incidents), this 0.8 s. The prepare
            # step puts the rows in key order again.
            cur.execute(f"""DELETE FROM stg USING (
                    SELECT line_number FROM (
                        SELECT line_number, row_number() OVER (PARTITION BY {key} ORDER BY line_number DESC) AS n
                        FROM stg) o WHERE n > 1) r
                WHERE r.line_number = stg.line_number""")
            cur.execute("ALTER TABLE stg RENAME TO stg_u")
        else:
            # In key order: the upserts probe the tables' keys in the order the rows come.
            cur.execute(f"""CREATE TEMP TABLE stg_u ON COMMIT DROP AS
                SELECT DISTINCT ON ({key}) line_number, {", ".join(c for c, _ in source.staging)} FROM stg
                ORDER BY {key}, line_number DESC""")
        # The upsert's joins are planned on real counts, not a guess; the key columns' statistics are
        # enough for that (all of them, geometry included, cost ~0.3 s on 41k rows).
        cur.execute(f"ANALYZE stg_u ({key})")
        step("deduplicate")
        source.prepare(cur)
        step("prepare")
        while turn is not None and not turn(0.2):
            stop_if_cancelled(conn)
        step("wait for the file before")
        rebuild = _set_aside_for_bulk(cur, source)
        result.loaded, result.updated = source.merge(cur, result.run_id)
        step("upsert")
        for table, name, statement in rebuild:
            deferred.put_back(cur, table, name, statement)
        step("build indexes again")
        record_rejects(cur, result, rejects)
    finish_run(conn, result)
    step("rejects and accounting")


def _set_aside_for_bulk(cur: psycopg.Cursor, source: Source) -> list[tuple[str, str, str]]:
    """For a load adding at least BULK_MIN_ROWS new rows and at least BULK_SHARE times as many as its
    target table holds (a first load, a rebuild, a second year as big as the first), drop the table's
    secondary indexes inside the load's transaction and return (table, name, statement) of each, to build
    again after the upsert (etl/deferred.py): one sorted build is several times faster than updating a
    dozen indexes row by row. The indexes behind constraints (the key the upsert needs) and the run foreign
    key stay, and a failed load gets everything back with its rollback. Readers wait for the load while the indexes are gone, so a table
    other sessions are using (the lock not granted within deferred.LOCK_WAIT) keeps them and is updated row by row.
    A table whose indexes a batch set aside (etl/batch.py) is locked and filled the same way."""
    if not source.bulk_tables:
        return []
    staged = cur.execute("SELECT count(*) FROM stg_u").fetchone()[0]
    if staged < BULK_MIN_ROWS:
        return []
    match = " AND ".join(f"t.{c} = s.{c}" for c in source.key)
    put_back: list[tuple[str, str, str]] = []
    new = None
    for table in source.bulk_tables:
        if deferred.is_deferred(cur, table):
            # A batch set the indexes aside (etl/deferred.py): insert under the lock, as a bulk load does.
            deferred.lock_exclusive(cur, table, deferred.BATCH_LOCK_WAIT)
            continue
        held = cur.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass",
                           (table,)).fetchone()[0]
        if staged < held * BULK_SHARE:
            continue
        if new is None:  # the staged rows whose key the first table (keyed by it) does not hold
            new = cur.execute(f"SELECT count(*) FROM stg_u s WHERE NOT EXISTS (SELECT 1 FROM {source.bulk_tables[0]} t"
                              f" WHERE {match})").fetchone()[0]
        if new < BULK_MIN_ROWS or new < held * BULK_SHARE:
            continue
        items = deferred.set_aside(cur.connection, table, keys=False)
        if not items or not deferred.lock_exclusive(cur, table):
            continue
        for name, statement in items:
            deferred.drop(cur, table, name, statement)
        put_back += [(table, name, statement) for name, statement in items]
    return put_back
