"""The command map's control panel: dates and presets, comparison, playback, layers, display, filters.

Every control is a native form element (checkbox, radio, button, date input) or a Dash dropdown, so it
can be reached and used with the keyboard; every colour legend has a text twin in the summary.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dash import dcc, html

from dashboard.components.map_state import BOUNDARY_LABELS, POINT_LAYERS, PRESETS, STEPS
from dashboard.components.mapkit import (
    ALERT_COLORS,
    FIREARM_COLORS,
    RECOVERY_COLORS,
    SHOOTING_COLORS,
    TTC_COLORS,
    legend,
)
from layers.map_filters import ALERT_TYPES, FIREARM_TYPES, TTC_BANDS

LAYER_LABELS = {"alerts": "ShotSpotter alerts", "shootings": "Shootings and homicides",
                "recoveries": "Gun recoveries", "dealers": "Source dealers (national)",
                "flows": "Flows from source states", "districts": "Boundaries and choropleth"}
LAYER_SHAPES = {"alerts": "square", "shootings": "diamond", "recoveries": "dot"}
DEALER_COLORS = {"in_state": "#2b6cb0", "out_of_state": "#c05621"}


def _section(title: str, *children: Any, open_: bool = True, id_: str | None = None) -> html.Details:
    extra = {"id": id_} if id_ else {}
    return html.Details([html.Summary(title, className="side-section-title"), *children],
                        open=open_, className="side-section", **extra)


def _checklist(id_: str, options: dict[str, str] | list[str], value: list[str]) -> dcc.Checklist:
    opts = ([{"label": v, "value": k} for k, v in options.items()] if isinstance(options, dict)
            else [{"label": o.replace("_", " ").lower(), "value": o} for o in options])
    return dcc.Checklist(id=id_, options=opts, value=value, className="side-check",
                         inputClassName="form-check-input me-1", labelClassName="form-check-label d-block")


def _group(legend_text: str, control: Any, id_: str | None = None, legend_class: str = "mt-1") -> html.Fieldset:
    """Radio buttons or checkboxes named as a group: a fieldset whose legend reads like the other labels."""
    extra = {"id": id_} if id_ else {}
    return html.Fieldset([html.Legend(legend_text, className=f"form-label small mb-0 {legend_class}"), control],
                         className="side-fieldset", **extra)


def layer_block(key: str) -> html.Div:
    """Count (and comparison) line plus legend for one point layer."""
    legends = {
        "alerts": legend("Alert type (squares; bigger = more rounds)",
                         {"Single gunshot": ALERT_COLORS["SINGLE_GUNSHOT"],
                          "Multiple gunshots": ALERT_COLORS["MULTIPLE_GUNSHOTS"],
                          "Probable gunfire": ALERT_COLORS["PROBABLE_GUNFIRE"]}, "square"),
        "shootings": legend("Incident (diamonds)", {"Non-fatal shooting": SHOOTING_COLORS["shooting"],
                                                    "Homicide (firearm)": SHOOTING_COLORS["homicide"]}, "diamond"),
        "recoveries": html.Div(id="legend-recoveries"),
    }
    return html.Div([
        html.Div([html.Span(LAYER_LABELS[key] + ": ", className="fw-semibold"),
                  html.Span(id=f"count-{key}", className="layer-count")]),
        html.Div(id=f"inview-{key}", className="layer-count"),
        legends[key],
    ], className="layer-block", id=f"block-{key}")


def recovery_legend(color_by: str) -> html.Div:
    if color_by == "ttc":
        return legend("Recoveries by time-to-crime (circles)", TTC_COLORS, "dot")
    if color_by == "kind":
        return legend("Recoveries by firearm type (circles)", {k.title(): v for k, v in FIREARM_COLORS.items()}, "dot")
    return legend("Recoveries by where first sold (circles)",
                  {"In state": RECOVERY_COLORS["in_state"], "Out of state": RECOVERY_COLORS["out_of_state"],
                   "Unknown": RECOVERY_COLORS["unknown"]}, "dot")


def boundary_selector(kinds: list[str], value: str) -> html.Fieldset:
    """Which polygons the outline layer and choropleth show: districts, and posts / neighborhoods when
    loaded. Radio buttons (arrow keys move between them) in a fieldset whose legend labels them; hidden
    when districts are the only kind loaded."""
    return html.Fieldset([
        html.Legend("Boundaries", className="form-label small mb-0"),
        dcc.RadioItems(id="map-boundary", options=[{"label": BOUNDARY_LABELS[k], "value": k} for k in kinds],
                       value=value, inline=True, className="side-radio", inputClassName="form-check-input me-1",
                       labelClassName="me-3"),
        html.Div(id="map-district-map", className="side-note", **{"aria-live": "polite"}),
    ], className="side-fieldset mt-1", id="map-boundary-group")


def sidebar(view: dict[str, Any], first: dt.date, last: dt.date, districts: list[str], states: list[str],
            approximate: bool, boundary_kinds: list[str] | None = None) -> html.Div:
    return html.Div([
        html.H1("Command map", className="side-title"),
        # The controls below are many tab stops: a keyboard user can go straight to the district table.
        html.A("Skip to the district table", href="#command-table", className="visually-hidden-focusable",
               id="skip-to-districts", **{"data-skip": "1"}),
        html.Div("District boundaries shown are approximate (demo geography), not official.",
                 className="notice", id="approximate-notice") if approximate else None,
        _section("Dates",
                 dcc.DatePickerRange(id="map-dates", min_date_allowed=first, max_date_allowed=last,
                                     start_date=view["start"], end_date=view["end"], display_format="YYYY-MM-DD",
                                     first_day_of_week=1),
                 html.Div([html.Button(label, id={"type": "map-preset", "preset": key}, n_clicks=0, type="button",
                                       className="btn btn-outline-secondary btn-sm")
                           for key, label in PRESETS.items()], className="preset-row", role="group",
                          **{"aria-label": f"Date presets, counted back from the latest data ({last:%d %b %Y})"}),
                 _checklist("map-compare", {"on": "Compare with the same dates a year earlier"},
                            ["on"] if view["compare"] else [])),
        _section("Playback",
                 _group("Step", dcc.RadioItems(id="map-step", options=[{"label": v, "value": k} for k, v in STEPS.items()],
                                               value=view["step"], inline=True, className="side-radio",
                                               inputClassName="form-check-input me-1", labelClassName="me-3"),
                        legend_class="mt-0"),
                 _checklist("map-cumulative", {"on": "Cumulative (grow from the start date)"},
                            ["on"] if view["cumulative"] else []),
                 html.Div([
                     html.Button("◀ Step", id="map-back", n_clicks=0, type="button",
                                 className="btn btn-outline-secondary btn-sm"),
                     html.Button("▶ Play", id="map-play", n_clicks=0, type="button",
                                 className="btn btn-primary btn-sm", **{"aria-pressed": "false"}),
                     html.Button("Step ▶", id="map-fwd", n_clicks=0, type="button",
                                 className="btn btn-outline-secondary btn-sm"),
                     html.Button("Stop", id="map-stop", n_clicks=0, type="button",
                                 className="btn btn-outline-secondary btn-sm"),
                 ], className="preset-row"),
                 html.Div(id="map-play-label", className="side-note", **{"aria-live": "polite"})),
        _section("Layers",
                 _group("Layers shown", _checklist("map-layers", LAYER_LABELS, view["layers"]), legend_class="visually-hidden"),
                 html.Div([layer_block(k) for k in POINT_LAYERS],
                          **{"aria-live": "polite"}),
                 _group("Colour recoveries by",
                        dcc.RadioItems(id="map-color-by", options=[{"label": "Source", "value": "source"},
                                                                   {"label": "Time-to-crime", "value": "ttc"},
                                                                   {"label": "Type", "value": "kind"}],
                                       value="source", inline=True, className="side-radio",
                                       inputClassName="form-check-input me-1", labelClassName="me-3")),
                 html.Div([html.Span("Source dealers: ", className="fw-semibold"),
                           html.Span(id="count-dealers", className="layer-count")]),
                 legend("Dealers (size = traced guns) and flows (width = guns)",
                        {"In state": DEALER_COLORS["in_state"], "Out of state (dashed)": DEALER_COLORS["out_of_state"]},
                        "dot"),
                 html.Div([html.Button("National view", id="map-national", n_clicks=0, type="button",
                                       className="btn btn-outline-secondary btn-sm"),
                           html.Button("City view", id="map-city", n_clicks=0, type="button",
                                       className="btn btn-outline-secondary btn-sm")], className="preset-row"),
                 _group("Density cells (one layer at a time, so they stay readable)",
                        dcc.RadioItems(id="map-density-layer", options=[{"label": LAYER_LABELS[k], "value": k}
                                                                        for k in POINT_LAYERS],
                                       value=view["density_layer"], className="side-radio",
                                       inputClassName="form-check-input me-1", labelClassName="d-block")),
                 _group("How to draw that layer",
                        dcc.RadioItems(id="map-display", options=[
                            {"label": "Its points where few enough, else cells", "value": "auto"},
                            {"label": "Always as density cells", "value": "cells"}], value=view["display"],
                            className="side-radio", inputClassName="form-check-input me-1", labelClassName="d-block"),
                        legend_class="visually-hidden"),
                 html.Div([html.Div(id=f"density-legend-{k}") for k in POINT_LAYERS],
                          id="density-legend"),
                 boundary_selector(boundary_kinds or ["district"], view.get("boundary", "district")),
                 html.Label("Choropleth measure", htmlFor="map-measure", className="form-label small mb-0 mt-1"),
                 dcc.Dropdown(id="map-measure", options=[{"label": "None", "value": "none"},
                                                         {"label": "Shootings and homicides", "value": "shootings"},
                                                         {"label": "ShotSpotter alerts", "value": "alerts"},
                                                         {"label": "Gun recoveries", "value": "recoveries"}],
                              value=view["measure"], clearable=False, searchable=False),
                 _checklist("map-rate", {"on": "Per 1,000 residents"}, ["on"] if view["rate"] else [])),
        _section("Filters",
                 html.Label("District", htmlFor="map-district", className="form-label small mb-0"),
                 dcc.Dropdown(id="map-district", options=districts, value=view["districts"], multi=True,
                              placeholder="All districts"),
                 _group("Alert type", _checklist("map-alert-types", list(ALERT_TYPES), view["alert_types"])),
                 html.Label("Firearm type (recoveries)", htmlFor="map-firearm-types", className="form-label small mb-0 mt-1"),
                 dcc.Dropdown(id="map-firearm-types", options=[{"label": t.title(), "value": t} for t in FIREARM_TYPES],
                              value=view["firearm_types"], multi=True, placeholder="All types"),
                 _group("Time-to-crime band (recoveries)", _checklist("map-ttc", {b: b for b in TTC_BANDS},
                                                                     view["ttc_bands"])),
                 html.Label("Source state (recoveries)", htmlFor="map-source-states", className="form-label small mb-0 mt-1"),
                 dcc.Dropdown(id="map-source-states", options=states, value=view["source_states"], multi=True,
                              placeholder="All states"),
                 _checklist("map-oos", {"on": "Out-of-state guns only"}, ["on"] if view["out_of_state_only"] else []),
                 html.P("An empty filter means everything.", className="side-note mt-1")),
        _section("What the map shows (text)",
                 html.Div(html.Ul([html.Li(id="map-summary-dates"),
                                   *[html.Li(id=f"map-summary-{k}", hidden=True)
                                     for k in POINT_LAYERS]], className="mb-1"),
                          id="map-summary", className="map-summary", **{"aria-live": "polite"}),
                 html.Div(id="districts-summary-holder", className="map-summary"), id_="summary-section"),
    ], className="map-side", id="map-side")
