"""`crimegun watch DIR`: load source files as they land, for a near real-time view.

Every few seconds the folder is scanned. A file is taken once it has stopped growing (same size and
modification time on two scans, and untouched for `settle` seconds), so half-written files are left
alone; names that say a copy is in progress (`.part`, `.tmp`, `.crdownload`, `~`, leading dot) are
never taken. Each file loads through the ordinary loader (kind and layout detected from the header,
one transaction per file, every row accounted for), then the derivations run for what was loaded, and
the dashboard's open pages see the new data version at their next check.

Nothing is loaded twice: a file whose content was loaded before (its SHA-256 is in `etl_run`) is
skipped, so a restarted watcher resumes where it stopped. A file that cannot load (a LoadError) is
reported once and retried only when its content changes. While the database is away the watcher
waits and retries with a growing delay (1, 2, 4 ... 60 s) and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp", "~")
MAX_BACKOFF_S = 60.0


@dataclass
class _Seen:
    size: int
    mtime: float
    stable_since: float


@dataclass
class WatchState:
    seen: dict[str, _Seen] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # path -> sha256 of the content that failed
    loaded: int = 0


def _candidates(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.iterdir()):
        name = p.name
        if not p.is_file() or name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES):
            continue
        out.append(p)
    return out


def ready_files(folder: Path, state: WatchState, settle: float, now: float | None = None) -> list[Path]:
    """Files that have stopped changing for `settle` seconds (seen at least twice with the same size)."""
    now = time.time() if now is None else now
    ready = []
    present = set()
    for p in _candidates(folder):
        try:
            st = p.stat()
        except FileNotFoundError:  # moved away between listing and stat
            continue
        key = str(p)
        present.add(key)
        prev = state.seen.get(key)
        if prev is None or prev.size != st.st_size or prev.mtime != st.st_mtime:
            state.seen[key] = _Seen(st.st_size, st.st_mtime, now)
            continue
        if st.st_size > 0 and now - prev.stable_since >= settle and now - st.st_mtime >= settle:
            ready.append(p)
    for key in list(state.seen):
        if key not in present:
            del state.seen[key]
    return ready


def _database_down(exc: BaseException) -> bool:
    import psycopg
    import sqlalchemy.exc

    from layers.cluster import ClusterError

    return isinstance(exc, psycopg.OperationalError | sqlalchemy.exc.OperationalError | ClusterError)


def _raise_if_database_down() -> None:
    import psycopg

    from layers import db

    with psycopg.connect(db.dsn(), connect_timeout=5) as conn:
        conn.execute("SELECT 1")


def scan_once(folder: Path, state: WatchState, settle: float, echo: Callable[[str], None]) -> list:
    """Load every ready file not loaded before; derive once for the batch. Returns the load results."""
    from etl.derive import derive
    from etl.errors import LoadError
    from etl.loader import load_file
    from etl.runs import file_sha256
    from layers.etl_runs import loaded_hashes

    ready = ready_files(folder, state, settle)
    if not ready:
        return []
    done = loaded_hashes()
    results = []
    for path in ready:
        try:
            digest = file_sha256(path)
        except OSError as exc:  # unreadable (permissions) or moved away: say so, keep watching
            if state.failed.get(str(path)) != "unreadable":
                echo(f"{path.name}: cannot be read ({exc.strerror or exc}); fix its permissions to load it")
            state.failed[str(path)] = "unreadable"
            continue
        if digest in done or state.failed.get(str(path)) == digest:
            continue
        try:
            result = load_file(path, progress=False)
        except LoadError as exc:
            _raise_if_database_down()  # a load cut short by the database: retry it, do not mark it failed
            state.failed[str(path)] = digest
            echo(f"{path.name}: not loaded — {exc}")
            continue
        done.add(digest)
        results.append(result)
        echo(f"{path.name}: {result.kind}/{result.layout} read {result.read:,} = loaded {result.loaded:,} + "
             f"updated {result.updated:,} + duplicate {result.duplicate:,} + rejected {result.rejected:,}")
    if results:
        derive(run_ids=[r.run_id for r in results])
        state.loaded += len(results)
    return results


def watch(folder: Path, interval: float = 2.0, settle: float = 2.0, echo: Callable[[str], None] = print,
          should_stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep) -> WatchState:
    """Watch `folder` until `should_stop()` (or Ctrl-C); see the module docstring."""
    folder = Path(folder)
    state = WatchState()
    backoff = 0.0
    echo(f"Watching {folder} every {interval:g} s (files are taken once unchanged for {settle:g} s); Ctrl-C stops.")
    while not should_stop():
        try:
            scan_once(folder, state, settle, echo)
            if backoff:
                echo("The database answers again; watching.")
            backoff = 0.0
            sleep(interval)
        except Exception as exc:
            if not _database_down(exc):
                raise
            backoff = min(MAX_BACKOFF_S, max(1.0, backoff * 2))
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            echo(f"The database is not answering ({first}); retrying in {backoff:g} s.")
            sleep(backoff)
    return state
