"""`crimegun load`, `runs` and `rejects` from the command line against the real database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from crimegun_cli import main
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
