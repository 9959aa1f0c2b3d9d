"""Test setup: a fresh PostGIS database per test session on the real server, never a mock.

The database comes from the embedded cluster (started by `make test`; started here if needed) or
from DATABASE_URL. Database tests fail, not skip, when it cannot be reached, and under `make test`
(CGA_NO_SKIPS=1) any skipped test counts as failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CGA_NO_SKIPS=1 (as `make test` sets) a skipped test is a failure: a suite that quietly
    skipped its database or browser tests would pass while testing nothing."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CGA_NO_SKIPS") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in a run that must not skip (CGA_NO_SKIPS=1): {report.longrepr}"

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


def query_runner(url: str):
    """A function that runs one query on the database at `url` and returns all rows: tests check the
    layers under test with SQL of their own, independent of them."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)

    def run(query: str, params=None):
        with psycopg.connect(dsn) as conn:
            return conn.execute(query, params).fetchall()

    return run


@pytest.fixture
def sql(database_url):
    """Run one query on the test database and return all rows."""
    return query_runner(database_url)


def build_synthetic_database(name: str, out: Path, seed: int, scale: float, years=(2024, 2025),
                             extra: Iterable[tuple[Path, dict]] = ()) -> str:
    """(Re)create database `name` holding a small synthetic Baltimore loaded through the real ETL, plus
    any `extra` (path, load_file options) files; derive; return its URL."""
    from etl.derive import derive
    from etl.loader import load_file
    from etl.synth import generate
    from layers import cluster, db, migrate

    cluster.drop_database(name)
    cluster.ensure_database(name)
    url = cluster.url(name)
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    migrate.upgrade(db.engine(url))
    manifest = generate(out, seed=seed, years=years, scale=scale, progress=False)
    for f in manifest["files"]:
        load_file(out / f["path"], kind=f["kind"], boundary_kind=f.get("boundary_kind"), progress=False, dsn=dsn)
    for path, options in extra:
        load_file(path, progress=False, dsn=dsn, **options)
    derive(dsn=dsn, full=True)
    return url


def add_run(conn, kind: str, rows: int = 0) -> int:
    """A succeeded run of `kind` that read and loaded `rows` rows, as if a load had just finished (psycopg
    connection): rows a test writes by hand under its id are what `derive` then takes as newly loaded."""
    return conn.execute("INSERT INTO etl_run (status, kind, layout, file_path, finished_at, rows_read, rows_loaded, "
                        "rows_updated, rows_duplicate, rows_rejected) VALUES ('succeeded', %s, 'test', 'test', now(), "
                        "%s, %s, 0, 0, 0) RETURNING id", (kind, rows, rows)).fetchone()[0]


def drop_database(url: str) -> None:
    from layers import cluster, db

    db.engine(url).dispose()
    cluster.drop_database(url.rsplit("/", 1)[1])


@contextmanager
def derive_city(tmp_path_factory, name: str):
    """The small synthetic city (2023, 4% of Baltimore) the derive's tests change run by run: a database of
    its own, as a psycopg URL, dropped afterwards."""
    url = build_synthetic_database(f"cga_test_{os.getpid()}_{name}", tmp_path_factory.mktemp(name), seed=31,
                                   scale=0.04, years=(2023, 2023))
    try:
        yield url.replace("postgresql+psycopg://", "postgresql://", 1)
    finally:
        drop_database(url)


@contextmanager
def project_database(url: str, monkeypatch):
    """Point the project (DATABASE_URL, cached engines) at `url` for the duration."""
    from layers import db

    monkeypatch.setenv("DATABASE_URL", url.replace("postgresql+psycopg://", "postgresql://", 1))
    db.reset_engines()
    yield url
    db.reset_engines()


@pytest.fixture(scope="session")
def synthetic_url(database_url, tmp_path_factory):
    """A second throwaway database holding a small synthetic Baltimore (2 years at 5% scale), loaded
    through the real ETL once per session. Read-only for tests: use `synthetic_db` to point at it."""
    url = build_synthetic_database(f"cga_test_{os.getpid()}_synth", tmp_path_factory.mktemp("synth"), seed=7,
                                   scale=0.05)
    yield url
    drop_database(url)


@pytest.fixture
def synthetic_db(synthetic_url, monkeypatch):
    """Point the project (DATABASE_URL) at the loaded synthetic database for one test."""
    with project_database(synthetic_url, monkeypatch) as url:
        yield url
