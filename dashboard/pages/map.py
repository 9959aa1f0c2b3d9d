"""The command map: district outlines, gun recoveries and ShotSpotter alerts for a date range."""

from __future__ import annotations

import datetime as dt

import dash
import dash_leaflet as dl
from dash import Input, Output, callback, dcc, html

from dashboard.components.mapkit import (
    ALERT_COLORS,
    BALTIMORE_CENTER,
    RECOVERY_COLORS,
    basemap,
    js,
    legend,
    outlines,
)
from layers import districts, points

dash.register_page(__name__, path="/", name="Map", title="Crime Gun Atlas — map")

RECOVERY_LEGEND = {"First sold in Maryland": RECOVERY_COLORS["in_state"],
                   "First sold out of state": RECOVERY_COLORS["out_of_state"],
                   "Source unknown": RECOVERY_COLORS["unknown"]}
ALERT_LEGEND = {"Single gunshot": ALERT_COLORS["SINGLE_GUNSHOT"],
                "Multiple gunshots": ALERT_COLORS["MULTIPLE_GUNSHOTS"],
                "Gunshot or firecracker": ALERT_COLORS["PROBABLE_GUNFIRE"]}


def _empty_page() -> html.Div:
    return html.Div(dbc_alert("No data is loaded yet. Run `crimegun demo` for synthetic Baltimore, or load "
                              "files with `crimegun load FILE...`."), className="p-4")


def dbc_alert(text: str) -> html.Div:
    return html.Div(text, className="alert alert-info", role="status")


def layout(**_query) -> html.Div:
    extent = points.data_extent()
    if extent is None:
        return _empty_page()
    first, last = extent
    start = max(first, last - dt.timedelta(days=364))
    outline = districts.boundaries_geojson("district")
    bounds = districts.city_bounds()
    approximate = districts.any_approximate()
    side = html.Div([
        html.H1("District map", className="side-title"),
        html.P("Gun recoveries and ShotSpotter alerts for the chosen dates.", className="side-note"),
        html.Div("District boundaries shown are approximate (demo geography), not official.",
                 className="notice", id="approximate-notice") if approximate else None,
        html.Label("Dates", htmlFor="map-dates", className="form-label mt-2 mb-1 fw-semibold"),
        dcc.DatePickerRange(id="map-dates", min_date_allowed=first, max_date_allowed=last, start_date=start,
                            end_date=last, display_format="YYYY-MM-DD", first_day_of_week=1),
        html.Div([
            html.Div([html.Span("Gun recoveries: ", className="fw-semibold"),
                      html.Span(id="count-recoveries", className="layer-count")]),
            html.Div([html.Span("ShotSpotter alerts: ", className="fw-semibold"),
                      html.Span(id="count-alerts", className="layer-count")]),
        ], className="mt-3", **{"aria-live": "polite"}),
        legend("Gun recoveries (circles)", RECOVERY_LEGEND, "dot"),
        legend("ShotSpotter alerts (squares)", ALERT_LEGEND, "square"),
        html.P("Use the layer control on the map to show or hide each layer.", className="side-note"),
    ], className="map-side")
    the_map = dl.Map(
        [
            *basemap(),
            dl.LayersControl([
                dl.Overlay(dl.LayerGroup(outlines(outline, "districts")), name="Police districts", checked=True),
                dl.Overlay(dl.GeoJSON(id="recoveries", cluster=True, zoomToBoundsOnClick=True,
                                      superClusterOptions={"radius": 50, "maxZoom": 16},
                                      pointToLayer=js("recoveryMarker"), clusterToLayer=js("clusterIcon"),
                                      hideout={"colors": RECOVERY_COLORS, "clusterClass": "cluster-recoveries"}),
                           name="Gun recoveries", checked=True),
                dl.Overlay(dl.GeoJSON(id="alerts", cluster=True, zoomToBoundsOnClick=True,
                                      superClusterOptions={"radius": 50, "maxZoom": 16},
                                      pointToLayer=js("alertMarker"), clusterToLayer=js("clusterIcon"),
                                      hideout={"colors": ALERT_COLORS, "clusterClass": "cluster-alerts"}),
                           name="ShotSpotter alerts", checked=True),
            ], id="layers-control", collapsed=False, position="topright"),
            dl.ScaleControl(position="bottomleft"),
        ],
        id="map", center=BALTIMORE_CENTER, zoom=12, bounds=bounds, style={"height": "100%"},
    )
    return html.Div([side, html.Div(the_map, className="map-wrap")], className="map-page")


def _count_text(result: dict) -> str:
    if result["truncated"]:
        return f"{result['count']:,} most recent of {result['total']:,} — narrow the dates to see all"
    return f"{result['total']:,}"


@callback(
    Output("recoveries", "data"), Output("count-recoveries", "children"),
    Output("alerts", "data"), Output("count-alerts", "children"),
    Input("map-dates", "start_date"), Input("map-dates", "end_date"),
)
def show_dates(start_date: str | None, end_date: str | None):
    if not start_date or not end_date:
        raise dash.exceptions.PreventUpdate
    start, end = dt.date.fromisoformat(start_date[:10]), dt.date.fromisoformat(end_date[:10])
    rec = points.recoveries(start, end)
    alerts = points.shot_alerts(start, end)
    return rec["geojson"], _count_text(rec), alerts["geojson"], _count_text(alerts)
