"""A batch of big files filling one table (etl/batch.py, etl/deferred.py): the table's secondary indexes and
run foreign key are set aside before the first file and put back once after the last, whatever happens to
the files; a batch that stops leaves a record the next load or derive builds them from."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from etl import batch, deferred, loader
from tests.db.test_fast_load import _counts, _indexes, _rows, _stored, _write

pytestmark = pytest.mark.db


def _shape(sql) -> tuple[int, list[tuple]]:
    """How many indexes the incident table has, and its foreign keys with whether they were checked."""
    indexes = sql("SELECT count(*) FROM pg_index WHERE indrelid = 'incident'::regclass")[0][0]
    return indexes, sql("SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'incident'::regclass"
                        " AND contype = 'f' ORDER BY 1")


def _files(tmp_path) -> list:
    """Three incident files: the second changes rows of the first and repeats others, the third adds more."""
    return [_write(tmp_path / "a.csv", _rows(0, 400)),
            _write(tmp_path / "b.csv", _rows(0, 100, hour=4) + _rows(100, 100) + _rows(400, 300)),
            _write(tmp_path / "c.csv", _rows(700, 400))]


def _load(files, sql, seen: list | None = None):
    """Load the files as one batch, one at a time; note the table's shape as each file starts."""
    return batch.load_many([(p, {"progress": False}) for p in files], jobs=1,
                           on_start=(lambda _p: seen.append(_shape(sql))) if seen is not None else None)


