"""The map's point layers: for the viewport the map reports, points or density cells of each layer, their
counts and notes, and the recoveries' colouring."""

from __future__ import annotations

import math

import dash
from dash import ClientsideFunction, Input, Output, State, html

from dashboard.components import map_panels
from dashboard.components.map_sidebar import LAYER_LABELS, recovery_legend
from dashboard.components.map_state import POINT_LAYERS, meters_per_pixel
from dashboard.components.mapkit import DENSITY_COLORS, legend
from dashboard.pages.map_shared import EMPTY, FILTER_INPUTS, _on, callback, clientside_callback, map_filters
from layers import access, density, viewport


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


@callback(Output("map-play-label", "children"), Output("map-status-play", "children"),
          Output("map-summary-dates", "children"), *FILTER_INPUTS)
def update_play_label(*filter_args):
    """The dates shown (and the playback frame's label): from the filters alone, so panning leaves them be."""
    filters, play_label = map_filters(*filter_args)
    note = html.Div(play_label, className="status-info", id="status-play") if play_label else None
    return play_label, note, f"Dates: {filters.start:%d %b %Y} – {filters.end:%d %b %Y}."


def _layer_callback(key: str) -> None:
    """One callback per point layer: the three layers are answered side by side (one request each, on the
    server's threads) and each is drawn as soon as it arrives, instead of all waiting for the slowest."""

    @callback(Output(f"pts-packed-{key}", "data"), Output(f"cells-{key}", "data"), Output(f"cells-{key}", "hideout"),
              Output(f"inview-{key}", "children"), Output(f"map-status-{key}", "children"),
              Output(f"map-summary-{key}", "children"), Output(f"map-summary-{key}", "hidden"),
              Output(f"density-legend-{key}", "children"),
              Input("map-viewport", "data"), *FILTER_INPUTS, Input("map-layers", "value"),
              Input("map-display", "value"), Input("map-density-layer", "value"), Input("map-version", "data"),
              State("map", "center"))
    def update_layer(viewport_state, *args):
        return point_layer(key, viewport_state, *args)


def point_layer(key: str, viewport_state, *args) -> tuple:
    """One viewport update of one layer: its points or cells for the box and zoom, its line in the layer list,
    its note on the map, its line in the text summary and, when it is the density layer, the cells' legend.

    Only the chosen density layer is drawn as cells (overlapping cell grids would be unreadable); another
    layer with too many points in view is left out with a note to zoom in."""
    *filter_args, layers_on, display, density_layer, _version, center = args
    bounds, zoom = (viewport_state or {}).get("bounds"), (viewport_state or {}).get("zoom")
    filters, _ = map_filters(*filter_args)
    aggregate_only = not access.allowed("points")
    if aggregate_only:
        display = "cells"
    bbox = _bbox(bounds, center, zoom)
    if bbox is None:
        raise dash.exceptions.PreventUpdate
    no_breaks = {"breaks": [], "colors": DENSITY_COLORS}
    if key not in (layers_on or []):
        return None, EMPTY, no_breaks, map_panels.in_view_line(None), None, None, True, None
    mode = "cells" if display == "cells" and key == density_layer else "auto"
    r = viewport.layer_in_view(key, filters, bbox, float(zoom or 12), mode=mode, packed=True)
    label = LAYER_LABELS[key]
    drawn_cells = r["mode"] == "cells" and key == density_layer
    breaks = density.class_breaks([f["properties"]["n"] for f in r["geojson"]["features"]]) if drawn_cells else []
    in_view = (map_panels.in_view_line(r) if not (r["mode"] == "cells" and not drawn_cells)
               else f"in view: {r['shown']:,} — too many to draw here; zoom in")
    density_legend = note = summary = None
    if drawn_cells:
        lows = [1] + [b + 1 for b in breaks[:-1]]
        density_legend = legend(f"Density: {label.lower()} per ~{r['cell_size_m']:,} m cell",
                                {(f"{lo:,}–{hi:,}" if hi > lo else f"{hi:,}"): DENSITY_COLORS[i]
                                 for i, (lo, hi) in enumerate(zip(lows, breaks, strict=True))}, "square")
    ranges = ", ".join(f"≤{b:,}" for b in breaks)
    if r["mode"] == "cells" and not drawn_cells and aggregate_only:
        summary = html.Span(f"{label}: not drawn; choose it under Density to see its cells.", id=f"hidden-note-{key}")
    elif r["mode"] == "cells" and not drawn_cells:
        note = html.Div(f"{label}: {r['shown']:,} in view, too many to draw as points — zoom in, or choose it for "
                        "the density cells", className="status-info", id=f"hidden-note-{key}")
        summary = f"{label}: {r['shown']:,} in view, not drawn at this zoom."
    elif r["truncated"]:
        about = "about " if r.get("total_approx") else ""
        note = html.Div(f"{label}: showing the newest {r['shown']:,} of {about}{r['total']:,} in view — zoom in to "
                        "see all", className="status-warn", id=f"cap-{key}")
    elif r["mode"] == "cells" and aggregate_only:
        note = html.Div(f"{label} counted in ~{r['cell_size_m']:,} m cells, the finest this view shows; cells with "
                        f"fewer than {access.small_count_threshold()} are not shown. Pick the layer under “Density "
                        "cells”.", className="status-info", id=f"cells-note-{key}")
        summary = (f"{label}: {r['shown']:,} in view in cells of ~{r['cell_size_m']:,} m; colour classes {ranges} "
                   "(light to dark).")
    elif r["mode"] == "cells":
        note = html.Div(f"{label}: density cells (~{r['cell_size_m']:,} m); zoom in to see points",
                        className="status-info", id=f"cells-note-{key}")
        summary = (f"{label}: {r['shown']:,} in view, counted in {r['places']:,} cells of ~{r['cell_size_m']:,} m; "
                   f"busiest cell {r['max_cell']:,}; colour classes {ranges} (light to dark).")
    else:
        summary = (f"{label}: {r['shown']:,} in view at {r['places']:,} places (a number on a marker = several at "
                   "one place).")
    return (r["packed"] if r["mode"] == "points" else None, r["geojson"] if drawn_cells else EMPTY,
            {"breaks": breaks, "colors": DENSITY_COLORS}, in_view, note, summary, summary is None, density_legend)


for _key in POINT_LAYERS:
    _layer_callback(_key)


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
