"""The command view under the map: the district table and its sorting, where the guns came from, and the
district briefing (PDF)."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, ctx, dcc

from dashboard.components import map_panels
from dashboard.pages.map_shared import FILTER_INPUTS, callback, map_filters
from layers import district_panel


@callback(Output("command-table", "children"), *FILTER_INPUTS, Input("map-sort", "data"), Input("map-panel", "data"),
          Input("map-version", "data"))
def update_district_table(*args):
    *filter_args, sort, panel, _version = args
    filters, _ = map_filters(*filter_args)
    return map_panels.district_table(district_panel.district_table(filters), sort or "district", panel)


@callback(Output("map-sort", "data"), Input({"type": "dt-sort", "col": ALL}, "n_clicks"), State("map-sort", "data"),
          prevent_initial_call=True)
def sort_table(_clicks, sort):
    """A header sorts by its column (numbers largest first); choosing it again reverses the order."""
    if not isinstance(ctx.triggered_id, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
        raise dash.exceptions.PreventUpdate
    col = ctx.triggered_id["col"]
    if (sort or "district").lstrip("-") == col:
        return col if (sort or "").startswith("-") else f"-{col}"
    return col if col == "district" else f"-{col}"


@callback(Output("source-ranking", "children"), *FILTER_INPUTS, Input("map-version", "data"))
def update_source_ranking(*args):
    *filter_args, _version = args
    filters, _ = map_filters(*filter_args)
    return map_panels.source_ranking(district_panel.source_ranking(filters))


@callback(Output("map-briefing-download", "data"), Output("map-briefing-status", "children"),
          Input("map-briefing", "n_clicks"), *[State(c.component_id, c.component_property) for c in FILTER_INPUTS],
          prevent_initial_call=True)
def download_briefing(n_clicks, *filter_args):
    """The district briefing PDF, rendered on the server for the viewer's role and audited as an export."""
    if not n_clicks:
        raise dash.exceptions.PreventUpdate
    from dashboard import briefing

    filters, _ = map_filters(*filter_args)
    out = briefing.export_briefing(filters)
    return dcc.send_bytes(out.content, out.filename), f"Downloaded {out.filename} (logged)."
