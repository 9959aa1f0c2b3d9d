"""Benchmark: 50 simulated users against `crimegun serve` (gunicorn), the worker model against the old one.

Run with `make bench` (`make bench SCALES=1,10` adds the 10x run); `make test` runs it once as a smoke
test with 3 users for 3 s. It prints numbers and asserts nothing about times.

The data is a copy of the loaded synthetic Baltimore at scale 1 (CGA_BENCH_SOURCE_URL, else the
configured database: run `make demo` once first), made in a throwaway database like the other
benchmarks, with one detective account for the simulated users. For each worker model the benchmark
starts the server on a free port on 127.0.0.1, signs every user in through the real sign-in page
(password, then the purpose), and lets the users work for CGA_BENCH_LOAD_SECONDS (default 45):
each one, in a loop, either moves the map (the map's two data callbacks as the browser sends them
after a pan: the layer counts, then the viewport's points and cells for a random box around the city
at zoom 12-15, over the last 12 months) or opens a firearm's journey page (the page callback that
renders /firearm/<id>, one of the 25 guns with most links or 25 at random), then pauses for
CGA_BENCH_LOAD_THINK seconds (default "1-3", uniform) as a person reading the screen would. Then
the server is stopped. The first 5 s are a warm-up and not counted. Printed per endpoint: requests, requests/s, p50/p95/p99/max and errors
(any answer but 200, or no answer within 30 s).

Models measured in the same run: `crimegun serve`'s defaults (gthread workers x threads), the old
model (2 sync workers, one request at a time each) as the baseline, and any extra "WxT" models in
CGA_BENCH_LOAD_MODELS (e.g. "4x4,2x16"). CGA_BENCH_LOAD_USERS changes the number of users (50).
SCALES including 10 (or CGA_BENCH_LOAD_SCALE10=1) adds a run on a 10x copy (rows replicated in SQL as in bench_journey);
it is off by default because building it takes several minutes here.
The load generator runs on the same machine as the server and takes part of its CPU.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from layers import cluster, db
from tests.bench import report as bench_report
from tests.bench import scaling

pytestmark = pytest.mark.bench

pytest.importorskip("requests")
import requests  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
X1, X10 = "cga_bench_load_x1", "cga_bench_load_x10"
TABLES = ("etl_run", "boundary", "dealer", "pii.person", "firearm", "incident", "trace", "recovery", "shot_alert",
          "ballistic_evidence", "nibin_lead", "firearm_incident")
USER, PASSWORD = "bench-load-detective", "bench-load-password-1"
USERS = int(os.environ.get("CGA_BENCH_LOAD_USERS", "50"))
SECONDS = float(os.environ.get("CGA_BENCH_LOAD_SECONDS", "45"))
THINK = tuple(float(x) for x in os.environ.get("CGA_BENCH_LOAD_THINK", "1-3").split("-"))
CLIENT_TIMEOUT_S = 30
WARMUP_S = 5  # requests started in the first seconds (cold caches) are not counted
CITY = (-76.71, 39.20, -76.53, 39.37)  # west, south, east, north
ENDPOINTS = ("map counts", "map viewport", "journey page")


# --- data ------------------------------------------------------------------------------------------

def _refresh_cells(name: str) -> None:
    from layers.density import refresh_map_cells

    eng = db.engine(cluster.url(name))
    refresh_map_cells(eng)
    eng.dispose()


def build_x1(say) -> str:
    scaling.copy_loaded(X1, TABLES, "firearm", say, after=_refresh_cells)
    return X1


def build_x10(say, monkeypatch) -> str:
    from tests.bench import bench_journey

    monkeypatch.setattr(scaling, "COPIES", 9)
    scaling.replicate(X1, X10, {t: ("TRUE", e) for t, e in bench_journey.REPLICA.items()}, "firearm", say,
                      after=_refresh_cells)
    return X10


def _account(name: str, monkeypatch) -> None:
    from layers.access import accounts

    monkeypatch.setenv("DATABASE_URL", scaling.dsn(name))
    db.reset_engines()
    if accounts.get(USER) is None:
        accounts.create(USER, "detective", PASSWORD)
    else:
        accounts.reset_password(USER, PASSWORD)
    db.reset_engines()


def _guns(name: str) -> list[int]:
    rng = random.Random(11)
    with psycopg.connect(scaling.dsn(name)) as conn:
        busy = [r[0] for r in conn.execute(
            "SELECT firearm_id FROM firearm_incident GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 25")]
        ids = [r[0] for r in conn.execute("SELECT id FROM firearm ORDER BY id")]
    return busy + rng.sample(ids, 25)


# --- the server --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, model: str, port: int):
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": scaling.dsn(name), "CGA_MFA_REQUIRED": "none",
               "CGA_ALLOWED_HOSTS": "127.0.0.1,localhost"}
        bin_dir = Path(sys.executable).parent
        if model == "sync":  # the old model: gunicorn's default worker, one request at a time
            env["CGA_WEB_THREADS"] = "1"
            cmd = [str(bin_dir / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "120",
                   "dashboard.wsgi:server"]
        else:
            workers, threads = model.split("x")
            cmd = [str(bin_dir / "crimegun"), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", workers, "--threads", threads]
        self.log = tempfile.TemporaryFile()  # a pipe nobody reads would fill up and stall the server
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {self.errors()}")
            try:
                if requests.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("the server did not answer within 60 s")

    def errors(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


# --- one simulated user ------------------------------------------------------------------------------

def sign_in(url: str) -> requests.Session:
    s = requests.Session()
    form = s.get(f"{url}/login", timeout=CLIENT_TIMEOUT_S).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = s.post(f"{url}/login", data={"username": USER, "password": PASSWORD, "csrf_token": token},
               timeout=CLIENT_TIMEOUT_S, allow_redirects=False)
    assert r.status_code in (302, 303), f"sign-in failed: {r.status_code} {r.text[:200]}"
    s.get(f"{url}/", timeout=CLIENT_TIMEOUT_S)
    r = s.post(f"{url}/purpose", data={"purpose": "load benchmark", "csrf_token": s.cookies.get("_csrf_token")},
               timeout=CLIENT_TIMEOUT_S, allow_redirects=False)
    assert r.status_code in (200, 302, 303), f"purpose refused: {r.status_code}"
    return s


def _outputs(output: str):
    if not output.startswith(".."):
        cid, prop = output.rsplit(".", 1)
        return {"id": cid, "property": prop}
    return [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in output.strip(".").split("...")]


def _props(tree, found: dict) -> dict:
    """Every component's props in a layout, by id."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict):
            if isinstance(props.get("id"), str):
                found[props["id"]] = props
            _props(props.get("children"), found)
        else:
            for v in tree.values():
                _props(v, found)
    elif isinstance(tree, list):
        for v in tree:
            _props(v, found)
    return found


