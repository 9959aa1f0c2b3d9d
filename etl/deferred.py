"""Secondary indexes and the run key set aside while big loads fill one table, put back after the last.

One big load already builds its table's secondary indexes once, after its insert, instead of updating them
row by row (etl/loader.py: a load at least BULK_SHARE times as big as the table). A batch of several such
files into one table (five years of incidents into a new database) paid that again and again: the second
year built them over two years' rows, and the later years, smaller than the table by then, updated them
row by row. `etl/batch.py` sets them aside here before the first file of such a batch and builds them once
after the last; each file then inserts under an exclusive lock without them (the loader's bulk path).
The run foreign key is set aside with them and checked once over the table at the end (row by row, it took
half of a first load's insert); a single load keeps it (see `set_aside`). At 10x Baltimore, five incident years into an empty table as one batch
(old and new code in turn, another benchmark running on the machine): 162 s, of which 126 s inserting and
building indexes; set aside for the batch 131 s, of which 71 s.

Nothing is lost if the batch stops: the definitions are recorded in `etl_deferred_index` in the transaction
that drops the indexes. A batch holds a shared advisory lock while it runs; the next load or derive that
finds recorded indexes while no batch holds that lock builds them (`restore_orphans`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

# The advisory lock a batch holds (shared) while indexes it set aside may be missing.
LOCK_KEY = 0x43474144  # "CGAD"
# Memory for building the indexes again (the session's own; the cluster's default is 256 MB).
BUILD_MEMORY = "1GB"


def set_aside(conn: psycopg.Connection, table: str, keys: bool = True) -> list[tuple[str, str]]:
    """(name, statement building it again) of what a bulk insert into `table` need not keep up row by row:
    its secondary indexes (those no constraint stands behind, and not unique: uniqueness is always kept),
    then (`keys`) its foreign key to the run that loaded each row (checked once over the table when put
    back: per row, it took half of a first load's insert). Dropping or adding that key locks the run table against every load's start and end until the
    transaction commits: only a batch, which commits at once, sets it aside; inside a load's transaction it
    deadlocked a load beside it (holding its own table, waiting to close its run)."""
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1", (table,)).fetchall()
    found = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'"
        " AND confrelid = 'etl_run'::regclass AND conkey = ARRAY[(SELECT attnum FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attname = 'run_id')] ORDER BY 1", (table, table)).fetchall() if keys else []
    return [*indexes, *((name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}") for name, definition in found)]


def drop(cur: psycopg.Cursor, table: str, name: str, statement: str) -> None:
    cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}" if _is_key(statement) else f"DROP INDEX {name}")


def put_back(cur: psycopg.Cursor, table: str, name: str, statement: str) -> None:
    """Build an index again, or add the run foreign key again and check it over the table in one pass
    (in the caller's transaction)."""
    if _is_key(statement):
        cur.execute(statement + " NOT VALID")
        check_key(cur, table, name)
    else:
        cur.execute(statement)


def check_key(cur: psycopg.Cursor, table: str, name: str) -> None:
    """Check a run foreign key added NOT VALID over every row. A row whose run was deleted while the key was
    set aside gets no run, as the key's ON DELETE SET NULL would have done."""
    try:
        with cur.connection.transaction():
            cur.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
    except psycopg.errors.ForeignKeyViolation:
        cur.execute(f"UPDATE {table} t SET run_id = NULL WHERE t.run_id IS NOT NULL"
                    " AND NOT EXISTS (SELECT 1 FROM etl_run r WHERE r.id = t.run_id)")
        cur.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def _is_key(statement: str) -> bool:
    return statement.startswith("ALTER TABLE")


def _state(conn: psycopg.Connection, table: str, name: str, statement: str) -> str:
    """'missing', 'unchecked' (a key added NOT VALID, its check not done) or 'present'."""
    if _is_key(statement):
        row = conn.execute("SELECT convalidated FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s",
                           (table, name)).fetchone()
        return "missing" if row is None else "present" if row[0] else "unchecked"
    return "missing" if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None else "present"


# How long a load waits for a table's exclusive lock. Longer than the server's deadlock_timeout (1 s):
# autovacuum, which analyzes a table after each big load into it, gives way to a lock request only once that
# has passed. Waiting just 1 s, half of a 100x build's later incident years fell back to the row-by-row
# upsert while autovacuum analyzed the year before. A batch's own tables (indexes already set aside, readers
# already waiting) wait longer.
LOCK_WAIT = "2s"
BATCH_LOCK_WAIT = "30s"


def lock_exclusive(cur: psycopg.Cursor, table: str, wait: str = LOCK_WAIT) -> bool:
    """Take `table` in ACCESS EXCLUSIVE mode for the rest of the transaction, waiting at most `wait`
    (a table other sessions are reading is left alone); say whether it was granted."""
    try:
        with cur.connection.transaction():
            cur.execute(f"SET LOCAL lock_timeout = '{wait}'")
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    except psycopg.errors.LockNotAvailable:
        return False
    cur.execute("SET LOCAL lock_timeout TO DEFAULT")
    return True


def is_deferred(cur: psycopg.Cursor, table: str) -> bool:
    """Has a batch set aside indexes of `table`? (Its loads then take the table's bulk path.)"""
    if cur.execute("SELECT to_regclass('etl_deferred_index')").fetchone()[0] is None:
        return False  # a database not yet upgraded to migration 0018
    return bool(cur.execute("SELECT EXISTS (SELECT 1 FROM etl_deferred_index WHERE table_name = %s)",
                            (table,)).fetchone()[0])


@contextmanager
def batch(dsn: str, tables: list[str], echo: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Within this block the secondary indexes and run keys of `tables` are set aside (of the tables whose
    lock is granted within LOCK_WAIT: yielded); they are put back when it ends, however it ends. If putting
    them back fails, they stay recorded for the next load or derive, and `echo` says so."""
    with psycopg.connect(dsn, autocommit=True) as hold:
        hold.execute("SELECT pg_advisory_lock_shared(%s)", (LOCK_KEY,))
        deferred = []
        try:
            for table in tables:
                n = _defer(hold, table)
                if n:
                    deferred.append(table)
                    if echo:
                        echo(f"  set aside {n} indexes and keys of {table} until the last of these files is loaded")
            yield deferred
        finally:
            try:
                restore(hold, deferred, echo, dsn)
            except psycopg.Error as exc:
                if echo:
                    echo(f"  could not build the indexes set aside again ({str(exc).strip().splitlines()[0]}); "
                         "the next load or `crimegun derive` tries again")
            except KeyboardInterrupt:
                if echo:
                    echo("  interrupted: the next load or derive builds the indexes set aside again")
                raise


def _defer(conn: psycopg.Connection, table: str) -> int:
    """Drop the table's secondary indexes and run key, recording them, in one transaction; return how many."""
    with conn.transaction(), conn.cursor() as cur:
        if not lock_exclusive(cur, table):
            return 0
        items = set_aside(conn, table)
        for name, statement in items:
            cur.execute("INSERT INTO etl_deferred_index (name, table_name, statement) VALUES (%s, %s, %s)"
                        " ON CONFLICT (name) DO NOTHING", (name, table, statement))
            drop(cur, table, name, statement)
        return len(items)


def restore(conn: psycopg.Connection, tables: list[str] | None = None,
            echo: Callable[[str], None] | None = None, dsn: str | None = None) -> int:
    """Build the recorded indexes of `tables` (None: all) again, each in its own transaction with its
    record removed, then check the run keys; return how many were built. `conn` must be in autocommit mode.
    Given `dsn`, a second connection builds indexes beside `conn` (`BUILDERS`)."""
    rows = conn.execute("SELECT name, table_name, statement FROM etl_deferred_index"
                        " WHERE %s::text[] IS NULL OR table_name = ANY(%s)"
                        " ORDER BY table_name, starts_with(statement, 'ALTER TABLE'), name",  # indexes, then keys
                        (tables, tables)).fetchall()
    if not rows:
        return 0
    started = time.perf_counter()
    for table in sorted({t for _, t, _ in rows}):
        if echo:
            echo(f"  building the indexes and keys of {table} again ...")
    # The dearest first, so that the two builders end together: the biggest tables', inverted and spatial
    # indexes (their builds use one process; a B-tree's takes parallel workers) before the others.
    sizes = dict(conn.execute("SELECT c.oid::regclass::text, c.relpages FROM pg_class c WHERE c.oid = ANY(%s::regclass[])",
                              (sorted({t for _, t, _ in rows}),)).fetchall())
    indexes = sorted((r for r in rows if not _is_key(r[2])),
                     key=lambda r: (-sizes.get(r[1], 0), not re.search(r"USING (gin|gist)", r[2]), r[0]))
    _build_side_by_side(conn, indexes, dsn if len(indexes) > 1 else None)
    for name, table, statement in (r for r in rows if _is_key(r[2])):
        state = _state(conn, table, name, statement)
        if state == "present":
            conn.execute("DELETE FROM etl_deferred_index WHERE name = %s", (name,))
            continue
        with conn.cursor() as cur:
            # Added in a transaction of its own, which holds the lock on the run table for an instant;
            # checked in another, which lets other loads start and end meanwhile.
            if state == "missing":
                cur.execute(statement + " NOT VALID")
            with conn.transaction():
                check_key(cur, table, name)
                cur.execute("DELETE FROM etl_deferred_index WHERE name = %s", (name,))
    if echo:
        echo(f"  built {len(rows)} indexes and keys again ({time.perf_counter() - started:.1f}s)")
    return len(rows)


# Connections building a batch's indexes side by side at its end, when nothing else is loading: at 100x the
# incident table's alone took 2.3 minutes one after another while the second core had nothing to do.
BUILDERS = 2


def _build_side_by_side(conn: psycopg.Connection, items: list[tuple[str, str, str]], dsn: str | None) -> None:
    """Build the indexes `items` (name, table, statement) on `conn` and, given `dsn`, on a second
    connection, each taking the next one in order; the first error stops both and is raised."""
    pending = list(items)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def take() -> tuple[str, str, str] | None:
        with lock:
            return pending.pop(0) if pending and not errors else None

    def build(on: psycopg.Connection) -> None:
        on.execute(f"SET maintenance_work_mem = '{BUILD_MEMORY}'")
        try:
            while (item := take()) is not None:
                name, table, statement = item
                with on.transaction(), on.cursor() as cur:
                    if _state(on, table, name, statement) == "missing":
                        put_back(cur, table, name, statement)
                    cur.execute("DELETE FROM etl_deferred_index WHERE name = %s", (name,))
        except BaseException as exc:
            errors.append(exc)
        finally:
            try:
                on.execute("RESET maintenance_work_mem")
            except psycopg.Error:
                pass  # the connection is gone: nothing to reset

    helper = None
    if dsn and BUILDERS > 1:
        try:
            helper = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error:
            helper = None  # one connection builds them all
    beside = threading.Thread(target=build, args=(helper,), name="crimegun-index") if helper else None
    if beside:
        beside.start()
    try:
        build(conn)
    finally:
        if helper is not None and beside is not None:
            if errors:
                helper.cancel_safe()
            beside.join()
            helper.close()
    if errors:
        raise errors[0]


def restore_orphans(dsn: str, echo: Callable[[str], None] | None = None) -> int:
    """Build the indexes a batch set aside and did not build again (it stopped), unless a batch still runs."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('etl_deferred_index')").fetchone()[0] is None:
            return 0  # a database not yet upgraded to migration 0018
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM etl_deferred_index)").fetchone()[0]:
            return 0
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
            return 0  # a batch is loading: it builds them when it ends
        try:
            if echo:
                echo("  indexes set aside by a load that stopped before its end:")
            return restore(conn, None, echo, dsn)
        except psycopg.Error as exc:
            if echo:
                echo(f"  could not build the indexes set aside again ({str(exc).strip().splitlines()[0]}); "
                     "the next load or `crimegun derive` tries again")
            return 0
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
