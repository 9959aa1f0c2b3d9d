"""Hostile input files through the real loader on the real database: every file either loads with
every row accounted for, or is refused with one LoadError line; no run is ever left `running`.

The corpus is tests/fixtures/bad (written by make_corpus.py, expectations in expected.json); the
files over 16 KB, including a 12 MB field, are written at test time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etl.errors import LoadError
from etl.loader import load_file
from etl.reader import normalize_header
from etl.runs import INTERRUPTED
from etl.sources import SOURCES
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

BAD = FIXTURES / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text())
ROOT = Path(__file__).resolve().parents[2]


def _make_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", BAD / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def large_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad_large")
    return out, _make_corpus().build(out, large=True)


def _column_names() -> set[str]:
    """Every column a reason may name: staging columns and every layout's columns."""
    names = set()
    for source in SOURCES.values():
        names |= {c for c, _ in source.staging}
        for layout in source.layouts:
            names |= layout.required | layout.optional
    return names


COLUMNS = _column_names()
STRUCTURAL = ("expected ", "unbalanced quote in column")


def _names_a_column(reason: str) -> bool:
    text = normalize_header(reason)
    # One-letter columns (X, Y) count only as the reason's first word.
    return (any(re.search(rf"(^|_){re.escape(c)}(_|$)" if len(c) > 1 else rf"^{c}_", text) for c in COLUMNS)
            or reason.startswith(STRUCTURAL))


def _baseline(sql):
    """A district map the boundary files must not disturb when they are refused."""
    import geopandas as gpd
    from shapely.geometry import box

    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"cga_bad_baseline_{os.getpid()}.geojson"
    gpd.GeoDataFrame({"Dist_Name": ["Western", "Central"]},
                     geometry=[box(-76.70, 39.28, -76.64, 39.33), box(-76.64, 39.27, -76.60, 39.33)],
                     crs=4326).to_file(path)
    load_file(path, progress=False)
    path.unlink()
    return sql("SELECT kind, name, md5(ST_AsBinary(geom)) FROM boundary ORDER BY kind, name")


def _check(path: Path, case: dict, sql) -> str:
    """Load one corpus file and check it against its expectation; return a one-word outcome."""
    options = {"progress": False}
    if case.get("encoding"):
        options["encoding"] = case["encoding"]
    if case.get("kind"):
        options["kind"] = case["kind"]
    boundaries_before = sql("SELECT kind, name, md5(ST_AsBinary(geom)) FROM boundary ORDER BY kind, name")
    try:
        result = load_file(path, **options)
    except LoadError as exc:
        message = str(exc)
        assert case["error"], f"{path.name}: refused unexpectedly: {message}"
        assert re.search(case["error"], message), f"{path.name}: {message!r} does not match {case['error']!r}"
        assert "\n" not in message
        if case.get("unchanged"):
            assert sql("SELECT kind, name, md5(ST_AsBinary(geom)) FROM boundary ORDER BY kind, name") == \
                boundaries_before, f"{path.name}: a refused boundary file changed the boundaries"
        return "refused"
    finally:
        assert sql("SELECT count(*) FROM etl_run WHERE status = 'running'") == [(0,)], path.name
    assert not case["error"], f"{path.name}: loaded, expected a refusal matching {case['error']!r}"
    assert result.adds_up(), (path.name, result)
    run = sql("SELECT status, rows_read, rows_loaded, rows_updated, rows_duplicate, rows_rejected FROM etl_run "
              "WHERE id = %s", (result.run_id,))[0]
    assert run == ("succeeded", result.read, result.loaded, result.updated, result.duplicate, result.rejected)
    rejected = dict(sql("SELECT line_number, reason FROM etl_rejected_row WHERE run_id = %s", (result.run_id,)))
    assert len(rejected) == result.rejected, path.name
    for line, reason in rejected.items():
        assert _names_a_column(reason), f"{path.name}:{line}: reason names no column: {reason!r}"
    for line, expected in case["reasons"].items():
        assert int(line) in rejected, f"{path.name}: line {line} not rejected (rejected: {rejected})"
        assert expected in rejected[int(line)], f"{path.name}:{line}: {rejected[int(line)]!r} lacks {expected!r}"
    if "loads" in case:
        assert result.loaded + result.updated + result.duplicate >= case["loads"], (path.name, result)
    if "neutralised" in case:
        assert result.neutralised >= case["neutralised"], (path.name, result)
    return "loaded"


def test_every_bad_file_is_accounted_for(empty_db, sql, large_files):
    """The whole corpus in one test: one database, loaded file after file like a real user would."""
    _baseline(sql)
    large_dir, large_cases = large_files
    cases = [(BAD / c["file"], c) for c in EXPECTED] + [(large_dir / c["file"], c) for c in large_cases]
    assert len(cases) >= 100
    outcomes = {}
    for path, case in cases:
        outcomes[path.name] = _check(path, case, sql)
    assert sql("SELECT count(*) FROM etl_run WHERE status = 'running'") == [(0,)]
    refused = sum(1 for o in outcomes.values() if o == "refused")
    assert refused == sum(1 for _, c in cases if c["error"])


