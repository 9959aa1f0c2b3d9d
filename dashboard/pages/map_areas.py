"""The map's area layers: boundary outlines and their choropleth, source dealers and state flows."""

from __future__ import annotations

import datetime as dt

from dash import Input, Output, State, ctx, html

from dashboard.components import map_panels
from dashboard.components.map_state import BOUNDARY_LABELS
from dashboard.components.mapkit import CHOROPLETH_COLORS, RECOVERY_COLORS
from dashboard.pages.map_shared import EMPTY, FILTER_INPUTS, _on, callback, map_filters
from layers import access, dealers_map, density, district_panel, districts


@callback(Output("districts", "data"), Output("districts-labels", "data"), Output("map-district-map", "children"),
          Input("map-boundary", "value"), Input("map-dates", "start_date"), Input("map-dates", "end_date"))
def update_outlines(kind, start_date, end_date):
    """The polygons of the chosen boundary kind, from the map in force for the dates (Baltimore redrew its
    police districts in 2023), and which map that is. Only districts get permanent labels: posts,
    neighborhoods and CSAs are too many to label readably; their names are in the tooltip and table."""
    kind = kind or "district"
    start = dt.date.fromisoformat(start_date[:10]) if start_date else None
    end = dt.date.fromisoformat(end_date[:10]) if end_date else None
    which = districts.district_map_for(start, end, "district")
    note = None
    if which:
        note = f"District outlines: {which['label']}."
        if which["spans_redistricting"]:
            note += (" These dates span the 2023 redistricting: each point is counted in the district in force "
                     "on its date, and comparisons across the change mix two maps.")
    outline = districts.boundaries_geojson(kind, start, end)
    return outline, districts.label_points(outline) if kind == "district" else EMPTY, note


@callback(Output("districts", "hideout"), Output("districts-summary-holder", "children"),
          *FILTER_INPUTS, Input("map-measure", "value"), Input("map-rate", "value"), Input("map-layers", "value"),
          Input("map-boundary", "value"), Input("map-version", "data"), State("districts", "hideout"))
def update_choropleth(*args):
    """Colour the chosen boundaries (districts, posts, neighborhoods) by the measure; a table as its text twin."""
    *filter_args, measure, rate, layers_on, kind, _version, hideout = args
    filters, _ = map_filters(*filter_args)
    kind = kind or "district"
    hideout = dict(hideout or {})
    hideout.pop("values", None)
    if ctx.triggered_id == "map-boundary":
        hideout["selected"] = None
    if measure in (None, "none") or "districts" not in (layers_on or []):
        hideout["breaks"] = []
        return hideout, html.P(f"No {BOUNDARY_LABELS[kind].lower()} choropleth is shown.", className="side-note")
    rows = district_panel.boundary_measures(kind, filters)
    field = f"{measure}_rate" if _on(rate) else measure
    values = {r["name"]: r[field] for r in rows if r[field] is not None}
    breaks = density.class_breaks(list(values.values()))
    hideout.update({"values": values, "breaks": breaks, "colors": CHOROPLETH_COLORS})
    return hideout, map_panels.choropleth_table(BOUNDARY_LABELS[kind], district_panel.MEASURES[measure], values,
                                                breaks, _on(rate))


@callback(Output("dealers", "data"), Output("dealers", "hideout"), Output("flows", "data"), Output("flows", "hideout"),
          Output("flow-labels", "data"), Output("count-dealers", "children"), *FILTER_INPUTS, Input("map-layers", "value"),
          Input("map-version", "data"))
def update_dealers(*args):
    *filter_args, layers_on, _version = args
    filters, _ = map_filters(*filter_args)
    layers_on = layers_on or []
    dealers = dealers_map.source_dealers(filters) if "dealers" in layers_on and access.allowed("dealers") else None
    flows = dealers_map.state_flows(filters) if "flows" in layers_on else None
    parts = []
    if dealers:
        parts.append(f"{dealers['dealers']:,} dealers sold {dealers['guns']:,} traced guns"
                     + (f" (largest {dealers['shown']:,} drawn)" if dealers["shown"] < dealers["dealers"] else ""))
    if flows:
        top = ", ".join(f"{r['state']} {r['guns']:,}" for r in flows["table"][:6])
        parts.append(f"{flows['states']} source states: {top}")
    return (dealers["geojson"] if dealers else EMPTY,
            {"colors": RECOVERY_COLORS, "maxGuns": dealers["max_guns"] if dealers else 1},
            flows["geojson"] if flows else EMPTY, {"colors": RECOVERY_COLORS, "maxGuns": flows["max_guns"] if flows else 1},
            flows["labels"] if flows else EMPTY, "; ".join(parts) if parts else "hidden")
