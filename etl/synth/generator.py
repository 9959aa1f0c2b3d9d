"""generate(): write every synthetic source file, the ground truth and the manifest.

Order matters: incidents first (their firearm scenes feed NIBIN, ShotSpotter and recoveries),
then the gun-use model and planted schemes, alerts, traces per year, and the NIBIN leads (which
need the trace numbers of recovered guns). Each step has its own random stream derived from the
seed, so the output is byte-identical for the same seed, years and scale.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from etl.synth import dealers as dealers_mod
from etl.synth import incidents, nibin, shipped, shots, traces
from etl.synth import schemes as schemes_mod
from etl.synth.writer import write_csv

STREAMS = {"dealers": 1, "incidents": 2, "nibin": 3, "schemes": 4, "shots": 5, "traces": 6,
           "leads": 7}
OWNED_GLOBS = ("boundaries/*.geojson", "dealers/ffl_list.csv", "traces/etrace_*.csv",
               "incidents/part1_crime_*.csv", "shots/shotspotter_alerts.csv",
               "nibin/nibin_leads.csv", "ground_truth.json", "manifest.json")
# Fewer incident rows than this (all years together) are written in this process, one year after another.
SIDE_BY_SIDE_MIN_ROWS = 100_000


def _rng(seed: int, stream: str, year: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, STREAMS[stream], year])


def _check(years: tuple[int, int], scale: float) -> None:
    if len(years) != 2 or years[0] > years[1] or years[0] < 2000 or years[1] > 2100:
        raise ValueError(f"years must be (first, last) with 2000 <= first <= last, got {years!r}")
    if not (0 < scale <= 1000):
        raise ValueError(f"scale must be in (0, 1000], got {scale!r}")


@contextmanager
def _fewer_gc_passes():
    """Look for reference cycles less often while generating (the previous thresholds come back after).

    A run makes millions of short-lived containers (rows, field lists) but few cycles, and each full
    collection walks every long-lived object again: about 5% of the run's CPU at the default thresholds.
    Cycles are still collected, just in fewer passes.
    """
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def generate(out_dir: Path, seed: int = 2021, years: tuple[int, int] = (2021, 2025),
             scale: float = 1.0, progress: bool = True,
             schemes: dict[str, int] | None = None) -> dict[str, Any]:
    with _fewer_gc_passes():
        return _generate(out_dir, seed, years, scale, progress, schemes)


def _generate(out_dir: Path, seed: int, years: tuple[int, int], scale: float, progress: bool,
              schemes: dict[str, int] | None) -> dict[str, Any]:
    from tqdm import tqdm

    years = (int(years[0]), int(years[1]))
    _check(years, scale)
    plan = schemes_mod.plan_counts(years, scale, schemes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in OWNED_GLOBS:  # stale files of an earlier run with other years would mislead
        for old in out_dir.glob(pattern):
            old.unlink()
    all_years = list(range(years[0], years[1] + 1))
    end_day = np.datetime64(f"{years[1]}-12-31", "D")
    bar = tqdm(total=3 + 3 * len(all_years) + 2, desc="synthetic data", unit="step",
               # None: a bar on a terminal, nothing in logs and CI output.
               disable=None if progress else True, file=sys.stderr)
    files: list[dict[str, Any]] = []

    def done(path: Path, kind: str, rows: int, **extra: Any) -> None:
        files.append({"path": path.relative_to(out_dir).as_posix(), "kind": kind, "rows": int(rows), **extra})

    # The official boundaries shipped in assets/geo; the district maps carry their validity dates.
    for s in shipped.SHIPPED:
        path = out_dir / "boundaries" / s.file
        path.parent.mkdir(parents=True, exist_ok=True)
        text = shipped.with_validity(s)
        path.write_text(text, encoding="utf-8")
        done(path, "boundaries", len(json.loads(text)["features"]), boundary_kind=s.kind,
             valid_from=s.valid_from and s.valid_from.isoformat(), valid_to=s.valid_to and s.valid_to.isoformat())
    bar.update(1)

    dealers = dealers_mod.build_dealers(_rng(seed, "dealers"), scale)
    path = out_dir / "dealers" / "ffl_list.csv"
    done(path, "dealers", write_csv(dealers[dealers["listed"]], path, dealers_mod.LISTING_COLUMNS))
    bar.update(1)

    year_inc: dict[int, incidents.YearIncidents] = {}
    with _side_by_side(all_years, scale) as workers:
        # The planted schemes need only the dealers: worked out beside the incident years.
        schemes_args = (_rng(seed, "schemes"), dealers, years, scale, plan)
        planting = workers.submit(schemes_mod.plant_schemes, *schemes_args) if workers else None
        for year, path, inc, n in _incident_years(out_dir, seed, all_years, scale, workers):
            year_inc[year] = inc
            done(path, "incidents", n)
            bar.update(1)
        planted, truth = planting.result() if planting else schemes_mod.plant_schemes(*schemes_args)

        events = pd.concat([inc.events for inc in year_inc.values()], ignore_index=True)
        use = nibin.assign_guns(_rng(seed, "nibin"), events, end_day)
        bar.update(1)

        # The alerts need only the scenes: written beside the traces.
        shots_path = out_dir / "shots" / "shotspotter_alerts.csv"
        shots_args = (seed, all_years, scale, {year: year_inc[year].events for year in all_years}, shots_path)
        alerting = workers.submit(_shot_years, *shots_args) if workers else None
        shots_total = None if alerting else _shot_years(*shots_args)

        trace_files, internals, written, pool = [], [], [], None
        planted_year = planted["recovery_day"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
        rec_year = use.guns["recovery_day"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
        has_rec = ~np.isnat(use.guns["recovery_day"].to_numpy())
        for year in all_years:
            rng = _rng(seed, "traces", year)
            ty = traces.generate_year(rng, year, scale, dealers, year_inc[year],
                                      planted[planted_year == year].reset_index(drop=True),
                                      use.guns[has_rec & (rec_year == year)].reset_index(drop=True),
                                      pool, end_day)
            path = out_dir / "traces" / f"etrace_{year}.csv"
            trace_files.append((path, write_csv(ty.written, path, traces.COLUMNS)))
            internals.append(ty.internal[["kind", "scheme_id", "gun", "trace_number", "recovery_day"]])
            written.append(ty.written[["trace_number", "serial_number", "restored_serial", "recovery_street",
                                       "recovery_latitude", "recovery_longitude"]])
            sample = traces.pool_sample(rng, ty.internal)
            pool = sample if pool is None else pd.concat([pool, sample], ignore_index=True)
            bar.update(1)
        if alerting:
            shots_total = alerting.result()
        done(shots_path, "shots", shots_total)
        bar.update(len(all_years))
    internal = pd.concat(internals, ignore_index=True)

    nib = internal[internal["kind"] == "nibin"]
    trace_of_gun = dict(zip(nib["gun"].astype(int), nib["trace_number"], strict=True))
    leads, leads_of_gun = nibin.build_leads(_rng(seed, "leads"), use, trace_of_gun, end_day)
    nibin.add_places(leads, events, pd.concat(written, ignore_index=True))
    path = out_dir / "nibin" / "nibin_leads.csv"
    nibin_rows = write_csv(leads, path, nibin.LEAD_COLUMNS)
    # Load order: boundaries, dealers, incidents, shots, traces, nibin.
    for p, n in trace_files:
        done(p, "traces", n)
    done(path, "nibin", nibin_rows)
    bar.update(1)

    _write_ground_truth(out_dir, truth, internal, use, leads, leads_of_gun, trace_of_gun,
                        seed, years, scale, plan)
    manifest = {"seed": seed, "years": list(years), "scale": scale, "schemes": plan,
                "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "files": files}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    bar.update(1)
    bar.close()
    return manifest


def _incident_year(seed: int, year: int, scale: float, path: Path, row_id: int
                   ) -> tuple[incidents.YearIncidents, int]:
    return incidents.generate_year(_rng(seed, "incidents", year), year, scale, path, row_id)


def _shot_years(seed: int, all_years: list[int], scale: float, events: dict[int, pd.DataFrame],
                path: Path) -> int:
    """Write every year's alerts to one file (ids follow on from year to year); return the rows."""
    total, next_id = 0, 100_001
    for i, year in enumerate(all_years):
        n, next_id = shots.generate_year(_rng(seed, "shots", year), year, scale, events[year], path, next_id,
                                         append=i > 0)
        total += n
    return total


