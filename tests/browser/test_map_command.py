"""The command map on a small synthetic Baltimore: layers, presets, playback, district panel, URL views,
point details, clusters, and the point cap. Expected numbers come from SQL on the same database."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.browser.test_map_basic import leading_int, open_map, wait_count

pytestmark = pytest.mark.browser

SHOOTINGS = ("SELECT count(*) FROM incident WHERE is_firearm AND category IN ('shooting', 'homicide') "
             "AND (crime_datetime AT TIME ZONE 'America/New_York')::date BETWEEN %s AND %s")
RECOVERIES = "SELECT count(*) FROM recovery WHERE recovery_date BETWEEN %s AND %s"


def last_day(synth_sql) -> dt.date:
    return synth_sql("""SELECT greatest((SELECT max(recovery_date) FROM recovery),
                                        (SELECT max((crime_datetime AT TIME ZONE 'America/New_York')::date) FROM incident
                                         WHERE is_firearm AND category IN ('shooting', 'homicide')),
                                        (SELECT max((alert_time AT TIME ZONE 'America/New_York')::date) FROM shot_alert))""")[0][0]


def click(dash_duo, element) -> None:
    ActionChains(dash_duo.driver).move_to_element(element).click().perform()


def query_of(dash_duo) -> dict[str, list[str]]:
    return parse_qs(urlparse(dash_duo.driver.current_url).query)


def test_map004_toggle_layer_hides_it_and_updates_url(dash_duo, synth_app, synth_sql):
    last = last_day(synth_sql)
    start = last - dt.timedelta(days=27)  # default view: the last 28 days of data
    shootings = synth_sql(SHOOTINGS, (start, last))[0][0]
    assert shootings > 0
    open_map(dash_duo, synth_app)
    wait_count(dash_duo, "shootings", shootings)
    dash_duo.wait_for_element(".pt-shootings, .cluster-shootings", timeout=10)
    dash_duo.find_element("#map-layers input[value='shootings']").click()
    dash_duo.wait_for_contains_text("#count-shootings", "hidden", timeout=10)
    assert not dash_duo.find_elements(".pt-shootings, .cluster-shootings")
    assert dash_duo.find_elements(".pt-recoveries, .cluster-recoveries"), "other layers stay"
    time.sleep(0.5)
    assert "shootings" not in query_of(dash_duo)["layers"][0].split(",")
    assert dash_duo.get_logs() == [], "browser console errors"


def test_map005_preset_last_7_days_with_comparison(dash_duo, synth_app, synth_sql):
    last = last_day(synth_sql)
    week = synth_sql(RECOVERIES, (last - dt.timedelta(days=6), last))[0][0]
    year_before = last.replace(year=last.year - 1)
    week_before = synth_sql(RECOVERIES, (year_before - dt.timedelta(days=6), year_before))[0][0]
    open_map(dash_duo, synth_app, "/?start=2025-01-01&end=2025-06-30")
    dash_duo.find_element("#map-layers")
    button = [b for b in dash_duo.find_elements(".preset-row button") if b.text == "Last 7 days"][0]
    button.send_keys(Keys.ENTER)  # keyboard, not the mouse
    wait_count(dash_duo, "recoveries", week)
    assert dash_duo.find_element("input#map-dates").get_attribute("value") == str(last - dt.timedelta(days=6))
    text = dash_duo.find_element("#count-recoveries").text
    assert (f"({week_before:,})" in text) if week_before else ("a year earlier: 0" in text)


def test_map006_playback_steps_and_accumulates(dash_duo, synth_app, synth_sql):
    jan = synth_sql(SHOOTINGS, ("2025-01-01", "2025-01-31"))[0][0]
    feb = synth_sql(SHOOTINGS, ("2025-02-01", "2025-02-28"))[0][0]
    open_map(dash_duo, synth_app, "/?start=2025-01-01&end=2025-03-31&step=month")
    wait_count(dash_duo, "shootings", synth_sql(SHOOTINGS, ("2025-01-01", "2025-03-31"))[0][0])
    dash_duo.find_element("#map-fwd").click()
    dash_duo.wait_for_text_to_equal("#map-play-label", "Month 1 of 3: 01 Jan 2025 – 31 Jan 2025", timeout=10)
    wait_count(dash_duo, "shootings", jan)
    dash_duo.find_element("#map-cumulative input").click()
    dash_duo.find_element("#map-fwd").click()
    dash_duo.wait_for_text_to_equal("#map-play-label", "Month 2 of 3: 01 Jan 2025 – 28 Feb 2025", timeout=10)
    wait_count(dash_duo, "shootings", jan + feb)
    dash_duo.find_element("#map-play").click()  # plays on from frame 2 to the end, then stops
    dash_duo.wait_for_contains_text("#map-play-label", "Month 3 of 3", timeout=15)
    dash_duo.wait_for_text_to_equal("#map-play", "▶ Play", timeout=10)


def test_map007_click_district_opens_panel(dash_duo, synth_app, synth_sql):
    western = synth_sql(SHOOTINGS + " AND district = 'WESTERN'", ("2025-01-01", "2025-12-31"))[0][0]
    before = synth_sql(SHOOTINGS + " AND district = 'WESTERN'", ("2024-01-01", "2024-12-31"))[0][0]
    open_map(dash_duo, synth_app, "/?start=2025-01-01&end=2025-12-31&layers=districts")
    label = [e for e in dash_duo.find_elements(".district-label") if e.text == "WESTERN"][0]
    click(dash_duo, label)
    dash_duo.wait_for_text_to_equal("#panel-title", "Western district", timeout=15)
    row = dash_duo.find_element("#district-row-shootings").text
    assert f"{western:,}" in row
    if before:
        from dashboard.components.map_state import change_text

        assert change_text(western, before) in row and f"({before:,})" in row
    dash_duo.wait_for_element("#district-sources .main-svg", timeout=10)
    states = synth_sql("SELECT count(DISTINCT coalesce(t.source_state, 'unknown')) FROM recovery r "
                       "JOIN trace t ON t.id = r.trace_id WHERE r.district = 'WESTERN' "
                       "AND r.recovery_date BETWEEN '2025-01-01' AND '2025-12-31'")[0][0]
    text = dash_duo.find_element("#district-sources-text").get_attribute("textContent")
    assert text.count(",") == states - 1
    dash_duo.find_element("#map-details-close").click()
    dash_duo.wait_for_no_elements("#details-district", timeout=5)


def test_map008_view_restored_from_url(dash_duo, synth_app, synth_sql):
    june = synth_sql(RECOVERIES + " AND district = 'WESTERN'", ("2025-06-01", "2025-06-30"))[0][0]
    open_map(dash_duo, synth_app, "/?start=2025-06-01&end=2025-06-30&layers=recoveries,districts&district=WESTERN"
                                  "&display=cells&dens=recoveries&measure=recoveries&rate=1&lat=39.30000&lon=-76.64000&z=13")
    wait_count(dash_duo, "recoveries", june)
    checked = [i.get_attribute("value") for i in dash_duo.find_elements("#map-layers input") if i.is_selected()]
    assert checked == ["recoveries", "districts"]
    assert "WESTERN" in dash_duo.find_element("#map-district").text
    assert dash_duo.find_element("#map-display input[value='cells']").is_selected()
    assert dash_duo.find_element("#map-density-layer input[value='recoveries']").is_selected()
    dash_duo.wait_for_element("#cells-note-recoveries", timeout=10)
    dash_duo.wait_for_element("#choropleth-table", timeout=10)
    assert "per 1,000 residents" in dash_duo.find_element("#choropleth-table caption").text
    # Moving the map writes the new centre and zoom back; the filters stay in the URL.
    dash_duo.find_element(".leaflet-control-zoom-in").click()
    deadline = time.time() + 10
    while time.time() < deadline and query_of(dash_duo).get("z") != ["14"]:
        time.sleep(0.25)
    q = query_of(dash_duo)
    assert q["z"] == ["14"] and q["district"] == ["WESTERN"] and q["display"] == ["cells"] and q["dens"] == ["recoveries"]


def test_map009_commander_point_details_have_no_personal_data_or_record_links(dash_duo, synth_app, synth_sql):
    rid, fid, lat, lon, day = synth_sql("""
        SELECT r.id, r.firearm_id, ST_Y(r.geom), ST_X(r.geom), r.recovery_date FROM recovery r
        WHERE r.geom IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM recovery o WHERE o.id <> r.id AND o.recovery_date = r.recovery_date
            AND ST_DWithin(o.geom::geography, r.geom::geography, 300))
        ORDER BY r.recovery_date DESC, r.id LIMIT 1""")[0]
    open_map(dash_duo, synth_app, f"/?start={day}&end={day}&layers=recoveries&lat={lat:.5f}&lon={lon:.5f}&z=17",
             role="commander")
    marker = dash_duo.wait_for_element(".pt-recoveries", timeout=20)
    click(dash_duo, marker)
    panel = dash_duo.wait_for_element("#details-point", timeout=10).text
    assert str(day) in panel
    assert "Recovery address" not in panel and "Serial number" not in panel
    assert not dash_duo.find_elements("#details-link"), "no record pages for commanders"
    assert not dash_duo.find_elements("#nav-search") and not dash_duo.find_elements("#nav-network")


def test_map010_cap_asks_to_zoom_in_and_clusters_list_points(dash_duo, synth_app, synth_sql, monkeypatch):
    monkeypatch.setenv("CGA_MAX_POINTS", "100")
    lat, lon, n = synth_sql("""
        SELECT avg(ST_Y(geom)), avg(ST_X(geom)), count(*) FROM shot_alert WHERE geom IS NOT NULL
        GROUP BY round(ST_X(geom)::numeric / 0.03), round(ST_Y(geom)::numeric / 0.03) ORDER BY 3 DESC LIMIT 1""")[0]
    assert n > 100, "the synthetic data needs a dense spot for this test"
    open_map(dash_duo, synth_app, f"/?start=2024-01-01&end=2025-12-31&layers=alerts&lat={lat:.5f}&lon={lon:.5f}&z=15")
    warn = dash_duo.wait_for_element("#cap-alerts", timeout=20)
    assert "zoom in to see all" in warn.text and "newest 100 of" in warn.text
    # At city zoom the same layer is drawn as density cells instead (when it is the density layer),
    # with a legend of the colour classes; otherwise it is left out with a note to zoom in.
    open_map(dash_duo, synth_app, f"/?start=2024-01-01&end=2025-12-31&layers=alerts&dens=alerts"
                                  f"&lat={lat:.5f}&lon={lon:.5f}&z=12")
    dash_duo.wait_for_element("#cells-note-alerts", timeout=20)
    assert "per ~" in dash_duo.find_element("#density-legend").text
    assert dash_duo.find_elements("#map path.leaflet-interactive")
    dash_duo.find_element("#map-density-layer input[value='shootings']").click()
    dash_duo.wait_for_element("#hidden-note-alerts", timeout=20)
    # Few enough points (one month): clusters; clicking one lists the points under it.
    open_map(dash_duo, synth_app, f"/?start=2025-12-01&end=2025-12-31&layers=alerts&lat={lat:.5f}&lon={lon:.5f}&z=13")
    cluster = dash_duo.wait_for_element(".cluster-alerts", timeout=20)
    click(dash_duo, cluster)
    dash_duo.wait_for_element("#details-list li", timeout=10)
    assert leading_int(dash_duo.find_element("#panel-title").text) == int(cluster.text)
    assert len(dash_duo.find_elements("#details-list li")) >= 1
