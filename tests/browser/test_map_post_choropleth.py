"""The map's choropleth by post: the Boundaries selector, the choropleth table following it, the URL, and a
post's counts in the details panel. A throwaway database with synthetic Baltimore and three test posts
(see tests/db/test_map_boundaries.py); expected numbers come from SQL on it."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.browser.test_map_basic import open_map
from tests.conftest import query_runner
from tests.db.test_map_boundaries import SHOOTINGS_IN, posts_db, posts_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def posts_app(posts_db):  # noqa: F811
    from dashboard.app import create_app

    return create_app()


def table_rows(dash_duo) -> dict[str, str]:
    return {r.find_element("css selector", "th").text: r.find_element("css selector", "td").text
            for r in dash_duo.find_elements("#choropleth-table tbody tr")}


def test_map011_switch_to_posts_colours_them_and_keeps_it_in_the_url(dash_duo, posts_app, posts_db):  # noqa: F811
    now = dict(query_runner(posts_db)(SHOOTINGS_IN, ("2025-01-01", "2025-12-31")))
    open_map(dash_duo, posts_app, "/?start=2025-01-01&end=2025-12-31&layers=districts")
    dash_duo.wait_for_contains_text("#choropleth-table caption", "District choropleth", timeout=15)
    assert dash_duo.find_element("#map-boundary-group legend").text == "Boundaries"
    dash_duo.find_element("#map-boundary input[value='district']").send_keys(Keys.ARROW_RIGHT)  # keyboard
    assert dash_duo.find_element("#map-boundary input[value='post']").is_selected()
    dash_duo.wait_for_contains_text("#choropleth-table caption", "Post choropleth", timeout=15)
    assert table_rows(dash_duo) == {name: f"{n:,}" for name, n in now.items()}
    assert not dash_duo.find_elements(".district-label"), "posts are not labelled permanently"
    deadline = time.time() + 10
    while time.time() < deadline and parse_qs(urlparse(dash_duo.driver.current_url).query).get("boundary") != ["post"]:
        time.sleep(0.25)
    assert parse_qs(urlparse(dash_duo.driver.current_url).query)["boundary"] == ["post"]
    # The bookmark opens on posts again; a click on a post shows its name and counts.
    dash_duo.driver.get(dash_duo.server_url + "/?start=2025-01-01&end=2025-12-31&layers=districts&boundary=post")
    dash_duo.wait_for_contains_text("#choropleth-table caption", "Post choropleth", timeout=15)
    assert dash_duo.find_element("#map-boundary input[value='post']").is_selected()
    posts = "#map .leaflet-overlay-pane path.leaflet-interactive"
    deadline = time.time() + 10  # the three posts replace the districts' outlines
    while time.time() < deadline and len(dash_duo.find_elements(posts)) != 3:
        time.sleep(0.25)
    assert len(dash_duo.find_elements(posts)) == 3
    ActionChains(dash_duo.driver).move_to_element(dash_duo.find_elements(posts)[0]).click().perform()
    dash_duo.wait_for_element("#details-boundary", timeout=10)
    title = dash_duo.find_element("#panel-title").text
    assert any(name in title for name in now), title
    assert dash_duo.find_element("#boundary-row-shootings")
    assert dash_duo.get_logs() == [], "browser console errors"
