"""Benchmark: the trafficking index against planted ground truth, over several seeds, scales and scheme mixes.

Run with `make bench` (pytest tests/bench -s); never part of `make test`. For each city a synthetic
Baltimore is generated with its own seed and its own numbers of planted straw buyers, corrupt dealers,
I-95 rings, slow straw buyers and innocent look-alikes (lawful high-volume dealers, burglary victims,
owners' long-held guns), loaded through the real ETL (derive() computes the index), and the index and
the old count-based Leads lists are scored against the generator's ground_truth.json: top-20 precision
of purchasers and dealers (k shrinks to the number of planted ones in a small city), firearm ROC AUC,
and how many look-alikes reach the top 20 purchasers and dealers — per city and overall. The index
never reads the ground truth; only this scoring does.

Cities: CGA_BENCH_INDEX_CITIES, comma-separated `seed:scale[:plan]`, plan = `key=n/key=n` with keys
of etl/synth/schemes.py PLAN_KEYS (straw, dealer, pipeline, slow_straw, lawful_dealer, burglary,
own_guns). Scale >= 0.5: five years; >= 0.2: three; smaller: two. With CGA_BENCH_KEEP=1 the databases
and files (var/bench-index/) are kept and reused.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from layers import cluster
from tests.bench import report

pytestmark = pytest.mark.bench

DEFAULT_CITIES = ",".join((
    "11:1",
    "12:1:straw=12/dealer=5/pipeline=3/slow_straw=6/lawful_dealer=6/burglary=12/own_guns=12",
    "21:0.25",
    "22:0.25:straw=5/dealer=4/slow_straw=3/lawful_dealer=4/burglary=6/own_guns=6",
    "23:0.25:straw=3/dealer=2/slow_straw=4/lawful_dealer=6/burglary=10/own_guns=10",
    "7:0.05",
))
ROOT = Path(os.environ.get("CGA_DATA_DIR", "var")) / "bench-index"
TARGET = 0.8


def parse_cities(spec: str) -> list[tuple[int, float, tuple[int, int], dict[str, int]]]:
    """`seed:scale[:key=n/key=n]` items -> (seed, scale, years, scheme counts)."""
    out = []
    for item in (x.strip() for x in spec.split(",") if x.strip()):
        parts = item.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"city {item!r}: expected seed:scale or seed:scale:key=n/key=n")
        seed, scale = int(parts[0]), float(parts[1])
        plan = {}
        for kv in (parts[2].split("/") if len(parts) == 3 and parts[2] else []):
            key, _, n = kv.partition("=")
            plan[key.strip()] = int(n)
        years = (2021, 2025) if scale >= 0.5 else (2023, 2025) if scale >= 0.2 else (2024, 2025)
        out.append((seed, scale, years, plan))
    return out


def build_city(name: str, out: Path, seed: int, scale: float, years: tuple[int, int],
               plan: dict[str, int] | None = None) -> str:
    """(Re)create database `name` holding a synthetic city with these scheme counts, loaded through the
    real ETL and derived (which computes the index); return its URL."""
    from etl.derive import derive
    from etl.loader import load_file
    from etl.synth import generate
    from layers import db, migrate

    cluster.drop_database(name)
    cluster.ensure_database(name)
    url = cluster.url(name)
    dsn = db.dsn(url)
    migrate.upgrade(db.engine(url))
    manifest = generate(out, seed=seed, years=years, scale=scale, progress=False, schemes=plan or None)
    for f in manifest["files"]:
        load_file(out / f["path"], kind=f["kind"], boundary_kind=f.get("boundary_kind"), progress=False, dsn=dsn)
    derive(dsn=dsn, full=True)
    return url


def measure_city(url: str, truth_path: Path) -> dict[str, Any]:
    """The index's and the old Leads lists' figures for one loaded city."""
    from sqlalchemy import text

    from layers import db
    from layers.index import evaluate as ev

    with db.engine(url).connect() as conn:
        ids = ev.resolve(conn, ev.load_truth(truth_path))
        p = [r[0] for r in conn.execute(text("SELECT person_id FROM index.purchaser_score ORDER BY rank LIMIT 20"))]
        d_all = [r[0] for r in conn.execute(text("SELECT dealer_id FROM index.dealer_score ORDER BY rank"))]
        f = dict(conn.execute(text("SELECT firearm_id, score FROM index.firearm_score")).all())
        index = ev.measure(conn, ids, p, d_all[:20], f)
        index["risk_ranks"] = sorted(d_all.index(x) + 1 for x in ids["risk_dealers"] if x in d_all)
        bp, bd = ev.baseline(conn, 200)
        ttc = dict(conn.execute(text("""SELECT f.id, -coalesce(min(t.ttc_days), 100000)::float FROM firearm f
                                        LEFT JOIN trace t ON t.firearm_id = f.id GROUP BY f.id""")).all())
        base = ev.measure(conn, ids, bp[:20], bd[:20], ttc)
        base["risk_ranks"] = sorted(bd.index(x) + 1 for x in ids["risk_dealers"] if x in bd)
        traces = conn.execute(text("SELECT count(*) FROM trace")).scalar_one()
        lookalikes = len(ids["lookalike_people"]) + len(ids["lookalike_dealers"])
    return {"index": index, "base": base, "traces": traces, "lookalikes": lookalikes}


def _exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(cluster.url("postgres").replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _city(seed: int, scale: float, years: tuple[int, int], plan: dict[str, int]) -> tuple[str, Path, bool]:
    tag = "_".join(f"{k[:2]}{v}" for k, v in sorted(plan.items()))
    name = f"cga_idx_s{seed}_x{f'{scale:g}'.replace('.', 'p')}_{years[0]}{'_' + tag if tag else ''}"[:63]
    out = ROOT / name
    keep = os.environ.get("CGA_BENCH_KEEP") == "1"
    if keep and (out / "ground_truth.json").exists() and _exists(name):
        from etl.index import refresh
        from layers import db, migrate

        url = cluster.url(name)
        migrate.upgrade(db.engine(url))
        refresh(db.dsn(url), full=True)
        return url, out, keep
    return build_city(name, out, seed, scale, years, plan), out, keep


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.2f}" if isinstance(x, float) else str(x)


def _plan_text(plan: dict[str, int]) -> str:
    return "/".join(f"{k}={v}" for k, v in plan.items()) or "default mix"


def test_index_against_ground_truth(capsys):
    from etl.index import refresh
    from layers import access, db
    from layers.leads import leads
    from tests.conftest import drop_database

    rows = []
    for seed, scale, years, plan in parse_cities(os.environ.get("CGA_BENCH_INDEX_CITIES", DEFAULT_CITIES)):
        url, out, keep = _city(seed, scale, years, plan)
        try:
            started = time.perf_counter()
            refresh(db.dsn(url), full=True)
            compute_s = time.perf_counter() - started
            m = measure_city(url, out / "ground_truth.json")
            os.environ["DATABASE_URL"] = db.dsn(url)
            db.reset_engines()
            times = []
            with access.use_viewer(access.Viewer("bench", "analyst", purpose="benchmark")):
                for _ in range(5):
                    t0 = time.perf_counter()
                    leads()
                    times.append(time.perf_counter() - t0)
            rows.append({"seed": seed, "scale": scale, "plan": plan, **m, "compute_s": compute_s, "times": times})
        finally:
            os.environ.pop("DATABASE_URL", None)
            db.reset_engines()
            if not keep:
                drop_database(url)
    with capsys.disabled():
        print("\nTrafficking index against planted ground truth (k = 20, or the number planted when fewer); "
              "look-alikes = planted innocents in the top 20 purchasers + top 20 dealers")
        print(f"{'seed':>5} {'scale':>5} {'traces':>7} | {'list':6} {'purch P@k':>12} {'dealer P@k':>12} "
              f"{'look-alikes':>11} {'risk dealer ranks':>18} {'gun AUC':>8} | schemes")
        for r in rows:
            for name, m in (("leads", r["base"]), ("index", r["index"])):
                la = m["lookalike_purchasers_in_top"] + m["lookalike_dealers_in_top"]
                print(f"{r['seed']:>5} {r['scale']:>5} {r['traces']:>7} | {name:6} "
                      f"{_fmt(m['purchaser_precision'])} (k={m['purchaser_k']:>2}) "
                      f"{_fmt(m['dealer_precision'])} (k={m['dealer_k']:>2}) "
                      f"{la:>4} of {r['lookalikes']:<4} {str(m['risk_ranks']):>18} {_fmt(m['firearm_auc']):>8} | "
                      f"{_plan_text(r['plan']) if name == 'index' else ''}")
        idx = [r["index"] for r in rows]
        summary = {
            "purchaser": [m["purchaser_precision"] for m in idx], "dealer": [m["dealer_precision"] for m in idx],
            "auc": [m["firearm_auc"] for m in idx if m["firearm_auc"] is not None],
            "lookalikes": sum(m["lookalike_purchasers_in_top"] + m["lookalike_dealers_in_top"] for m in idx),
        }
        print(f"overall ({len(rows)} cities): purchasers P@k mean {statistics.mean(summary['purchaser']):.2f} "
              f"min {min(summary['purchaser']):.2f}; dealers mean {statistics.mean(summary['dealer']):.2f} "
              f"min {min(summary['dealer']):.2f}; gun AUC min {min(summary['auc']):.3f}; "
              f"look-alikes in the top 20: {summary['lookalikes']} "
              f"(of {sum(r['lookalikes'] for r in rows)} planted)")
        print("leads' 'gun AUC' ranks guns by time-to-crime alone (the old pages score no gun).")
        for r in rows:
            print(f"seed {r['seed']} scale {r['scale']}: index computed in {r['compute_s']:.1f} s; Leads page data "
                  f"first call {1000 * r['times'][0]:.0f} ms, then median {1000 * statistics.median(r['times'][1:]):.0f} ms")
    for r in rows:
        m, scale = r["index"], f"{r['scale']}x"
        city = f"seed {r['seed']}, {_plan_text(r['plan'])}"
        report.record("index", f"purchasers top-k precision ({city})", round(m["purchaser_precision"], 3), "",
                      scale=scale, target=f">= {TARGET}", met=m["purchaser_precision"] >= TARGET,
                      note=f"k={m['purchaser_k']}; old Leads list {r['base']['purchaser_precision']:.2f}")
        report.record("index", f"dealers top-k precision ({city})", round(m["dealer_precision"], 3), "",
                      scale=scale, target=f">= {TARGET}", met=m["dealer_precision"] >= TARGET,
                      note=f"k={m['dealer_k']}; old Leads list {r['base']['dealer_precision']:.2f}")
        la = m["lookalike_purchasers_in_top"] + m["lookalike_dealers_in_top"]
        report.record("index", f"look-alikes in the top 20 ({city})", la, "", scale=scale, target="0", met=la == 0,
                      note=f"{r['lookalikes']} planted; old Leads lists: "
                           f"{r['base']['lookalike_purchasers_in_top'] + r['base']['lookalike_dealers_in_top']}")
        report.record("index", f"firearm ROC AUC ({city})", round(m["firearm_auc"] or 0, 3), "", scale=scale)
        report.record("index", f"whole recompute ({city})", round(r["compute_s"], 2), "s", scale=scale)
    report.record("index", "purchasers top-k precision, worst city", round(min(summary["purchaser"]), 3), "",
                  target=f">= {TARGET}", met=min(summary["purchaser"]) >= TARGET, note=f"{len(rows)} cities")
    report.record("index", "dealers top-k precision, worst city", round(min(summary["dealer"]), 3), "",
                  target=f">= {TARGET}", met=min(summary["dealer"]) >= TARGET, note=f"{len(rows)} cities")
    report.record("index", "look-alikes in the top 20, all cities", summary["lookalikes"], "", target="0",
                  met=summary["lookalikes"] == 0, note=f"{len(rows)} cities")
    for r in rows:  # the index must not lose to the old lists
        assert r["index"]["purchaser_precision"] >= r["base"]["purchaser_precision"] - 0.1


def _simulated_load(dsn: str, n: int) -> int:
    """A day's load of n traces as the index sees it: a new succeeded trace run that (re)wrote n traces of
    known purchasers (their rows are kept as they are, so the measurement is of the index alone)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('etl_run', 'id'), (SELECT max(id) FROM etl_run))")
        run = conn.execute("""
            INSERT INTO etl_run (started_at, finished_at, status, kind, layout, file_path, file_sha256, file_bytes,
                                 rows_read, rows_loaded, rows_updated, rows_duplicate, rows_rejected)
            VALUES (now(), now(), 'succeeded', 'traces', 'canonical', 'benchmark-day.csv', md5(random()::text), 0,
                    %s, 0, %s, 0, 0) RETURNING id""", (n, n)).fetchone()[0]
        conn.execute("""UPDATE trace SET run_id = %s WHERE id IN (
                            SELECT id FROM trace WHERE purchaser_id IS NOT NULL ORDER BY random() LIMIT %s)""", (run, n))
    return run


