"""What the map's details panel shows: one point, a list (cluster or stacked place), a cell, a dealer,
or a district with its counts, comparison, top locations and charts."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.components.map_state import change_text

LAYER_NOUN = {"alerts": "ShotSpotter alerts", "shootings": "shootings and homicides", "recoveries": "gun recoveries"}
FIELD_LABELS = {
    "time": "When", "alert_type": "Type", "rounds": "Rounds", "district": "District", "category": "Category",
    "crime_code": "Crime code", "description": "Description", "location": "Location (block)",
    "firearm_type": "Firearm type", "caliber": "Caliber", "manufacturer": "Maker", "ttc_band": "Time to crime",
    "source_state": "First sold in", "trace_status": "Trace status", "street": "Recovery address",
    "serial_number": "Serial number", "trace_number": "Trace number", "address": "Address",
}
SINGULAR = {"alerts": "ShotSpotter alert", "shootings": "Shooting / homicide", "recoveries": "Gun recovery"}
LINK_TEXT = {"alerts": "Open the corroborated incident", "shootings": "Open the incident",
             "recoveries": "Open the firearm's journey"}


def _n(value: int | None) -> str:
    """A count, or '<N' where it was suppressed as too small to publish."""
    from layers.access import small_count_threshold

    return f"<{small_count_threshold()}" if value is None else f"{value:,}"


def _change(now: int | None, before: int | None) -> str:
    if now is None or before is None:
        return "–"
    return change_text(now, before) or "–"


def _title(text: str) -> html.H2:
    return html.H2(text, className="panel-title", id="panel-title")


def _label(row: dict) -> str:
    kind = row.get("alert_type") or row.get("category") or row.get("firearm_type") or ""
    return f"{row.get('time', '')} · {str(kind).replace('_', ' ').lower()}"


def point_details(layer: str, row: dict) -> html.Div:
    items = []
    for key, label in FIELD_LABELS.items():
        if row.get(key) not in (None, ""):
            value = row[key]
            if isinstance(value, str):
                value = value.replace("_", " ")
            items += [html.Dt(label), html.Dd(str(value))]
    link = row.get("url")
    return html.Div([
        _title(SINGULAR[layer]),
        html.Dl(items, className="details-dl"),
        html.A(LINK_TEXT[layer] + " →", href=link, className="btn btn-sm btn-primary", id="details-link")
        if link else html.P("Not matched to a reported incident." if layer == "alerts" else "", className="side-note"),
    ], id="details-point")


def point_list(layer: str, rows: list[dict], heading: str, more: bool = False) -> html.Div:
    body = [html.Li(html.A(_label(r) + (f" · {r['location']}" if r.get("location") else ""), href=r["url"])
                    if r.get("url") else _label(r)) for r in rows]
    return html.Div([
        _title(heading),
        html.P(f"{len(rows)} {LAYER_NOUN[layer]}, newest first" + (" (first 100 shown; zoom in for the rest)"
                                                                  if more else "") + ".", className="side-note"),
        html.Ol(body, className="details-list", id="details-list"),
    ], id="details-points")


def cell_details(layer: str, n: int, size_m: int | None) -> html.Div:
    size = f" ~{size_m:,} m square" if size_m else ""
    return html.Div([_title("Density cell"),
                     html.P(f"{n:,} {LAYER_NOUN[layer]} in this{size} cell for the chosen dates and filters. "
                            "Zoom in to see the individual points.")], id="details-cell")


def dealer_details(d: dict) -> html.Div:
    return html.Div([
        _title(d["name"]),
        html.Dl([html.Dt("Where"), html.Dd(f"{d['city'] or ''}, {d['state'] or ''}"),
                 html.Dt("Licence"), html.Dd(d["ffl_key"]),
                 html.Dt("Traced crime guns"), html.Dd(f"{d['traced_guns']:,} ({d['under_1y']:,} under 1 year)"),
                 html.Dt("Map position"), html.Dd("ZIP-code centre" if d["precision"] == "zip" else "address")],
                className="details-dl"),
        html.A("Open the dealer →", href=f"/dealer/{d['id']}", className="btn btn-sm btn-primary")
        if d.get("records") else None,
    ], id="details-dealer")


def _fig_layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title={"text": title, "font": {"size": 13}}, height=210, margin={"l": 36, "r": 8, "t": 32, "b": 28},
                      legend={"orientation": "h", "y": -0.25}, plot_bgcolor="#fff", paper_bgcolor="#fff",
                      font={"size": 11})
    return fig


def district_details(panel: dict[str, Any], compare: bool, labels: dict[str, str]) -> html.Div:
    counts = panel["counts"]
    rows = [html.Tr([html.Th("Layer", scope="col"), html.Th("Now", scope="col"),
                     html.Th("Per 1,000", scope="col"), html.Th("Year earlier", scope="col") if compare else None])]
    for key, c in counts.items():
        rows.append(html.Tr([html.Th(labels[key], scope="row"), html.Td(_n(c["now"]), className="num"),
                             html.Td("" if c["rate"] is None else f"{c['rate']:.2f}", className="num"),
                             html.Td(_change(c["now"], c["before"]), className="num") if compare else None],
                            id=f"district-row-{key}"))
    top = [html.Li(f"{p['location']} — {p['n']} (latest {p['latest']})") for p in panel["top_locations"]]
    months = [m["month"] for m in panel["monthly"]]
    trend = go.Figure([go.Bar(x=months, y=[m["recoveries"] for m in panel["monthly"]], name="Gun recoveries",
                              marker_color="#2b6cb0"),
                       go.Scatter(x=months, y=[m["shootings"] for m in panel["monthly"]], name="Shootings + homicides",
                                  mode="lines+markers", line={"color": "#e53e3e"})])
    states = panel["source_states"][:10]
    src = go.Figure(go.Bar(y=[s["state"] for s in states][::-1], x=[s["n"] for s in states][::-1], orientation="h",
                           marker_color="#c05621"))
    return html.Div([
        _title(f"{panel['district'].title()} district"),
        html.P(f"Population {panel['population']:,}" if panel["population"] else "Population not known",
               className="side-note"),
        html.Table(rows, className="table table-sm panel-table", id="district-counts"),
        html.H3("Top shooting locations (block)", className="panel-sub") if panel.get("top_shown", True) else None,
        (html.Ol(top, className="details-list") if top else html.P("None in these dates.", className="side-note"))
        if panel.get("top_shown", True) else None,
        dcc.Graph(figure=_fig_layout(trend, "Recoveries against shootings by month"), config={"displayModeBar": False},
                  id="district-trend"),
        html.Div("Chart as text: " + "; ".join(f"{m['month']}: {_n(m['recoveries'])} recoveries, {_n(m['shootings'])} shootings"
                                               for m in panel["monthly"]), className="visually-hidden"),
        dcc.Graph(figure=_fig_layout(src, "Where guns recovered here were first sold"), config={"displayModeBar": False},
                  id="district-sources"),
        html.Div("Source states as text: " + ", ".join(f"{s['state']} {_n(s['n'])}" for s in panel["source_states"]),
                 className="visually-hidden", id="district-sources-text"),
    ], id="details-district")


def class_of(value: float, breaks: list[float]) -> int:
    for i, b in enumerate(breaks):
        if value <= b:
            return i
    return len(breaks) - 1


def choropleth_table(kind_label: str, measure_label: str, values: dict[str, float], breaks: list[float],
                     rate: bool) -> html.Table:
    """The choropleth as text: each district (post, neighborhood) with its value and colour class."""
    unit = " per 1,000 residents" if rate else ""
    return html.Table([
        html.Caption(f"{kind_label} choropleth: {measure_label.lower()}{unit} (darker = more)"),
        html.Thead(html.Tr([html.Th(kind_label, scope="col"), html.Th("Value", scope="col"),
                            html.Th("Class", scope="col")])),
        html.Tbody([html.Tr([html.Th(d.title(), scope="row"), html.Td(f"{v:,.2f}" if rate else f"{v:,}"),
                             html.Td(f"{class_of(v, breaks) + 1} of {len(breaks)}")])
                    for d, v in sorted(values.items(), key=lambda kv: -kv[1])]),
    ], className="table table-sm choropleth-table", id="choropleth-table")


def boundary_details(kind_label: str, row: dict[str, Any], compare: bool, labels: dict[str, str]) -> html.Div:
    """A post or neighborhood: its name and counts (now, per 1,000 residents, a year earlier)."""
    rows = [html.Tr([html.Th("Layer", scope="col"), html.Th("Now", scope="col"),
                     html.Th("Per 1,000", scope="col"), html.Th("Year earlier", scope="col") if compare else None])]
    for key, label in labels.items():
        rate = row.get(f"{key}_rate")
        rows.append(html.Tr([html.Th(label, scope="row"), html.Td(_n(row[key]), className="num"),
                             html.Td("" if rate is None else f"{rate:.2f}", className="num"),
                             html.Td(_change(row[key], row[f"{key}_before"]), className="num")
                             if compare else None], id=f"boundary-row-{key}"))
    return html.Div([
        _title(f"{kind_label} {row['name'].title()}" if kind_label == "Post" and row["name"].isdigit()
               else f"{row['name'].title()} ({kind_label.lower()})"),
        html.P(f"Population {row['population']:,}" if row["population"] else "Population not known",
               className="side-note"),
        html.Table(rows, className="table table-sm panel-table", id="boundary-counts"),
        html.P("Counted by where each point lies inside this polygon, under the map's dates and filters.",
               className="side-note"),
    ], id="details-boundary")


def count_line(total: int, before: int | None, shown: bool) -> str:
    text = f"{total:,}"
    if before is not None:
        text += f" ({change_text(total, before)})"
    return text if shown else text + " — hidden"


def in_view_line(result: dict | None) -> str:
    if result is None:
        return ""
    if result["mode"] == "cells":
        return f"in view: {result['shown']:,} as density cells"
    if result["truncated"]:
        return f"in view: newest {result['shown']:,} of {result['total']:,}"
    return f"in view: {result['shown']:,}"
