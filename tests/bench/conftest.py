"""Benchmarks read the demo database (`make bench` loads it first). The test fixtures point
DATABASE_URL at throwaway databases as they run, so the demo's address is taken once, here, before
any fixture runs: every benchmark that copies the demo data copies it from there."""

from __future__ import annotations

import os


def pytest_configure(config):
    if os.environ.get("CGA_BENCH_SOURCE_URL"):
        return
    from layers import cluster, db

    try:
        os.environ["CGA_BENCH_SOURCE_URL"] = db.dsn()
    except cluster.ClusterError:
        pass  # no embedded database yet: the benchmarks say so when they need it
