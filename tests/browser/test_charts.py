"""The Charts page in the browser: a press user signs in, sees every public chart with its notes, and
downloads a chart as CSV and as PNG rendered on the server (each download logged)."""

from __future__ import annotations

import pathlib
import time

import pytest

from layers import public_stats

pytestmark = pytest.mark.browser


def _wait_for_file(folder: pathlib.Path, suffix: str, timeout: float = 30) -> pathlib.Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = [p for p in folder.glob(f"*{suffix}") if p.stat().st_size > 0]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} file downloaded to {folder}")


def _click(dash_duo, selector: str) -> None:
    button = dash_duo.find_element(selector)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button)
    button.click()


def test_charts001_press_sees_charts_and_downloads_csv_and_png(dash_duo, synth_app, synth_sql, sign_in):
    # The first page a visitor gets is the sign-in form (no Dash app to wait for), so navigate ourselves.
    dash_duo.start_server(synth_app, navigate=False)
    dash_duo._url = dash_duo.server.url
    dash_duo.driver.set_window_size(1400, 1000)
    sign_in(dash_duo, "press", path="/charts")
    as_of = synth_sql("SELECT max(recovery_date) FROM recovery")[0][0]  # recoveries reach the last data day here
    dash_duo.wait_for_element("#charts-card-ytd_comparison", timeout=20)
    for key in public_stats.CHART_KEYS:
        # every chart draws (plotly's SVG with its title) and carries its method note
        dash_duo.wait_for_element(f"#charts-graph-{key} .main-svg", timeout=30)
        dash_duo.wait_for_contains_text(f"#charts-graph-{key} .gtitle", public_stats.TITLES[key][:20], timeout=30)
        assert dash_duo.find_element(f"#charts-note-{key}").text == public_stats.METHOD_NOTES[key]
    assert "Data as of" in dash_duo.find_element("#charts-asof").text
    assert "counts 1–4 suppressed" in dash_duo.find_element("#charts-card-recoveries_by_month").text

    exports_before = synth_sql("SELECT count(*) FROM audit.event WHERE event = 'export'")[0][0]
    folder = pathlib.Path(dash_duo.download_path)
    _click(dash_duo, "#charts-export-csv-source_states")
    csv_file = _wait_for_file(folder, ".csv")
    text = csv_file.read_text(encoding="utf-8")
    assert text.startswith("# Where recovered crime guns were first sold")
    assert "# Filters: All districts" in text and "# Data as of: " in text
    assert "state,guns,home_state,share_pct" in text
    dash_duo.wait_for_contains_text("#charts-status", "downloaded", timeout=20)

    _click(dash_duo, "#charts-export-png-recoveries_by_month")
    png = _wait_for_file(folder, ".png", timeout=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = synth_sql("SELECT role, record_ids, detail->>'format' FROM audit.event WHERE event = 'export' "
                     "ORDER BY id DESC LIMIT 2")
    assert synth_sql("SELECT count(*) FROM audit.event WHERE event = 'export'")[0][0] == exports_before + 2
    assert rows == [("press", ["recoveries_by_month"], "png"), ("press", ["source_states"], "csv")]
    assert as_of is not None
    assert dash_duo.get_logs() == [], "browser console errors"


def test_charts002_svg_pdf_and_press_packet_downloads(dash_duo, synth_app, synth_sql, sign_in):
    dash_duo.start_server(synth_app, navigate=False)
    dash_duo._url = dash_duo.server.url
    dash_duo.driver.set_window_size(1400, 1000)
    sign_in(dash_duo, "press", path="/charts")
    dash_duo.wait_for_element("#charts-graph-time_to_crime .main-svg", timeout=30)
    folder = pathlib.Path(dash_duo.download_path)
    _click(dash_duo, "#charts-export-svg-time_to_crime")
    svg = _wait_for_file(folder, ".svg", timeout=60).read_text(encoding="utf-8")
    assert svg.lstrip().startswith(("<svg", "<?xml")) and "Data as of" in svg
    _click(dash_duo, "#charts-export-pdf-firearm_types")
    assert _wait_for_file(folder, ".pdf", timeout=60).read_bytes()[:4] == b"%PDF"
    for p in folder.glob("*.pdf"):
        p.unlink()
    _click(dash_duo, "#charts-packet")
    packet = _wait_for_file(folder, ".pdf", timeout=120)
    from pypdf import PdfReader

    assert len(PdfReader(str(packet)).pages) == len(public_stats.CHART_KEYS) + 1
    formats = [r[0] for r in synth_sql("SELECT detail->>'format' FROM audit.event WHERE event = 'export' "
                                      "AND role = 'press' ORDER BY id DESC LIMIT 3")]
    assert formats == ["pdf", "pdf", "svg"]
    assert dash_duo.get_logs() == [], "browser console errors"
