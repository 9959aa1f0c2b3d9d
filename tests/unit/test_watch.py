"""The folder watcher's rules without a database: half-written files wait, names of copies in progress
are ignored, and a database that is away means waiting with a growing delay, not a crash."""

from __future__ import annotations

import os

import psycopg

from etl import watch as w


def test_a_file_is_taken_only_once_it_stops_changing(tmp_path):
    state = w.WatchState()
    f = tmp_path / "shots.csv"
    f.write_text("a,b\n")
    old = 1_000_000.0
    os.utime(f, (old, old))
    assert w.ready_files(tmp_path, state, settle=2, now=old + 10) == []        # first sight
    assert w.ready_files(tmp_path, state, settle=2, now=old + 11) == []        # not yet 2 s stable
    assert w.ready_files(tmp_path, state, settle=2, now=old + 13) == [f]
    f.write_text("a,b\n1,2\n")                                                 # it grew: wait again
    os.utime(f, (old + 20, old + 20))
    assert w.ready_files(tmp_path, state, settle=2, now=old + 21) == []
    assert w.ready_files(tmp_path, state, settle=2, now=old + 24) == [f]


def test_copies_in_progress_and_hidden_files_are_ignored(tmp_path):
    for name in ("a.csv.part", "b.csv.tmp", ".c.csv", "d.csv~", "e.crdownload"):
        (tmp_path / name).write_text("x")
    state = w.WatchState()
    w.ready_files(tmp_path, state, settle=0, now=1e12)
    assert w.ready_files(tmp_path, state, settle=0, now=1e12 + 1) == []


def test_a_database_that_is_away_means_backing_off(tmp_path, monkeypatch):
    calls = {"n": 0}

    def scan(*_args):
        calls["n"] += 1
        if calls["n"] <= 4:
            raise psycopg.OperationalError("connection refused")
        return []

    monkeypatch.setattr(w, "scan_once", scan)
    slept: list[float] = []
    said: list[str] = []
    w.watch(tmp_path, interval=2, echo=said.append, should_stop=lambda: calls["n"] >= 6, sleep=slept.append)
    assert slept[:4] == [1.0, 2.0, 4.0, 8.0] and slept[4:] == [2, 2]
    assert sum("not answering" in s for s in said) == 4 and any("answers again" in s for s in said)


def test_an_unreadable_file_is_reported_once_and_the_watch_goes_on(tmp_path, monkeypatch):
    import etl.runs
    import layers.etl_runs

    f = tmp_path / "alerts.csv"
    f.write_text("x")

    def unreadable(_path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(etl.runs, "file_sha256", unreadable)
    monkeypatch.setattr(layers.etl_runs, "loaded_hashes", lambda: set())
    monkeypatch.setattr(w, "ready_files", lambda *_a, **_k: [f])
    said: list[str] = []
    state = w.WatchState()
    assert w.scan_once(tmp_path, state, 0, said.append) == []
    assert w.scan_once(tmp_path, state, 0, said.append) == []
    assert said == ["alerts.csv: cannot be read (Permission denied); fix its permissions to load it"]