def test_incremental_against_whole_recompute(capsys):
    """After a day's load of traces: the whole recompute against the incremental one, at each scale asked
    (`make bench SCALES=1,10,100`; the copies are bench_journey's, replicated in SQL)."""
    import psycopg

    from etl.index import refresh
    from tests.bench import bench_journey, scaling

    lines = []

    def say(text: str) -> None:
        with capsys.disabled():
            print(text)

    bench_journey.build_x1(say)
    for scale in report.scales():
        name = bench_journey.X1 if scale == 1 else bench_journey.build_scaled(scale, say)
        dsn = scaling.dsn(name)
        started = time.perf_counter()
        refresh(dsn, full=True)
        whole = time.perf_counter() - started
        with psycopg.connect(dsn) as conn:  # a day's load: 100 traces, or 1% of a small city's
            n = min(100, max(1, conn.execute("SELECT count(*) FROM trace").fetchone()[0] // 100))
        run = _simulated_load(dsn, n)
        started = time.perf_counter()
        steps = refresh(dsn, run_ids=[run])
        inc = time.perf_counter() - started
        with psycopg.connect(dsn) as conn:
            mode, touched, why = conn.execute(
                "SELECT baselines->>'mode', baselines->'touched', baselines->>'reason' FROM index.computation "
                "ORDER BY id DESC LIMIT 1").fetchone()
        slowest = sorted(((v, k) for k, v in steps.items() if k != "trafficking index"), reverse=True)[:3]
        lines.append(f"scale {scale}: whole recompute {whole:.1f} s; after a {n}-trace load {mode} {inc:.1f} s "
                     f"(touched {touched or why}); slowest steps: "
                     + ", ".join(f"{k.removeprefix('index: ')} {v:.2f} s" for v, k in slowest))
        report.record("index", "whole recompute", round(whole, 2), "s", scale=scale, target="< a few seconds",
                      met=whole < 5)
        report.record("index", f"recompute after a {n}-trace load", round(inc, 2), "s", scale=scale,
                      target="< a few seconds", met=inc < 5, note=f"{mode}; touched {touched or why}")
        assert mode == "incremental", why
    with capsys.disabled():
        print("\nTrafficking index: whole recompute against the incremental one after a day's load of traces")
        for line in lines:
            print(line)