def _incident_rows(all_years: list[int], scale: float) -> dict[int, int]:
    return {year: sum(incidents.yearly_counts(year, scale).values()) for year in all_years}


@contextmanager
def _side_by_side(all_years: list[int], scale: float) -> Iterator[ProcessPoolExecutor | None]:
    """Forked worker processes, one per core (at most one per year), when there are cores to spare and
    enough rows to be worth it; else None (everything in this process). At 100x the incident years were
    more than half of a 346 s run on one core."""
    jobs = min(os.cpu_count() or 1, len(all_years))
    if jobs < 2 or sum(_incident_rows(all_years, scale).values()) < SIDE_BY_SIDE_MIN_ROWS:
        yield None
        return
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _incident_years(out_dir: Path, seed: int, all_years: list[int], scale: float,
                    pool: ProcessPoolExecutor | None) -> Iterator[tuple[int, Path, incidents.YearIncidents, int]]:
    """(year, path, firearm scenes, rows) of each year's incident file, in year order.

    The years are independent: each has its own random stream, and its row ids start after the rows of
    the years before it, which the yearly counts give without generating them. In `pool`'s processes
    they are written side by side; the files are byte-identical either way."""
    rows = _incident_rows(all_years, scale)
    args, row_id = [], 1
    for year in all_years:
        args.append((seed, year, scale, out_dir / "incidents" / f"part1_crime_{year}.csv", row_id))
        row_id += rows[year]
    results = pool.map(_incident_year, *zip(*args, strict=True)) if pool else itertools.starmap(_incident_year, args)
    for (_, year, _, path, _), (inc, n) in zip(args, results, strict=True):
        assert n == rows[year], f"{year}: {n} incident rows, the yearly counts say {rows[year]}"
        yield year, path, inc, n


