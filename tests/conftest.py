"""Test setup: a fresh PostGIS database per test session on the real server, never a mock.

The database comes from the embedded cluster (started by `make test`; started here if needed) or
from DATABASE_URL. Database tests fail, not skip, when it cannot be reached.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

TABLES = ("firearm_incident", "nibin_lead", "ballistic_evidence", "shot_alert", "recovery", "trace",
          "firearm", "pii.person", "incident", "dealer", "boundary", "etl_rejected_row", "etl_run")


@pytest.fixture(scope="session")
def database_url():
    """URL of a throwaway database with the current schema; DATABASE_URL points at it during tests."""
    from layers import cluster, db, migrate

    original = os.environ.get("DATABASE_URL")
    if cluster.managed():
        cluster.start(quiet=True)
    name = f"cga_test_{os.getpid()}"
    cluster.drop_database(name)
    cluster.ensure_database(name)
    url = cluster.url(name)
    os.environ["DATABASE_URL"] = url.replace("postgresql+psycopg://", "postgresql://", 1)
    db.reset_engines()
    migrate.upgrade(db.engine())
    yield url
    db.reset_engines()
    if original is None:
        os.environ.pop("DATABASE_URL")
    else:
        os.environ["DATABASE_URL"] = original
    cluster.drop_database(name)


@pytest.fixture
def empty_db(database_url):
    """The test database with every table emptied (loads commit, so rollback cannot isolate them)."""
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return database_url


@pytest.fixture
def sql(database_url):
    """Run one query on the test database and return all rows."""
    import psycopg

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def run(query: str, params=None):
        with psycopg.connect(dsn) as conn:
            return conn.execute(query, params).fetchall()

    return run
