"""The public charts' figures (dashboard/charts/figures.py) without a database: the template assigned without
re-validating it gives the very figure `update_layout(template=...)` gives, so screen and exports are unchanged."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.charts import figures
from layers import public_stats

MONTHS = ["2024-01", "2024-02", "2024-03"]
DATA = {
    "recoveries_by_month": [{"month": m, "recoveries": n} for m, n in zip(MONTHS, (12, None, 0), strict=True)],
    "ghost_guns_by_month": [{"month": m, "ghost_guns": n} for m, n in zip(MONTHS, (None, 7, 0), strict=True)],
    "source_states": [{"state": "MD", "guns": 40, "home_state": True, "share_pct": 61.5},
                      {"state": "VA", "guns": 25, "home_state": False, "share_pct": 38.5},
                      {"state": "Other states (3)", "guns": None, "home_state": False, "share_pct": None},
                      {"state": "Unknown", "guns": 9, "home_state": None, "share_pct": None}],
    "time_to_crime": [{"band": b, "guns": n, "share_pct": p} for b, n, p in
                      zip(public_stats.TTC_BANDS, (10, None, 30, 5), (22.2, None, 66.7, 11.1), strict=True)],
    "firearm_types": [{"firearm_type": "PISTOL", "guns": 80}, {"firearm_type": "RIFLE", "guns": None}],
    "top_makers": [{"manufacturer": "GLOCK", "guns": 30}, {"manufacturer": "POLYMER80", "guns": 6},
                   {"manufacturer": "UNKNOWN", "guns": None}],
    "shootings_alerts_by_district": [{"district": d, "month": m, "shootings_homicides": n, "alerts": a}
                                     for d in ("CENTRAL", "WESTERN") for m, n, a in
                                     zip(MONTHS, (5, None, 0), (12, 30, None), strict=True)],
    "ytd_comparison": [{"measure": "Shootings", "this_period": "2024-01-01 to 2024-03-31", "this_year": 50,
                        "last_period": "2023-01-01 to 2023-03-31", "last_year": 40, "change_pct": 25.0},
                       {"measure": "Homicides", "this_period": "2024-01-01 to 2024-03-31", "this_year": None,
                        "last_period": "2023-01-01 to 2023-03-31", "last_year": 8, "change_pct": None}],
}


@pytest.mark.parametrize("key", public_stats.CHART_KEYS)
def test_fast_template_gives_the_same_figure(key, monkeypatch):
    ctx = figures.ChartContext.make(dt.date(2024, 1, 1), dt.date(2024, 3, 31), ("CENTRAL",), dt.date(2024, 3, 31))
    summary = {"home_state": "MD", "known_source": 65, "out_of_state": 25, "share_pct": 38.5}
    data = {"rows": DATA[key], "summary": summary if key == "source_states" else None}
    fast = figures.figure(key, data, ctx).to_plotly_json()
    monkeypatch.setattr(figures, "_set_template", lambda fig: fig.update_layout(template=figures.TEMPLATE))
    validated = figures.figure(key, data, ctx).to_plotly_json()
    assert fast == validated
    assert fast["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
