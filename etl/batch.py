"""Loading several files at once: files that write different tables load side by side, one connection
each, up to `jobs` at a time; files that share a table load one after another, in the order given.

The order given still decides everything it decides one file at a time:
- a later file of the same kind (or of a kind writing a table it writes: traces add dealers) loads after
  the earlier one, so the later export's rows win;
- a boundary file is a barrier: it waits for every file before it and every file after it waits for it,
  since incidents and alerts store the district of the maps loaded before them (etl/districts.py);
- a file whose kind cannot be told from its header loads alone, where it stands, and fails as it would.

A file that waits only for earlier files writing the same tables may still start beside them when a
connection is free: it reads, stages and prepares its rows (the longest part of a load in Python), and
writes only once they have ended. Each file is one transaction as before (etl/loader.py), so a failure
keeps nothing of its own file and touches no other. At 10x Baltimore the incident years load while the
traces, alerts and NIBIN leads load beside them, and each year stages while the one before it writes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

from etl import deferred, loader
from etl.derive import LOADED_TABLES
from etl.detect import apply_mapping, detect
from etl.errors import LoadError
from etl.loader import BOUNDARY_SUFFIXES, LoadResult, load_file
from etl.reader import CsvSource
from etl.runs import cancel_running
from etl.sources import SOURCES
from layers import db

# The tables each kind's loads write.
WRITES = {kind: set(tables) for kind, tables in LOADED_TABLES.items()}


# Side by side, how often `load_many` says which files are still loading (a year of 100x incidents: minutes).
HEARTBEAT = 30.0


def default_jobs() -> int:
    """Files loaded at once by default: one per core, at most four (each load also keeps the database busy)."""
    return max(1, min(os.cpu_count() or 1, 4))


def kind_of(path: Path, kind: str | None = None, mapping: dict[str, str] | None = None,
            encoding: str = "utf-8") -> str | None:
    """The kind a file will load as (read from its header as load_file reads it); None when it cannot
    be told (a missing or unreadable file, an unknown header): load_file then reports why."""
    if kind:
        return kind
    if path.suffix.lower() in BOUNDARY_SUFFIXES:
        return "boundaries"
    try:
        header = CsvSource(path, encoding=encoding, progress=False).header
        return detect(apply_mapping(header, mapping) if mapping else header, None, path.name)[0].kind
    except (LoadError, OSError, UnicodeError, ValueError):
        return None


def waits_for(kinds: list[str | None]) -> list[set[int]]:
    """For each file, the earlier files it must wait for (see the module's docstring): those it must not
    start before (`_barrier`), and those writing a table it writes."""
    return [{j for j in range(i) if _barrier(kinds[j], kinds[i]) or WRITES[kinds[j]] & WRITES[kinds[i]]}
            for i in range(len(kinds))]


def _barrier(a: str | None, b: str | None) -> bool:
    """Must the later of two files start only once the earlier has ended (not merely write after it)?"""
    return a is None or b is None or "boundaries" in (a, b) or a not in WRITES or b not in WRITES


def estimated_rows(path: Path) -> int:
    """About how many lines a file holds: those of its first megabyte, scaled to its size (0 if unreadable).
    A compressed file is under-counted, so its batch sets no indexes aside that it should not."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return 0
    return head.count(b"\n") * size // max(len(head), 1)


def tables_to_set_aside(files: list[tuple[Path, dict[str, Any]]], kinds: list[str | None], dsn: str) -> list[str]:
    """The tables whose secondary indexes the batch builds once, after its last file (etl/deferred.py): those
    two or more of its files fill in bulk, together at least BULK_MIN_ROWS rows and BULK_SHARE times as
    many as the table holds, by the same rule a single load uses to build them after its insert."""
    files_of: dict[str, list[Path]] = {}
    for (path, _), kind in zip(files, kinds, strict=True):
        source = SOURCES.get(kind or "")
        for table in source.bulk_tables if source else ():
            files_of.setdefault(table, []).append(Path(path))
    big = {table: sum(estimated_rows(p) for p in paths) for table, paths in files_of.items() if len(paths) > 1}
    big = {table: rows for table, rows in big.items() if rows >= loader.BULK_MIN_ROWS}
    if not big:
        return []
    with psycopg.connect(dsn) as conn:
        held = dict(conn.execute("SELECT relname, greatest(reltuples, 0) FROM pg_class WHERE oid = ANY(%s::regclass[])",
                                 (list(big),)).fetchall())
    return sorted(table for table, rows in big.items() if rows >= loader.BULK_SHARE * held.get(table, 0))


def load_many(files: list[tuple[Path, dict[str, Any]]], jobs: int | None = None,
              on_start: Callable[[Path], None] | None = None,
              on_done: Callable[[Path, LoadResult | LoadError, float], None] | None = None,
              on_wait: Callable[[list[tuple[Path, float]]], None] | None = None,
              on_note: Callable[[str], None] | None = None) -> list[LoadResult | LoadError]:
    """Load `files` ((path, load_file options) in order), up to `jobs` at a time; return each file's
    LoadResult, or the LoadError that stopped it, in the order given. `on_start` and `on_done` (with the
    file's seconds) are called as files start and finish. One file at a time, load_file shows its own
    progress bar; side by side, the bars would overwrite each other: `on_start` says what started, and
    `on_wait` is told every HEARTBEAT seconds which files are still loading and for how long.

    A free connection goes first to a file whose predecessors have all ended; failing that, to the next
    file whose only unfinished predecessors write the same tables and are already loading: it reads and
    stages its rows meanwhile and waits for them only to write (load_file's `turn`).

    Several big files filling one table load without its secondary indexes, built once after the last
    (`tables_to_set_aside`, etl/deferred.py); `on_note` is told when they are set aside and built again."""
    jobs = max(1, jobs or default_jobs())
    kinds = [kind_of(Path(p), o.get("kind"), o.get("mapping"), o.get("encoding", "utf-8")) for p, o in files]
    dsns = {o.get("dsn") or db.dsn() for _, o in files}
    if len(dsns) != 1:
        return _load_many(files, kinds, jobs, on_start, on_done, on_wait)
    dsn = dsns.pop()
    try:
        deferred.restore_orphans(dsn, on_note)
        tables = tables_to_set_aside(files, kinds, dsn)
    except psycopg.OperationalError:
        tables = []  # the database cannot be reached: each load says so
    with ExitStack() as stack:
        if tables:
            try:
                stack.enter_context(deferred.batch(dsn, tables, on_note))
            except psycopg.OperationalError:
                pass  # the database went away since: nothing was set aside, and each load says so
        return _load_many(files, kinds, jobs, on_start, on_done, on_wait)


def _load_many(files: list[tuple[Path, dict[str, Any]]], kinds: list[str | None], jobs: int,
               on_start: Callable[[Path], None] | None,
               on_done: Callable[[Path, LoadResult | LoadError, float], None] | None,
               on_wait: Callable[[list[tuple[Path, float]]], None] | None) -> list[LoadResult | LoadError]:
    before = waits_for(kinds)
    hard = [{j for j in before[i] if _barrier(kinds[j], kinds[i])} for i in range(len(files))]
    ended = [threading.Event() for _ in files]
    out: list[LoadResult | LoadError | None] = [None] * len(files)
    done: set[int] = set()
    started_ones: set[int] = set()
    waiting = list(range(len(files)))
    running: dict[Future, tuple[int, float]] = {}

    def turn_of(i: int) -> Callable[[float], bool]:
        def turn(timeout: float) -> bool:
            pending = [ended[j] for j in before[i] if not ended[j].is_set()]
            return not pending or (pending[0].wait(timeout) and len(pending) == 1)
        return turn

    def one(i: int) -> LoadResult:
        path, options = files[i]
        try:
            extra = {"turn": turn_of(i)} if before[i] and kinds[i] != "boundaries" else {}
            return load_file(Path(path), **{"progress": jobs == 1, **options, **extra})
        finally:
            ended[i].set()

    def report(finished) -> None:
        for future in finished:
            i, started = running.pop(future)
            try:
                out[i] = future.result()
            except LoadError as exc:
                out[i] = exc
            done.add(i)
            if on_done:
                on_done(Path(files[i][0]), out[i], time.perf_counter() - started)

    def next_ones(free: int) -> list[int]:
        ready = [i for i in waiting if before[i] <= done]
        early = [i for i in waiting if i not in ready and hard[i] <= done and before[i] <= started_ones]
        return (ready + early)[:free]

    heartbeat = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="load") as pool:
        try:
            while waiting or running:
                if on_wait and running and time.perf_counter() - heartbeat >= HEARTBEAT:
                    heartbeat = time.perf_counter()
                    on_wait([(Path(files[i][0]), heartbeat - t) for i, t in sorted(running.values())])
                for i in next_ones(jobs - len(running)):
                    waiting.remove(i)
                    started_ones.add(i)
                    if on_start:
                        on_start(Path(files[i][0]))
                    running[pool.submit(one, i)] = (i, time.perf_counter())
                # With a timeout: a Ctrl-C delivered to a loading thread is acted on by this one only
                # when it wakes, which without one is when a file finishes.
                finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                report(finished)
        except BaseException:
            # Interrupted (Ctrl-C): start nothing more, stop the loads running (they roll back), and
            # report every file as it ended, the ones that finished meanwhile included.
            waiting.clear()
            cancel_running()
            report(wait(running).done)
            raise
    return out  # type: ignore[return-value]
