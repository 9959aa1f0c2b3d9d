"""Connections to the configured PostGIS database.

`engine()` is for the write path and administration; `read_engine()` is what the dashboard's data
products use: every statement runs under CGA_STATEMENT_TIMEOUT_MS.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, text

from layers import cluster, settings


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    return create_engine(url or cluster.url(), pool_pre_ping=True, future=True)


@lru_cache(maxsize=8)
def read_engine(url: str | None = None) -> Engine:
    timeout = settings.get("CGA_STATEMENT_TIMEOUT_MS")
    return create_engine(
        url or cluster.url(),
        pool_pre_ping=True,
        pool_size=5,
        connect_args={"options": f"-c statement_timeout={timeout} -c default_transaction_read_only=on"},
    )


def reset_engines() -> None:
    """Forget cached engines (tests point the project at a fresh database)."""
    engine.cache_clear()
    read_engine.cache_clear()


def data_version(eng: Engine | None = None) -> int:
    """A number that changes whenever a load finishes: pages ask this to know if data changed."""
    with (eng or read_engine()).connect() as conn:
        return conn.execute(text(
            "SELECT coalesce(max(id), 0) FROM etl_run WHERE status = 'succeeded'")).scalar_one()


def dsn(url: str | None = None) -> str:
    """libpq form of the configured URL, for psycopg (COPY) users."""
    return (url or cluster.url()).replace("postgresql+psycopg://", "postgresql://", 1)
