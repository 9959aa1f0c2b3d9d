"""The firearm journey: timeline, map of the path, summary and trafficking indicators."""

from __future__ import annotations

import math
from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from dashboard.components.investigate import RESTRICTED, dl_table, person_text
from dashboard.components.mapkit import basemap, outlines

STEP_COLORS = {"dealer": "#c05621", "recovery": "#2b6cb0", "incident": "#c53030"}
STATUS_TEXT = {"strong": "Strong signal", "flag": "Signal", "clear": "Not present", "unknown": "Unknown"}


def _source(src: dict[str, Any]) -> html.Span:
    parts = []
    if src.get("trace_number"):
        parts.append(f"trace {src['trace_number']}")
    if src.get("case_number"):
        parts.append(f"case {src['case_number']}")
    if src.get("cc_number"):
        parts.append(f"CCNumber {src['cc_number']}")
    if src.get("lead_id"):
        parts.append(f"NIBIN {src['lead_id']}")
    if src.get("alert_id"):
        parts.append(f"alert {src['alert_id']}")
    return html.Span("Source: " + (", ".join(parts) or "—"), className="inv-source")


def _step_body(s: dict[str, Any]) -> list:
    k = s["kind"]
    if k == "sale":
        d = s["dealer"] or {}
        dealer = (dcc.Link(d["name"], href=f"/dealer/{d['id']}") if d.get("id") else d.get("name")) or "unknown dealer"
        where = ", ".join(x for x in (d.get("city"), d.get("state")) if x)
        return [html.Div(["Sold by ", dealer, f" in {where}" if where else "",
                          f" (licence {d['license']})" if d.get("license") else ""]),
                html.Div(["Purchaser: ", person_text(s["purchaser"]),
                          f" — {s['purchaser_place']}" if s.get("purchaser_place") else ""]),
                html.Div("Part of a multiple sale (ATF F 3310.4)" if s["multiple_sale"] else
                         "Not a reported multiple sale" if s["multiple_sale"] is False else "Multiple sale: unknown")]
    if k == "recovery":
        where = ", ".join(x for x in (s.get("street"), (s.get("district") or "").title() + " District"
                                      if s.get("district") else None, s.get("city")) if x)
        rel = ("the purchaser" if s["possessor_is_purchaser"] else
               "a different person than the purchaser" if s["possessor_is_purchaser"] is False else None)
        return [html.Div(f"At {where}" if where else "Location not recorded"),
                html.Div(["Possessor: ", person_text(s["possessor"]), f" ({rel})" if rel else ""]),
                html.Div(["Associate: ", person_text(s["associate"])]) if s.get("associate") else None,
                html.Div(f"Time-to-crime: {s['ttc']} ({s['ttc_band']})" if s.get("ttc") else
                         f"Time-to-crime unknown (trace outcome {s['trace_status'].replace('_', ' ').lower()})"),
                html.Div(f"NCIC crime code {s['ncic_crime_code']}") if s.get("ncic_crime_code") else None,
                html.Div(dcc.Link("Incident of this recovery", href=f"/incident/{s['incident_id']}"))
                if s.get("incident_id") else None]
    if k == "incident":
        lead = (f"NIBIN {'hit' if s['lead_status'] == 'HIT' else 'lead'} {s['lead_id']} (delivered {s['lead_date']})"
                if s.get("lead_id") else None)
        return [html.Div([dcc.Link(f"{(s['description'] or s['category'] or 'Incident').title()}",
                                   href=f"/incident/{s['incident_id']}"),
                          f" at {s['at']}", f", {s['district'].title()} District" if s.get("district") else "",
                          f" — {s['address']}" if s.get("address") else ""]),
                html.Div(f"Crime code {s['crime_code']}") if s.get("crime_code") else None,
                html.Div(", ".join(x for x in (lead, s.get("relative")) if x)) if lead or s.get("relative") else None]
    return [html.Div(f"{s['alert_type'].replace('_', ' ').lower()} at {s['at']}"
                     + (f", {s['rounds']} rounds" if s.get("rounds") else ""))]


def timeline(steps: list[dict[str, Any]]) -> html.Ol:
    items = []
    for s in steps:
        items.append(html.Li([
            html.Div([html.Span(s["date"] or "date unknown", className="inv-step-date"),
                      html.Span(s["title"], className="inv-step-title")], className="inv-step-head"),
            html.Div(_step_body(s), className="inv-step-body"),
            _source(s["source"]),
        ], className=f"inv-step inv-step-{s['kind']}", id=f"step-{s['step']}"))
    return html.Ol(items, className="inv-timeline", id="journey-timeline")


