"""Connections to the configured PostGIS database.

`engine()` is for the write path and administration (the database owner). The dashboard never uses
it: `read_engine()` (read-only) and `web_engine()` (audit rows, sign-in bookkeeping) act as the web
role `crimegun_web`, which may read the data, append to the audit trail and update accounts, and
nothing else; every statement runs under CGA_STATEMENT_TIMEOUT_MS. They log in as that role itself
(the embedded cluster's generated login, or CGA_WEB_DATABASE_URL), so no statement can regain the
owner's rights.

A database that refuses, hangs or drops off the network must never hang the dashboard:

- every connection gives up after CONNECT_TIMEOUT_S and uses TCP keepalives, so a dead peer is noticed;
- the web engines wait at most STATEMENT_TIMEOUT + QUERY_GRACE_S for any answer (a pre-ping, a query,
  a commit or rollback): past that a watchdog shuts the connection's socket, so a server that accepts
  but never answers costs one bounded wait, not a frozen worker;
- once the database has not answered, the web engines fail at once (`DatabaseUnavailable`) instead
  of queueing every request behind a timeout, and let one request through every RETRY_AFTER_S to
  see whether it is back: when it is, that request and every later one work again, without a restart;
- the pools hold as many connections as a worker has threads (CGA_WEB_THREADS, set by `crimegun
  serve`), so a request waits for a connection at most POOL_TIMEOUT_S before failing with a clear error.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from functools import lru_cache
from typing import Any

import psycopg
import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event, text

from layers import cluster, settings

CONNECT_TIMEOUT_S = 3  # libpq's minimum is 2
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
              "tcp_user_timeout": 30_000}  # ms: unacknowledged data for this long means the peer is gone
QUERY_GRACE_S = 2.0  # beyond the statement timeout (the server cancels the query itself at that point)
PING_TIMEOUT_S = 1.5  # a pooled connection's liveness check; a healthy server answers in milliseconds
RETRY_AFTER_S = 2.0  # while the database is not answering, one request per this interval tries again
POOL_TIMEOUT_S = 3
POOL_RECYCLE_S = 1800
DEFAULT_THREADS = 8  # gunicorn threads per worker (`crimegun serve --threads`)


class DatabaseUnavailable(psycopg.OperationalError):
    """The database did not answer recently; raised at once instead of waiting for it again."""


# What a request meets when the database cannot answer it: the dashboard turns these into a 503 notice.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,  # refused, timed out, cut by the watchdog, statement timeout
    sqlalchemy.exc.TimeoutError,  # no free pool connection within POOL_TIMEOUT_S
    psycopg.OperationalError,  # includes DatabaseUnavailable
    TimeoutError,
)


# A derive's session (etl/derive.py, etl/index.py): one connection sorting and grouping millions of rows through
# temporary tables. PostgreSQL's defaults (8 MB of buffers for temporary tables, 32 MB per sort or hash here)
# sent them to disk: 10x Baltimore's area counts of its alerts 1.6 -> 0.9 s per kind of area.
def batch_session(conn: Any) -> Any:
    """Give a fresh psycopg connection the derive's memory (before it touches any temporary table)."""
    try:
        conn.execute("SET temp_buffers = '256MB'")
        conn.execute("SET work_mem = '256MB'")
        conn.commit()  # session settings, and no transaction left open for the caller's own
    except BaseException:
        conn.close()  # the caller's `with` never got it
        raise
    return conn


def web_threads() -> int:
    """Request threads per worker process: the web pools hold one connection per thread."""
    try:
        return max(1, int(os.environ.get("CGA_WEB_THREADS", DEFAULT_THREADS)))
    except ValueError:
        return DEFAULT_THREADS


def _network_args() -> dict[str, Any]:
    return {"connect_timeout": CONNECT_TIMEOUT_S, **KEEPALIVES}


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    eng = create_engine(url or cluster.url(), pool_pre_ping=True, pool_recycle=POOL_RECYCLE_S, future=True,
                        connect_args=_network_args())
    _made.append(eng)
    return eng


WEB_ROLE = "crimegun_web"


