"""The generator's fast paths give exactly what the plain ways gave: CSV bytes as the csv module writes
them, point-in-polygon answers as shapely's, complaint numbers and fixed decimals as formatted before."""

from __future__ import annotations

import csv
import io

import numpy as np
import shapely

from etl.synth import incidents, pointgrid, writer
from etl.synth.geography import demo_geography


def _csv_module_bytes(columns, arrays) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(columns)
    w.writerows(zip(*arrays, strict=True))
    return buf.getvalue()


def test_write_csv_matches_the_csv_module(tmp_path):
    tricky = np.array(["plain", "", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " lead", "trail ",
                       "(39.1,-76.5)", "é ü", '",', "x"], dtype=object)
    n = len(tricky)
    cases = {
        "strings": {"a": tricky, "b": tricky[::-1].copy()},
        "ints and mixed": {"a": np.arange(n, dtype=np.int64) - 3, "b": np.array([1, "", 160, "x"] * 3, dtype=object)},
        "bools and unicode": {"a": np.arange(n) % 2 == 0, "b": np.array(tricky.tolist(), dtype=str)},
        "floats (csv module path)": {"a": np.linspace(-1, 1, n), "b": tricky},
        "None (csv module path)": {"a": np.array([None, "x"] * 6, dtype=object), "b": tricky},
        "scalar": {"a": tricky, "b": "same"},
        "empty": {"a": np.empty(0, dtype=object), "b": np.empty(0, dtype=np.int64)},
    }
    for name, data in cases.items():
        path = tmp_path / "out.csv"
        rows = writer.write_csv(data, path, ("a", "b"))
        arrays = [data[c] if np.ndim(data[c]) == 1 else np.full(rows, data[c], dtype=object) for c in ("a", "b")]
        assert path.read_bytes() == _csv_module_bytes(("a", "b"), arrays).encode("utf-8"), name
        writer.write_csv(data, path, ("a", "b"), append=True)
        twice = _csv_module_bytes(("a", "b"), arrays)
        assert path.read_bytes().decode("utf-8") == twice + twice.split("\n", 1)[1], name


def test_point_grid_answers_as_shapely():
    g = demo_geography()
    rng = np.random.default_rng(5)
    for geom in [g.land, *(d.geom for m in g.maps for d in m.districts), *(c.geom for c in g.coverage)]:
        minx, miny, maxx, maxy = geom.bounds
        x = rng.uniform(minx - 0.01, maxx + 0.01, 20_000)
        y = rng.uniform(miny - 0.01, maxy + 0.01, 20_000)
        # Points on and right next to the boundary: vertices, edge midpoints, rounded to 6 decimals.
        ring = shapely.get_coordinates(shapely.boundary(geom))
        mid = (ring[:-1] + ring[1:]) / 2
        near = np.concatenate([ring, mid, np.round(mid, 6), mid + 1e-12])
        x = np.concatenate([x, near[:, 0], [np.nan, np.inf]])
        y = np.concatenate([y, near[:, 1], [np.nan, 0.0]])
        assert (pointgrid.contains_xy(geom, x, y) == shapely.contains_xy(geom, x, y)).all()


def test_case_numbers_and_fixed_decimals_as_before():
    rng = np.random.default_rng(1)
    month = rng.integers(0, 12, 500)
    seq = rng.integers(0, 10**7, 500)
    width = rng.choice([5, 6, 7], 500)
    before = [f"21{incidents.MONTH_LETTERS[m]}{s:0{w}d}" for m, s, w in zip(month, seq, width, strict=True)]
    assert incidents.case_number(2021, month, seq, width).tolist() == before
    v = np.concatenate([rng.normal(-76.6, 0.1, 500), [np.nan, -0.0, 0.5e-6, 1.5e-6, 2.5, -2.5]])
    expected = np.char.mod("%.6f", v).astype(object)
    expected[np.isnan(v)] = ""
    assert writer.fixed(v, 6).tolist() == expected.tolist()


def test_gc_thresholds_come_back_after_a_run():
    import gc

    from etl.synth.generator import _fewer_gc_passes

    before = gc.get_threshold()
    try:
        with _fewer_gc_passes():
            assert gc.get_threshold() != before
            raise RuntimeError("a failed run")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_years_written_side_by_side_are_the_files_written_one_after_another(tmp_path, monkeypatch):
    """Incident years, planted schemes and alerts made in worker processes: the same bytes, the same
    manifest, as made in this process one after another."""
    import hashlib
    import json

    from etl.synth import generate, generator

    monkeypatch.setattr(generator.os, "cpu_count", lambda: 2)
    made = {}
    for name, least in (("one process", 10**12), ("side by side", 0)):
        monkeypatch.setattr(generator, "SIDE_BY_SIDE_MIN_ROWS", least)
        calls = []
        real = generator.ProcessPoolExecutor

        def counted(*args, _real=real, _calls=calls, **kwargs):
            _calls.append(args)
            return _real(*args, **kwargs)

        monkeypatch.setattr(generator, "ProcessPoolExecutor", counted)
        out = tmp_path / name.replace(" ", "_")
        manifest = generate(out, seed=7, years=(2023, 2025), scale=0.05, progress=False)
        assert bool(calls) is (least == 0), "the side-by-side run used worker processes, the other none"
        made[name] = ({p.relative_to(out).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
                       for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"},
                      json.dumps(manifest["files"]))
    assert made["one process"] == made["side by side"]
    assert len(made["one process"][0]) >= 12
