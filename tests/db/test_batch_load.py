"""Loading several files side by side (etl/batch.py, `crimegun load --jobs`): files writing different
tables overlap, files sharing a table keep the order given, boundary files stand alone, and an interrupt
stops every running load with nothing of its file kept."""

from __future__ import annotations

import csv
import threading
import time

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

SHOTS_HEADER = ["DATE", "UNIQUE_ID", "INCIDENT_TYPE_DESCRIPTION", "ROUNDS", "LATITUDE", "LONGITUDE"]


def _shots(path, n: int, tag: str = "B"):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(SHOTS_HEADER)
        for i in range(n):
            w.writerow([f"03/{1 + i % 28:02d}/2022 {1 + i % 12:02d}:{i % 60:02d}:00 PM", f"SST-{tag}{i}",
                        "MULTIPLE GUNSHOTS", "3", f"{39.28 + (i % 97) * 0.0003:.5f}", f"{-76.66 + (i % 89) * 0.0003:.5f}"])
    return path


def test_which_files_wait_for_which():
    from etl.batch import waits_for

    kinds = ["boundaries", "incidents", "shots", "dealers", "traces", "incidents", None, "nibin", "boundaries",
             "shots"]
    before = waits_for(kinds)
    assert before[1] == {0} and before[2] == {0}  # after the map, beside each other
    assert before[3] == {0} and before[4] == {0, 3}  # traces add dealers: after the dealer list
    assert before[5] == {0, 1}  # a later incident file after the earlier one
    assert before[6] == set(range(6))  # a file of unknown kind loads alone, where it stands
    assert before[7] == {0, 6}
    assert before[8] == set(range(8)) and 8 in before[9]  # a map: a barrier both ways


def test_files_of_different_kinds_load_side_by_side_and_a_kind_keeps_the_order_given(empty_db, tmp_path, sql):
    from etl.batch import load_many
    from etl.errors import LoadError

    first = FIXTURES / "incidents_2022.csv"
    later = tmp_path / "incidents_2022_corrected.csv"
    later.write_text(first.read_text().replace("1000 N MOUNT ST", "1010 N MOUNT ST", 1))
    shots = _shots(tmp_path / "shots.csv", 3000)
    broken = tmp_path / "broken.csv"
    broken.write_text("")
    events: list[tuple[str, str]] = []
    outcomes = load_many([(first, {}), (shots, {}), (broken, {}), (later, {})], jobs=2,
                         on_start=lambda p: events.append(("start", p.name)),
                         on_done=lambda p, o, s: events.append(("done", p.name)))
    assert [type(o).__name__ for o in outcomes] == ["LoadResult", "LoadResult", "LoadError", "LoadResult"]
    assert isinstance(outcomes[2], LoadError) and "broken.csv" in str(outcomes[2])
    # Both kinds started before either finished; the file of unknown kind waited for both, the
    # corrected incidents for it.
    assert events[:2] == [("start", "incidents_2022.csv"), ("start", "shots.csv")]
    assert events.index(("start", "broken.csv")) > max(events.index(("done", "incidents_2022.csv")),
                                                       events.index(("done", "shots.csv")))
    assert events.index(("start", "incidents_2022_corrected.csv")) > events.index(("done", "broken.csv"))
    assert outcomes[3].updated == 1
    assert sql("SELECT location FROM incident WHERE cc_number = '22C01234'") == [("1010 N MOUNT ST",)]
    assert sql("SELECT count(*) FROM shot_alert") == [(3000,)]


def test_a_later_file_of_a_kind_stages_beside_the_earlier_and_writes_after_it(empty_db, tmp_path, sql):
    """With a free connection, the next incident file starts while the one before it loads: it reads and
    stages its rows, then waits for that file to end before writing, so its corrections still win."""
    from etl.batch import load_many

    head, first_row = (FIXTURES / "incidents_2022.csv").read_text().splitlines()[:2]
    big = tmp_path / "incidents_big.csv"
    with big.open("w") as f:
        f.write(head + "\n" + first_row + "\n")
        for i in range(40_000):
            f.write(first_row.replace(",22C01234,", f",22X{i:05d},").replace(",1,22X", f",{i + 2},22X", 1) + "\n")
    fix = tmp_path / "incidents_fix.csv"
    fix.write_text(head + "\n" + first_row.replace("1000 N MOUNT ST", "1010 N MOUNT ST") + "\n")
    events: list[tuple[str, str]] = []
    outcomes = load_many([(big, {}), (fix, {})], jobs=2, on_start=lambda p: events.append(("start", p.name)),
                         on_done=lambda p, o, s: events.append(("done", p.name)))
    assert events[:2] == [("start", "incidents_big.csv"), ("start", "incidents_fix.csv")]
    assert outcomes[0].loaded == 40_001 and outcomes[1].updated == 1, outcomes
    assert outcomes[1].seconds["wait for the file before"] > 0.1
    assert sql("SELECT location FROM incident WHERE cc_number = '22C01234'") == [("1010 N MOUNT ST",)]


def test_an_interrupt_stops_every_running_load_and_keeps_nothing_of_their_files(empty_db, tmp_path, sql):
    from etl import runs
    from etl.batch import load_many
    from etl.errors import LoadError

    big = _shots(tmp_path / "shots_big.csv", 150_000, "X")
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.extend(load_many([(big, {})], jobs=2)))
    worker.start()
    deadline = time.monotonic() + 30
    while not runs._LIVE and time.monotonic() < deadline:
        time.sleep(0.001)
    assert runs.cancel_running() == 1
    worker.join(60)
    assert not worker.is_alive()
    assert isinstance(outcome[0], LoadError) and "interrupted; nothing from this file was kept" in str(outcome[0])
    assert sql("SELECT count(*) FROM shot_alert") == [(0,)]
    assert sql("SELECT status, message FROM etl_run") == [("failed", "interrupted")]
    assert not runs._LIVE and not runs._CANCELLED


def test_load_command_loads_side_by_side_and_prints_each_file_as_it_finishes(empty_db):
    from crimegun_cli import main

    result = CliRunner().invoke(main, ["load", "--no-derive", "--jobs", "2", str(FIXTURES / "ffl_current.csv"),
                                       str(FIXTURES / "shots_dc.csv")])
    assert result.exit_code == 0, result.output
    assert "loading ffl_current.csv ..." in result.output and "loading shots_dc.csv ..." in result.output
    assert "Total: 2 file(s) loaded, 0 failed" in result.output
    bad = CliRunner().invoke(main, ["load", "--jobs", "0", str(FIXTURES / "shots_dc.csv")])
    assert bad.exit_code == 2 and "--jobs" in bad.output


def test_side_by_side_the_command_says_which_files_are_still_loading(empty_db, tmp_path, monkeypatch):
    """Side by side there are no progress bars; every HEARTBEAT seconds the command names the files still
    loading and for how long, so a long load is not silent."""
    from crimegun_cli import main
    from etl import batch

    monkeypatch.setattr(batch, "HEARTBEAT", 0.3)
    big = _shots(tmp_path / "shots_big.csv", 60_000, "H")
    result = CliRunner().invoke(main, ["load", "--no-derive", "--jobs", "2", str(big),
                                       str(FIXTURES / "incidents_2022.csv")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "still loading:" in line]
    assert lines and "shots_big.csv (" in lines[0] and lines[0].rstrip().endswith(" s)")