class Client:
    """What the browser sends: callbacks built from the app's own dependency list and page layout."""

    def __init__(self, url: str, session: requests.Session, specs: dict, map_props: dict):
        self.url, self.s, self.specs, self.map_props = url, session, specs, map_props

    def callback(self, spec: dict, values: dict, changed: str):
        def item(d):
            return {"id": d["id"], "property": d["property"], "value": values.get((d["id"], d["property"]))}

        body = {"output": spec["output"], "outputs": _outputs(spec["output"]),
                "inputs": [item(i) for i in spec["inputs"]], "state": [item(s) for s in spec["state"]],
                "changedPropIds": [changed]}
        return self.s.post(f"{self.url}/_dash-update-component", json=body, timeout=CLIENT_TIMEOUT_S,
                           headers={"X-CSRFToken": self.s.cookies.get("_csrf_token") or ""})

    def viewport(self, specs: list[dict], values: dict):
        """The point layers' callbacks sent at once, as the browser sends them after a pan; the first answer
        that is not a 200, else the last."""
        with ThreadPoolExecutor(len(specs)) as pool:
            answers = list(pool.map(lambda spec: self.callback(spec, values, "map-viewport.data"), specs))
        return next((a for a in answers if a.status_code != 200), answers[-1])

    def page(self, path: str):
        values = {("_pages_location", "pathname"): path, ("_pages_location", "search"): "",
                  ("_pages_location", "hash"): "", ("_pages_location", "href"): f"{self.url}{path}"}
        return self.callback(self.specs["page"], values, "_pages_location.pathname")

    def map_values(self, rng: random.Random) -> dict:
        values = {(cid, prop): v for cid, props in self.map_props.items() for prop, v in props.items()}
        zoom = rng.choice((12, 13, 14, 15))
        w, s, e, n = CITY
        half_w, half_h = (e - w) / 2 ** (zoom - 11), (n - s) / 2 ** (zoom - 11)
        lon, lat = rng.uniform(w + half_w / 2, e - half_w / 2), rng.uniform(s + half_h / 2, n - half_h / 2)
        values[("map", "bounds")] = [[lat - half_h / 2, lon - half_w / 2], [lat + half_h / 2, lon + half_w / 2]]
        values[("map", "zoom")] = zoom
        values[("map", "center")] = [lat, lon]
        # What the browser's viewport filter (assets/js/viewport.js) hands the layers callback.
        values[("map-viewport", "data")] = {"bounds": values[("map", "bounds")], "zoom": zoom}
        return values