def _write_ground_truth(out_dir: Path, truth: list[dict], internal: pd.DataFrame, use: nibin.GunUse,
                        leads: pd.DataFrame, leads_of_gun: dict[int, list[str]],
                        trace_of_gun: dict[int, str], seed: int, years: tuple[int, int],
                        scale: float, plan: dict[str, int]) -> None:
    by_scheme = internal[internal["scheme_id"] != ""].sort_values("recovery_day", kind="stable")
    numbers = by_scheme.groupby("scheme_id")["trace_number"].apply(list).to_dict()
    schemes_out = []
    for entry in truth:
        tn = numbers.get(entry["id"], [])
        if tn:
            schemes_out.append({**entry, "trace_numbers": tn})
    # NIBIN chains: guns whose leads tie two or more different shooting scenes together.
    scenes = use.scenes.sort_values(["day", "cc"], kind="stable")
    linked_cases = set(leads["case_number_a"]) | set(leads["case_number_b"]) if len(leads) else set()
    scenes = scenes[scenes["cc"].isin(linked_cases)]
    cases_of_gun = scenes.groupby("gun", sort=True)["cc"].apply(list).to_dict()
    chains = []
    for gun_id, lead_ids in sorted(leads_of_gun.items()):
        cases = cases_of_gun.get(gun_id, [])
        if len(cases) < 2:
            continue
        chains.append({"id": f"nibin-{len(chains) + 1:04d}", "type": "nibin_chain",
                       "firearm_trace_number": trace_of_gun.get(gun_id), "case_numbers": cases,
                       "lead_ids": sorted(lead_ids)})
    doc = {"note": "Synthetic ground truth: planted schemes. Never part of the source files.",
           "seed": seed, "years": list(years), "scale": scale, "plan": plan,
           "schemes": schemes_out + chains}
    (out_dir / "ground_truth.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
