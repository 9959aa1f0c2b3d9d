"""After a load of traces the index recomputes only what the load touched, against the stored baselines;
a load big enough to move the baselines recomputes everything.

Its own small synthetic city (the session's is shared by other tests), loaded through the real ETL; then
real trace files with a few more recoveries of known guns go through load_file and derive, as a day's
load would.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

from tests.conftest import query_runner

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from tests.bench.bench_index import build_city
    from tests.conftest import drop_database

    folder = tmp_path_factory.mktemp("incremental")
    url = build_city(f"cga_test_idx_inc_{os.getpid()}", folder, 41, 0.05, (2024, 2025))
    yield url, folder
    drop_database(url)


def _more_traces(folder, path, n: int, tag: str, rows_of: pd.DataFrame | None = None) -> pd.DataFrame:
    """n completed traces of the city re-recovered in January 2026 (same guns and people, new numbers)."""
    df = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted((folder / "traces").glob("*.csv"))])
    done = df[(df["trace_status"] == "COMPLETED") & (df["purchase_date"].str.len() == 10)] if rows_of is None else rows_of
    sub = done.sample(n, random_state=len(tag)).copy()
    sub["trace_number"] = [f"T2026{tag}{i:05d}" for i in range(len(sub))]
    sub["case_number"] = sub["case_number"] + tag
    sub["request_date"], sub["recovery_date"] = "2026-01-06", "2026-01-05"
    sub.to_csv(path, index=False)
    return sub


def _ranks_follow_scores(sql, table: str, key: str, order: str) -> None:
    bad = sql(f"""SELECT count(*) FROM (SELECT rank, row_number() OVER (ORDER BY {order}) AS rn FROM index.{table}) x
                  WHERE rank <> rn""")[0][0]
    n, distinct = sql(f"SELECT count(*), count(DISTINCT rank) FROM index.{table}")[0]
    assert bad == 0 and n == distinct, table


def test_a_small_load_recomputes_only_what_it_touched(city, tmp_path):
    from etl.derive import derive
    from etl.index import refresh
    from etl.loader import load_file
    from layers import db

    url, folder = city
    dsn = db.dsn(url)
    sql = query_runner(url)
    refresh(dsn, full=True)
    assert sql("SELECT baselines->>'mode' FROM index.computation ORDER BY id DESC LIMIT 1")[0][0] == "full"
    before = dict(sql("SELECT firearm_id, recoveries FROM index.firearm_score"))
    stamp = sql("SELECT max(computed_at) FROM index.firearm_score")[0][0]
    n_firearms = len(before)

    path = tmp_path / "etrace_2026_day1.csv"
    _more_traces(folder, path, 4, "A")
    run = load_file(path, kind="traces", progress=False, dsn=dsn).run_id
    derive(dsn=dsn, run_ids=[run])

    mode, touched, why = sql("SELECT baselines->>'mode', baselines->'touched', baselines->>'reason' "
                             "FROM index.computation ORDER BY id DESC LIMIT 1")[0]
    assert mode == "incremental", why
    new = sql("SELECT DISTINCT firearm_id, purchaser_id, dealer_id FROM trace WHERE run_id = %s", (run,))
    guns = {r[0] for r in new}
    assert len(guns) >= 3 and touched["firearms"] >= len(guns) and touched["purchasers"] >= 1
    assert touched["firearms"] < n_firearms / 2, touched  # not everything
    after = dict(sql("SELECT firearm_id, recoveries FROM index.firearm_score"))
    assert len(after) == n_firearms
    assert all(after[g] == before[g] + 1 for g in guns)  # each touched gun was recovered once more
    # Rows the load did not touch keep their score and time; touched ones are recomputed.
    # What the load can touch: its guns, and the guns of its purchasers and of the dealers they bought from
    # (recomputed where the purchaser's or dealer's score changed).
    reach = {r[0] for r in sql("""
        WITH p AS (SELECT purchaser_id FROM trace WHERE run_id = %(run)s AND purchaser_id IS NOT NULL),
             d AS (SELECT dealer_id FROM trace WHERE dealer_id IS NOT NULL
                   AND (run_id = %(run)s OR purchaser_id IN (SELECT purchaser_id FROM p)))
        SELECT DISTINCT firearm_id FROM trace WHERE run_id = %(run)s OR purchaser_id IN (SELECT purchaser_id FROM p)
                                                 OR dealer_id IN (SELECT dealer_id FROM d)""", {"run": run})}
    assert guns <= reach and len(guns) <= touched["firearms"] <= len(reach)
    recomputed = {r[0] for r in sql("SELECT firearm_id FROM index.firearm_score WHERE computed_at > %s", (stamp,))}
    assert guns <= recomputed <= reach and len(recomputed) == touched["firearms"]
    assert sql("SELECT count(*) FROM index.firearm_score WHERE computed_at = %s", (stamp,))[0][0] == n_firearms - len(recomputed)
    for table, key, order in (("purchaser_score", "person_id", "score DESC, guns DESC, person_id"),
                              ("dealer_score", "dealer_id", "score DESC, traces DESC, dealer_id"),
                              ("firearm_score", "firearm_id", "score DESC, firearm_id"),
                              ("state_score", "state", "score DESC, traces DESC, state")):
        _ranks_follow_scores(sql, table, key, order)
    # The flows count the new recoveries in 2026.
    assert sql("SELECT coalesce(sum(traces), 0) FROM index.state_year WHERE year = 2026")[0][0] == len(new)

    # A whole recompute afterwards agrees: same scores for the touched guns within the baselines' drift,
    # the same top purchasers and dealers.
    inc = dict(sql("SELECT firearm_id, score FROM index.firearm_score WHERE firearm_id = ANY(%s)", (sorted(guns),)))
    top_p = [r[0] for r in sql("SELECT person_id FROM index.purchaser_score ORDER BY rank LIMIT 10")]
    top_d = [r[0] for r in sql("SELECT dealer_id FROM index.dealer_score ORDER BY rank LIMIT 10")]
    refresh(dsn, full=True)
    full = dict(sql("SELECT firearm_id, score FROM index.firearm_score WHERE firearm_id = ANY(%s)", (sorted(guns),)))
    assert all(abs(inc[g] - full[g]) <= 0.05 * max(1.0, full[g]) for g in guns), (inc, full)
    assert set(top_p) == {r[0] for r in sql("SELECT person_id FROM index.purchaser_score ORDER BY rank LIMIT 10")}
    assert set(top_d[:5]) <= {r[0] for r in sql("SELECT dealer_id FROM index.dealer_score ORDER BY rank LIMIT 10")}


def test_a_load_that_moves_the_baselines_recomputes_everything(city, tmp_path):
    from etl.derive import derive
    from etl.loader import load_file
    from layers import db

    url, folder = city
    dsn = db.dsn(url)
    sql = query_runner(url)
    total = sql("SELECT count(*) FROM trace")[0][0]
    path = tmp_path / "etrace_2026_big.csv"
    _more_traces(folder, path, int(total * 0.12), "B")  # more than weights.INCREMENTAL_MAX_NEW_SHARE
    run = load_file(path, kind="traces", progress=False, dsn=dsn).run_id
    derive(dsn=dsn, run_ids=[run])
    mode, traces_at_full = sql("SELECT baselines->>'mode', (baselines->>'traces_at_full')::int "
                               "FROM index.computation ORDER BY id DESC LIMIT 1")[0]
    assert mode == "full" and traces_at_full == sql("SELECT count(*) FROM trace")[0][0]
    assert sql("SELECT count(*) FROM index.firearm_score")[0][0] == sql("SELECT count(*) FROM firearm")[0][0]
