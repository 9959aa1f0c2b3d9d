"""`crimegun load`, `runs` and `rejects` from the command line against the real database."""

from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from crimegun_cli import main
from layers import db
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db


def test_load_prints_summary_that_adds_up(empty_db):
    result = CliRunner().invoke(main, ["load", str(FIXTURES / "ffl_current.csv"), str(FIXTURES / "shots_dc.csv")])
    assert result.exit_code == 0, result.output
    assert "read 6 = loaded 5 + updated 0 + duplicate 0 + rejected 1" in result.output
    assert "LIC_REGN" in result.output  # the rejection reason is summarized
    runs = CliRunner().invoke(main, ["runs"])
    assert "ffl_current.csv" in runs.output and "succeeded" in runs.output
    rejects = CliRunner().invoke(main, ["rejects"])
    assert "ffl_current.csv:5" in rejects.output and "BAD ROW" in rejects.output


def test_one_bad_file_fails_the_command_but_not_the_others(empty_db, tmp_path):
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    result = CliRunner().invoke(main, ["load", str(bad), str(FIXTURES / "shots_dc.csv")])
    assert result.exit_code == 1
    assert "empty" in result.output
    assert "1 file(s) loaded, 1 failed" in result.output


def test_db_status_reports_schema_revision(empty_db):
    result = CliRunner().invoke(main, ["db", "status"])
    assert result.exit_code == 0, result.output
    from alembic.script import ScriptDirectory

    from layers.migrate import MIGRATIONS

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert f"Schema revision:   {', '.join(sorted(heads))}" in result.output


def test_demo_loads_its_files_side_by_side_once(empty_db, sql, tmp_path, monkeypatch):
    """`crimegun demo` generates synthetic Baltimore, loads every file (side by side on two cores) with its
    kind from the manifest, derives, and the second time finds everything loaded."""
    monkeypatch.setenv("CGA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CGA_SYNTH_SCALE", "0.05")
    monkeypatch.setenv("CGA_SYNTH_YEARS", "2024-2024")
    monkeypatch.setattr("etl.batch.default_jobs", lambda: 2)
    try:
        first = CliRunner().invoke(main, ["demo", "--no-serve"])
        assert first.exit_code == 0, first.output
        assert "up to 2 side by side" in first.output and "loading part1_crime_2024.csv ..." in first.output
        manifest = json.loads(next(tmp_path.glob("synth/*/manifest.json")).read_text())
        assert sql("SELECT count(*) FROM etl_run WHERE status = 'succeeded'")[0][0] == len(manifest["files"])
        kinds = dict(sql("SELECT kind, count(*) FROM etl_run GROUP BY kind"))
        assert kinds == {k: sum(f["kind"] == k for f in manifest["files"]) for k in kinds}
        assert sql("SELECT count(*) FROM incident WHERE district IS NULL")[0][0] == 0
        assert sql("SELECT count(*) FROM boundary WHERE kind = 'district'")[0][0] > 0
        again = CliRunner().invoke(main, ["demo", "--no-serve"])
        assert again.exit_code == 0 and "Reusing the synthetic Baltimore already loaded" in again.output
    finally:
        with psycopg.connect(db.dsn(empty_db)) as conn:
            conn.execute("DELETE FROM auth.account WHERE username LIKE 'demo-%%'")
