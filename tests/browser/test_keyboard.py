"""Keyboard only: from a freshly opened page, with nothing but Tab, Enter, Escape, arrows and typing, a user
reaches and operates the skip links, the district panel (from the district table), a cluster's list on
the map, the network's node list and its links, and Dash's dropdown, date range and radio buttons (whose
markup assets/js/a11y.js corrects)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import sign_in_as
from tests.browser.test_accessibility import settle
from tests.browser.test_map_basic import leading_int

pytestmark = pytest.mark.browser

ACTIVE = "return document.activeElement"


def press(dash_duo, *keys) -> None:
    ActionChains(dash_duo.driver).send_keys(*keys).perform()


def shift_tab(dash_duo) -> None:
    ActionChains(dash_duo.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()


def active(dash_duo):
    return dash_duo.driver.execute_script(ACTIVE)


def active_matches(dash_duo, css: str) -> bool:
    return bool(dash_duo.driver.execute_script(
        "const a = document.activeElement; return !!(a && a.matches && a.matches(arguments[0]));", css))


def tab_until(dash_duo, css: str, limit: int = 200) -> int:
    """Press Tab until the focused element matches `css`; the number of presses (fails past `limit`)."""
    for n in range(1, limit + 1):
        press(dash_duo, Keys.TAB)
        if active_matches(dash_duo, css):
            return n
    raise AssertionError(f"{css} not reached in {limit} presses of Tab (focus on {describe(dash_duo)})")


def describe(dash_duo) -> str:
    return dash_duo.driver.execute_script(
        "const a = document.activeElement; return a ? a.outerHTML.slice(0, 160) : 'nothing';")


def wait_until(check, what: str, timeout: float = 15) -> None:
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except StaleElementReferenceException:  # the element was re-rendered while being read: look again
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def query(dash_duo) -> dict[str, list[str]]:
    return parse_qs(urlparse(dash_duo.driver.current_url).query)


def fresh_page(dash_duo, path: str, ready: str) -> None:
    """Open the page, let it settle, and put focus at its very start, as a newly loaded page has it. The map
    writes its view into the URL once it has drawn, and the page is built again for that URL: wait for it."""
    dash_duo.driver.get(dash_duo.server_url + path)
    settle(dash_duo, ready)
    if urlparse(path).path == "/":
        wait_until(lambda: "z" in query(dash_duo), "the map's view in the URL", timeout=20)
        wait_until(lambda: stable(dash_duo, "#map-side"), "the page built for the map's URL", timeout=30)
        settle(dash_duo, ready)
    dash_duo.driver.execute_script("document.activeElement && document.activeElement.blur(); window.focus();")


def stable(dash_duo, css: str, seconds: float = 2.0) -> bool:
    """Whether the element stays the same node (the page is not rebuilt) for a while."""
    dash_duo.driver.execute_script("const e = document.querySelector(arguments[0]); if (e) { e._kbdMark = true; }", css)
    time.sleep(seconds)
    return bool(dash_duo.driver.execute_script(
        "const e = document.querySelector(arguments[0]); return !!(e && e._kbdMark);", css))


def start(dash_duo, app, role: str, path: str = "/") -> None:
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    sign_in_as(dash_duo, role, path=path)


def test_kbd001_skip_link_and_district_panel_from_the_table(dash_duo, synth_app):
    start(dash_duo, synth_app, "commander")
    fresh_page(dash_duo, "/?start=2025-01-01&end=2025-06-30", "#district-table tbody tr .dt-open")

    # The first Tab shows the skip link; Enter moves focus into the page, past the navigation.
    press(dash_duo, Keys.TAB)
    assert active_matches(dash_duo, "a.skip-link"), describe(dash_duo)
    assert active(dash_duo).is_displayed() and active(dash_duo).size["width"] > 0, "the skip link shows when focused"
    press(dash_duo, Keys.ENTER)
    wait_until(lambda: active_matches(dash_duo, "#main"), "focus on the page's main content")

    # On the map the next stop is a second skip link, to the district table past the map's many controls.
    press(dash_duo, Keys.TAB)
    assert active_matches(dash_duo, "#skip-to-districts"), describe(dash_duo)
    press(dash_duo, Keys.ENTER)
    wait_until(lambda: active_matches(dash_duo, "#command-table"), "focus on the district table")
    presses = tab_until(dash_duo, ".dt-open", limit=30)
    name = active(dash_duo).text
    assert name, "a district's button has its name"

    # Enter opens its panel and focus goes to the panel's title; the URL keeps the panel.
    press(dash_duo, Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#panel-title", f"{name} district", timeout=20)
    wait_until(lambda: active_matches(dash_duo, "#panel-title"), "focus on the panel's title")
    assert query(dash_duo).get("panel") == [name.upper()]
    # Within the panel, Tab moves on through its content (it is not a trap) ...
    press(dash_duo, Keys.TAB)
    assert dash_duo.driver.execute_script(
        "return document.getElementById('map-details').contains(document.activeElement) || "
        "document.getElementById('command-view').contains(document.activeElement)"), describe(dash_duo)
    shift_tab(dash_duo)
    # ... and Escape closes it, focus back on the district's button in the table.
    press(dash_duo, Keys.ESCAPE)
    wait_until(lambda: dash_duo.find_element("#map-details").get_attribute("hidden") is not None, "the panel to close")
    wait_until(lambda: active_matches(dash_duo, ".dt-open") and active(dash_duo).text == name,
               "focus back on the district's button")
    assert "panel" not in query(dash_duo)
    assert presses <= 30


def test_kbd002_cluster_list_by_keyboard(dash_duo, synth_app, synth_sql):
    lat, lon, n = synth_sql("""
        SELECT avg(ST_Y(geom)), avg(ST_X(geom)), count(*) FROM shot_alert WHERE geom IS NOT NULL
        GROUP BY round(ST_X(geom)::numeric / 0.03), round(ST_Y(geom)::numeric / 0.03) ORDER BY 3 DESC LIMIT 1""")[0]
    assert n > 100, "the synthetic data has a dense spot (as tests/browser/test_map_command.py uses)"
    start(dash_duo, synth_app, "analyst")
    fresh_page(dash_duo, f"/?start=2025-12-01&end=2025-12-31&layers=alerts&lat={lat:.5f}&lon={lon:.5f}&z=13",
               ".cluster-alerts")
    # From the top of the page, Tab reaches the map's markers (after the controls); the first cluster
    # reached opens its list with Enter.
    tab_until(dash_duo, ".cluster-alerts", limit=400)
    count = leading_int(active(dash_duo).text)
    press(dash_duo, Keys.ENTER)
    dash_duo.wait_for_element("#details-list li", timeout=15)
    assert leading_int(dash_duo.find_element("#panel-title").text) == count
    wait_until(lambda: active_matches(dash_duo, "#panel-title"), "focus on the list's title")
    assert dash_duo.find_elements("#details-list li"), "the cluster's points are listed"
    press(dash_duo, Keys.ESCAPE)
    wait_until(lambda: dash_duo.find_element("#map-details").get_attribute("hidden") is not None, "the list to close")


def test_kbd003_network_node_list_by_keyboard(dash_duo, synth_app, synth_sql):
    fid = synth_sql("SELECT firearm_id FROM trace GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]
    start(dash_duo, synth_app, "detective")
    fresh_page(dash_duo, f"/network?focus=firearm:{fid}", "#network-node-list .network-node-button")
    buttons = dash_duo.find_elements("#network-node-list .network-node-button")
    nodes_before = len(buttons)
    assert nodes_before >= 2, "the firearm's network has its dealer, purchaser or scene"

    # Tab to the node list's second node (the first is the firearm in focus) and select it with Enter:
    # it shows as the selected node and expands, as a tap on the graph does.
    tab_until(dash_duo, "#network-node-list .network-node-button", limit=80)
    press(dash_duo, Keys.TAB)
    if active_matches(dash_duo, ".network-node-page"):
        press(dash_duo, Keys.TAB)
    assert active_matches(dash_duo, ".network-node-button"), describe(dash_duo)
    label = active(dash_duo).text
    press(dash_duo, Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#network-selected-label", label, timeout=20)
    wait_until(lambda: len(dash_duo.find_elements("#network-node-list .network-node-button")) >= nodes_before,
               "the expanded node list")

    # Each node links to its page: Tab to the first node's link, Enter opens the page.
    fresh_page(dash_duo, f"/network?focus=firearm:{fid}", "#network-node-list .network-node-page")
    tab_until(dash_duo, "#network-node-list .network-node-page", limit=80)
    href = active(dash_duo).get_attribute("href")
    press(dash_duo, Keys.ENTER)
    wait_until(lambda: urlparse(dash_duo.driver.current_url).path == urlparse(href).path, f"the page {href}")
    assert urlparse(href).path == f"/firearm/{fid}"


def test_kbd004_dropdown_date_range_and_radio_buttons_by_keyboard(dash_duo, synth_app):
    start(dash_duo, synth_app, "commander")
    fresh_page(dash_duo, "/?start=2025-01-01&end=2025-06-30", "#district-table tbody tr")

    # Radio buttons: Tab reaches the checked playback step; the arrow key picks the next one.
    tab_until(dash_duo, "#map-step input[type=radio]", limit=40)
    assert active(dash_duo).get_attribute("value") == "week"
    press(dash_duo, Keys.ARROW_RIGHT)
    wait_until(lambda: query(dash_duo).get("step") == ["month"], "step=month in the URL")

    # The date range: type a start date, Tab to leave the field, and the map's dates follow.
    fresh_page(dash_duo, "/?start=2025-01-01&end=2025-06-30", "#district-table tbody tr")
    tab_until(dash_duo, "#map-dates", limit=20)
    ActionChains(dash_duo.driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
    press(dash_duo, "2025-02-01", Keys.TAB)
    wait_until(lambda: query(dash_duo).get("start") == ["2025-02-01"], "start=2025-02-01 in the URL")

    # A dropdown: Tab reaches its button (one stop, not two), Enter opens the list, the arrow moves to the
    # first district, Space picks it, Escape closes the list with focus back on the button.
    fresh_page(dash_duo, "/?start=2025-01-01&end=2025-06-30", "#district-table tbody tr")
    tab_until(dash_duo, "#map-district", limit=80)
    shift_tab(dash_duo)
    assert not active_matches(dash_duo, ".dash-dropdown-focus-target"), "the dropdown is one tab stop"
    press(dash_duo, Keys.TAB)
    assert active_matches(dash_duo, "#map-district"), describe(dash_duo)
    press(dash_duo, Keys.ENTER)
    dash_duo.wait_for_element(".dash-dropdown-content .dash-options-list input", timeout=10)
    first = dash_duo.find_element(".dash-dropdown-content .dash-options-list input").get_attribute("value")
    press(dash_duo, Keys.ARROW_DOWN)
    wait_until(lambda: active_matches(dash_duo, ".dash-dropdown-content .dash-options-list input"),
               "focus on the first district in the list")
    press(dash_duo, Keys.SPACE)
    wait_until(lambda: query(dash_duo).get("district") == [first], f"district={first} in the URL")
    press(dash_duo, Keys.ESCAPE)
    wait_until(lambda: not dash_duo.find_elements(".dash-dropdown-content"), "the list to close")
    wait_until(lambda: active_matches(dash_duo, "#map-district"), "focus back on the dropdown")
