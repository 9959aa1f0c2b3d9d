"""The detective's day in the browser: the NIBIN list, a lead opened in its journey, a table sorted and
downloaded as CSV in the order shown."""

from __future__ import annotations

import csv
import pathlib
import time

import pytest

from tests.browser.conftest import sign_in_as
from tests.browser.test_investigate import inv_app  # noqa: F401  (the investigation fixtures, loaded)

pytestmark = pytest.mark.browser


def _column(dash_duo, table: str, column: str) -> list[str]:
    return [c.text for c in dash_duo.find_elements(f'#table-{table} td[data-dash-column="{column}"]')]


def _wait_file(path: pathlib.Path, timeout: float = 15) -> pathlib.Path:
    deadline = time.time() + timeout
    while not (path.exists() and path.stat().st_size) and time.time() < deadline:
        time.sleep(0.2)
    assert path.exists(), f"{path.name} was not downloaded"
    time.sleep(0.3)
    return path


def test_nibin_list_lead_journey_sort_and_csv(dash_duo, inv_app, sql):  # noqa: F811
    gun_a = sql("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000101'")[0][0]
    dash_duo.start_server(inv_app, navigate=False)
    sign_in_as(dash_duo, "detective", path="/nibin")
    dash_duo.wait_for_element("#table-nibin td", timeout=20)
    assert "NIBIN" in dash_duo.find_element(".atlas-nav").text
    # Newest linked incident first: the casings-only group (October 2021), then gun A (April 2021).
    assert _column(dash_duo, "nibin", "status") == ["unrecovered", "recovered"]
    assert _column(dash_duo, "nibin", "last_date") == ["2021-10-11", "2021-04-15"]

    # Sort by incidents: the CSV comes in the order shown.
    dash_duo.find_element('#table-nibin th[data-dash-column="incidents"] .column-header--sort').click()
    deadline = time.time() + 10
    while _column(dash_duo, "nibin", "incidents") != ["2", "3"] and time.time() < deadline:
        dash_duo.find_element('#table-nibin th[data-dash-column="incidents"] .column-header--sort').click()
        time.sleep(0.5)
    shown = _column(dash_duo, "nibin", "gun")
    assert _column(dash_duo, "nibin", "incidents") == ["2", "3"]
    dash_duo.find_element("#table-nibin .cga-table-csv").click()
    rows = list(csv.reader(_wait_file(pathlib.Path(dash_duo.download_path) / "nibin-linked-guns.csv").open()))
    assert rows[0][:4] == ["Newest linked incident", "Status", "Gun", "Incidents"]
    assert [r[2] for r in rows[1:]] == shown and [r[3] for r in rows[1:]] == ["2", "3"]
    n = sql("SELECT count(*) FROM audit.event WHERE username = 'test-detective' AND event = 'export' "
            "AND detail->>'what' = 'table nibin'")[0][0]
    assert n >= 1

    # The recovered gun's newest lead opens its journey with that lead shown.
    link = dash_duo.find_element(f'#table-nibin td[data-dash-column="lead_id"] a[href="/firearm/{gun_a}?lead=NL-T-0002"]')
    link.click()
    dash_duo.wait_for_contains_text("#journey-lead", "NIBIN lead NL-T-0002", timeout=20)
    marked = dash_duo.find_elements("#journey-timeline > li.inv-step-lead")
    assert marked and all("NIBIN lead NL-T-0002" in li.text for li in marked)
    scrolled = dash_duo.find_element("#journey-lead-scrolled")
    deadline = time.time() + 10
    while scrolled.get_attribute("textContent") != marked[0].get_attribute("id") and time.time() < deadline:
        time.sleep(0.2)
    assert scrolled.get_attribute("textContent") == marked[0].get_attribute("id"), "scrolled to the lead"

    # The group with no gun opens its linked scenes.
    dash_duo.driver.get(dash_duo.server_url + "/nibin")
    dash_duo.wait_for_element('#table-nibin td[data-dash-column="gun"] a', timeout=20)
    dash_duo.find_element('#table-nibin td[data-dash-column="lead_id"] a[href*="/nibin?group="]').click()
    dash_duo.wait_for_contains_text("#nibin-current-lead", "NL-T-0004", timeout=20)
    assert _column(dash_duo, "nibin-scenes", "cc_number") == ["21H00020", "21J00021", "21J00022"]
    assert "NL-T-0004" in dash_duo.find_element("#nibin-lead-current").text

    # The Leads lists and a person's guns are the same tables.
    parker = sql("SELECT id FROM pii.person WHERE last_name = 'PARKER'")[0][0]
    dash_duo.driver.get(dash_duo.server_url + "/leads")
    dash_duo.wait_for_contains_text('#table-leads-purchasers td[data-dash-column="title"]', "PARKER, PAT", timeout=20)
    dash_duo.driver.get(dash_duo.server_url + f"/person/{parker}")
    dash_duo.wait_for_element("#table-person-guns td", timeout=20)
    dash_duo.find_element("#table-person-guns .cga-table-csv").click()
    guns = list(csv.reader(_wait_file(pathlib.Path(dash_duo.download_path) / "person-traced-guns.csv").open()))
    assert guns[0][0] == "Firearm" and len(guns) == 1 + 3
    assert dash_duo.get_logs() == [], "browser console errors"
