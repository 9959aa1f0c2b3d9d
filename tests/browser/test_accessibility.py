"""WCAG 2.1 AA in the browser: axe-core (vendored in tests/a11y/vendor, a test asset never served by the
dashboard) runs on every page, signed in as each role that reaches it, with the district panel open and a
dropdown's list open; no serious or critical violation is allowed."""

from __future__ import annotations

import json
import pathlib
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import sign_in_as

pytestmark = pytest.mark.browser

AXE = (pathlib.Path(__file__).parent.parent / "a11y" / "vendor" / "axe.min.js").read_text(encoding="utf-8")
RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                   resultTypes: ['violations']})
   .then(r => done(JSON.stringify(r.violations)))
   .catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])));
"""
SERIOUS = ("serious", "critical")


def violations(dash_duo) -> list[dict]:
    """axe's serious and critical WCAG 2.1 A/AA violations on the page as it is now."""
    if not dash_duo.driver.execute_script("return !!window.axe"):
        dash_duo.driver.execute_script(AXE)
    dash_duo.driver.set_script_timeout(60)
    found = json.loads(dash_duo.driver.execute_async_script(RUN))
    return [v for v in found if v.get("impact") in SERIOUS]


def describe(found: list[dict]) -> str:
    def target(node: dict) -> str:
        t = node["target"][0]
        return t if isinstance(t, str) else str(node["target"])

    return "; ".join(f"{v['id']} ({v['impact']}): {v['help']} — " + ", ".join(target(n) for n in v["nodes"][:4])
                     for v in found)


