"""WCAG 2.1 AA in the browser: axe-core (vendored in tests/a11y/vendor) runs on every page, signed in
as a role that reaches it, and no serious or critical violation is allowed."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.browser.conftest import sign_in_as

pytestmark = pytest.mark.browser

AXE = (pathlib.Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                   resultTypes: ['violations']})
   .then(r => done(JSON.stringify(r.violations)))
   .catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])));
"""


def violations(dash_duo) -> list[dict]:
    dash_duo.driver.execute_script(AXE)
    dash_duo.driver.set_script_timeout(60)
    found = json.loads(dash_duo.driver.execute_async_script(RUN))
    return [v for v in found if v.get("impact") in ("serious", "critical")]


def describe(found: list[dict]) -> str:
    return "; ".join(f"{v['id']} ({v['impact']}): {v['help']} — "
                     + ", ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                                 for n in v["nodes"][:4]) for v in found)


def test_a11y001_every_page_has_no_serious_violations(dash_duo, app, sql):
    import time

    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo._url = dash_duo.server.url
    base = dash_duo.server_url
    problems = {}
    dash_duo.driver.get(f"{base}/login")
    dash_duo.wait_for_element("#login-form")
    if found := violations(dash_duo):
        problems["/login"] = describe(found)
    sign_in_as(dash_duo, "admin", path="/")
    fid = sql("SELECT firearm_id FROM trace ORDER BY id LIMIT 1")[0][0]
    pid = sql("SELECT id FROM pii.person ORDER BY id LIMIT 1")[0][0]
    did = sql("SELECT id FROM dealer ORDER BY id LIMIT 1")[0][0]
    iid = sql("SELECT id FROM incident ORDER BY id LIMIT 1")[0][0]
    pages = {"/": ".leaflet-container", "/charts": ".js-plotly-plot", "/data": "#data-loads",
             "/audit": "#audit-events", "/search": "#search-q", "/leads": "#leads-page", "/nibin": "#main h1",
             "/index": "#main h1", "/sources": "#main h1", f"/firearm/{fid}": "#journey-summary",
             f"/person/{pid}": "#person-page", f"/dealer/{did}": "#dealer-page", f"/incident/{iid}": "#incident-page",
             f"/network?focus=firearm:{fid}": "#network-count"}
    for path, ready in pages.items():
        dash_duo.driver.get(base + path)
        dash_duo.wait_for_element(ready, timeout=30)
        time.sleep(1.0)  # let callbacks fill the page
        if found := violations(dash_duo):
            problems[path] = describe(found)
    dash_duo.driver.get(f"{base}/purpose")
    dash_duo.wait_for_element("#purpose-form")
    if found := violations(dash_duo):
        problems["/purpose"] = describe(found)
    assert not problems, "\n".join(f"{p}: {d}" for p, d in problems.items())
