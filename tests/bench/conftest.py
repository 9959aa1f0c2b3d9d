"""Benchmarks read the demo database (`make bench` loads it first). The test fixtures point
DATABASE_URL at throwaway databases as they run, so the demo's address is taken once, here, before
any fixture runs: every benchmark that copies the demo data copies it from there.

The smoke run (`CGA_BENCH_SMOKE=1`, part of `make test`) does not need the demo: it builds a small
synthetic city through the real loader, points the benchmarks at it and shrinks every size, so the
whole harness — every benchmark and the Markdown/JSON report — runs in about a minute. At the end of
every run the report (tests/bench/report.py) is written and its path printed.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.bench import report

# Sizes of the smoke run: the benchmark code end to end, numbers meaningless.
SMOKE_ENV = {
    "CGA_BENCH_COPIES": "1",
    "CGA_BENCH_LOAD_USERS": "3",
    "CGA_BENCH_LOAD_SECONDS": "3",
    "CGA_BENCH_LOAD_THINK": "0.1-0.3",
    "CGA_BENCH_LOAD_MODELS": "",
    "CGA_BENCH_INDEX_CITIES": "7:0.03",
    "CGA_BENCH_ETL_SCALE": "0.05",
    "CGA_BENCH_KEEP": "",
}
SMOKE_SOURCE = "cga_bench_smoke_source"


def _smoke_source() -> str:
    """A small synthetic Baltimore loaded through the real ETL, built once per smoke run."""
    import tempfile

    from layers import db
    from tests.conftest import build_synthetic_database

    with tempfile.TemporaryDirectory(prefix="cga-bench-smoke-") as out:
        url = build_synthetic_database(SMOKE_SOURCE, Path(out), seed=5, scale=0.25, years=(2024, 2025))
    return db.dsn(url)


def pytest_configure(config):
    if report.smoke():
        os.environ.update(SMOKE_ENV)
        os.environ["CGA_BENCH_SCALES"] = "1,2"
        from layers import cluster

        if cluster.managed():
            cluster.start(quiet=True)
        os.environ["CGA_BENCH_SOURCE_URL"] = _smoke_source()
        return
    if os.environ.get("CGA_BENCH_SOURCE_URL"):
        return
    from layers import cluster, db

    try:
        os.environ["CGA_BENCH_SOURCE_URL"] = db.dsn()
    except cluster.ClusterError:
        pass  # no embedded database yet: the benchmarks say so when they need it


def pytest_sessionfinish(session, exitstatus):
    paths = report.write()
    if report.smoke():
        from layers import cluster

        try:
            cluster.drop_database(SMOKE_SOURCE)
        except Exception:  # noqa: BLE001 — a leftover database is harmless and rebuilt next time
            pass
    if paths:
        writer = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"\nbenchmark report: {paths[0]} and {paths[1]} ({len(report.ROWS)} measures)"
        if writer is not None:
            writer.write_line(message)
        else:
            print(message)