def settle(dash_duo, ready: str, timeout: float = 30) -> None:
    """Wait for the page's content and for Dash to finish its callbacks (no component still loading)."""
    dash_duo.wait_for_element(ready, timeout=timeout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not dash_duo.driver.execute_script("return document.querySelectorAll('[data-dash-is-loading]').length"):
            break
        time.sleep(0.2)
    time.sleep(1.0)  # callbacks chained on the ones that just finished


def audit_pages(dash_duo, pages: dict[str, str]) -> dict[str, str]:
    """Open each page (path -> CSS selector that shows it is drawn) and collect what axe finds."""
    problems = {}
    for path, ready in pages.items():
        dash_duo.driver.get(dash_duo.server_url + path)
        settle(dash_duo, ready)
        if found := violations(dash_duo):
            problems[path] = describe(found)
    return problems


def sign_out(dash_duo) -> None:
    dash_duo.driver.delete_all_cookies()


def report(problems: dict[str, str]) -> str:
    return "\n".join(f"{p}: {d}" for p, d in problems.items())


def start(dash_duo, app) -> None:
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo._url = dash_duo.server.url


def record_pages(synth_sql) -> dict[str, str]:
    """Every page of records (and the audit trail) with a record of each kind that exists."""
    fid = synth_sql("SELECT firearm_id FROM trace ORDER BY id LIMIT 1")[0][0]
    pid = synth_sql("SELECT id FROM pii.person ORDER BY id LIMIT 1")[0][0]
    did = synth_sql("SELECT id FROM dealer ORDER BY id LIMIT 1")[0][0]
    iid = synth_sql("SELECT id FROM incident ORDER BY id LIMIT 1")[0][0]
    return {"/search": "#search-q", "/leads": "#leads-page", "/nibin": "#main h1", "/index": "#main h1",
            "/sources": "#main h1", f"/firearm/{fid}": "#journey-summary", f"/person/{pid}": "#person-page",
            f"/dealer/{did}": "#dealer-page", f"/incident/{iid}": "#incident-page",
            f"/network?focus=firearm:{fid}": "#network-node-list", "/audit": "#audit-events"}


def public_pages(district: str) -> dict[str, str]:
    """The map (plain, with the district panel open, with the national source view) and the public pages."""
    return {"/": "#district-table tbody tr", f"/?panel={district}": "#panel-title",
            "/?layers=dealers,flows&lat=38.5&lon=-90&z=4": "#source-states-table",
            "/charts": ".js-plotly-plot", "/data": "#data-loads"}


def test_a11y001_every_page_as_an_admin(dash_duo, synth_app, synth_sql):
    """Every page an admin reaches (all of them), the sign-in and purpose pages, the open panel and lists."""
    start(dash_duo, synth_app)
    problems = {}
    dash_duo.driver.get(f"{dash_duo.server_url}/login")
    settle(dash_duo, "#login-form")
    if found := violations(dash_duo):
        problems["/login"] = describe(found)
    sign_in_as(dash_duo, "admin", purpose=None, path="/purpose")
    settle(dash_duo, "#purpose-form")
    if found := violations(dash_duo):
        problems["/purpose"] = describe(found)
    box = dash_duo.find_element("#purpose-input")
    box.send_keys("test case 24-000001", Keys.ENTER)
    dash_duo.wait_for_element("#nav-user", timeout=10)
    district = synth_sql("SELECT name FROM boundary WHERE kind = 'district' ORDER BY name LIMIT 1")[0][0]
    problems |= audit_pages(dash_duo, public_pages(district) | record_pages(synth_sql))
    # Search results, a cluster's list on the map, a node chosen on the network: the states pages reach.
    surname = synth_sql("SELECT last_name FROM pii.person WHERE last_name IS NOT NULL GROUP BY 1 "
                        "ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]
    dash_duo.driver.get(f"{dash_duo.server_url}/search")
    settle(dash_duo, "#search-q")
    dash_duo.find_element("#search-q").send_keys(surname, Keys.ENTER)
    settle(dash_duo, "#main a[href^='/person/']")
    if found := violations(dash_duo):
        problems[f"/search for {surname}"] = describe(found)
    lat, lon = synth_sql("""SELECT avg(ST_Y(geom)), avg(ST_X(geom)) FROM shot_alert WHERE geom IS NOT NULL
        GROUP BY round(ST_X(geom)::numeric / 0.03), round(ST_Y(geom)::numeric / 0.03) ORDER BY count(*) DESC LIMIT 1""")[0]
    dash_duo.driver.get(f"{dash_duo.server_url}/?start=2025-12-01&end=2025-12-31&layers=alerts"
                        f"&lat={lat:.5f}&lon={lon:.5f}&z=13")
    settle(dash_duo, ".cluster-alerts")
    ActionChains(dash_duo.driver).move_to_element(dash_duo.find_element(".cluster-alerts")).click().perform()
    settle(dash_duo, "#details-list li")
    if found := violations(dash_duo):
        problems["/ with a cluster's list open"] = describe(found)
    fid = synth_sql("SELECT firearm_id FROM trace ORDER BY id LIMIT 1")[0][0]
    dash_duo.driver.get(f"{dash_duo.server_url}/network?focus=firearm:{fid}")
    settle(dash_duo, "#network-node-list .network-node-button")
    dash_duo.find_elements("#network-node-list .network-node-button")[-1].click()
    settle(dash_duo, "#network-selected-label")
    if found := violations(dash_duo):
        problems["/network with a node chosen"] = describe(found)
    # A dropdown's list, open.
    dash_duo.driver.get(f"{dash_duo.server_url}/charts")
    settle(dash_duo, ".js-plotly-plot")
    dash_duo.find_element("#charts-districts").click()
    dash_duo.wait_for_element(".dash-dropdown-content, [role='listbox'] [role='option']", timeout=10)
    if found := violations(dash_duo):
        problems["/charts with the district list open"] = describe(found)
    ActionChains(dash_duo.driver).send_keys(Keys.ESCAPE).perform()
    assert not problems, report(problems)


@pytest.mark.parametrize("role", ["press", "commander"])
def test_a11y002_public_pages_as_press_and_commander(dash_duo, synth_app, synth_sql, role):
    """The pages the public and commanders reach draw differently for them (cells, no records): audit those."""
    start(dash_duo, synth_app)
    sign_in_as(dash_duo, role, path="/")
    district = synth_sql("SELECT name FROM boundary WHERE kind = 'district' ORDER BY name LIMIT 1")[0][0]
    pages = public_pages(district)
    if role == "press":  # no dealers for the public
        pages.pop("/?layers=dealers,flows&lat=38.5&lon=-90&z=4")
        pages["/?layers=flows&lat=38.5&lon=-90&z=4"] = "#source-states-table"
    problems = audit_pages(dash_duo, pages)
    assert not problems, report(problems)


def test_a11y003_data_as_of_line_hides_nothing(dash_duo, synth_app):
    """The data-as-of line sits under the page, not over it: on long pages scrolled to the end, the page's
    last content is above the line, fully visible."""
    start(dash_duo, synth_app)
    sign_in_as(dash_duo, "admin", path="/")
    for path, ready in {"/data": "#data-loads", "/charts": ".js-plotly-plot", "/leads": "#leads-page",
                        "/": "#source-states-table tbody tr"}.items():
        dash_duo.driver.get(dash_duo.server_url + path)
        settle(dash_duo, ready)
        dash_duo.wait_for_contains_text("#shell-asof", "Data as of", timeout=20)
        found = dash_duo.driver.execute_script("""
            for (const e of document.querySelectorAll('*')) {  // every scrolling area to its end
              const s = getComputedStyle(e);
              if (e.scrollHeight > e.clientHeight + 1 && ['auto', 'scroll'].includes(s.overflowY)) e.scrollTop = e.scrollHeight;
            }
            window.scrollTo(0, document.body.scrollHeight);
            const foot = document.getElementById('shell-asof').getBoundingClientRect();
            const main = document.getElementById('main').getBoundingClientRect();
            // the last visible things the page draws, in each scrolling area at its end
            const last = [...document.querySelectorAll('#main td, #main p, #main button, #main li, #main .js-plotly-plot')]
              .map(e => e.getBoundingClientRect()).filter(r => r.height > 0 && r.bottom <= main.bottom + 1);
            const lowest = Math.max(...last.map(r => r.bottom));
            const under = document.elementFromPoint(foot.left + foot.width / 2, foot.top + foot.height / 2);
            return {footTop: foot.top, mainBottom: main.bottom, lowest: lowest, winH: innerHeight,
                    footOnTop: !!under && (under.id === 'shell-asof' || under.closest('.shell-foot') !== null)};""")
        assert found["footTop"] >= found["mainBottom"] - 0.5, f"{path}: the line is drawn over the page: {found}"
        assert found["lowest"] <= found["footTop"] + 0.5, f"{path}: content reaches under the line: {found}"
        assert found["footTop"] < found["winH"], f"{path}: the line is on screen: {found}"
        assert found["footOnTop"], f"{path}: something covers the line: {found}"
        dash_duo.driver.save_screenshot(f"/tmp/a11y003{path.replace('/', '_') or '_map'}.png")
