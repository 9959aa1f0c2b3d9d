"""Load one file: detect, stream and validate, COPY to staging, set-based upsert, account for every row.

One transaction per file: a failure anywhere leaves the database as it was before that file, and
the failure itself is recorded in `etl_run`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from etl.detect import apply_mapping, detect
from etl.errors import LoadError, RowError
from etl.reader import CsvSource
from etl.sources import LoadContext, Source
from layers import db, settings

BOUNDARY_SUFFIXES = (".geojson", ".json", ".shp", ".gpkg", ".zip")


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


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed: how a load recognizes a file it has already loaded."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def start_run(conn: psycopg.Connection, path: Path, kind: str, layout: str) -> int:
    with conn.transaction():
        return conn.execute(
            "INSERT INTO etl_run (status, kind, layout, file_path, file_sha256, file_bytes, rows_read, rows_loaded,"
            " rows_updated, rows_duplicate, rows_rejected) VALUES ('running', %s, %s, %s, %s, %s, 0, 0, 0, 0, 0)"
            " RETURNING id", (kind, layout, str(path), file_sha256(path), path.stat().st_size)).fetchone()[0]


def fail_run(dsn: str, run_id: int, message: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE etl_run SET status = 'failed', finished_at = now(), message = %s WHERE id = %s",
                     (message[:2000], run_id))


def load_file(path: Path, kind: str | None = None, mapping: dict[str, str] | None = None,
              encoding: str = "utf-8", agency: str | None = None, progress: bool = True,
              dsn: str | None = None, boundary_kind: str | None = None,
              name_field: str | None = None) -> LoadResult:
    """Load one file; raise LoadError (one line, actionable) when the file as a whole cannot load."""
    path = Path(path)
    dsn = dsn or db.dsn()
    agency = agency or settings.get("CGA_AGENCY")
    if kind == "boundaries" or (kind is None and path.suffix.lower() in BOUNDARY_SUFFIXES):
        from etl.boundaries import load_boundaries

        return load_boundaries(path, dsn=dsn, kind=boundary_kind, name_field=name_field)
    reader = CsvSource(path, encoding=encoding, progress=progress)
    header = apply_mapping(reader.header, mapping) if mapping else reader.header
    source, layout = detect(header, kind, path.name)
    result = LoadResult(str(path), source.kind, layout.name)
    with psycopg.connect(dsn) as conn:
        result.run_id = start_run(conn, path, source.kind, layout.name)
        try:
            with conn.transaction():
                _load_rows(conn, source, reader, header, LoadContext(agency, str(path), layout), result)
        except (LoadError, psycopg.Error, KeyboardInterrupt) as exc:
            message = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc).splitlines()[0]
            fail_run(dsn, result.run_id, message)
            if isinstance(exc, KeyboardInterrupt):
                raise
            if isinstance(exc, LoadError):
                raise
            raise LoadError(f"{path.name}: the database refused the load ({message}); nothing from this "
                            "file was kept") from None
    return result


def _load_rows(conn: psycopg.Connection, source: Source, reader: CsvSource, header: list[str],
               ctx: LoadContext, result: LoadResult) -> None:
    names = [c for c, _ in source.staging]
    cols = ", ".join(f"{c} {t}" for c, t in source.staging)
    conn.execute(f"CREATE TEMP TABLE stg (line_number integer, {cols}) ON COMMIT DROP")
    rejects: list[tuple[int, str, str]] = []
    width = len(header)
    with conn.cursor() as cur, cur.copy(f"COPY stg (line_number, {', '.join(names)}) FROM STDIN") as copy:
        for row in reader.rows():
            result.read += 1
            if len(row.fields) != width:
                rejects.append((row.line_number, row.raw,
                                f"expected {width} fields, found {len(row.fields)}"))
                continue
            try:
                values = source.parse(dict(zip(header, row.fields, strict=True)), ctx)
            except RowError as exc:
                rejects.append((row.line_number, row.raw, str(exc)))
                continue
            copy.write_row((row.line_number, *(values[n] for n in names)))
    if reader.progress and sys.stderr.isatty() and result.read >= 100_000:
        # The bar ends with the reading; say what the wait that follows is.
        print(f"  {reader.path.name}: merging {result.read - len(rejects):,} rows ...", file=sys.stderr, flush=True)
    key = ", ".join(source.key)
    with conn.cursor() as cur:
        if source.repeats_are_distinct:
            # Numbered in SQL, not in a Python dict that would grow with the file.
            last = source.key[-1]
            cur.execute(f"""UPDATE stg SET {last} = stg.{last} || ':' || (o.n - 1)
                FROM (SELECT line_number, row_number() OVER (PARTITION BY {key} ORDER BY line_number) AS n
                      FROM stg) o
                WHERE o.line_number = stg.line_number AND o.n > 1""")
        cur.execute(f"""CREATE TEMP TABLE stg_u ON COMMIT DROP AS
            SELECT DISTINCT ON ({key}) * FROM stg ORDER BY {key}, line_number DESC""")
        result.loaded, result.updated = source.merge(cur, result.run_id)
        record_rejects(cur, result, rejects)
    finish_run(conn, result)


def record_rejects(cur: psycopg.Cursor, result: LoadResult, rejects: list[tuple[int, str, str]]) -> None:
    """Store rejected rows (file, line, raw text, reason) and tally the reasons for the summary."""
    if rejects:
        with cur.copy("COPY etl_rejected_row (run_id, file_path, line_number, raw, reason) FROM STDIN") as copy:
            for line_number, raw, reason in rejects:
                copy.write_row((result.run_id, result.path, line_number, raw, reason))
    result.rejected = len(rejects)
    for _, _, reason in rejects:
        # Group "CrimeDate '13/40/2019' is not a date" and its kin under one summary line.
        short = re.sub(r"'[^']*'|\b\d+\b", "…", reason)
        result.reasons[short] = result.reasons.get(short, 0) + 1


def finish_run(conn: psycopg.Connection, result: LoadResult) -> None:
    """Close the run inside the file's transaction: whatever was not loaded, updated or rejected was a duplicate."""
    result.duplicate = result.read - result.rejected - result.loaded - result.updated
    conn.execute(
        "UPDATE etl_run SET status = 'succeeded', finished_at = now(), rows_read = %s, rows_loaded = %s,"
        " rows_updated = %s, rows_duplicate = %s, rows_rejected = %s WHERE id = %s",
        (result.read, result.loaded, result.updated, result.duplicate, result.rejected, result.run_id))