def _web_options(read_only: bool) -> str:
    timeout = settings.get("CGA_STATEMENT_TIMEOUT_MS")
    opts = f"-c statement_timeout={timeout} -c role={WEB_ROLE}"
    return opts + (" -c default_transaction_read_only=on" if read_only else "")


# --- bounded waits -------------------------------------------------------------------------------

class _Watchdog:
    """One thread per process that shuts the socket of any connection waiting past its deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, Any, int]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> None:
        # Not started yet, forked into a new worker process (threads do not survive a fork), or stopped.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
            self._thread.start()

    def arm(self, dbapi_conn: Any, seconds: float) -> int | None:
        try:
            fd = dbapi_conn.fileno()
        except Exception:  # already closed or broken: nothing can hang on it
            return None
        with self._lock:
            self._ensure_thread()
            self._next += 1
            self._armed[self._next] = (time.monotonic() + seconds, weakref.ref(dbapi_conn), fd)
            return self._next

    def disarm(self, token: int | None) -> bool:
        """False when the deadline had passed and the connection was cut."""
        if token is None:
            return True
        with self._lock:
            return self._armed.pop(token, None) is not None

    def _run(self) -> None:
        try:
            self._watch()
        except SystemExit:  # stopped from outside (a test server stops every thread it saw start): the next
            return          # arm starts another

    def _watch(self) -> None:
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            with self._lock:
                late = [t for t, (deadline, _, _) in self._armed.items() if deadline <= now]
                for token in late:
                    _, ref, fd = self._armed.pop(token)
                    conn = ref()
                    try:
                        if conn is None or conn.closed or conn.fileno() != fd:
                            continue
                        # Shutting the socket wakes the waiting thread with a connection error; the pool
                        # then throws the connection away. The descriptor stays the connection's own.
                        with socket.socket(fileno=os.dup(fd)) as sock:
                            sock.shutdown(socket.SHUT_RDWR)
                    except Exception:  # noqa: S112 - closed in between: nothing left to cut
                        continue


_watchdog = _Watchdog()


class _Health:
    """Whether a database (host, port, name) answered lately; shared by the web engines of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._last_try = 0.0
        self._probing = False
        self.reason = ""

    def may_try(self) -> bool:
        """True when a connection may be attempted now (healthy, or this caller is the one retry)."""
        with self._lock:
            if self.down_since is None:
                return True
            now = time.monotonic()
            if not self._probing and now - self._last_try >= RETRY_AFTER_S:
                self._probing = True
                self._last_try = now
                return True
            return False

    def answered(self) -> None:
        with self._lock:
            self.down_since = None
            self._probing = False

    def failed(self, reason: str) -> None:
        with self._lock:
            now = time.monotonic()
            if self.down_since is None:
                self.down_since = now
            self._last_try = now
            self._probing = False
            self.reason = reason

    def refuse(self) -> DatabaseUnavailable:
        since = time.monotonic() - (self.down_since or time.monotonic())
        return DatabaseUnavailable(f"the database has not answered for {since:.0f} s ({self.reason}); "
                                   f"trying again every {RETRY_AFTER_S:g} s")


_health: dict[tuple, _Health] = {}
_health_lock = threading.Lock()


def health(eng: Engine) -> _Health:
    key = (eng.url.host, eng.url.port, eng.url.database)
    with _health_lock:
        return _health.setdefault(key, _Health())


def database_unavailable(eng: Engine | None = None) -> bool:
    """True while the web engines are failing fast because the database has not answered."""
    return health(eng or read_engine()).down_since is not None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _server_answered(exc: BaseException) -> bool:
    """A connection refused by the server itself (slots full, authentication), not a silent or absent one."""
    text_ = str(exc).lower()
    return any(m in text_ for m in ("too many clients", "connection slots", "authentication failed",
                                    "does not exist", "starting up", "shutting down"))


