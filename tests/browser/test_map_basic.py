"""The first map: districts, recoveries and alerts from the database reach the screen."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_map001_shows_districts_recoveries_and_alerts(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element(".leaflet-container", timeout=20)
    # Counts come from the database for the default range (the last year of data).
    dash_duo.wait_for_text_to_equal("#count-recoveries", "4", timeout=20)
    dash_duo.wait_for_text_to_equal("#count-alerts", "3", timeout=20)
    # District labels are drawn, and the approximate-geography notice is shown.
    labels = [e.text for e in dash_duo.find_elements(".district-label")]
    assert sorted(labels) == ["CENTRAL", "WESTERN"]
    assert "approximate" in dash_duo.find_element("#approximate-notice").text
    # Points or clusters are on the map.
    assert dash_duo.find_elements(".leaflet-marker-icon, path.leaflet-interactive")
    assert dash_duo.get_logs() == [], "browser console errors"


def test_map002_changing_dates_changes_counts(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#count-recoveries", "4", timeout=20)
    from selenium.webdriver.common.keys import Keys

    start = dash_duo.find_element("input#map-dates")  # Dash 4 puts the id on the start-date input
    dash_duo.clear_input(start)
    start.send_keys("2022-04-01", Keys.TAB)
    dash_duo.wait_for_text_to_equal("#count-recoveries", "2", timeout=20)
