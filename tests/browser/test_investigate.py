"""Investigation in the browser: search -> journey -> network -> expand -> shortest path; press redaction."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in_as  # noqa: E402
from tests.db.test_journey import INV

pytestmark = pytest.mark.browser


@pytest.fixture
def inv_app(empty_db, monkeypatch):
    from dashboard.app import create_app
    from etl.derive import derive
    from etl.loader import load_file
    from layers.db import reset_engines

    for name in ("ffl.csv", "incidents.csv", "traces.csv", "nibin.csv", "shots.csv"):
        load_file(INV / name, progress=False)
    derive(full=True)
    reset_engines()
    return create_app()


def _node_ids(dash_duo) -> set[str]:
    return set(dash_duo.driver.execute_script(
        "return document.getElementById('network-graph')._cyreg.cy.nodes().map(n => n.id());"))


def _tap(dash_duo, node_id: str) -> None:
    dash_duo.driver.execute_script(
        "document.getElementById('network-graph')._cyreg.cy.getElementById(arguments[0]).emit('tap');", node_id)


def test_inv001_search_journey_network_expand_path(dash_duo, inv_app, sql):
    from selenium.webdriver.common.keys import Keys

    gun_a = sql("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000101'")[0][0]
    gun_c = sql("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000104'")[0][0]
    parker = sql("SELECT id FROM pii.person WHERE last_name = 'PARKER'")[0][0]
    rowe = sql("SELECT id FROM pii.person WHERE last_name = 'ROWE'")[0][0]
    dash_duo.start_server(inv_app, navigate=False)
    sign_in_as(dash_duo, "detective", path="/search")
    box = dash_duo.wait_for_element("#search-q", timeout=20)
    box.send_keys("ab-12345", Keys.ENTER)  # dashes and case ignored
    dash_duo.wait_for_element("#search-group-firearm a", timeout=20).click()

    dash_duo.wait_for_contains_text("#journey-summary", "First sold on 2021-01-10 at RIVER GUNS LLC", timeout=20)
    assert "PARKER, PAT" in dash_duo.find_element("#journey-summary").text
    steps = dash_duo.find_elements("#journey-timeline > li")
    assert len(steps) >= 6
    assert "Source: trace T20210000101" in steps[0].text
    assert dash_duo.find_elements("#journey-map .leaflet-interactive")
    assert dash_duo.find_element("#indicator-ttc").text.count("Strong signal") == 1
    # The graph library is loaded by the network page only, not by every page.
    assert not dash_duo.driver.execute_script(
        "return !!window.dash_cytoscape || !!document.querySelector('script[src*=\"dash_cytoscape\"]')")

    dash_duo.find_element("#firearm-open-network").click()
    dash_duo.wait_for_contains_text("#network-count", "nodes", timeout=20)
    dash_duo.find_elements("#network-hops input")[0].click()  # one hop
    dash_duo.wait_for_contains_text("#network-count", "links", timeout=20)
    import time

    deadline = time.time() + 15
    while f"firearm:{gun_c}" in _node_ids(dash_duo) and time.time() < deadline:
        time.sleep(0.2)
    ids = _node_ids(dash_duo)
    assert f"person:{parker}" in ids and f"firearm:{gun_c}" not in ids

    _tap(dash_duo, f"person:{parker}")  # expand: PARKER's other gun appears
    dash_duo.wait_for_text_to_equal("#network-selected-label", "PARKER, PAT", timeout=20)
    deadline = time.time() + 15
    while f"firearm:{gun_c}" not in _node_ids(dash_duo) and time.time() < deadline:
        time.sleep(0.2)
    assert f"firearm:{gun_c}" in _node_ids(dash_duo)
    assert dash_duo.find_element("#network-open-page").get_attribute("href").endswith(f"/person/{parker}")

    _tap(dash_duo, f"person:{rowe}")
    dash_duo.wait_for_text_to_equal("#network-selected-label", "ROWE, BILLY", timeout=20)
    dash_duo.find_element("#network-set-a").click()
    _tap(dash_duo, f"firearm:{gun_c}")
    dash_duo.wait_for_contains_text("#network-selected-label", "TAURUS G2C", timeout=20)
    dash_duo.find_element("#network-set-b").click()
    dash_duo.wait_for_contains_text("#network-ends", "ROWE, BILLY → TAURUS G2C", timeout=20)
    dash_duo.find_element("#network-find-path").click()
    dash_duo.wait_for_text_to_equal("#network-path-text", "Connected in 3 steps:", timeout=20)
    chain = dash_duo.find_element("#network-path-chain").text
    assert chain.startswith("ROWE, BILLY → GLOCK 19") and "PARKER, PAT" in chain and chain.endswith("TAURUS G2C")
    highlighted = dash_duo.driver.execute_script(
        "return document.getElementById('network-graph')._cyreg.cy.$('node.path').map(n => n.id());")
    assert set(highlighted) == {f"person:{rowe}", f"firearm:{gun_a}", f"person:{parker}", f"firearm:{gun_c}"}

    dash_duo.find_element("#network-export-png").click()
    dash_duo.wait_for_contains_text("#network-export-status", "Image exported", timeout=20)
    dash_duo.find_element("#network-export-csv").click()
    import pathlib

    csv_file = pathlib.Path(dash_duo.download_path) / "network.csv"
    deadline = time.time() + 15
    while not csv_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    rows = csv_file.read_text().splitlines()
    assert rows[0].startswith("record,id,kind,label")
    assert any(r.startswith(f"node,person:{rowe},person,") for r in rows)
    assert any(r.startswith("edge,") and ",possessed," in r for r in rows)
    assert (pathlib.Path(dash_duo.download_path) / "network.png").stat().st_size > 1000
    assert dash_duo.get_logs() == [], "browser console errors"


@pytest.mark.parametrize("role", ["press", "commander"])
def test_inv002_press_and_commander_get_no_record_pages(dash_duo, inv_app, sql, role):
    gun_a = sql("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000101'")[0][0]
    parker = sql("SELECT id FROM pii.person WHERE last_name = 'PARKER'")[0][0]
    dash_duo.start_server(inv_app, navigate=False)
    sign_in_as(dash_duo, role, path=f"/firearm/{gun_a}")
    for path in (f"/firearm/{gun_a}", f"/person/{parker}", f"/network?focus=firearm:{gun_a}", "/search", "/leads"):
        dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_contains_text("#denied-page", "not available", timeout=20)
        page = dash_duo.find_element("#main").text
        for secret in ("PARKER", "QUINN", "AB-123-45", "AB 12345", "T20210000101", "21F00001", "1000 N MOUNT ST"):
            assert secret not in page, (path, secret)
    nav = dash_duo.find_element(".atlas-nav").text
    assert "Search" not in nav and "Leads" not in nav and "Network" not in nav and "Map" in nav
    assert dash_duo.get_logs() == [], "browser console errors"


def test_inv003_records_wait_for_a_case_number_or_reason(dash_duo, inv_app, sql):
    gun_a = sql("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000101'")[0][0]
    dash_duo.start_server(inv_app, navigate=False)
    sign_in_as(dash_duo, "detective", purpose=None, path=f"/firearm/{gun_a}")
    dash_duo.wait_for_contains_text("#denied-page", "case number or reason", timeout=20)
    assert "PARKER" not in dash_duo.find_element("#main").text
    dash_duo.find_element("#denied-purpose-link").click()
    dash_duo.wait_for_element("#purpose-input").send_keys("24-555555")
    dash_duo.find_element("#purpose-submit").click()
    dash_duo.wait_for_contains_text("#nav-purpose", "24-555555", timeout=20)
    dash_duo.driver.get(dash_duo.server_url + f"/firearm/{gun_a}")
    dash_duo.wait_for_contains_text("#journey-summary", "PARKER", timeout=20)
    rows = sql("SELECT event, purpose FROM audit.event WHERE username = 'test-detective' AND event IN "
               "('purpose', 'view journey') ORDER BY id DESC LIMIT 2")
    assert {r[0] for r in rows} == {"purpose", "view journey"} or rows[0] == ("view journey", "24-555555")
    assert all(r[1] == "24-555555" for r in rows if r[0] == "view journey")
