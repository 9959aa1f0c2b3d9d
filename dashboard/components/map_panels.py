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


BIN_NOUN = {"day": "day", "week": "week (Monday to Sunday)", "month": "month"}


def _trend_axis(fig: go.Figure, bin_: str) -> go.Figure:
    """Dates on the x axis at the bin's grain, so a week of daily bars does not read as months."""
    if bin_ == "month":
        fig.update_xaxes(type="category")
    else:
        fig.update_xaxes(type="date", tickformat="%d %b")
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
    bin_ = panel.get("bin", "month")
    months = [m["period"] for m in panel["monthly"]]
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
        dcc.Graph(figure=_trend_axis(_fig_layout(trend, f"Recoveries against shootings by {BIN_NOUN[bin_]}"), bin_),
                  config={"displayModeBar": False}, id="district-trend"),
        html.Div(f"Chart as text, by {BIN_NOUN[bin_]}: "
                 + "; ".join(f"{m['period']}: {_n(m['recoveries'])} recoveries, {_n(m['shootings'])} shootings"
                             for m in panel["monthly"]), className="visually-hidden", id="district-trend-text"),
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
        return f"in view: newest {result['shown']:,} of {'about ' if result.get('total_approx') else ''}{result['total']:,}"
    return f"in view: {result['shown']:,}"


COLUMN_LABELS = {"nonfatal": "Non-fatal shootings", "homicides": "Homicides", "alerts": "ShotSpotter alerts",
                 "recoveries": "Gun recoveries"}


def sort_rows(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """Rows sorted by a column ('-col' = largest first); missing or suppressed values go last."""
    key, desc = sort.lstrip("-"), sort.startswith("-")
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    return sorted(present, key=lambda r: r[key], reverse=desc) + missing


def _sort_button(label: str, col: str, sort: str, title: str) -> html.Button:
    active = sort.lstrip("-") == col
    arrow = (" ▼" if sort.startswith("-") else " ▲") if active else ""
    return html.Button(label + arrow, id={"type": "dt-sort", "col": col}, n_clicks=0, type="button",
                       className="dt-sort" + (" active" if active else ""), title=title)


def _pct(value: float | None, before: int | None = None, now: int | None = None) -> str:
    if value is None:
        if before == 0:
            return "±0%" if now == 0 else "new"  # nothing then and nothing now is no change
        return "–"
    return "±0%" if abs(value) < 0.5 else f"{value:+.0f}%"


def district_table(rows: list[dict[str, Any]], sort: str, open_panel: str | None) -> html.Div:
    """Every district with its counts, the same dates a year earlier, the change and the rate per 1,000
    residents; headers sort (again = reverse), and each district's name is a button that opens its panel."""
    def aria(col: str) -> str:
        if sort.lstrip("-") != col:
            return "none"
        return "descending" if sort.startswith("-") else "ascending"

    head = [html.Th(_sort_button("District", "district", sort, "Sort by name"), scope="col",
                    **{"aria-sort": aria("district")})]
    for key, label in COLUMN_LABELS.items():
        head.append(html.Th([_sort_button(label, key, sort, f"Sort by {label.lower()}"), html.Br(),
                             _sort_button("change", f"{key}_change", sort, f"Sort by the change in {label.lower()}"),
                             _sort_button("per 1,000", f"{key}_rate", sort,
                                          f"Sort by {label.lower()} per 1,000 residents")],
                            scope="col", className="num", **{"aria-sort": aria(key)}))
    body = []
    for r in sort_rows(rows, sort):
        cells = [html.Th(html.Button(r["district"].title(), id={"type": "dt-open", "district": r["district"]},
                                     n_clicks=0, type="button", className="dt-open",
                                     title=f"Open the {r['district'].title()} district panel"), scope="row")]
        for key in COLUMN_LABELS:
            rate = r.get(f"{key}_rate")
            cells.append(html.Td([html.Span(_n(r[key]), className="dt-n"), html.Br(),
                                  html.Span(f"{_pct(r[f'{key}_change'], r[f'{key}_before'], r[key])} vs {_n(r[f'{key}_before'])}"
                                            + ("" if rate is None else f" · {rate:.2f}/1k"), className="dt-sub")],
                                 className="num"))
        body.append(html.Tr(cells, id=f"dt-row-{r['district']}",
                            className="dt-selected" if r["district"] == open_panel else None))
    return html.Table([
        html.Caption("Count for the map's dates and filters; below it the change from the same dates a year earlier "
                     "(that count) and the rate per 1,000 residents where known. Sort by any header; open a district "
                     "by its name."),
        html.Thead(html.Tr(head)), html.Tbody(body)], className="table table-sm district-table", id="district-table")


def source_ranking(r: dict[str, Any]) -> html.Div:
    """Ranked source states and dealers with counts, share and median time-to-crime."""
    def table(rows: list[dict[str, Any]], what: str, id_: str, with_state: bool) -> html.Table:
        head = [html.Th("#", scope="col"), html.Th(what, scope="col")]
        if with_state:
            head.append(html.Th("State", scope="col"))
        head += [html.Th("Guns", scope="col", className="num"), html.Th("Share", scope="col", className="num"),
                 html.Th("Median time-to-crime", scope="col", className="num")]
        body = []
        for i, row in enumerate(rows, 1):
            cells = [html.Td(str(i)), html.Td(row["name"])] + ([html.Td(row.get("state") or "")] if with_state else [])
            cells += [html.Td(_n(row["n"]), className="num"),
                      html.Td("" if row["share"] is None else f"{row['share']:.1f}%", className="num"),
                      html.Td("" if row["median_ttc"] is None else _days(row["median_ttc"]), className="num")]
            body.append(html.Tr(cells))
        return html.Table([html.Thead(html.Tr(head)), html.Tbody(body)], className="table table-sm source-table",
                          id=id_)

    parts = [html.H3("Source states", className="panel-sub"),
             table(r["states"], "State", "source-states-table", False) if r["states"]
             else html.P("No traced source state in these dates.", className="side-note")]
    if r["dealers_shown"]:
        parts += [html.H3("Source dealers", className="panel-sub"),
                  table(r["dealers"], "Dealer", "source-dealers-table", True) if r["dealers"]
                  else html.P("No traced source dealer in these dates.", className="side-note")]
    parts.append(html.P(f"Share of the {_n(r['total'])} recovered guns matching the map's filters; time-to-crime "
                        "from first retail sale to recovery.", className="side-note"))
    return html.Div(parts, id="source-ranking-body")


def _days(days: int) -> str:
    if days >= 730:
        return f"{days / 365.25:.1f} years"
    return f"{days:,} days"
