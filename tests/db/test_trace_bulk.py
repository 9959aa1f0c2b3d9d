"""Trace files in bulk (etl/sources/traces.py `bulk_tables`): a batch of them, or one big one, fills the trace,
recovery, firearm and person tables without their secondary indexes and builds those once after; what they
store and count is what the files loaded with every index kept store and count."""

from __future__ import annotations

import csv
import re

import psycopg
import pytest

from etl import batch, loader
from etl.synth import generate
from tests.db.test_fast_load import _counts

pytestmark = pytest.mark.db

TABLES = ("trace", "recovery", "firearm", "pii.person")
# What each table stores, as the loads wrote it (ids aside: they follow the order rows were inserted in).
STORED = {
    "trace": "SELECT t.agency, t.trace_number, t.case_number, t.trace_status, t.dealer_ffl_key, f.firearm_key,"
             " pu.person_key, po.person_key, t.ttc_days, t.source_state FROM trace t JOIN firearm f ON f.id ="
             " t.firearm_id LEFT JOIN pii.person pu ON pu.id = t.purchaser_id LEFT JOIN pii.person po ON"
             " po.id = t.possessor_id ORDER BY 1, 2",
    "recovery": "SELECT t.trace_number, r.case_number, r.recovery_date, r.street, r.city, r.district,"
                " ST_AsText(r.geom) FROM recovery r JOIN trace t ON t.id = r.trace_id ORDER BY 1",
    "firearm": "SELECT agency, firearm_key, serial_number, manufacturer, model, caliber FROM firearm ORDER BY 1, 2",
    "pii.person": "SELECT agency, person_key, last_name, first_name, dob, street FROM pii.person ORDER BY 1, 2",
}


def _indexes(sql) -> list[tuple]:
    """The four tables' indexes, casts and parentheses left out (a rebuilt index is deparsed another way)."""
    rows = sql("SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes"
               " WHERE (schemaname, tablename) IN (('public', 'trace'), ('public', 'recovery'),"
               " ('public', 'firearm'), ('pii', 'person')) ORDER BY 1, 2, 3")
    return [(s, t, n, re.sub(r"::(character varying|text\[\]|text)|[()\s]", "", d)) for s, t, n, d in rows]


def _stored(sql) -> dict[str, list[tuple]]:
    return {table: sql(query) for table, query in STORED.items()}


@pytest.fixture(scope="module")
def trace_files(tmp_path_factory):
    """Two years of synthetic traces, and a later export of the first year's first 150 rows, 60 of them
    changed (another model, another recovery street): updates, repeats and new rows across the tables."""
    out = tmp_path_factory.mktemp("tracebulk")
    manifest = generate(out, seed=7, years=(2023, 2024), scale=0.05, progress=False)
    files = [out / f["path"] for f in manifest["files"] if f["kind"] == "traces"]
    assert len(files) == 2
    with open(files[0], newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows[:60]:
        row["model"] = row["model"] + "X"
        row["recovery_street"] = "1 TEST ST"
    later = out / "etrace_later.csv"
    with open(later, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:150])
    return [*files, later]


def _load(files, jobs: int = 1, on_start=None):
    return [_counts(r) for r in batch.load_many([(p, {"progress": False}) for p in files], jobs=jobs,
                                                on_start=on_start)]


def _empty(database_url) -> None:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute("TRUNCATE trace, recovery, firearm, pii.person, dealer, etl_rejected_row, etl_run"
                     " RESTART IDENTITY CASCADE")


def test_trace_files_in_bulk_store_and_count_what_they_store_row_by_row(empty_db, database_url, sql, trace_files,
                                                                         monkeypatch):
    indexes = _indexes(sql)
    assert len(indexes) > 20
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 10**9)
    row_by_row = _load(trace_files)
    stored = _stored(sql)
    assert row_by_row[2][2] > 0 and row_by_row[2][3] > 0, "the later export updates rows and repeats others"
    assert all(stored.values())

    # One file at a time, each big enough for the bulk way on its own (the first into empty tables).
    _empty(database_url)
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(batch, "tables_to_set_aside", lambda *_args: [])
    rebuilt = []
    put_back = loader.deferred.put_back
    monkeypatch.setattr(loader.deferred, "put_back", lambda cur, table, *a: (rebuilt.append(table), put_back(cur, table, *a)))
    assert _load(trace_files) == row_by_row
    assert _stored(sql) == stored
    assert set(rebuilt) == set(TABLES), "the first file rebuilt the indexes of every table it filled"
    assert _indexes(sql) == indexes
    monkeypatch.undo()

    # As one batch: the indexes set aside before the first file, built once after the last.
    _empty(database_url)
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(batch, "tables_to_set_aside", lambda *_args: list(TABLES))
    seen = []
    assert _load(trace_files, jobs=2, on_start=lambda _p: seen.append(len(_indexes(sql)))) == row_by_row
    assert seen == [8] * 3, "as each file started, only the keys' indexes were there (2 a table)"
    assert _stored(sql) == stored
    assert _indexes(sql) == indexes
    assert sql("SELECT count(*) FROM etl_deferred_index") == [(0,)]
    assert sql("SELECT count(*) FROM trace t LEFT JOIN etl_run r ON r.id = t.run_id WHERE r.id IS NULL") == [(0,)]
