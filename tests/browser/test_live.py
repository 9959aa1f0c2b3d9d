"""Near real time: `crimegun watch` loads a ShotSpotter file as it lands, and an open map shows the new
alert within 10 seconds without a reload and without moving; "data as of" follows."""

from __future__ import annotations

import threading
import time

import pytest

from tests.browser.test_map_basic import leading_int, open_map

pytestmark = pytest.mark.browser

HEADER = ("DATE,BLOCK,ZIP_CODE,WARD,COMMUNITY_AREA,AREA,DISTRICT,BEAT,STREET_OUTREACH_ORGANIZATION,UNIQUE_ID,MONTH,"
          "DAY_OF_WEEK,HOUR,INCIDENT_TYPE_DESCRIPTION,ROUNDS,ILLINOIS_HOUSE_DISTRICT,ILLINOIS_SENATE_DISTRICT,"
          "LATITUDE,LONGITUDE,LOCATION")


def test_live001_a_new_alert_appears_within_ten_seconds(dash_duo, app, sql, tmp_path):
    from etl.watch import watch

    last = sql("SELECT (max(alert_time) AT TIME ZONE 'America/New_York')::date FROM shot_alert")[0][0]
    start = last.replace(day=1)
    open_map(dash_duo, app, f"/?start={start}&end={last}&layers=alerts&lat=39.30&lon=-76.645&z=13")
    before = sql("SELECT count(*) FROM shot_alert WHERE (alert_time AT TIME ZONE 'America/New_York')::date "
                 "BETWEEN %s AND %s", (start, last))[0][0]
    deadline = time.time() + 20
    while time.time() < deadline and leading_int(dash_duo.find_element("#count-alerts").text or "x0") != before:
        time.sleep(0.25)
    assert leading_int(dash_duo.find_element("#count-alerts").text) == before
    latest = sql("""SELECT greatest((SELECT max(recovery_date) FROM recovery),
                                    (SELECT (max(crime_datetime) AT TIME ZONE 'America/New_York')::date FROM incident),
                                    (SELECT (max(alert_time) AT TIME ZONE 'America/New_York')::date FROM shot_alert))""")[0][0]
    dash_duo.wait_for_contains_text("#shell-asof", f"Data as of {latest:%Y-%m-%d}", timeout=20)
    url_before = dash_duo.driver.current_url

    stop = threading.Event()
    messages: list[str] = []
    watcher = threading.Thread(target=watch, kwargs={"folder": tmp_path, "interval": 0.5, "settle": 0.5,
                                                     "echo": messages.append, "should_stop": stop.is_set},
                               daemon=True)
    watcher.start()
    try:
        line = (f"{last:%m/%d/%Y} 11:15:00 PM,1000 N MOUNT ST,21217,,,,WESTERN,713,,SST-LIVE-1,{last.month},1,23,"
                "SINGLE GUNSHOT,1,,,39.3007,-76.6455,POINT (-76.6455 39.3007)")
        partial = tmp_path / "alerts-live.csv.part"
        partial.write_text(HEADER + "\n" + line + "\n")
        partial.rename(tmp_path / "alerts-live.csv")  # lands whole, as a copy tool would leave it
        landed = time.time()
        while time.time() - landed < 10 and leading_int(dash_duo.find_element("#count-alerts").text or "x0") != before + 1:
            time.sleep(0.2)
        took = time.time() - landed
        assert leading_int(dash_duo.find_element("#count-alerts").text) == before + 1, (took, messages)
        assert took < 10
        assert dash_duo.driver.current_url == url_before, "the map did not move"
        assert any("alerts-live.csv" in m and "loaded 1" in m for m in messages), messages
    finally:
        stop.set()
        watcher.join(timeout=10)
    # A restarted watcher loads nothing twice.
    again: list[str] = []
    from etl.watch import WatchState, scan_once

    state = WatchState()
    scan_once(tmp_path, state, 0, again.append)
    time.sleep(0.05)
    scan_once(tmp_path, state, 0, again.append)
    assert again == [] and sql("SELECT count(*) FROM shot_alert WHERE source_id = 'SST-LIVE-1'")[0][0] == 1
