"""The command map: point layers or density cells per viewport, districts, source dealers and flows.

The view (dates, filters, layers, centre, zoom) is read from the URL (`layout(**query)`) and written
back to it (dcc.Location, refresh=False: no reload). Callbacks never set the map's centre or zoom
except when the user asks (national / city view), so a data refresh never moves the map.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
import dash_leaflet as dl
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from dashboard.components import map_panels
from dashboard.components.map_sidebar import sidebar
from dashboard.components.map_state import POINT_LAYERS, parse_view, playback_frames, preset_range, view_query
from dashboard.components.mapkit import (
    ALERT_COLORS,
    BALTIMORE_CENTER,
    DENSITY_COLORS,
    FIREARM_COLORS,
    RECOVERY_COLORS,
    SHOOTING_COLORS,
    TTC_COLORS,
    basemap,
    js,
    outlines,
)
from dashboard.pages import map_areas, map_command, map_details, map_points  # noqa: F401 (callbacks: see the end)
from dashboard.pages.map_shared import CLUSTER_RADIUS_PX, EMPTY, _on, map_filters, register_callbacks
from layers import access, db, dealers_map, district_panel, districts, points

dash.register_page(__name__, capability="map", path="/", name="Map", title="Crime Gun Atlas — map", order=0)

US_BOUNDS = [[24.5, -125.0], [49.5, -66.9]]
POINT_HIDEOUT = {
    "alerts": {"layer": "alerts", "label": "ShotSpotter alert", "colors": {"kind": ALERT_COLORS},
               "clusterClass": "cluster-alerts"},
    "shootings": {"layer": "shootings", "label": "shooting / homicide", "colors": {"kind": SHOOTING_COLORS},
                  "clusterClass": "cluster-shootings"},
    "recoveries": {"layer": "recoveries", "label": "gun recovery", "colorBy": "source",
                   "colors": {"source": RECOVERY_COLORS, "ttc": TTC_COLORS, "kind": FIREARM_COLORS},
                   "clusterClass": "cluster-recoveries"},
}


def _empty_page() -> html.Div:
    return html.Div(html.Div("No data is loaded yet. Run `crimegun demo` for synthetic Baltimore, or load files "
                             "with `crimegun load FILE...`.", className="alert alert-info", role="status"),
                    className="p-4")


def layout(**query) -> html.Div:
    extent = points.data_extent()
    if extent is None:
        return _empty_page()
    first, last = extent
    view = parse_view(query, first, last)
    if not access.allowed("points"):  # the aggregate view: density cells, never points
        view["display"] = "cells"
        view["layers"] = [k for k in view["layers"] if k != "dealers"]
    kinds = districts.boundary_kinds()
    if view["boundary"] not in kinds:
        view["boundary"] = "district"
    outline = districts.boundaries_geojson("district", dt.date.fromisoformat(str(view["start"])[:10]),
                                           dt.date.fromisoformat(str(view["end"])[:10]))
    bounds = districts.city_bounds()
    # A bookmarked view opens where it was; otherwise the city is fitted to the screen, whatever its size
    # (dash-leaflet needs a centre and zoom too; `viewport` fits the bounds once the map exists).
    map_view: dict[str, Any] = {"center": view["center"] or BALTIMORE_CENTER, "zoom": view["zoom"] or 12}
    if not view["center"] and bounds:
        map_view["viewport"] = {"bounds": bounds}
    point_layers = []
    for key in POINT_LAYERS:
        point_layers += [
            dl.GeoJSON(id=f"cells-{key}", data=EMPTY, style=js("cellStyle"), onEachFeature=js("cellTooltip"),
                       hideout={"breaks": [], "colors": DENSITY_COLORS}),
            dl.GeoJSON(id=f"pts-{key}", data=EMPTY, cluster=True, zoomToBoundsOnClick=False,
                       superClusterOptions={"radius": CLUSTER_RADIUS_PX, "maxZoom": 16},
                       pointToLayer=js("pointMarker"), clusterToLayer=js("clusterIcon"), hideout=POINT_HIDEOUT[key]),
        ]
    the_map = dl.Map([
        *basemap(),
        dl.GeoJSON(id="flows", data=EMPTY, style=js("flowStyle"), onEachFeature=js("flowTooltip"),
                   hideout={"colors": RECOVERY_COLORS, "maxGuns": 1}),
        dl.GeoJSON(id="flow-labels", data=EMPTY, pointToLayer=js("flowLabel"), interactive=False),
        *outlines(outline, "districts"),
        *point_layers,
        dl.GeoJSON(id="dealers", data=EMPTY, pointToLayer=js("dealerMarker"),
                   hideout={"colors": RECOVERY_COLORS, "maxGuns": 1}),
        dl.ScaleControl(position="bottomleft"),
    ], id="map", style={"height": "100%"}, keyboard=True, **map_view)
    # A slot per writer (the playback label, each point layer's callback), each holding at most one note.
    status = html.Div([html.Div(id=f"map-status-{slot}", className="status-slot") for slot in ("play", *POINT_LAYERS)],
                      id="map-status", className="map-status", role="status", **{"aria-live": "polite"})
    panel_name = view["panel"] if view["panel"] in districts.district_names() else None
    panel_body = None
    if panel_name:  # a bookmarked or shared view reopens its district panel
        filters, _ = map_filters(view["start"], view["end"], view["districts"], view["alert_types"],
                                 view["firearm_types"], view["ttc_bands"], view["source_states"],
                                 ["on"] if view["out_of_state_only"] else [], None, view["step"], [])
        panel_body = map_panels.district_details(district_panel.district_panel(panel_name, filters), view["compare"],
                                                 district_panel.MEASURES)
    details = html.Aside([html.Button("×", id="map-details-close", n_clicks=0, type="button",
                                      className="btn-close-panel", **{"aria-label": "Close details"}),
                          html.Div(panel_body, id="map-details-body", **{"aria-live": "polite"})],
                         id="map-details", className="map-details", hidden=panel_body is None,
                         **{"aria-label": "Details"})
    command = html.Section([
        html.Div([html.H2("Districts", className="command-title", id="command-title"),
                  html.Button("District briefing (PDF)", id="map-briefing", n_clicks=0, type="button",
                              className="btn btn-sm btn-outline-primary",
                              title="One printable page per district (the districts chosen under Filters, or all)"),
                  html.Span(id="map-briefing-status", className="side-note", role="status"),
                  dcc.Download(id="map-briefing-download")], className="command-head"),
        # Both panes scroll on their own: each is a named region that takes focus, so the keyboard scrolls it.
        html.Div([html.Div(id="command-table", className="command-table", tabIndex=0, role="region",
                           **{"aria-label": "District table"}),
                  html.Div([html.H2("Where the guns came from", className="command-title", id="sources-title"),
                            html.Div(id="source-ranking")], className="command-sources", id="command-sources",
                           tabIndex=0, role="region", **{"aria-labelledby": "sources-title"})],
                 className="command-body"),
    ], className="command-view", id="command-view", **{"aria-labelledby": "command-title"})
    return html.Div([
        dcc.Location(id="map-url", refresh=False),
        dcc.Store(id="map-panel", data=panel_name),
        dcc.Store(id="map-sort", data=view["sort"]),
        dcc.Store(id="map-frame", data=None),
        dcc.Store(id="map-viewport", data=None),
        dcc.Store(id="map-moved", data=None),
        *[dcc.Store(id=f"pts-packed-{k}", data=None) for k in POINT_LAYERS],
        dcc.Store(id="map-last", data=last.isoformat()),
        dcc.Store(id="map-version", data=db.data_version()),
        dcc.Interval(id="map-play-tick", interval=1200, disabled=True),
        sidebar(view, first, last, districts.district_names(), dealers_map.source_states(),
                districts.any_approximate(), kinds),
        html.Div([html.Div([the_map, status, details], className="map-wrap"), command], className="map-main"),
    ], className="map-page")


@callback(Output("map-dates", "start_date"), Output("map-dates", "end_date"),
          Input({"type": "map-preset", "preset": ALL}, "n_clicks"), State("map-last", "data"),
          State("map-dates", "min_date_allowed"), prevent_initial_call=True)
def apply_preset(_clicks, last, first):
    if not ctx.triggered_id or not any(_clicks):
        raise dash.exceptions.PreventUpdate
    start, end = preset_range(ctx.triggered_id["preset"], dt.date.fromisoformat(last),
                              dt.date.fromisoformat(str(first)[:10]) if first else None)
    return start.isoformat(), end.isoformat()


@callback(Output("map-frame", "data"), Output("map-play-tick", "disabled"), Output("map-play", "children"),
          Output("map-play", "aria-pressed"),
          Input("map-play", "n_clicks"), Input("map-play-tick", "n_intervals"), Input("map-back", "n_clicks"),
          Input("map-fwd", "n_clicks"), Input("map-stop", "n_clicks"), Input("map-dates", "start_date"),
          Input("map-dates", "end_date"), Input("map-step", "value"),
          State("map-frame", "data"), State("map-play-tick", "disabled"), prevent_initial_call=True)
def playback(_play, _tick, _back, _fwd, _stop, start_date, end_date, step, frame, paused):
    """Play / pause / step through the date range; changing the dates or step stops playback."""
    trigger = ctx.triggered_id
    if trigger in ("map-stop", "map-dates", "map-step") or not start_date or not end_date:
        return None, True, "▶ Play", "false"
    n = len(playback_frames(dt.date.fromisoformat(start_date[:10]), dt.date.fromisoformat(end_date[:10]),
                            step or "week"))
    if trigger == "map-play":
        if not paused:
            return frame, True, "▶ Play", "false"
        start_at = 0 if frame is None or frame >= n - 1 else frame
        return start_at, False, "❚❚ Pause", "true"
    if trigger == "map-play-tick":
        if frame is None or frame >= n - 1:
            return frame, True, "▶ Play", "false"
        return frame + 1, False, "❚❚ Pause", "true"
    current = -1 if frame is None else frame
    new = max(0, current - 1) if trigger == "map-back" else min(n - 1, current + 1)
    return new, True, "▶ Play", "false"


@callback(Output("map-version", "data"), Input("shell-version", "data"), State("map-version", "data"),
          prevent_initial_call=True)
def follow_data_version(version, known):
    """The shell checks the data version for every page; layers re-query only when a load finished (the
    view stays put)."""
    if version is None or version == known:
        raise dash.exceptions.PreventUpdate
    return version


@callback(Output("map", "viewport"), Input("map-national", "n_clicks"), Input("map-city", "n_clicks"),
          prevent_initial_call=True)
def jump(_national, _city):
    """Only an explicit user request moves the map."""
    if ctx.triggered_id == "map-national":
        return {"bounds": US_BOUNDS, "transition": "flyToBounds"}
    return {"bounds": districts.city_bounds(), "transition": "flyToBounds"}


@callback(Output("map-url", "search"),
          Input("map-dates", "start_date"), Input("map-dates", "end_date"), Input("map-district", "value"),
          Input("map-alert-types", "value"), Input("map-firearm-types", "value"), Input("map-ttc", "value"),
          Input("map-source-states", "value"), Input("map-oos", "value"), Input("map-layers", "value"),
          Input("map-display", "value"), Input("map-compare", "value"), Input("map-measure", "value"),
          Input("map-rate", "value"), Input("map-step", "value"), Input("map-cumulative", "value"),
          Input("map-density-layer", "value"), Input("map-boundary", "value"), Input("map-moved", "data"),
          Input("map-panel", "data"), Input("map-sort", "data"), prevent_initial_call=True)
def write_url(start, end, district, alert_types, ftypes, ttc, states, oos, layers_on, display, compare, measure,
              rate, step, cumulative, density_layer, boundary, moved, panel, sort):
    """The whole view in the query string, so the address bar is always a bookmark of what is on screen.
    The map's position comes settled (`map-moved`): opening the map fits the city in two steps, which
    used to write the address twice."""
    if not start or not end:
        raise dash.exceptions.PreventUpdate
    center, zoom = (moved or {}).get("center"), (moved or {}).get("zoom")
    if isinstance(center, dict):
        center = [center.get("lat"), center.get("lng")]
    view = {"start": start[:10], "end": end[:10], "districts": district or [], "alert_types": alert_types or [],
            "firearm_types": ftypes or [], "ttc_bands": ttc or [], "source_states": states or [],
            "out_of_state_only": _on(oos), "layers": layers_on or [], "display": display, "compare": _on(compare),
            "measure": measure, "rate": _on(rate), "step": step, "cumulative": _on(cumulative),
            "density_layer": density_layer, "boundary": boundary or "district",
            "center": center if center and None not in center else None, "zoom": zoom,
            "panel": panel, "sort": sort or "district"}
    return view_query(view)


# Dash runs this module afresh for each app it builds, the panel modules beside it once per process: each app
# gets their callbacks from here.
register_callbacks()