def test_formula_cells_are_stored_quoted(empty_db, sql):
    result = load_file(BAD / "incidents_2022__formula_eq.csv", progress=False)
    assert result.neutralised == 1
    assert any("formula-like cells neutralised" in n for n in result.notes)
    assert sql("SELECT location FROM incident WHERE location LIKE '%%HYPERLINK%%'") == \
        [("'=HYPERLINK(\"HTTP://EXAMPLE.COM\",\"X\")",)]
    assert sql("SELECT message FROM etl_run WHERE id = %s", (result.run_id,))[0][0].startswith("1 formula-like")


def test_an_unexpected_parser_failure_costs_one_row(empty_db, monkeypatch):
    from etl.sources.shots import Shots

    original = Shots.parse

    def fragile(self, rec, ctx):
        if rec.get("latitude") == "39.302":
            raise ZeroDivisionError("a bug")
        return original(self, rec, ctx)

    monkeypatch.setattr(Shots, "parse", fragile)
    result = load_file(FIXTURES / "shots_dc.csv", progress=False)
    assert (result.read, result.loaded, result.rejected) == (2, 1, 1)
    assert result.reasons == {"internal error parsing latitude: ZeroDivisionError": 1}


def test_unbalanced_quote_loses_only_its_line(empty_db):
    result = load_file(BAD / "shots_chicago__unbalanced_quote.csv", progress=False)
    # header + good + bad + good + good + bad: 5 records, one per physical line.
    assert (result.read, result.rejected) == (5, 2)
    assert result.adds_up()


def test_a_load_killed_mid_file_is_marked_failed_by_the_next(empty_db, sql, tmp_path):
    """kill -9 of a loading process leaves its run `running`; the next load marks it failed."""
    script = tmp_path / "slow_load.py"
    script.write_text(f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from etl.sources.shots import Shots
original = Shots.parse
def slow(self, rec, ctx):
    time.sleep(60)
    return original(self, rec, ctx)
Shots.parse = slow
from etl.loader import load_file
load_file({str(FIXTURES / "shots_chicago.csv")!r}, progress=False)
""")
    child = subprocess.Popen([sys.executable, str(script)], env=os.environ.copy(), cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not sql("SELECT id FROM etl_run WHERE status = 'running'"):
            assert child.poll() is None, "the loading process ended before its run started"
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    (run_id,) = sql("SELECT id FROM etl_run WHERE status = 'running'")[0]
    load_file(FIXTURES / "shots_dc.csv", progress=False)
    assert sql("SELECT status, message FROM etl_run WHERE id = %s", (run_id,)) == [("failed", INTERRUPTED)]
    assert sql("SELECT count(*) FROM shot_alert WHERE source_id LIKE 'SST-%%'") == [(0,)]
    assert sql("SELECT count(*) FROM etl_run WHERE status = 'running'") == [(0,)]


def test_a_run_of_a_live_loader_is_left_alone(empty_db, sql):
    """A `running` run whose loader still holds its session is not touched by another load."""
    import psycopg

    dsn = empty_db.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as other:
        (run_id,) = other.execute("INSERT INTO etl_run (status, file_path, rows_read, rows_loaded, rows_updated,"
                                  " rows_duplicate, rows_rejected, message) VALUES ('running', 'x.csv', 0, 0, 0, 0,"
                                  " 0, 'loading: pid 1 on elsewhere') RETURNING id").fetchone()
        other.execute("SELECT set_config('application_name', %s, false)", (f"crimegun-load {run_id}",))
        load_file(FIXTURES / "shots_dc.csv", progress=False)
        assert sql("SELECT status FROM etl_run WHERE id = %s", (run_id,)) == [("running",)]
    load_file(FIXTURES / "shots_dc_legacy.csv", progress=False)
    assert sql("SELECT status FROM etl_run WHERE id = %s", (run_id,)) == [("failed",)]


def test_cli_reports_neutralised_cells_header_only_files_and_takes_a_crs(empty_db, sql, tmp_path):
    from click.testing import CliRunner

    from crimegun_cli import main

    out = CliRunner().invoke(main, ["load", "--no-derive", str(BAD / "shots_chicago__formula_eq.csv")])
    assert out.exit_code == 0, out.output
    assert "1 formula-like cells neutralised" in out.output
    out = CliRunner().invoke(main, ["load", "--no-derive", str(BAD / "nibin__header_only.csv")])
    assert out.exit_code == 1 and "has a header but no rows" in out.output
    projected = BAD / "boundaries__projected_no_crs.geojson"
    out = CliRunner().invoke(main, ["load", "--no-derive", str(projected)])
    assert out.exit_code == 1 and "give --crs or a .prj" in out.output
    out = CliRunner().invoke(main, ["load", "--no-derive", "--crs", "EPSG:2248", str(projected)])
    assert out.exit_code == 0, out.output
    assert sql("SELECT name FROM boundary WHERE kind = 'district'") == [("WESTERN",)]
