"""The map's points travel packed as columns (layers.viewport.pack) and are unpacked in the browser
(assets/js/points.js): what the browser rebuilds must be exactly the FeatureCollection the server built,
for every kind of place the layers produce, at the analyst's and the commander's precision."""

from __future__ import annotations

import datetime as dt
import json
import random

import orjson
import pytest

from layers import viewport

pytestmark = pytest.mark.browser


def _rows(rng: random.Random, n: int, decimals: int, dates: bool) -> list[dict]:
    """Rows as the map's compact query returns them (newest first), with shared places (stacks), missing
    values, text, numbers and yes/no properties."""
    base = dt.datetime(2026, 11, 30, 23, 59)
    rows, ident = [], 40_000_000
    places = [(round(39.29 + rng.uniform(-0.03, 0.03), decimals), round(-76.61 + rng.uniform(-0.04, 0.04), decimals))
              for _ in range(max(1, n // 3))]
    for i in range(n):
        ident -= rng.randint(1, 900)
        when = base - dt.timedelta(minutes=i * rng.randint(1, 300))
        lat, lon = rng.choice(places) if rng.random() < 0.3 else (
            round(39.29 + rng.uniform(-0.05, 0.05), decimals), round(-76.61 + rng.uniform(-0.06, 0.06), decimals))
        rows.append({"id": ident, "time": when.date().isoformat() if dates else when.strftime("%Y-%m-%d %H:%M"),
                     "kind": rng.choice(["SINGLE_GUNSHOT", "MULTIPLE_GUNSHOTS", None, "PROBABLE_GUNFIRE"]),
                     "rounds": rng.choice([None, 1, 3, 12]),
                     "ttc_band": rng.choice([None, "< 1 year", "1-3 years"]),
                     "source_in_state": rng.choice([None, True, False]),
                     "lon": lon, "lat": lat})
    return rows


def _normal(fc: dict) -> list[dict]:
    return sorted(json.loads(orjson.dumps(fc))["features"], key=lambda f: json.dumps(f, sort_keys=True))


def test_map030_browser_unpacks_the_same_points(dash_duo, app):
    from tests.browser.conftest import sign_in_as

    dash_duo.start_server(app, navigate=False)
    sign_in_as(dash_duo, "analyst", path="/")
    dash_duo.wait_for_element(".leaflet-container", timeout=20)
    # Analyst (exact), commander (3 decimals) with times to the minute, and recoveries' dates.
    for decimals, dates in ((5, False), (3, False), (5, True)):
        rng = random.Random(decimals * 10 + dates)
        for n in (0, 1, 2, 50, 3000):
            fc = viewport.stack_places(_rows(rng, n, decimals, dates))
            packed = viewport.pack(fc)
            got = dash_duo.driver.execute_script(
                "return window.dash_clientside.atlasPoints.decode(JSON.parse(arguments[0]));",
                orjson.dumps(packed).decode())
            assert _normal(got) == _normal(fc), f"{n} rows at {decimals} decimals, dates {dates}"
            if n >= 50:
                assert any(f["properties"]["stack"] > 1 for f in fc["features"]), "the rows must hold stacked places"
                assert len(orjson.dumps(packed)) < len(orjson.dumps(fc)) / 2.5, "packed is much smaller"
    assert dash_duo.get_logs() == [], "browser console errors"
