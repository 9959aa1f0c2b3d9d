"""The commander's view in the browser: the district table sorts, a district opens from it with the keyboard,
the panel lives in the URL and comes back after a reload, and the district briefing downloads as a PDF
with one page per district."""

from __future__ import annotations

import io
import os
import pathlib
import time
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.browser.test_map_basic import open_map

pytestmark = pytest.mark.browser

VIEW = "/?start=2025-01-01&end=2025-06-30&layers=flows,districts"
HOMICIDES = ("SELECT district, count(*) FROM incident WHERE is_firearm AND category = 'homicide' AND district IS NOT NULL "
             "AND (crime_datetime AT TIME ZONE 'America/New_York')::date BETWEEN '2025-01-01' AND '2025-06-30' GROUP BY 1")


def _query(dash_duo) -> dict[str, list[str]]:
    return parse_qs(urlparse(dash_duo.driver.current_url).query)


def _wait_query(dash_duo, key: str, value: str, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _query(dash_duo).get(key) == [value]:
            return
        time.sleep(0.2)
    raise AssertionError(f"{key}={value} not in {dash_duo.driver.current_url}")


def _homicide_column(dash_duo) -> list[int]:
    cells = dash_duo.find_elements("#district-table tbody tr td:nth-of-type(2) .dt-n")
    return [int(c.text.replace(",", "")) for c in cells]


def test_cmd001_table_sorts_opens_a_district_by_keyboard_and_the_briefing_downloads(dash_duo, synth_app, synth_sql):
    homicides = dict(synth_sql(HOMICIDES))
    assert homicides, "the synthetic data has homicides in the first half of 2025"
    open_map(dash_duo, synth_app, VIEW, role="commander")
    dash_duo.wait_for_element("#district-table tbody tr", timeout=20)
    dash_duo.wait_for_element("#source-states-table tbody tr", timeout=20)
    assert dash_duo.find_elements("#source-dealers-table tbody tr"), "commanders see the source dealers"

    # Sort by homicides (largest first), then the same header again reverses the order.
    dash_duo.find_element("#district-table thead th:nth-of-type(3) .dt-sort").click()
    _wait_query(dash_duo, "sort", "-homicides")
    dash_duo.wait_for_text_to_equal("#district-table tbody tr td:nth-of-type(2) .dt-n",
                                    f"{max(homicides.values()):,}", timeout=10)
    column = _homicide_column(dash_duo)
    assert column == sorted(column, reverse=True)
    assert sum(column) == sum(homicides.values())
    dash_duo.driver.save_screenshot(str(pathlib.Path(os.environ.get("CGA_SCREENSHOT_DIR", "/tmp")) /
                                        "command-view.png"))

    # Open WESTERN from its row with the keyboard: focus its button, press Enter.
    button = dash_duo.find_element("#dt-row-WESTERN .dt-open")
    dash_duo.driver.execute_script("arguments[0].focus();", button)
    ActionChains(dash_duo.driver).send_keys(Keys.ENTER).perform()
    dash_duo.wait_for_text_to_equal("#panel-title", "Western district", timeout=15)
    _wait_query(dash_duo, "panel", "WESTERN")
    assert _query(dash_duo)["sort"] == ["-homicides"]
    assert "week" in dash_duo.find_element("#district-trend-text").get_attribute("textContent"), \
        "six months are drawn by week"

    # A reload (or a shared link) reopens the panel and keeps the table's order.
    dash_duo.driver.refresh()
    dash_duo.wait_for_text_to_equal("#panel-title", "Western district", timeout=20)
    dash_duo.wait_for_element("#dt-row-WESTERN.dt-selected", timeout=20)
    assert _homicide_column(dash_duo) == column
    dash_duo.driver.save_screenshot(str(pathlib.Path(os.environ.get("CGA_SCREENSHOT_DIR", "/tmp")) /
                                        "command-view-panel.png"))

    # The briefing: one PDF page per district of the table, audited as an export.
    from pypdf import PdfReader

    exports_before = synth_sql("SELECT count(*) FROM audit.event WHERE event = 'export' "
                               "AND record_kind = 'briefing'")[0][0]
    folder = pathlib.Path(dash_duo.download_path)
    dash_duo.find_element("#map-briefing").click()
    deadline, pdf = time.time() + 120, None
    while time.time() < deadline and pdf is None:
        done = [p for p in folder.glob("*.pdf") if p.stat().st_size > 0]
        pdf = done[0] if done else None
        time.sleep(0.5)
    assert pdf is not None, "the briefing PDF downloads"
    content = pdf.read_bytes()
    assert content[:4] == b"%PDF"
    n_districts = len(dash_duo.find_elements("#district-table tbody tr"))
    assert len(PdfReader(io.BytesIO(content)).pages) == n_districts
    dash_duo.wait_for_contains_text("#map-briefing-status", "logged", timeout=20)
    assert synth_sql("SELECT count(*) FROM audit.event WHERE event = 'export' "
                     "AND record_kind = 'briefing'")[0][0] == exports_before + 1
    assert dash_duo.get_logs() == [], "browser console errors"
    # The national view with the flows and the ranked sources beside it (for a look at the labels).
    dash_duo.driver.get(dash_duo.server_url + VIEW + "&lat=38.5&lon=-88&z=4")
    dash_duo.wait_for_element("#source-states-table tbody tr", timeout=20)
    dash_duo.wait_for_element(".flow-label", timeout=20)
    time.sleep(1)
    dash_duo.driver.save_screenshot(str(pathlib.Path(os.environ.get("CGA_SCREENSHOT_DIR", "/tmp")) /
                                        "command-view-national.png"))


OVERLAPS = """
const shown = [...document.querySelectorAll('#map .district-label, #map .flow-label')]
  .filter(e => getComputedStyle(e).visibility !== 'hidden' && e.getBoundingClientRect().width > 0);
const boxes = shown.map(e => e.getBoundingClientRect());
const pairs = [];
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const a = boxes[i], b = boxes[j];
  if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
    pairs.push(shown[i].textContent + ' / ' + shown[j].textContent);
}
return {shown: shown.map(e => e.textContent), all: document.querySelectorAll('#map .district-label, #map .flow-label').length,
        pairs: pairs};
"""


def _labels_settled(dash_duo) -> dict:
    """The labels on screen once the map has stopped moving (measured again until two readings agree)."""
    last = None
    for _ in range(20):
        time.sleep(0.5)
        now = dash_duo.driver.execute_script(OVERLAPS)
        if now == last:
            return now
        last = now
    return last


def test_cmd002_source_map_labels_never_overlap_at_any_zoom(dash_duo, synth_app):
    """District names and source-state labels are placed on screen with collision avoidance: at every zoom
    from the whole country to the city, no two labels shown touch; the biggest source state is always
    labelled at the national view, the district names at city zoom; all states are in the ranking."""
    open_map(dash_duo, synth_app, "/?start=2024-01-01&end=2025-12-31&layers=flows,districts&lat=38.5&lon=-88&z=3",
             role="commander")
    dash_duo.wait_for_element(".flow-label", timeout=20)
    top_state = dash_duo.wait_for_element("#source-states-table tbody tr td:nth-of-type(2)", timeout=20).text
    folder = pathlib.Path(os.environ.get("CGA_SCREENSHOT_DIR", "/tmp"))
    seen = {}
    for zoom in (3, 4, 5, 6, 8, 10, 12):
        dash_duo.driver.get(dash_duo.server_url + "/?start=2024-01-01&end=2025-12-31&layers=flows,districts"
                            + ("&lat=38.5&lon=-88" if zoom < 8 else "&lat=39.30&lon=-76.62") + f"&z={zoom}")
        dash_duo.wait_for_element(".flow-label", timeout=20)
        labels = _labels_settled(dash_duo)
        seen[zoom] = labels
        dash_duo.driver.save_screenshot(str(folder / f"source-map-z{zoom}.png"))
        assert not labels["pairs"], f"zoom {zoom}: labels overlap: {labels['pairs']}"
        assert labels["shown"], f"zoom {zoom}: some label is shown"
    assert any(t.startswith(top_state + " ") for t in seen[4]["shown"]), \
        f"the largest source state {top_state} is labelled at the national view: {seen[4]['shown']}"
    assert seen[3]["all"] > len(seen[3]["shown"]), "at zoom 3 some labels had to be left out (else this tests nothing)"
    districts = {r.get_attribute("id").removeprefix("dt-row-") for r in dash_duo.find_elements("#district-table tbody tr")}
    assert {t.upper() for t in seen[12]["shown"]} & districts, "district names are labelled at city zoom"


def test_cmd003_moving_the_map_writes_the_address_once_it_settles(dash_duo, synth_app):
    """The address bar follows the map's position (a bookmark of what is on screen), written once per
    movement: a zoom by the control lands in the query string with the new centre."""
    open_map(dash_duo, synth_app, "/?start=2025-01-01&end=2025-06-30&lat=39.30&lon=-76.62&z=12", role="commander")
    dash_duo.wait_for_element(".leaflet-control-zoom-in", timeout=20)
    time.sleep(1)  # the map has settled at zoom 12
    dash_duo.find_element(".leaflet-control-zoom-in").click()
    _wait_query(dash_duo, "z", "13")
    query = _query(dash_duo)
    assert abs(float(query["lat"][0]) - 39.30) < 0.01 and abs(float(query["lon"][0]) + 76.62) < 0.01
    ActionChains(dash_duo.driver).drag_and_drop_by_offset(dash_duo.find_element(".leaflet-container"), 300, 0).perform()
    deadline = time.time() + 10
    while time.time() < deadline and abs(float(_query(dash_duo)["lon"][0]) + 76.62) < 0.01:
        time.sleep(0.2)
    assert float(_query(dash_duo)["lon"][0]) < -76.63, f"panning east-to-west moves the centre: {dash_duo.driver.current_url}"
