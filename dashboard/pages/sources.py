"""Sources: where the city's crime guns were first sold — flows by state over time, the source states'
index scores, and how concentrated traced guns are among the top dealers (records roles only)."""

from __future__ import annotations

import dash
import plotly.graph_objects as go
from dash import dcc, html

from layers import access, index

dash.register_page(__name__, capability="records", path="/sources", name="Sources", order=4,
                   title="Crime Gun Atlas — gun sources")

TOP_STATES = 8


def layout(**_query) -> html.Div:
    viewer = access.current_viewer()
    src = index.sources(viewer)
    states = index.ranked("state", viewer, limit=TOP_STATES)["rows"]
    by_volume: dict[str, int] = {}
    for f in src["flows"]:
        by_volume[f["state"]] = by_volume.get(f["state"], 0) + f["traces"]
    shown = sorted(by_volume, key=lambda s: -by_volume[s])[:TOP_STATES]
    years = sorted({f["year"] for f in src["flows"]})
    fig = go.Figure()
    for s in shown:
        per = {f["year"]: f["traces"] for f in src["flows"] if f["state"] == s}
        fig.add_trace(go.Scatter(x=years, y=[per.get(y, 0) for y in years], name=s, mode="lines+markers"))
    fig.update_layout(height=340, margin={"l": 40, "r": 10, "t": 30, "b": 30}, title="Traced guns by source state and year")
    curve = go.Figure(go.Scatter(x=list(range(1, len(src["cumulative_share"]) + 1)),
                                 y=[100 * x for x in src["cumulative_share"]], mode="lines"))
    curve.update_layout(height=300, margin={"l": 40, "r": 10, "t": 30, "b": 30},
                        title="Share of traced guns sold by the top N dealers (%)")
    share = (f"The top {src['top']} of {src['dealers']:,} dealers sold {100 * src['top_share']:.0f}% of the "
             f"{src['traces']:,} traced guns; the top tenth ({src['decile']:,}) sold {100 * src['decile_share']:.0f}%."
             if src["top_share"] is not None else "No traced guns yet.")
    return html.Div([
        html.H1("Gun sources", className="inv-title"),
        html.P(share, id="sources-concentration"),
        dcc.Graph(figure=fig, id="sources-flows", config={"displaylogo": False}),
        dcc.Graph(figure=curve, id="sources-curve", config={"displaylogo": False}),
        html.H2("Source states by index score", className="inv-h2"),
        html.Ol([html.Li(f"{r['id']}: score {r['score']:.2f} — {r['traces']:,} traces, "
                         f"{100 * (r['short_share'] or 0):.0f}% under one year; {r['why']}") for r in states]),
        dcc.Link("Ranked purchasers, dealers and guns", href="/index"),
    ], className="inv-page", id="sources-page")
