"""derive's work side by side: the alert matching beside the other steps, the daily counts beside the
trafficking index; each waits for nothing it need not, and an error on either side stops the other and
leaves the runs to be derived again."""

from __future__ import annotations

import contextlib

import psycopg
import pytest

from etl.derive import derive
from tests.conftest import add_run, derive_city
from tests.db.test_daily_derive import MATCHED, NEXT_YEAR

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def city(database_url, tmp_path_factory):
    with derive_city(tmp_path_factory, "dbeside") as url:
        yield url


def _an_incident_run(city) -> int:
    with psycopg.connect(city) as conn:
        run = add_run(conn, "incidents")
        conn.execute("UPDATE incident SET run_id = %s WHERE id IN (SELECT id FROM incident ORDER BY id LIMIT 20)",
                     (run,))
        conn.commit()
    return run


def _meeting(begun: dict, name: str, other: str, then):
    """`then`, made to wait until `other` has begun too (`begun`: an Event per name): run one after the other,
    the first would wait in vain."""
    def run(*args, **kwargs):
        begun[name].set()
        assert begun[other].wait(20), f"the {other} did not begin while the {name} ran"
        return then(*args, **kwargs)
    return run


def _fails_then_derives_again(city, monkeypatch, target, attribute: str, fails, run: int, message: str) -> dict:
    """A derive whose `target.attribute` is `fails` raises `message` and leaves `run` to derive again; the
    next derive's timings (it records the run as derived)."""
    from layers import daily

    with monkeypatch.context() as patch:
        patch.setattr(target, attribute, fails)
        with pytest.raises(RuntimeError, match=message):
            derive(dsn=city)
    with psycopg.connect(city) as conn:
        assert daily.state(conn)[0] < run, "the runs are not recorded as derived"
    timings = derive(dsn=city)
    with psycopg.connect(city) as conn:
        assert daily.state(conn)[0] >= run
    return timings


def _raises(message: str):
    def fails(*_args, **_kwargs):
        raise RuntimeError(message)
    return fails


def test_the_daily_counts_and_the_index_are_computed_side_by_side(city, monkeypatch):
    """Each of the two waits until the other has begun: one after the other, the first would wait in vain."""
    import threading

    from etl import derive as derive_module
    from layers import daily

    begun = {name: threading.Event() for name in ("daily", "index")}
    monkeypatch.setattr(daily, "refresh", _meeting(begun, "daily", "index", daily.refresh))
    monkeypatch.setattr(derive_module.trafficking_index, "refresh",
                        _meeting(begun, "index", "daily", derive_module.trafficking_index.refresh))
    timings = derive(dsn=city, full=True)
    assert {"daily counts", "trafficking index"} <= set(timings)


def test_a_failed_daily_count_keeps_its_runs_to_derive_again(city, monkeypatch):
    from layers import daily

    run = _an_incident_run(city)
    timings = _fails_then_derives_again(city, monkeypatch, daily, "refresh", _raises("the daily counts failed"), run,
                                        "daily counts failed")
    assert "daily counts" in timings


def test_a_failed_index_stops_the_daily_counts_beside_it(city, monkeypatch):
    """An error (or Ctrl-C) while the index is computed cancels the daily counts' statement at once."""
    import threading
    import time

    from etl import derive as derive_module
    from layers import daily

    _an_incident_run(city)
    sleeping = threading.Event()

    def sleeps(conn, *_args, **_kwargs):
        sleeping.set()
        conn.execute("SELECT pg_sleep(60)")

    def fails(*_args, **_kwargs):
        assert sleeping.wait(20)
        time.sleep(0.5)  # the daily counts' statement is on the server
        raise KeyboardInterrupt

    monkeypatch.setattr(daily, "refresh", sleeps)
    monkeypatch.setattr(derive_module.trafficking_index, "refresh", fails)
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        derive(dsn=city, full=True)
    assert time.perf_counter() - started < 30, "the daily counts' statement ran on"


def test_a_failed_daily_count_stops_the_index_beside_it(city, monkeypatch):
    """An error in the daily counts cancels the index's statement at once and is the error reported (it was
    reported only once the index was done: at 100x, about 70 s later)."""
    import threading
    import time

    from etl import derive as derive_module
    from layers import daily

    _an_incident_run(city)
    sleeping = threading.Event()

    def sleeps(*_args, conn=None, **_kwargs):
        sleeping.set()
        with psycopg.connect(city) if conn is None else contextlib.nullcontext(conn) as on:
            on.execute("SELECT pg_sleep(60)")

    def fails(*_args, **_kwargs):
        assert sleeping.wait(20)
        time.sleep(0.5)  # the index's statement is on the server
        raise RuntimeError("the daily counts failed")

    monkeypatch.setattr(daily, "refresh", fails)
    monkeypatch.setattr(derive_module.trafficking_index, "refresh", sleeps)
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="daily counts failed"):
        derive(dsn=city, full=True)
    assert time.perf_counter() - started < 30, "the index's statement ran on"


def test_a_failed_index_after_the_daily_counts_keeps_its_runs_to_derive_again(city, monkeypatch):
    """The daily counts commit before the index is done: when the index then fails, the runs are still not
    recorded as derived, so the next plain derive computes the index again instead of finding nothing to do."""
    import threading

    from etl import derive as derive_module

    with psycopg.connect(city) as conn:
        run = add_run(conn, "traces")
        conn.execute("UPDATE trace SET run_id = %s WHERE id IN (SELECT id FROM trace ORDER BY id LIMIT 20)", (run,))
        conn.commit()
    counted = threading.Event()
    daily_counts = derive_module._daily_counts

    def counts_then_tells(*args, **kwargs):
        done = daily_counts(*args, **kwargs)
        counted.set()
        return done

    def fails(*_args, **_kwargs):
        assert counted.wait(60), "the daily counts did not finish"
        raise RuntimeError("the index failed")

    monkeypatch.setattr(derive_module, "_daily_counts", counts_then_tells)
    assert "trafficking index" in _fails_then_derives_again(city, monkeypatch, derive_module.trafficking_index,
                                                            "refresh", fails, run, "index failed")
    assert list(derive(dsn=city)) == ["nothing to derive"]


def test_the_alerts_are_matched_beside_the_other_steps(city, monkeypatch):
    """The alert matching runs on a connection of its own while the derive's other steps go on: each of the
    two below waits until the other has begun (one after the other, the first would wait in vain)."""
    import threading

    from etl import alert_match, case_links

    begun = {name: threading.Event() for name in ("matching", "groups")}
    monkeypatch.setattr(alert_match, "match", _meeting(begun, "matching", "groups", alert_match.match))
    monkeypatch.setattr(case_links, "nibin_groups", _meeting(begun, "groups", "matching", case_links.nibin_groups))
    with psycopg.connect(city) as conn:
        matched = conn.execute(MATCHED, ("2000-01-01", NEXT_YEAR)).fetchone()[0]
        conn.execute("UPDATE shot_alert SET incident_id = NULL")
        conn.commit()
    timings = derive(dsn=city, full=True)
    assert {"alerts corroborating incidents", "NIBIN gun groups and firearm links"} <= set(timings)
    with psycopg.connect(city) as conn:
        assert conn.execute(MATCHED, ("2000-01-01", NEXT_YEAR)).fetchone()[0] == matched > 0


def test_a_failed_alert_matching_stops_the_derive_and_keeps_its_runs(city, monkeypatch):
    from etl import alert_match

    run = _an_incident_run(city)
    assert "alerts corroborating incidents" in _fails_then_derives_again(
        city, monkeypatch, alert_match, "match", _raises("the alert matching failed"), run, "alert matching failed")
