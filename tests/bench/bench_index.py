"""Benchmark: the trafficking index against planted ground truth, over several seeds and scales.

Run with `make bench` (pytest tests/bench -s); never part of `make test`. For each (seed, scale) a
synthetic city is generated and loaded through the real ETL (derive() computes the index), then the
index and the old count-based Leads lists are scored against the generator's ground_truth.json:
top-20 precision of purchasers and dealers (k shrinks to the number of planted ones in a small city),
where the planted high-risk dealers rank, firearm ROC AUC, and look-alikes in the top 20 (the generator
plants none yet, so lawful high-volume dealers in the dealers' top 20 are the proxy). It also prints
how long the index takes to compute and to read for the Leads page.

Cities: CGA_BENCH_INDEX_CITIES, e.g. "11:1,12:1,7:0.05,13:0.05" (seed:scale; scale 1 = five years of
Baltimore, smaller scales two years), the default. Loading a scale-1 city takes ~2.5 minutes; with
CGA_BENCH_KEEP=1 the databases and files (var/bench-index/) are kept and reused.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest

from layers import cluster

pytestmark = pytest.mark.bench

DEFAULT_CITIES = "11:1,12:1,7:0.05,13:0.05"
ROOT = Path(os.environ.get("CGA_DATA_DIR", "var")) / "bench-index"


def _cities() -> list[tuple[int, float, tuple[int, int]]]:
    out = []
    for item in os.environ.get("CGA_BENCH_INDEX_CITIES", DEFAULT_CITIES).split(","):
        seed, scale = item.split(":")
        years = (2021, 2025) if float(scale) >= 0.5 else (2024, 2025)
        out.append((int(seed), float(scale), years))
    return out


def _exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(cluster.url("postgres").replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _city(seed: int, scale: float, years: tuple[int, int]) -> tuple[str, Path, bool]:
    """URL of a loaded city and its folder; built unless kept from an earlier run."""
    from tests.conftest import build_synthetic_database

    name = f"cga_idx_s{seed}_x{str(scale).replace('.', '')}_{years[0]}"
    out = ROOT / name
    keep = os.environ.get("CGA_BENCH_KEEP") == "1"
    if keep and (out / "ground_truth.json").exists() and _exists(name):
        from etl.index import refresh
        from layers import db, migrate

        url = cluster.url(name)
        migrate.upgrade(db.engine(url))
        refresh(db.dsn(url), full=True)
        return url, out, keep
    return build_synthetic_database(name, out, seed=seed, scale=scale, years=years), out, keep


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.2f}" if isinstance(x, float) else str(x)


def test_index_against_ground_truth(capsys):
    from sqlalchemy import text

    from etl.index import refresh
    from layers import access, db
    from layers.index import evaluate as ev
    from layers.leads import leads
    from tests.conftest import drop_database

    rows = []
    for seed, scale, years in _cities():
        url, out, keep = _city(seed, scale, years)
        try:
            started = time.perf_counter()
            refresh(db.dsn(url), full=True)
            compute_s = time.perf_counter() - started
            eng = db.engine(url)
            with eng.connect() as conn:
                ids = ev.resolve(conn, ev.load_truth(out / "ground_truth.json"))
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
            os.environ["DATABASE_URL"] = db.dsn(url)
            db.reset_engines()
            times = []
            with access.use_viewer(access.Viewer("bench", "analyst", purpose="benchmark")):
                for _ in range(5):
                    t0 = time.perf_counter()
                    leads()
                    times.append(time.perf_counter() - t0)
            rows.append((seed, scale, traces, base, index, compute_s, times))
        finally:
            os.environ.pop("DATABASE_URL", None)
            db.reset_engines()
            if not keep:
                drop_database(url)
    with capsys.disabled():
        print("\nTrafficking index against planted ground truth (k = 20, or the number planted when fewer)")
        print(f"{'seed':>5} {'scale':>5} {'traces':>7} | {'list':8} {'purch P@k':>10} {'dealer P@k':>11} "
              f"{'risk dealer ranks':>18} {'big lawful in top20':>20} {'gun AUC':>8}")
        for seed, scale, traces, base, index, _, _ in rows:
            for name, m in (("leads", base), ("index", index)):
                print(f"{seed:>5} {scale:>5} {traces:>7} | {name:8} "
                      f"{_fmt(m['purchaser_precision'])} (k={m['purchaser_k']:>2}) "
                      f"{_fmt(m['dealer_precision'])} (k={m['dealer_k']:>2}) "
                      f"{str(m['risk_ranks']):>18} {m['high_volume_lawful_dealers_in_top']:>20} "
                      f"{_fmt(m['firearm_auc']):>8}")
        print("leads' 'gun AUC' ranks guns by time-to-crime alone (the old pages score no gun).")
        print("The generator plants no innocent look-alikes yet: 'big lawful in top20' is the proxy.")
        for seed, scale, _, _, _, compute_s, times in rows:
            print(f"seed {seed} scale {scale}: index computed in {compute_s:.1f} s; Leads page data "
                  f"first call {1000 * times[0]:.0f} ms, then median {1000 * statistics.median(times[1:]):.0f} ms")
    for _, _, _, base, index, _, _ in rows:
        assert index["purchaser_precision"] >= base["purchaser_precision"] - 0.1
