"""The Data page: loads with their row accounting, freshness, and rejected rows behind the role gate."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in_as  # noqa: E402

pytestmark = pytest.mark.browser


def test_data001_loads_freshness_and_rejects_for_detective(dash_duo, app, sql):
    dash_duo.start_server(app, navigate=False)
    sign_in_as(dash_duo, "detective", path="/data")
    dash_duo.wait_for_element("#data-loads", timeout=20)
    loads = dash_duo.find_element("#data-loads").text
    for (name,) in sql("SELECT regexp_replace(file_path, '^.*/', '') FROM etl_run"):
        assert name in loads
    fresh = dash_duo.find_element("#data-freshness").text
    alerts = sql("SELECT count(*) FROM shot_alert")[0][0]
    assert f"ShotSpotter alerts {alerts:,}" in fresh
    # The newest load with rejects is preselected; its raw rows are visible to a detective.
    run_id, reasons = sql("SELECT run_id, array_agg(reason) FROM etl_rejected_row GROUP BY run_id "
                          "ORDER BY run_id DESC LIMIT 1")[0]
    dash_duo.wait_for_contains_text("#data-rejects", reasons[0][:30], timeout=20)
    raw = sql("SELECT raw FROM etl_rejected_row WHERE run_id = %s ORDER BY line_number LIMIT 1", (run_id,))[0][0]
    assert raw[:40] in dash_duo.find_element("#data-rejects-table").text
    assert dash_duo.get_logs() == []


def test_data002_press_sees_reasons_without_values_and_no_raw_rows(dash_duo, app, sql):
    dash_duo.start_server(app, navigate=False)
    sign_in_as(dash_duo, "press", path="/data")
    dash_duo.wait_for_element("#data-rejects-table", timeout=20)
    text = dash_duo.find_element("#data-rejects-table").text
    assert dash_duo.find_element("#data-rejects-note")
    run_id = sql("SELECT max(run_id) FROM etl_rejected_row")[0][0]
    for raw, reason, public in sql("SELECT raw, reason, reason_public FROM etl_rejected_row WHERE run_id = %s",
                                   (run_id,)):
        assert raw[:40] not in text
        assert public in text
        for quoted in __import__("re").findall(r"'([^']+)'", reason):
            assert quoted not in text, f"{quoted!r} from a reason reached the press view"
