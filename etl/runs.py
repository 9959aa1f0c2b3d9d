"""The record of every load in `etl_run`: started (with the loader's pid and host), failed, or finished
with its accounting and its rejected rows; runs left `running` by a loader that died are marked failed.
And the loads running in this process, so that an interrupt can cancel them all (etl/batch.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from etl.errors import public_reason

if TYPE_CHECKING:
    from etl.loader import LoadResult

INTERRUPTED = "interrupted (process ended before the load finished); nothing from it was kept"
_RUNNING = re.compile(r"^loading: pid (\d+) on (\S+)")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed: how a load recognizes a file it has already loaded."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _process_gone(pid: int, host: str) -> bool:
    """True when the loader process `pid` on `host` no longer exists (only this host can tell)."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def fail_interrupted_runs(conn: psycopg.Connection) -> int:
    """Mark runs left `running` by a loader that died (kill -9, crash, power loss) as failed.

    A running load keeps a database session named `crimegun-load <run id>` in this database (another
    database on the same server has run ids of its own); a run without one, or whose
    loader process on this host is gone, can never finish. Its file's transaction died with it, so
    nothing of it was kept. Returns how many runs were marked."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT r.id, r.message, EXISTS (SELECT 1 FROM pg_stat_activity a"
            "  WHERE a.application_name = 'crimegun-load ' || r.id AND a.datname = current_database())"
            " FROM etl_run r WHERE r.status = 'running'"
        ).fetchall()
        dead = []
        for run_id, message, has_session in rows:
            match = _RUNNING.match(message or "")
            gone = match is not None and _process_gone(int(match.group(1)), match.group(2))
            if gone or not has_session:
                dead.append(run_id)
        if dead:
            conn.execute("UPDATE etl_run SET status = 'failed', finished_at = now(), message = %s"
                         " WHERE id = ANY(%s) AND status = 'running'", (INTERRUPTED, dead))
    return len(dead)


def start_run(conn: psycopg.Connection, path: Path, kind: str, layout: str) -> int:
    """Record the run as `running`, with the loader's pid and host, and name this session after it."""
    fail_interrupted_runs(conn)
    with conn.transaction():
        run_id = conn.execute(
            "INSERT INTO etl_run (status, kind, layout, file_path, file_sha256, file_bytes, rows_read, rows_loaded,"
            " rows_updated, rows_duplicate, rows_rejected, message)"
            " VALUES ('running', %s, %s, %s, %s, %s, 0, 0, 0, 0, 0, %s)"
            " RETURNING id", (kind, layout, str(path), file_sha256(path), path.stat().st_size,
                              f"loading: pid {os.getpid()} on {socket.gethostname()}")).fetchone()[0]
        conn.execute("SELECT set_config('application_name', %s, false)", (f"crimegun-load {run_id}",))
    return run_id


def fail_run(dsn: str, run_id: int, message: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE etl_run SET status = 'failed', finished_at = now(), message = %s WHERE id = %s",
                     (message[:2000], run_id))



def record_rejects(cur: psycopg.Cursor, result: LoadResult, rejects: list[tuple[int, str, str]]) -> None:
    """Store rejected rows (file, line, raw text, reason) and tally the reasons for the summary."""
    if rejects:
        with cur.copy("COPY etl_rejected_row (run_id, file_path, line_number, raw, reason, reason_public) "
                      "FROM STDIN") as copy:
            for line_number, raw, reason in rejects:
                copy.write_row((result.run_id, result.path, line_number, raw, reason, public_reason(reason)))
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
        " rows_updated = %s, rows_duplicate = %s, rows_rejected = %s, message = %s WHERE id = %s",
        (result.read, result.loaded, result.updated, result.duplicate, result.rejected,
         "; ".join(getattr(result, "notes", [])) or None, result.run_id))


# The connections of the loads running in this process (several when etl/batch.py loads files side by
# side): an interrupt cancels their statements, so each load rolls back at once instead of running on.
_LIVE: set[psycopg.Connection] = set()
_CANCELLED: set[psycopg.Connection] = set()
_LIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def running_load(conn: psycopg.Connection) -> Iterator[None]:
    """Count `conn` among the loads running in this process while the block runs."""
    with _LIVE_LOCK:
        _LIVE.add(conn)
    try:
        yield
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(conn)
            _CANCELLED.discard(conn)


def cancelled(conn: psycopg.Connection) -> bool:
    """Was the load on `conn` cancelled (cancel_running)?"""
    return conn in _CANCELLED


def stop_if_cancelled(conn: psycopg.Connection) -> None:
    """Between statements: a cancel that found no statement running stops the load here."""
    if conn in _CANCELLED:
        raise psycopg.errors.QueryCanceled("interrupted")


def cancel_running() -> int:
    """Cancel the statement of every load running in this process (each then fails as interrupted,
    keeping nothing of its file); return how many were running."""
    with _LIVE_LOCK:
        for conn in _LIVE:
            _CANCELLED.add(conn)
            conn.cancel_safe()
        return len(_LIVE)
