"""The command map: point layers or density cells per viewport, districts, source dealers and flows.

The view (dates, filters, layers, centre, zoom) is read from the URL (`layout(**query)`) and written
back to it (dcc.Location, refresh=False: no reload). Callbacks never set the map's centre or zoom
except when the user asks (national / city view), so a data refresh never moves the map.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import dash
import dash_leaflet as dl
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from dashboard.components import map_panels
from dashboard.components.map_sidebar import LAYER_LABELS, recovery_legend, sidebar
from dashboard.components.map_state import (
    BOUNDARY_LABELS,
    POINT_LAYERS,
    meters_per_pixel,
    parse_view,
    playback_frames,
    playback_window,
    preset_range,
    view_query,
)
from dashboard.components.mapkit import (
    ALERT_COLORS,
    BALTIMORE_CENTER,
    CHOROPLETH_COLORS,
    DENSITY_COLORS,
    FIREARM_COLORS,
    RECOVERY_COLORS,
    SHOOTING_COLORS,
    TTC_COLORS,
    basemap,
    js,
    legend,
    outlines,
)
from layers import access, db, dealers_map, density, district_panel, districts, points, viewport
from layers.map_filters import MapFilters

dash.register_page(__name__, capability="map", path="/", name="Map", title="Crime Gun Atlas — map", order=0)

CLUSTER_RADIUS_PX = 70
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
EMPTY = {"type": "FeatureCollection", "features": []}
FILTER_INPUTS = [Input("map-dates", "start_date"), Input("map-dates", "end_date"), Input("map-district", "value"),
                 Input("map-alert-types", "value"), Input("map-firearm-types", "value"), Input("map-ttc", "value"),
                 Input("map-source-states", "value"), Input("map-oos", "value"), Input("map-frame", "data"),
                 Input("map-step", "value"), Input("map-cumulative", "value")]


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
    status = html.Div(id="map-status", className="map-status", role="status", **{"aria-live": "polite"})
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


def _on(value: list | None) -> bool:
    return bool(value and "on" in value)


def map_filters(start_date, end_date, district, alert_types, firearm_types, ttc, states, oos, frame, step,
                cumulative) -> tuple[MapFilters, str]:
    """The filters the controls describe, narrowed to the playback frame when playing; and its label."""
    if not start_date or not end_date:
        raise dash.exceptions.PreventUpdate
    start, end = dt.date.fromisoformat(start_date[:10]), dt.date.fromisoformat(end_date[:10])
    if start > end:
        start, end = end, start
    shown_start, shown_end, label = playback_window(start, end, step or "week", frame, _on(cumulative))
    return MapFilters(start=shown_start, end=shown_end, districts=tuple(district or ()),
                      alert_types=tuple(alert_types or ()), firearm_types=tuple(firearm_types or ()),
                      ttc_bands=tuple(ttc or ()), source_states=tuple(states or ()),
                      out_of_state_only=_on(oos)), label


def _bbox(bounds, center=None, zoom=None) -> tuple[float, float, float, float] | None:
    """The viewport box; before the map has reported its bounds (a view opened from a URL with centre
    and zoom), a box around the centre big enough for a large screen."""
    try:
        (s, w), (n, e) = bounds
        return float(w), float(s), float(e), float(n)
    except (TypeError, ValueError):
        pass
    if isinstance(center, dict):
        center = [center.get("lat"), center.get("lng")]
    if not center or zoom is None or None in center:
        return None
    lat, lon = float(center[0]), float(center[1])
    half_w = 1000 * meters_per_pixel(float(zoom), lat) / (111_320.0 * math.cos(math.radians(lat)))
    half_h = 600 * meters_per_pixel(float(zoom), lat) / 110_574.0
    return lon - half_w, lat - half_h, lon + half_w, lat + half_h


clientside_callback(ClientsideFunction("atlasMap", "viewport"), Output("map-viewport", "data"),
                    Input("map", "bounds"), Input("map", "zoom"), State("map", "center"), State("map-viewport", "data"))
clientside_callback(ClientsideFunction("atlasMap", "settled"), Output("map-moved", "data"),
                    Input("map", "center"), Input("map", "zoom"))
# The points arrive packed as columns (a fifth of the GeoJSON's bytes); the browser unpacks them for the layers.
clientside_callback(ClientsideFunction("atlasPoints", "unpack"), *[Output(f"pts-{k}", "data") for k in POINT_LAYERS],
                    *[Input(f"pts-packed-{k}", "data") for k in POINT_LAYERS])


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


@callback(*[Output(f"count-{k}", "children") for k in POINT_LAYERS],
          *FILTER_INPUTS, Input("map-layers", "value"), Input("map-compare", "value"), Input("map-version", "data"))
def update_counts(*args):
    """Each layer's count for the dates and filters (city-wide), and the same a year earlier.
    Not tied to the viewport, so panning does not re-count."""
    *filter_args, layers_on, compare, _version = args
    filters, _ = map_filters(*filter_args)
    totals = viewport.layer_totals(filters)
    before = viewport.layer_totals(filters.shifted_years(-1)) if _on(compare) else {}
    return tuple(map_panels.count_line(totals[k], before.get(k) if _on(compare) else None, k in (layers_on or []))
                 for k in POINT_LAYERS)


@callback(
    *[Output(f"pts-packed-{k}", "data") for k in POINT_LAYERS], *[Output(f"cells-{k}", "data") for k in POINT_LAYERS],
    *[Output(f"cells-{k}", "hideout") for k in POINT_LAYERS], *[Output(f"inview-{k}", "children") for k in POINT_LAYERS],
    Output("map-status", "children"), Output("map-play-label", "children"), Output("map-summary", "children"),
    Output("density-legend", "children"),
    Input("map-viewport", "data"), *FILTER_INPUTS, Input("map-layers", "value"),
    Input("map-display", "value"), Input("map-density-layer", "value"), Input("map-version", "data"),
    State("map", "center"),
)
def update_point_layers(viewport_state, *args):
    """One viewport update: for each visible point layer, points or cells for the box and zoom.

    Only the chosen density layer is drawn as cells (overlapping cell grids would be unreadable); another
    layer with too many points in view is left out with a note to zoom in."""
    *filter_args, layers_on, display, density_layer, _version, center = args
    bounds, zoom = (viewport_state or {}).get("bounds"), (viewport_state or {}).get("zoom")
    filters, play_label = map_filters(*filter_args)
    aggregate_only = not access.allowed("points")
    if aggregate_only:
        display = "cells"
    bbox = _bbox(bounds, center, zoom)
    if bbox is None:
        raise dash.exceptions.PreventUpdate
    zoom = float(zoom or 12)
    results: dict[str, dict | None] = {}
    for key in POINT_LAYERS:
        mode = "cells" if display == "cells" and key == density_layer else "auto"
        results[key] = (viewport.layer_in_view(key, filters, bbox, zoom, mode=mode, packed=True)
                        if key in (layers_on or []) else None)
    pts, cells, hideouts, in_view, notes, summary = [], [], [], [], [], []
    density_legend = None
    for key in POINT_LAYERS:
        r = results[key]
        drawn_cells = bool(r and r["mode"] == "cells" and key == density_layer)
        pts.append(r["packed"] if r and r["mode"] == "points" else None)
        cells.append(r["geojson"] if drawn_cells else EMPTY)
        breaks = density.class_breaks([f["properties"]["n"] for f in r["geojson"]["features"]]) if drawn_cells else []
        hideouts.append({"breaks": breaks, "colors": DENSITY_COLORS})
        in_view.append(map_panels.in_view_line(r) if not (r and r["mode"] == "cells" and not drawn_cells)
                       else f"in view: {r['shown']:,} — too many to draw here; zoom in")
        if drawn_cells:
            lows = [1] + [b + 1 for b in breaks[:-1]]
            density_legend = legend(f"Density: {LAYER_LABELS[key].lower()} per ~{r['cell_size_m']:,} m cell",
                                    {(f"{lo:,}–{hi:,}" if hi > lo else f"{hi:,}"): DENSITY_COLORS[i]
                                     for i, (lo, hi) in enumerate(zip(lows, breaks, strict=True))}, "square")
        if r and r["mode"] == "cells" and not drawn_cells and aggregate_only:
            summary.append(html.Li(f"{LAYER_LABELS[key]}: not drawn; choose it under Density to see its cells.",
                                   id=f"hidden-note-{key}"))
        elif r and r["mode"] == "cells" and not drawn_cells:
            notes.append(html.Div(f"{LAYER_LABELS[key]}: {r['shown']:,} in view, too many to draw as points — "
                                  "zoom in, or choose it for the density cells", className="status-info",
                                  id=f"hidden-note-{key}"))
            summary.append(html.Li(f"{LAYER_LABELS[key]}: {r['shown']:,} in view, not drawn at this zoom."))
        elif r and r["truncated"]:
            about = "about " if r.get("total_approx") else ""
            notes.append(html.Div(f"{LAYER_LABELS[key]}: showing the newest {r['shown']:,} of {about}{r['total']:,} "
                                  "in view — zoom in to see all", className="status-warn", id=f"cap-{key}"))
        elif r and r["mode"] == "cells" and aggregate_only:
            ranges = ", ".join(f"≤{b:,}" for b in breaks)
            notes.append(html.Div(f"{LAYER_LABELS[key]} counted in ~{r['cell_size_m']:,} m cells, the finest this "
                                  f"view shows; cells with fewer than {access.small_count_threshold()} are not "
                                  "shown. Pick the layer under “Density cells”.", className="status-info",
                                  id=f"cells-note-{key}"))
            summary.append(html.Li(f"{LAYER_LABELS[key]}: {r['shown']:,} in view in cells of ~{r['cell_size_m']:,} m; "
                                   f"colour classes {ranges} (light to dark)."))
        elif r and r["mode"] == "cells":
            ranges = ", ".join(f"≤{b:,}" for b in breaks)
            notes.append(html.Div(f"{LAYER_LABELS[key]}: density cells (~{r['cell_size_m']:,} m); "
                                  "zoom in to see points", className="status-info", id=f"cells-note-{key}"))
            summary.append(html.Li(f"{LAYER_LABELS[key]}: {r['shown']:,} in view, counted in {r['places']:,} cells of "
                                   f"~{r['cell_size_m']:,} m; busiest cell {r['max_cell']:,}; colour classes {ranges} "
                                   "(light to dark)."))
        elif r:
            summary.append(html.Li(f"{LAYER_LABELS[key]}: {r['shown']:,} in view at {r['places']:,} places "
                                   "(a number on a marker = several at one place)."))
    if play_label:
        notes.insert(0, html.Div(play_label, className="status-info", id="status-play"))
    summary.insert(0, html.Li(f"Dates: {filters.start:%d %b %Y} – {filters.end:%d %b %Y}."))
    return (*pts, *cells, *hideouts, *in_view, notes, play_label, html.Ul(summary, className="mb-1"), density_legend)


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


@callback(*[Output(f"pts-{k}", "hideout") for k in POINT_LAYERS], Output("legend-recoveries", "children"),
          Input("map-color-by", "value"), *[State(f"pts-{k}", "hideout") for k in POINT_LAYERS])
def recolour(color_by, *hideouts):
    """Restyle recoveries in the browser (hideout) without sending them again."""
    if not all(isinstance(h, dict) for h in hideouts):
        raise dash.exceptions.PreventUpdate
    color_by = color_by if color_by in ("source", "ttc", "kind") else "source"
    out = [dict(h) for h in hideouts]
    out[POINT_LAYERS.index("recoveries")]["colorBy"] = color_by
    return (*out, recovery_legend(color_by))


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
