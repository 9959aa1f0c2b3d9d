"""Map building blocks: a basemap that works offline, outlines with labels, point layers, legends."""

from __future__ import annotations

import dash_leaflet as dl
from dash import html

from layers import settings

BALTIMORE_CENTER = (39.2904, -76.6122)

# Colour + shape pairs: never colour alone (the legend also names each).
RECOVERY_COLORS = {"in_state": "#2b6cb0", "out_of_state": "#c05621", "unknown": "#718096"}
ALERT_COLORS = {"SINGLE_GUNSHOT": "#d69e2e", "MULTIPLE_GUNSHOTS": "#c53030", "PROBABLE_GUNFIRE": "#805ad5"}
SHOOTING_COLORS = {"shooting": "#e53e3e", "homicide": "#1a202c"}
TTC_COLORS = {"under 1 year": "#c53030", "1–3 years": "#dd6b20", "over 3 years": "#3182ce", "unknown": "#a0aec0"}
FIREARM_COLORS = {"PISTOL": "#2c5282", "REVOLVER": "#2f855a", "RIFLE": "#9c4221", "SHOTGUN": "#6b46c1",
                  "DERRINGER": "#b7791f", "MACHINE GUN": "#000000", "OTHER": "#718096"}
# Sequential classes (ColorBrewer YlOrRd / Purples, 5 classes), light = few, dark = many.
DENSITY_COLORS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
CHOROPLETH_COLORS = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"]


def js(name: str) -> dict:
    """A function defined in assets/js/atlas.js, by name, for dash-leaflet function props."""
    return {"variable": f"atlas.{name}"}


def basemap() -> list:
    """The configured tile layer; without one, US state outlines shipped in assets/geo, so that
    national views (dealers, flows, a gun's path) still show where things are."""
    url = settings.get("CGA_TILE_URL")
    if not url:
        # Its own pane under the overlays: it loads last (by URL) and must not cover what is drawn.
        return [dl.Pane(dl.GeoJSON(url="/assets/geo/us_states.geojson", interactive=False,
                                   style={"color": "#a0aec0", "weight": 1, "fillColor": "#f7fafc",
                                          "fillOpacity": 1},
                                   # 1:10M outlines are kilometres off at street level: hide them there.
                                   onEachFeature=js("stateFeature")),
                        name="base-states", style={"zIndex": 250})]
    return [dl.TileLayer(url=url, attribution=settings.get("CGA_TILE_ATTRIBUTION") or None, opacity=0.7)]


def outlines(geojson: dict, layer_id: str, label: bool = True) -> list:
    """District (or other boundary) outlines plus a permanent label at each polygon's label point."""
    layers = [dl.GeoJSON(data=geojson, id=layer_id, style=js("outlineStyle"),
                         onEachFeature=js("outlineTooltip"))]
    if label:
        labels = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": f["properties"]["name"]},
             "geometry": {"type": "Point", "coordinates": [f["properties"]["label_lon"], f["properties"]["label_lat"]]}}
            for f in geojson["features"]]}
        layers.append(dl.GeoJSON(data=labels, id=f"{layer_id}-labels", pointToLayer=js("labelMarker"),
                                 interactive=False))
    return layers


def legend(title: str, entries: dict[str, str], shape: str = "dot", id: str | None = None) -> html.Div:
    extra = {"id": id} if id else {}
    return html.Div([
        html.Div(title, className="legend-title"),
        *[html.Div([html.Span(className=f"legend-swatch legend-{shape}", style={"backgroundColor": color}),
                    html.Span(label)], className="legend-row") for label, color in entries.items()],
    ], className="legend-block", **extra)