def prepare(url: str) -> tuple[dict, dict]:
    """The callbacks to call and the map page's initial control values (12 months back from the latest data)."""
    s = sign_in(url)
    deps = s.get(f"{url}/_dash-dependencies", timeout=CLIENT_TIMEOUT_S).json()

    def find(marker: str) -> dict:
        return next(d for d in deps if marker in d["output"])

    specs = {"page": find("_pages_content.children"), "counts": find("count-alerts.children"),
             "viewport": [find(f"pts-packed-{k}.data") for k in ("alerts", "shootings", "recoveries")]}
    layout = Client(url, s, specs, {}).page("/")
    assert layout.status_code == 200, f"map page: {layout.status_code} {layout.text[:200]}"
    props = _props(layout.json(), {})
    end = props["map-dates"]["end_date"][:10]
    y, m, d = (int(x) for x in end.split("-"))
    props["map-dates"]["start_date"] = f"{y - 1:04d}-{m:02d}-{min(d, 28):02d}"
    return specs, props


def user(url: str, specs: dict, map_props: dict, guns: list[int], seed: int, ready: threading.Barrier,
         results: dict, lock: threading.Lock) -> None:
    rng = random.Random(seed)
    client = None
    try:
        client = Client(url, sign_in(url), specs, map_props)
    except Exception as exc:  # noqa: BLE001 - counted, the run goes on
        with lock:
            results["sign-in errors"].append(repr(exc)[:200])
    ready.wait(timeout=300)  # everyone signed in (sign-in hashing is deliberately slow): start together
    if client is None:
        return
    start_at = time.monotonic()
    measure_from, stop_at = start_at + WARMUP_S, start_at + WARMUP_S + SECONDS
    time.sleep(rng.uniform(0, THINK[1]))  # users do not all click at the same instant

    def timed(endpoint: str, fn):
        started = time.perf_counter()
        begun = time.monotonic()
        try:
            status = fn().status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        ok = status == 200
        took = time.perf_counter() - started
        if begun >= measure_from:
            with lock:
                results[endpoint].append((took, ok))
                if not ok:
                    results["error kinds"][f"{endpoint}: {status}"] = results["error kinds"].get(
                        f"{endpoint}: {status}", 0) + 1

    while time.monotonic() < stop_at:
        if rng.random() < 0.6:
            values = client.map_values(rng)
            timed("map counts", lambda v=values: client.callback(specs["counts"], v, "map-dates.start_date"))
            timed("map viewport", lambda v=values: client.viewport(specs["viewport"], v))
        else:
            gun = rng.choice(guns)
            timed("journey page", lambda g=gun: client.page(f"/firearm/{g}"))
        time.sleep(rng.uniform(*THINK))