def _guard(eng: Engine) -> Engine:
    """Bound every wait of a web engine and fail fast while its database is not answering."""
    state = health(eng)
    dialect = eng.dialect
    query_limit = settings.get("CGA_STATEMENT_TIMEOUT_MS") / 1000 + QUERY_GRACE_S

    @event.listens_for(eng, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        if not state.may_try():
            raise state.refuse()
        try:
            conn = _dialect.connect(*cargs, **cparams)
        except psycopg.OperationalError as exc:
            if _server_answered(exc):  # e.g. too many clients: the server is there, pooled connections work
                state.answered()
            else:
                state.failed(_first_line(exc))
            raise
        state.answered()
        return conn

    def bounded(method, limit: float, of_cursor: bool = False):
        def run(target, *args, **kwargs):
            conn = target.connection if of_cursor else getattr(target, "dbapi_connection", target)
            token = _watchdog.arm(conn, limit)
            try:
                return method(target, *args, **kwargs)
            except psycopg.OperationalError as exc:
                if not _watchdog.disarm(token):
                    state.failed(f"no answer within {limit:g} s")
                    raise psycopg.OperationalError(f"the database did not answer within {limit:g} s") from exc
                raise
            finally:
                _watchdog.disarm(token)
        return run

    ping = bounded(dialect.do_ping, PING_TIMEOUT_S)

    def do_ping(dbapi_conn) -> bool:
        if state.down_since is not None:  # fail at once: the reconnect that follows decides
            return False
        return ping(dbapi_conn)

    dialect.do_ping = do_ping
    dialect.do_rollback = bounded(dialect.do_rollback, PING_TIMEOUT_S + QUERY_GRACE_S)
    dialect.do_commit = bounded(dialect.do_commit, query_limit)
    dialect.do_execute = bounded(dialect.do_execute, query_limit, of_cursor=True)
    dialect.do_execute_no_params = bounded(dialect.do_execute_no_params, query_limit, of_cursor=True)
    dialect.do_executemany = bounded(dialect.do_executemany, query_limit, of_cursor=True)
    return eng


def web_login(url: str | None = None) -> tuple[str, bool]:
    """(URL, own login) the web engines connect with: the web role's own login when one is known
    (cluster.web_url), else the owner's login switched to the web role (`-c role=`), which a statement
    could undo with RESET ROLE — the README says to configure CGA_WEB_DATABASE_URL for external servers."""
    owner = url or cluster.url()
    own = cluster.web_url(owner)
    return (own, True) if own else (owner, False)


def _web_engine(url: str | None, read_only: bool) -> Engine:
    target, _own = web_login(url)
    eng = _guard(create_engine(
        target, pool_pre_ping=True, pool_size=web_threads(), max_overflow=2,
        pool_timeout=POOL_TIMEOUT_S, pool_recycle=POOL_RECYCLE_S,
        connect_args={"options": _web_options(read_only), **_network_args()}))
    _made.append(eng)
    return eng


@lru_cache(maxsize=8)
def read_engine(url: str | None = None) -> Engine:
    return _web_engine(url, read_only=True)


@lru_cache(maxsize=8)
def web_engine(url: str | None = None) -> Engine:
    """Writes the dashboard may make (audit events, sign-in bookkeeping), as the web role."""
    return _web_engine(url, read_only=False)


_made: list[Engine] = []  # every engine made here, so that a reset can close their pooled connections


def reset_engines() -> None:
    """Forget cached engines and close their pooled connections (tests point the project at a fresh
    database; without closing, each reset would leave its pools' connections open on the server)."""
    for cached in (engine, read_engine, web_engine):
        cached.cache_clear()
    while _made:
        _made.pop().dispose()
    with _health_lock:
        _health.clear()


def data_version(eng: Engine | None = None) -> int:
    """A number that changes whenever a load finishes: pages ask this to know if data changed."""
    with (eng or read_engine()).connect() as conn:
        return conn.execute(text(
            "SELECT coalesce(max(id), 0) FROM etl_run WHERE status = 'succeeded'")).scalar_one()


def dsn(url: str | None = None) -> str:
    """libpq form of the configured URL, for psycopg (COPY) users."""
    return (url or cluster.url()).replace("postgresql+psycopg://", "postgresql://", 1)
