"""ETL throughput: our loader next to a bare COPY and geopandas.to_postgis on the same file.

Run with `make bench`. Prints rows/s and the ratio against bare COPY measured in the same run;
asserts nothing about time (shared machines make timed assertions flaky).
"""

from __future__ import annotations

import csv
import time
import tracemalloc

import pytest

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def incident_file(tmp_path_factory):
    from etl.synth import generate

    out = tmp_path_factory.mktemp("bench_synth")
    manifest = generate(out, seed=11, years=(2024, 2024), scale=1.0, progress=False)
    path = next(out / f["path"] for f in manifest["files"] if f["kind"] == "incidents")
    return path


def _rows(path) -> int:
    with open(path, newline="") as f:
        return sum(1 for _ in f) - 1


def test_bench_etl_incidents(empty_db, incident_file):
    import geopandas as gpd
    import pandas as pd
    import psycopg
    from sqlalchemy import create_engine

    from etl.loader import load_file

    dsn = empty_db.replace("postgresql+psycopg://", "postgresql://", 1)
    n = _rows(incident_file)
    with open(incident_file, newline="") as f:
        header = next(csv.reader(f))
    results = {}

    with psycopg.connect(dsn) as conn:
        cols = ", ".join(f'"{h}" text' for h in header)
        conn.execute(f"CREATE TEMP TABLE bare ({cols})")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bare FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            with open(incident_file, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
        results["bare COPY (text columns, no validation)"] = time.perf_counter() - started

    started = time.perf_counter()
    frame = pd.read_csv(incident_file, dtype=str)
    frame = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(pd.to_numeric(frame["Longitude"], errors="coerce"),
                                                                pd.to_numeric(frame["Latitude"], errors="coerce")),
                             crs=4326)
    frame.to_postgis("bench_gpd", create_engine(empty_db), if_exists="replace")
    results["geopandas.to_postgis (no validation, no upsert)"] = time.perf_counter() - started

    started = time.perf_counter()
    result = load_file(incident_file, progress=False)
    results["crimegun load (validate, stage, upsert, account)"] = time.perf_counter() - started
    assert result.loaded == n

    started = time.perf_counter()
    again = load_file(incident_file, progress=False)
    results["crimegun load, same file again (all duplicates)"] = time.perf_counter() - started
    assert again.duplicate == n

    # Memory is measured on a third pass: tracemalloc slows Python several times over.
    tracemalloc.start()
    load_file(incident_file, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    base = results["bare COPY (text columns, no validation)"]
    print(f"\nETL benchmark: {n:,} Open Baltimore incident rows ({incident_file.stat().st_size / 1e6:.1f} MB)")
    for name, seconds in results.items():
        print(f"  {name:<52} {seconds:6.2f} s  {n / seconds:>9,.0f} rows/s  {seconds / base:5.1f}x bare COPY")
    print(f"  crimegun load peak Python memory: {peak / 1e6:.1f} MB")