def test_a_batch_of_big_files_builds_the_indexes_once_after_the_last_and_stores_the_same(
        empty_db, sql, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    indexes, shape = _indexes(sql), _shape(sql)
    assert shape[1] == [("fk_incident_run_id_etl_run", True)]
    files = _files(tmp_path)

    # The same files with nothing set aside for the batch (each file on its own rules, etl/loader.py).
    monkeypatch.setattr(batch, "tables_to_set_aside", lambda *_args: [])
    one_by_one = [_counts(r) for r in _load(files, sql)]
    stored = _stored(sql)
    monkeypatch.undo()
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)

    with psycopg.connect(empty_db.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute("TRUNCATE incident, etl_rejected_row, etl_run RESTART IDENTITY CASCADE")
    seen: list = []
    results = _load(files, sql, seen)
    assert [_counts(r) for r in results] == one_by_one
    assert one_by_one[1][2] > 0 and one_by_one[1][3] > 0, "the second file updates rows and repeats others"
    assert _stored(sql) == stored
    # As each file started the table had only the keys the upsert needs: nothing was built in between.
    assert seen == [(2, [])] * 3
    assert _indexes(sql) == indexes and _shape(sql) == shape
    assert sql("SELECT count(*) FROM etl_deferred_index") == [(0,)]
    # Every row still names the run that loaded it, and the key holds for them.
    assert sql("SELECT count(*) FROM incident i LEFT JOIN etl_run r ON r.id = i.run_id WHERE r.id IS NULL") == [(0,)]


def test_a_small_batch_into_a_big_table_keeps_the_indexes(empty_db, sql, database_url, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    batch.load_many([(_write(tmp_path / "big.csv", _rows(0, 2000)), {"progress": False})], jobs=1)
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute("ANALYZE incident")
    shape = _shape(sql)
    seen: list = []
    _load([_write(tmp_path / "x.csv", _rows(3000, 200)), _write(tmp_path / "y.csv", _rows(4000, 200))], sql, seen)
    assert seen == [shape, shape], "400 rows into 2,000: the indexes are kept up row by row"


def test_a_failed_file_in_the_batch_keeps_nothing_of_its_own_and_the_indexes_come_back(
        empty_db, sql, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    indexes, shape = _indexes(sql), _shape(sql)
    record = loader.record_rejects
    calls = []

    def second_fails(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return record(*args)

    monkeypatch.setattr(loader, "record_rejects", second_fails)
    results = _load(_files(tmp_path), sql)
    assert [type(r).__name__ for r in results] == ["LoadResult", "LoadError", "LoadResult"]
    assert "nothing from this file was kept" in str(results[1])
    assert sql("SELECT count(*) FROM incident WHERE run_id = %s", (results[0].run_id,)) == [(results[0].loaded,)]
    assert _indexes(sql) == indexes and _shape(sql) == shape
    assert sql("SELECT count(*) FROM etl_deferred_index") == [(0,)]


def test_what_a_stopped_batch_set_aside_is_built_by_the_next_derive_unless_a_batch_still_runs(
        empty_db, sql, database_url, tmp_path, monkeypatch):
    from crimegun_cli import main
    from etl.derive import derive

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    indexes, shape = _indexes(sql), _shape(sql)
    kept = loader.load_file(_write(tmp_path / "a.csv", _rows(0, 300)), progress=False)
    gone = loader.load_file(_write(tmp_path / "b.csv", _rows(300, 300)), progress=False)
    # A batch sets the indexes aside, then stops (killed): its record stays, its advisory lock goes.
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert deferred._defer(conn, "incident") == len(indexes) - 2 + 1
    assert _shape(sql) == (2, [])
    out = CliRunner().invoke(main, ["db", "status"], env={"DATABASE_URL": database_url})
    assert f"Indexes set aside: {len(indexes) - 1} of incident" in out.output
    # While the key is aside, the run of the second file is deleted: its rows lose their run, as the key's
    # ON DELETE SET NULL would have done, and the key is checked again.
    sql("DELETE FROM etl_run WHERE id = %s RETURNING id", (gone.run_id,))

    # A batch still running (holding the shared lock) is left to build them itself.
    with psycopg.connect(dsn, autocommit=True) as running:
        running.execute("SELECT pg_advisory_lock_shared(%s)", (deferred.LOCK_KEY,))
        assert deferred.restore_orphans(dsn) == 0
        assert _shape(sql) == (2, [])

    said: list[str] = []
    derive(dsn, echo=said.append)
    assert any("set aside by a load that stopped" in line for line in said)
    assert _indexes(sql) == indexes and _shape(sql) == shape
    assert sql("SELECT count(*) FROM etl_deferred_index") == [(0,)]
    assert sql("SELECT run_id, count(*) FROM incident GROUP BY 1 ORDER BY 1 NULLS LAST") == [
        (kept.run_id, kept.loaded), (None, gone.loaded)]

    # Stopped between adding the key back (unchecked) and checking it: the next derive checks it.
    with psycopg.connect(dsn, autocommit=True) as conn:
        deferred._defer(conn, "incident")
        conn.execute("ALTER TABLE incident ADD CONSTRAINT fk_incident_run_id_etl_run FOREIGN KEY (run_id)"
                     " REFERENCES etl_run (id) ON DELETE SET NULL NOT VALID")
    assert _shape(sql) == (2, [("fk_incident_run_id_etl_run", False)])
    derive(dsn)
    assert _indexes(sql) == indexes and _shape(sql) == shape


def test_a_single_bulk_load_keeps_the_run_key_and_a_load_beside_it_finishes(empty_db, sql, tmp_path, monkeypatch):
    """Dropping the run key inside a load's transaction locks the run table until it commits: an alert load
    doing so deadlocked with the incident load beside it, which held its table and waited to close its run.
    A single load builds its indexes again but keeps the key; both loads of a side-by-side batch finish."""
    from tests.db.test_batch_load import _shots

    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    key = "SELECT oid FROM pg_constraint WHERE conname = %s"
    before = {t: sql(key, (f"fk_{t}_run_id_etl_run",)) for t in ("incident", "shot_alert")}
    results = batch.load_many([(_write(tmp_path / "inc.csv", _rows(0, 600)), {"progress": False}),
                               (_shots(tmp_path / "shots.csv", 600), {"progress": False})], jobs=2)
    assert [type(r).__name__ for r in results] == ["LoadResult", "LoadResult"]
    assert {t: sql(key, (f"fk_{t}_run_id_etl_run",)) for t in before} == before


def test_indexes_that_cannot_be_built_at_the_end_of_a_batch_stay_recorded_and_the_loads_stand(
        empty_db, sql, database_url, tmp_path, monkeypatch):
    from etl.derive import derive

    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    indexes, shape = _indexes(sql), _shape(sql)
    put_back = deferred.put_back

    def disk_full(*_args):
        raise psycopg.errors.DiskFull("could not extend file: No space left on device")

    monkeypatch.setattr(deferred, "put_back", disk_full)
    said: list[str] = []
    results = batch.load_many([(p, {"progress": False}) for p in _files(tmp_path)], jobs=1, on_note=said.append)
    assert [type(r).__name__ for r in results] == ["LoadResult"] * 3
    assert any("could not build the indexes set aside again (could not extend file" in line for line in said)
    assert _shape(sql) == (2, []) and sql("SELECT count(*) FROM etl_deferred_index")[0][0] == len(indexes) - 1
    # The next derive's attempt fails the same way: it says so and goes on; the one after builds them.
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    said.clear()
    assert deferred.restore_orphans(dsn, said.append) == 0
    assert any("could not build the indexes set aside again" in line for line in said)
    monkeypatch.setattr(deferred, "put_back", put_back)
    derive(dsn)
    assert _indexes(sql) == indexes and _shape(sql) == shape


def test_a_batch_whose_database_goes_away_before_it_sets_anything_aside_loads_as_single_files(
        empty_db, sql, tmp_path, monkeypatch):
    """Between choosing the tables and opening the batch's own connection the server may stop: the batch
    then sets nothing aside, and each file loads (or says the database cannot be reached) on its own."""
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    indexes, shape = _indexes(sql), _shape(sql)
    opened: list = []

    def unreachable(dsn, tables, echo=None):
        opened.append(tables)
        raise psycopg.OperationalError("connection refused")
    monkeypatch.setattr(deferred, "batch", unreachable)
    results = _load(_files(tmp_path), sql)
    assert opened == [["incident"]], "the batch would have set the incident indexes aside"
    assert [type(r).__name__ for r in results] == ["LoadResult"] * 3
    assert sql("SELECT count(*) FROM incident") == [(sum(r.loaded for r in results),)] and results[2].loaded > 0
    assert _indexes(sql) == indexes and _shape(sql) == shape


def test_a_bulk_load_waits_out_a_lock_held_past_the_deadlock_timeout(empty_db, database_url):
    """Autovacuum analyzing the table after the previous year's load gives way only once the server's
    deadlock_timeout (1 s) has passed: a load must wait longer than that for its exclusive lock, or it falls
    back to the row-by-row upsert (half of a 100x build's later incident years did)."""
    import threading
    import time

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    holding = threading.Event()

    def analyze_like(seconds: float) -> None:
        with psycopg.connect(dsn) as conn:
            conn.execute("LOCK TABLE incident IN SHARE UPDATE EXCLUSIVE MODE")  # what ANALYZE takes
            holding.set()
            time.sleep(seconds)

    for held, granted in ((1.2, True), (6.0, False)):
        holding.clear()
        holder = threading.Thread(target=analyze_like, args=(held,))
        holder.start()
        assert holding.wait(10)
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            assert deferred.lock_exclusive(cur, "incident") is granted
        holder.join()


def test_two_connections_build_the_indexes_and_a_failure_loses_none(empty_db, sql, database_url, tmp_path,
                                                                     monkeypatch):
    """At a batch's end the indexes are built by two connections side by side (`BUILDERS`); when a build
    fails, each index is either built or still recorded for the next load or derive to build."""
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    indexes = _indexes(sql)
    loader.load_file(_write(tmp_path / "a.csv", _rows(0, 300)), progress=False)
    builders: set[int] = set()
    put_back = deferred.put_back

    def noting(cur, table, name, statement):
        builders.add(cur.connection.info.backend_pid)
        put_back(cur, table, name, statement)

    monkeypatch.setattr(deferred, "put_back", noting)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert deferred._defer(conn, "incident") == len(indexes) - 2 + 1
        assert deferred.restore(conn, None, None, dsn) == len(indexes) - 1
    assert len(builders) == 2, "two connections built the indexes"
    assert _indexes(sql) == indexes and sql("SELECT count(*) FROM etl_deferred_index") == [(0,)]

    def failing(cur, table, name, statement):
        if name == "ix_incident_location":
            raise psycopg.errors.DiskFull("could not extend file")
        put_back(cur, table, name, statement)

    monkeypatch.setattr(deferred, "put_back", failing)
    with psycopg.connect(dsn, autocommit=True) as conn:
        deferred._defer(conn, "incident")
        with pytest.raises(psycopg.errors.DiskFull):
            deferred.restore(conn, None, None, dsn)
    recorded = {name for (name,) in sql("SELECT name FROM etl_deferred_index")}
    present = {name for name, _ in _indexes(sql)}
    assert "ix_incident_location" in recorded
    assert {name for name, _ in indexes} <= present | recorded, "every index is built or still recorded"
    monkeypatch.undo()
    with psycopg.connect(dsn, autocommit=True) as conn:
        deferred.restore(conn, None, None, dsn)
    assert _indexes(sql) == indexes and _shape(sql)[1] == [("fk_incident_run_id_etl_run", True)]
