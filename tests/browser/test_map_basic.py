"""The command map on the fixture files: districts, layers, counts, dates, and a stacked place."""

from __future__ import annotations

import re
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.browser


def leading_int(text: str) -> int:
    m = re.match(r"([\d,]+)", text.strip())
    assert m, f"no count in {text!r}"
    return int(m.group(1).replace(",", ""))


def wait_count(dash_duo, key: str, expected: int, timeout: int = 20) -> None:
    """Wait until the layer's count line starts with the expected number."""
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        last = dash_duo.find_element(f"#count-{key}").text
        if last and re.match(r"[\d,]+", last) and leading_int(last) == expected:
            return
        time.sleep(0.25)
    raise AssertionError(f"count-{key} is {last!r}, expected {expected}")


def open_map(dash_duo, app, query: str = "", role: str = "analyst") -> None:
    """Start the app, sign in with the role, and open the map with a query string (a bookmarked view)."""
    from tests.browser.conftest import sign_in_as

    if not getattr(dash_duo, "_cga_started", False):
        dash_duo.start_server(app, navigate=False)
        dash_duo.driver.set_window_size(1400, 900)
        sign_in_as(dash_duo, role, path=query or "/")
        dash_duo._cga_started = True
    else:
        dash_duo.driver.get(dash_duo.server_url + (query or "/"))
    dash_duo.wait_for_element(".leaflet-container", timeout=20)


def test_map001_shows_districts_recoveries_and_alerts(dash_duo, app, sql):
    open_map(dash_duo, app, "/?start=2021-01-01&end=2022-12-31")
    dash_duo.wait_for_element(".leaflet-container", timeout=20)
    recoveries = sql("SELECT count(*) FROM recovery WHERE recovery_date BETWEEN '2021-01-01' AND '2022-12-31'")[0][0]
    alerts = sql("SELECT count(*) FROM shot_alert WHERE (alert_time AT TIME ZONE 'America/New_York')::date "
                 "BETWEEN '2021-01-01' AND '2022-12-31'")[0][0]
    assert recoveries and alerts
    wait_count(dash_duo, "recoveries", recoveries)
    wait_count(dash_duo, "alerts", alerts)
    labels = [e.text for e in dash_duo.find_elements(".district-label")]
    assert sorted(labels) == ["CENTRAL", "WESTERN"]
    assert "approximate" in dash_duo.find_element("#approximate-notice").text
    dash_duo.wait_for_element(".pt-recoveries, .cluster-recoveries", timeout=10)
    assert dash_duo.get_logs() == [], "browser console errors"


def test_map002_changing_dates_changes_counts(dash_duo, app, sql):
    open_map(dash_duo, app, "/?start=2021-01-01&end=2022-12-31")
    total = sql("SELECT count(*) FROM recovery WHERE recovery_date BETWEEN '2021-01-01' AND '2022-12-31'")[0][0]
    later = sql("SELECT count(*) FROM recovery WHERE recovery_date BETWEEN '2022-04-01' AND '2022-12-31'")[0][0]
    assert later < total, "the fixture must have recoveries on both sides of 2022-04-01"
    wait_count(dash_duo, "recoveries", total)
    start = dash_duo.find_element("input#map-dates")  # Dash 4 puts the id on the start-date input
    dash_duo.clear_input(start)
    start.send_keys("2022-04-01", Keys.TAB)
    wait_count(dash_duo, "recoveries", later)
    assert "start=2022-04-01" in dash_duo.driver.current_url, "the view is written to the URL"


def test_map003_stacked_place_lists_every_point(dash_duo, app, sql):
    """Three shootings at one address are one marker with a count; clicking it lists all three."""
    ids = [r[0] for r in sql("""
        INSERT INTO incident (agency, source_key, crime_datetime, crime_code, description, is_firearm, category,
                              location, total_incidents, source_layout, geom, district)
        SELECT 'MDBPD0000', 'stack-' || g, make_timestamptz(2022, 5, g, 22, 0, 0, 'America/New_York'), '9S', 'SHOOTING', true,
               'shooting', '1600 W NORTH AVE', 1, 'test', ST_SetSRID(ST_MakePoint(-76.6450, 39.3100), 4326), 'WESTERN'
        FROM generate_series(1, 3) g RETURNING id""")]
    open_map(dash_duo, app, "/?start=2022-05-01&end=2022-05-31&layers=shootings&lat=39.31&lon=-76.645&z=17")
    marker = dash_duo.wait_for_element(".pt-shootings.pt-stacked", timeout=20)
    assert marker.text.strip() == "3"
    ActionChains(dash_duo.driver).move_to_element(marker).click().perform()
    dash_duo.wait_for_element("#details-list", timeout=10)
    links = [a.get_attribute("href") for a in dash_duo.find_elements("#details-list a")]
    assert sorted(int(h.rsplit("/", 1)[1]) for h in links) == sorted(ids)
    assert all("/incident/" in h for h in links)
    assert "1600 W NORTH AVE" in dash_duo.find_element("#details-list").text
    assert "3 shootings and homicides at one place" in dash_duo.find_element("#panel-title").text
