"""The map's details panel: what a click on the map (a point, a stacked place, a cluster, a cell, a district,
a dealer) or on a district in the table shows; an open district panel follows the filters."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, ctx, no_update

from dashboard.components import map_panels
from dashboard.components.map_state import BOUNDARY_LABELS, POINT_LAYERS, meters_per_pixel
from dashboard.pages.map_shared import CLUSTER_RADIUS_PX, FILTER_INPUTS, _on, callback, map_filters
from layers import access, dealers_map, district_panel, viewport


@callback(Output("map-details-body", "children"), Output("map-details", "hidden"), Output("districts", "hideout",
                                                                                       allow_duplicate=True),
          Output("map-panel", "data"),
          *[Input(f"pts-{k}", "clickData") for k in POINT_LAYERS],
          *[Input(f"cells-{k}", "clickData") for k in POINT_LAYERS],
          Input("districts", "clickData"), Input("dealers", "clickData"), Input("map-details-close", "n_clicks"),
          *[State(c.component_id, c.component_property) for c in FILTER_INPUTS],
          State("map", "zoom"), State("map-compare", "value"), State("districts", "hideout"),
          prevent_initial_call=True)
def show_details(*args):
    """A click on a point, a stacked place, a cluster, a cell, a district or a dealer opens the panel."""
    trigger = ctx.triggered_id
    n_point = len(POINT_LAYERS)
    filter_args = args[2 * n_point + 3: 2 * n_point + 3 + len(FILTER_INPUTS)]
    zoom, compare, hideout = args[-3:]
    hideout = dict(hideout or {})
    if trigger == "map-details-close" or trigger is None:
        hideout["selected"] = None
        return None, True, hideout, None
    click = ctx.triggered[0]["value"]
    if not click:
        raise dash.exceptions.PreventUpdate
    filters, _ = map_filters(*filter_args)
    props = click.get("properties") or {}
    if trigger == "districts":
        hideout["selected"] = props.get("name")
        if props.get("kind", "district") != "district":  # a post or neighborhood: its name and counts
            row = district_panel.boundary_counts(props["kind"], props["name"], filters)
            return (map_panels.boundary_details(BOUNDARY_LABELS[props["kind"]], row, _on(compare),
                                                district_panel.MEASURES) if row else None), row is None, hideout, None
        panel = district_panel.district_panel(props["name"], filters)
        return map_panels.district_details(panel, _on(compare), district_panel.MEASURES), False, hideout, props["name"]
    if trigger == "dealers":
        card = dealers_map.dealer_card(props["id"]) if access.allowed("dealers") else None
        return (map_panels.dealer_details(card) if card else None), card is None, no_update, None
    kind, layer = trigger.split("-", 1)
    if kind == "cells":
        return map_panels.cell_details(layer, props.get("n", 0), None), False, no_update, None
    if props.get("cluster"):
        lon, lat = click["geometry"]["coordinates"]
        radius = CLUSTER_RADIUS_PX * meters_per_pixel(float(zoom or 12), lat)
        near = viewport.points_near(layer, filters, lat, lon, radius)
        return (map_panels.point_list(layer, near["rows"], f"{props.get('point_count', len(near['rows']))} "
                                      f"{map_panels.LAYER_NOUN[layer]} in this cluster", near["more"]), False, no_update,
                None)
    if props.get("stack", 1) > 1:
        rows = viewport.points_by_id(layer, filters, props.get("ids", []))
        return map_panels.point_list(layer, rows, f"{len(rows)} {map_panels.LAYER_NOUN[layer]} at one place"), \
            False, no_update, None
    rows = viewport.points_by_id(layer, filters, [props["id"]])
    if not rows:
        raise dash.exceptions.PreventUpdate
    return map_panels.point_details(layer, rows[0]), False, no_update, None


@callback(Output("map-details-body", "children", allow_duplicate=True),
          Output("map-details", "hidden", allow_duplicate=True),
          Output("districts", "hideout", allow_duplicate=True), Output("map-panel", "data", allow_duplicate=True),
          Input({"type": "dt-open", "district": ALL}, "n_clicks"),
          *[State(c.component_id, c.component_property) for c in FILTER_INPUTS],
          State("map-compare", "value"), State("districts", "hideout"), prevent_initial_call=True)
def open_from_table(clicks, *args):
    """A district's button in the table (mouse or keyboard) opens its panel, as a click on the map does."""
    *filter_args, compare, hideout = args
    if not isinstance(ctx.triggered_id, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
        raise dash.exceptions.PreventUpdate
    name = ctx.triggered_id["district"]
    filters, _ = map_filters(*filter_args)
    panel = district_panel.district_panel(name, filters)
    return (map_panels.district_details(panel, _on(compare), district_panel.MEASURES), False,
            {**(hideout or {}), "selected": name}, name)


@callback(Output("map-details-body", "children", allow_duplicate=True),
          Output("map-details", "hidden", allow_duplicate=True),
          *FILTER_INPUTS, Input("map-compare", "value"), Input("map-version", "data"), State("map-panel", "data"),
          prevent_initial_call=True)
def refresh_panel(*args):
    """An open district panel follows the dates and filters."""
    *filter_args, compare, _version, panel = args
    if not panel:
        raise dash.exceptions.PreventUpdate
    filters, _ = map_filters(*filter_args)
    return (map_panels.district_details(district_panel.district_panel(panel, filters), _on(compare),
                                        district_panel.MEASURES), False)
