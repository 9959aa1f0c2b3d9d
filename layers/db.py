"""Connections to the configured PostGIS database.

`engine()` is for the write path and administration (the database owner). The dashboard never uses
it: `read_engine()` (read-only) and `web_engine()` (audit rows, sign-in bookkeeping) act as the web
role `crimegun_web`, which may read the data, append to the audit trail and update accounts, and
nothing else; every statement runs under CGA_STATEMENT_TIMEOUT_MS.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, text

from layers import cluster, settings


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    return create_engine(url or cluster.url(), pool_pre_ping=True, future=True)


WEB_ROLE = "crimegun_web"


def _web_options(read_only: bool) -> str:
    timeout = settings.get("CGA_STATEMENT_TIMEOUT_MS")
    opts = f"-c statement_timeout={timeout} -c role={WEB_ROLE}"
    return opts + (" -c default_transaction_read_only=on" if read_only else "")


@lru_cache(maxsize=8)
def read_engine(url: str | None = None) -> Engine:
    return create_engine(url or cluster.url(), pool_pre_ping=True, pool_size=5,
                         connect_args={"options": _web_options(True)})


@lru_cache(maxsize=8)
def web_engine(url: str | None = None) -> Engine:
    """Writes the dashboard may make (audit events, sign-in bookkeeping), as the web role."""
    return create_engine(url or cluster.url(), pool_pre_ping=True, pool_size=3,
                         connect_args={"options": _web_options(False)})


def reset_engines() -> None:
    """Forget cached engines (tests point the project at a fresh database)."""
    for cached in (engine, read_engine, web_engine):
        cached.cache_clear()


def data_version(eng: Engine | None = None) -> int:
    """A number that changes whenever a load finishes: pages ask this to know if data changed."""
    with (eng or read_engine()).connect() as conn:
        return conn.execute(text(
            "SELECT coalesce(max(id), 0) FROM etl_run WHERE status = 'succeeded'")).scalar_one()


def dsn(url: str | None = None) -> str:
    """libpq form of the configured URL, for psycopg (COPY) users."""
    return (url or cluster.url()).replace("postgresql+psycopg://", "postgresql://", 1)