def run_model(name: str, model: str, guns: list[int]) -> dict:
    server = Server(name, model, _free_port())
    try:
        specs, map_props = prepare(server.url)
        results: dict = {k: [] for k in (*ENDPOINTS, "sign-in errors")}
        results["error kinds"] = {}
        lock = threading.Lock()
        ready = threading.Barrier(USERS)
        threads = [threading.Thread(target=user, args=(server.url, specs, map_props, guns, i, ready, results, lock),
                                    daemon=True) for i in range(USERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=WARMUP_S + SECONDS + 400)
        results["elapsed"] = SECONDS
        if results["error kinds"]:
            results["server log"] = [line for line in server.errors().splitlines() if "Error" in line][-3:]
        return results
    finally:
        server.stop()


def _pct(ms: list[float], q: float) -> float:
    return ms[min(len(ms) - 1, int(round(q * (len(ms) - 1))))]


def report(label: str, results: dict, say, scale: int = 1) -> dict[str, float]:
    say(f"  {label}")
    p95s = {}
    for endpoint in ENDPOINTS:
        samples = results[endpoint]
        ms = sorted(1000 * t for t, _ in samples)
        errors = sum(1 for _, ok in samples if not ok)
        if not ms:
            say(f"    {endpoint:<13} no requests")
            continue
        p95s[endpoint] = _pct(ms, 0.95)
        p95s[endpoint + " req/s"] = len(ms) / results["elapsed"]
        bench_report.record("load", f"{endpoint} p95, {label}", _pct(ms, 0.95), "ms", scale=scale,
                            note=f"{len(ms) / results['elapsed']:.1f} req/s, p50 {statistics.median(ms):.0f} ms, "
                                 f"errors {errors} of {len(ms)}")
        say(f"    {endpoint:<13} {len(ms):6,} req  {len(ms) / results['elapsed']:6.1f}/s   p50 {statistics.median(ms):7.0f} ms"
            f"   p95 {_pct(ms, 0.95):7.0f} ms   p99 {_pct(ms, 0.99):7.0f} ms   max {ms[-1]:7.0f} ms   errors {errors}")
    if results["error kinds"]:
        say(f"    errors by answer: {results['error kinds']}; server log: {results.get('server log')}")
    if results["sign-in errors"]:
        say(f"    sign-in errors: {len(results['sign-in errors'])} (first: {results['sign-in errors'][0]})")
    return p95s


def _scale(name: str, label: str, say, monkeypatch, scale: int = 1) -> None:
    from crimegun_cli import WEB_THREADS, WEB_WORKERS

    _account(name, monkeypatch)
    guns = _guns(name)
    default = f"{WEB_WORKERS}x{WEB_THREADS}"
    extra = [m.strip() for m in os.environ.get("CGA_BENCH_LOAD_MODELS", "").split(",") if m.strip()]
    say(f"{label}: {USERS} users, {SECONDS:g} s each, think time {THINK[0]:g}-{THINK[1]:g} s")
    measured = {}
    for model in (default, "sync", *[m for m in extra if m != default]):
        title = ("old model: 2 sync workers" if model == "sync" else
                 f"gthread {model.replace('x', ' workers x ')} threads" + (" (crimegun serve)" if model == default
                                                                             else ""))
        measured[model] = report(title, run_model(name, model, guns), say, scale)
    new, old = measured[default], measured["sync"]
    for endpoint in ENDPOINTS:
        if endpoint in new and endpoint in old and new[endpoint] > 0:
            say(f"    {endpoint:<13} p95 old/new {old[endpoint] / new[endpoint]:5.1f}x   "
                f"throughput new/old {new[endpoint + ' req/s'] / old[endpoint + ' req/s']:4.2f}x")
            bench_report.record("load", f"{endpoint} p95, old model / crimegun serve", old[endpoint] / new[endpoint],
                                "x", scale=scale, note="ratio measured in the same run; > 1 means serve is faster")


def test_bench_load(monkeypatch, capsys):
    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(msg)
        with capsys.disabled():
            print(msg, flush=True)

    say(f"\nbench_load: simulated users against gunicorn on {os.cpu_count()} CPUs (client on the same machine)")
    build_x1(say)
    _scale(X1, "scale 1 (the loaded synthetic Baltimore)", say, monkeypatch)
    if os.environ.get("CGA_BENCH_LOAD_SCALE10") or 10 in bench_report.scales():
        build_x10(say, monkeypatch)
        _scale(X10, "scale 10 (replicated in SQL from scale 1)", say, monkeypatch, 10)
    db.reset_engines()
    assert lines
