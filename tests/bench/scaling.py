"""Shared scaffolding of the read-path benchmarks: a scale-1 copy of a loaded database, and a 100x
database built from it in SQL.

Loading a real 100x dataset through the ETL takes far too long on these machines, so the 100x
database is a copy of the scale-1 one in which chosen tables are replicated 99 more times with
INSERT ... SELECT ... generate_series (new ids and keys per copy; the benchmark says which tables
and how). Scale 1 comes from CGA_BENCH_SOURCE_URL, else the configured database (run `make demo`
once first). Set CGA_BENCH_KEEP=1 to keep the built databases between runs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping

import psycopg
import pytest

from layers import cluster, db, migrate

OFF = 10_000_000  # id offset per copy (scale-1 ids stay below it)
# 99 extra copies make 100x; CGA_BENCH_COPIES=1 gives a quick smoke run of the benchmark code itself.
COPIES = int(os.environ.get("CGA_BENCH_COPIES", "99"))

Say = Callable[[str], None]
# table -> (row filter, {column: SQL expression of copy k}); other columns are copied as they are.
Replica = Mapping[str, tuple[str, Mapping[str, str]]]


def dsn(name: str) -> str:
    return db.dsn(cluster.url(name))


def columns(conn: psycopg.Connection, table: str) -> list[str]:
    schema, _, name = table.rpartition(".")
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position", (schema or "public", name))]


def count(name: str, table: str) -> int | None:
    try:
        with psycopg.connect(dsn(name)) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except psycopg.Error:
        return None


def stats(samples: list[float]) -> str:
    ms = sorted(1000 * s for s in samples)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms   (n={len(ms)})"


def copy_loaded(target: str, tables: tuple[str, ...], check_table: str, say: Say,
                after: Callable[[str], None] | None = None) -> int:
    """Copy the loaded source database's `tables` into `target` (current migrations); reuse when equal."""
    src = os.environ.get("CGA_BENCH_SOURCE_URL") or db.dsn()
    with psycopg.connect(src) as s:
        n_src = s.execute(f"SELECT count(*) FROM {check_table}").fetchone()[0]
    if n_src < 1000:
        pytest.fail(f"the source database holds {n_src} rows of {check_table}: load synthetic Baltimore first "
                    "(make demo), or point CGA_BENCH_SOURCE_URL at a loaded database")
    if count(target, check_table) == n_src:
        say(f"scale 1: reusing {target}")
        return n_src
    started = time.perf_counter()
    cluster.drop_database(target)
    cluster.ensure_database(target)
    migrate.upgrade(db.engine(cluster.url(target)))
    db.engine(cluster.url(target)).dispose()
    with psycopg.connect(src) as s, psycopg.connect(dsn(target)) as t:
        for table in tables:
            cols = ", ".join(columns(t, table))
            with s.cursor().copy(f"COPY (SELECT {cols} FROM {table}) TO STDOUT (FORMAT binary)") as out, \
                    t.cursor().copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT binary)") as inp:
                for chunk in out:
                    inp.write(chunk)
        t.commit()
    if after:
        after(target)
    with psycopg.connect(dsn(target), autocommit=True) as t:
        t.execute("VACUUM ANALYZE")
    say(f"scale 1: copied the loaded database into {target} in {time.perf_counter() - started:.0f} s")
    return n_src


def replicate(source: str, target: str, replica: Replica, check_table: str, say: Say,
              after: Callable[[str], None] | None = None) -> None:
    """Build `target` from `source` with every table in `replica` holding COPIES + 1 times its rows."""
    n1 = count(source, check_table)
    if count(target, check_table) == n1 * (COPIES + 1):
        say(f"scale {COPIES + 1}: reusing {target}")
        return
    started = time.perf_counter()
    cluster.drop_database(target)
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    with psycopg.connect(dsn(target)) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        for table, (row_filter, exprs_by_col) in replica.items():
            schema, _, name = table.rpartition(".")
            schema = schema or "public"
            # Secondary indexes are rebuilt after the bulk insert (much faster than maintaining them).
            indexes = conn.execute("""
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.schemaname = %s AND i.tablename = %s AND NOT EXISTS (
                    SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%%I.%%I', i.schemaname, i.indexname)::regclass)
                """, (schema, name)).fetchall()
            for ix, _ in indexes:
                conn.execute(f'DROP INDEX "{schema}"."{ix}"')
            cols = columns(conn, table)
            exprs = [exprs_by_col.get(c, c).format(off=OFF) for c in cols]
            t1 = time.perf_counter()
            conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} "
                         f"FROM {table} CROSS JOIN generate_series(1, {COPIES}) AS k WHERE {row_filter}")
            for _, ddl in indexes:
                conn.execute(ddl)
            conn.commit()
            say(f"  replicated {table} ({row_filter}) x{COPIES + 1}, {len(indexes)} indexes rebuilt, "
                f"in {time.perf_counter() - t1:.0f} s")
    if after:
        after(target)
    with psycopg.connect(dsn(target), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    say(f"scale {COPIES + 1}: built {target} in SQL in {time.perf_counter() - started:.0f} s")


def drop_unless_kept(*names: str) -> None:
    if os.environ.get("CGA_BENCH_KEEP") != "1":
        for name in names:
            cluster.drop_database(name)
