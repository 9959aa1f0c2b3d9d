"""Benchmark: what a user's browser sees — time to the first data drawn on the map, page weight, and
every callback request a page load makes (how many times each fires, bytes, time).

Run with `make bench` (scale 1; `make bench SCALES=1,100` adds bench_map's 100x copy, which bench_map
then measures and drops); `make test` runs it once as a smoke test. A real `crimegun serve` (gunicorn, its
default workers) runs on a free port against a copy of the loaded database; headless Chromium signs in
as a detective with a purpose, then opens each page with the browser cache disabled, as a first visit:

- first data drawn: from navigation start to the first density cell, point or cluster in the map
  (a MutationObserver installed before any page script runs records the moment);
- page weight: bytes transferred (compressed, as sent) and decoded, for the document and every resource;
- callbacks: from Chromium's network log, each `_dash-update-component` request with the outputs it asked
  for, its response bytes and its time; an output asked for more than once in one page load is a
  callback that fired twice for one action.

Targets (issue 10, at 100x): first data drawn < 2 s, map page weight < 1.5 MB, every map callback
response < 200 KB, each callback once per page load, dash-cytoscape not loaded outside the network page.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import pytest

from layers import db
from tests.bench import report, scaling

pytestmark = pytest.mark.bench

pytest.importorskip("selenium")

X1 = "cga_bench_browser_x1"
DATA = ('.leaflet-marker-pane .pt, .leaflet-marker-pane .cluster, '
        '.leaflet-overlay-pane path[stroke="#fff"][stroke-width="0.5"]')
OBSERVER = """
(function () {
  window.__cga = {firstData: null};
  var sel = SELECTOR;
  function look() {
    if (window.__cga.firstData === null && document.querySelector(sel)) {
      window.__cga.firstData = performance.now();
      obs.disconnect();
    }
  }
  var obs = new MutationObserver(look);
  obs.observe(document, {childList: true, subtree: true, attributes: true});
})();
""".replace("SELECTOR", json.dumps(DATA))


def _build(say) -> dict[int, str]:
    """The map benchmark's copies (scale 1, and the largest scale asked for): the map layers replicated with
    jitter, daily counts and cells filled; bench_map measures and drops them after this benchmark."""
    from tests.bench import bench_map

    bench_map.build_x1(say)
    names = {1: bench_map.X1}
    if bench_map.BIG > 1:
        bench_map.build_x100(say)
        names[bench_map.BIG] = bench_map.X100
    return names


def _driver():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,900", f"--user-data-dir={tempfile.mkdtemp()}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVER})
    return driver


def _sign_in(driver, url: str, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url}/login")
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.ID, "login-username")))
    driver.find_element(By.ID, "login-username").send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password, Keys.ENTER)
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
    driver.get(f"{url}/purpose")
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.ID, "purpose-input")))
    driver.find_element(By.ID, "purpose-input").send_keys("browser benchmark", Keys.ENTER)
    WebDriverWait(driver, 30).until(lambda d: "/purpose" not in d.current_url)


def _callbacks(log: list[dict]) -> list[dict]:
    """Each callback request of the page load: outputs, response bytes (as sent), seconds."""
    sent, size, done, changed = {}, {}, {}, {}
    start = None
    for entry in log:
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        rid = params.get("requestId")
        if msg["method"] == "Network.requestWillBeSent" and start is None and params.get("type") == "Document":
            start = params["timestamp"]
        if msg["method"] == "Network.requestWillBeSent" and "_dash-update-component" in params["request"]["url"]:
            body = params["request"].get("postData") or "{}"
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {}
            timer = any(p.endswith(".n_intervals") for p in payload.get("changedPropIds") or [])
            sent[rid] = (payload.get("output", "?"), params["timestamp"], timer)
            changed[rid] = ",".join(payload.get("changedPropIds") or [])
        elif msg["method"] == "Network.loadingFinished" and rid in sent:
            size[rid] = params.get("encodedDataLength", 0)
            done[rid] = params["timestamp"]
    return [{"output": out, "bytes": size.get(rid, 0), "seconds": done.get(rid, t0) - t0,
             "at": t0 - (start if start is not None else t0), "timer": timer, "changed": changed.get(rid, "")}
            for rid, (out, t0, timer) in sent.items()]


def _open(driver, url: str, ready: str, settle: float) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")  # requests still in flight from the page before are not this page's
    time.sleep(0.5)
    driver.get_log("performance")  # drop what came before
    driver.get(url)
    WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, ready)))
    time.sleep(settle)
    weights = driver.execute_script("""
        var nav = performance.getEntriesByType('navigation')[0];
        var res = performance.getEntriesByType('resource');
        var out = {sent: nav.transferSize, decoded: nav.decodedBodySize, scripts: []};
        res.forEach(function (r) {
            out.sent += r.transferSize; out.decoded += r.decodedBodySize;
            if (r.initiatorType === 'script') out.scripts.push(r.name);
        });
        out.firstData = window.__cga ? window.__cga.firstData : null;
        return out;""")
    weights["callbacks"] = _callbacks(driver.get_log("performance"))
    return weights


def _page(label: str, path: str, ready: str, data: bool, scale: int, driver, url: str, say) -> None:
    m = _open(driver, url + path, ready, settle=3.0 if data else 1.5)
    kb = m["sent"] / 1024
    cyto = any("dash_cytoscape" in s for s in m["scripts"])
    say(f"  {label:<10} sent {kb:7.0f} KB (decoded {m['decoded'] / 1024:6.0f} KB), {len(m['scripts'])} scripts"
        f"{', dash-cytoscape loaded' if cyto else ''}"
        + (f", first data drawn at {m['firstData'] / 1000:.2f} s" if m["firstData"] is not None else ""))
    big = scale >= 100
    if label == "map":
        report.record("browser", "map page weight (sent)", kb, "KB", scale=scale,
                      target="< 1,536 KB" if big else None, met=(kb < 1536) if big else None,
                      note=f"decoded {m['decoded'] / 1024:.0f} KB, {len(m['scripts'])} scripts")
        first = m["firstData"]
        report.record("browser", "map: first data drawn", round(first / 1000, 2) if first else "never", "s",
                      scale=scale, target="< 2 s" if big else None,
                      met=(first is not None and first < 2000) if big else None,
                      note="navigation start to the first cell, point or cluster; cache disabled")
        report.record("browser", "map: dash-cytoscape loaded", "yes" if cyto else "no", scale=scale,
                      target="no", met=not cyto)
    else:
        report.record("browser", f"{label} page weight (sent)", kb, "KB", scale=scale,
                      note=f"decoded {m['decoded'] / 1024:.0f} KB" + ("; dash-cytoscape loaded" if cyto else ""))
    by_output: dict[str, list[dict]] = {}
    for c in m["callbacks"]:
        if not c["timer"]:  # a periodic refresh firing again is not a second fire for one action
            by_output.setdefault(c["output"], []).append(c)
    if not by_output:
        return
    twice = {o: len(cs) for o, cs in by_output.items() if len(cs) > 1}
    largest = max(m["callbacks"], key=lambda c: c["bytes"])
    slowest = max(m["callbacks"], key=lambda c: c["seconds"])
    say(f"             {len(m['callbacks'])} callback requests; largest {largest['bytes'] / 1024:.0f} KB "
        f"({largest['output'][:60]}); slowest {1000 * slowest['seconds']:.0f} ms ({slowest['output'][:60]})"
        + (f"; fired more than once: {twice}" if twice else ""))
    if label == "map" and os.environ.get("CGA_BENCH_TIMELINE"):
        for c in sorted(m["callbacks"], key=lambda c: c["at"]):
            say(f"               {1000 * c['at']:6.0f} ms +{1000 * c['seconds']:5.0f} ms {c['bytes'] / 1024:5.0f} KB  "
                f"{c['output'][:70]}  <- {c['changed'][:80]}")
    report.record("browser", f"{label}: callbacks firing more than once per page load", len(twice), scale=scale,
                  target="0", met=not twice, note=", ".join(f"{o[:50]} x{n}" for o, n in twice.items()))
    report.record("browser", f"{label}: largest callback response", largest["bytes"] / 1024, "KB", scale=scale,
                  target="< 200 KB" if label == "map" else None,
                  met=(largest["bytes"] < 200 * 1024) if label == "map" else None, note=largest["output"][:80])
    report.record("browser", f"{label}: slowest callback (browser round trip)", 1000 * slowest["seconds"], "ms",
                  scale=scale, note=slowest["output"][:80])


def test_bench_browser(monkeypatch, capsys):
    from tests.bench import bench_load

    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(msg)
        with capsys.disabled():
            print(msg, flush=True)

    say("\nbench_browser: first visit of each page in headless Chromium, cache disabled")
    names = _build(say)
    try:
        for scale, name in names.items():
            bench_load._account(name, monkeypatch)
            with psycopg_connect(name) as conn:
                fid = conn.execute("SELECT firearm_id FROM recovery WHERE firearm_id IS NOT NULL GROUP BY 1 "
                                   "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
            server = bench_load.Server(name, "2x8", bench_load._free_port())
            driver = _driver()
            try:
                _sign_in(driver, server.url, bench_load.USER, bench_load.PASSWORD)
                say(f"scale {scale}:")
                _page("map", "/", ".leaflet-container", True, scale, driver, server.url, say)
                _page("journey", f"/firearm/{fid}", "#journey-summary", False, scale, driver, server.url, say)
                _page("network", f"/network?focus=firearm:{fid}", "#network-count", False, scale, driver,
                      server.url, say)
                _page("charts", "/charts", ".js-plotly-plot", False, scale, driver, server.url, say)
            finally:
                driver.quit()
                server.stop()
    finally:
        db.reset_engines()
    assert lines


def psycopg_connect(name: str):
    import psycopg

    return psycopg.connect(scaling.dsn(name))