def _leaflet_map(path: list[dict[str, Any]], districts_geojson: dict | None, map_id: str,
                 size: tuple[int, int]) -> dl.Map:
    positions = [[p["lat"], p["lon"]] for p in path]
    lats, lons = [p[0] for p in positions], [p[1] for p in positions]
    pad = 0.01
    center, zoom = fit_view([[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]], *size)
    children = [*basemap()]
    if districts_geojson and districts_geojson.get("features"):
        children += outlines(districts_geojson, f"{map_id}-districts", label=False)
    if len(positions) > 1:
        children.append(dl.Polyline(positions=positions, color="#4a5568", weight=3, dashArray="6 6"))
    for p in path:
        children.append(dl.CircleMarker(
            center=[p["lat"], p["lon"]], radius=9, color="#1a202c", weight=2, fillOpacity=0.9,
            fillColor=STEP_COLORS.get(p["kind"], "#718096"),
            children=[dl.Tooltip(str(p["step"]), permanent=True, direction="center", className="inv-step-num"),
                      dl.Popup(f"{p['step']}. {p['label']}")]))
    return dl.Map(children, center=center, zoom=zoom, id=map_id, style={"height": "100%"})


def path_map(path: list[dict[str, Any]], districts_geojson: dict | None, summary: str) -> html.Div:
    """The whole path (dealer first), and the Baltimore scenes close up when the dealer is far away."""
    if not path:
        return html.Div("No located step to map.", className="inv-map-empty", id="journey-map-empty")
    from layers.journey import haversine_km

    scenes = [p for p in path if p["kind"] != "dealer"]
    far = (path[0]["kind"] == "dealer" and scenes
           and haversine_km((path[0]["lat"], path[0]["lon"]), (scenes[0]["lat"], scenes[0]["lon"])) > 40)
    maps = [html.Div(_leaflet_map(path, districts_geojson, "journey-map", (560, 400)), className="inv-map",
                     role="region", **{"aria-label": "Map of the firearm's path. " + summary})]
    if far:
        maps.append(html.Div([
            html.Div("The scenes in Baltimore, close up", className="inv-map-caption"),
            html.Div(_leaflet_map(scenes, districts_geojson, "journey-map-scenes", (560, 330)),
                     className="inv-map inv-map-scenes", role="region",
                     **{"aria-label": "Close-up map of the scenes in the city, numbered as in the list below."}),
        ]))
    return html.Figure([
        *maps,
        html.Figcaption([html.Ol([html.Li(f"{p['label']}", className=f"inv-key-{p['kind']}") for p in path],
                                 className="inv-path-key")]),
    ], className="inv-map-figure")


def fit_view(bounds: list[list[float]], width_px: int = 560, height_px: int = 400) -> tuple[list[float], int]:
    """Centre and the largest zoom at which the bounds fit a map of about this size (Web Mercator)."""
    (s, w), (n, e) = bounds

    def merc_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    lon_span = max(e - w, 1e-6) / 360
    lat_span = max(merc_y(n) - merc_y(s), 1e-6) / (2 * math.pi)
    zoom = min(math.log2(width_px / 256 / lon_span), math.log2(height_px / 256 / lat_span))
    center_lat = math.degrees(2 * math.atan(math.exp((merc_y(n) + merc_y(s)) / 2)) - math.pi / 2)
    return [center_lat, (w + e) / 2], int(max(3, min(16, math.floor(zoom))))


def indicators(items: list[dict[str, Any]]) -> html.Div:
    rows = []
    for i in items:
        ev = [(k.replace("_", " "), str(v) if not isinstance(v, str) else v) for k, v in i["evidence"].items()]
        rows.append(html.Tr([
            html.Th(i["label"], scope="row"),
            html.Td(html.Span(STATUS_TEXT[i["status"]], className=f"inv-badge inv-badge-{i['status']}")),
            html.Td([html.Div(i["finding"]), dl_table(ev, "inv-evidence") if ev else None]),
        ], id=f"indicator-{i['key']}"))
    return html.Table([html.Thead(html.Tr([html.Th("Indicator"), html.Th("Status"), html.Th("What the data says")])),
                       html.Tbody(rows)], className="table table-sm inv-indicators", id="journey-indicators")


def serial_text(f: dict[str, Any]) -> str:
    if f["serial_obliterated"]:
        return "serial obliterated"
    if f["serial_number"] == RESTRICTED:
        return "serial [restricted]"
    return f"serial {f['serial_number']}" if f["serial_number"] else "no serial recorded"
