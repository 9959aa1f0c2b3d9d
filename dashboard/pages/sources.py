"""Sources: where the city's crime guns were first sold — flows by state over time, the source states'
index scores, how concentrated traced guns are among the top dealers, and the source states of two
periods side by side (records roles only)."""

from __future__ import annotations

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

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
    years = sorted({f["year"] for f in src["flows"]})  # also the periods the comparison offers
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
        html.H2("Two periods compared", className="inv-h2"),
        html.P("Source states ranked by traced guns recovered in each period (years inclusive), with each "
               "state's share of the period's traced guns and of its own guns under one year.", className="inv-note"),
        _period_controls(years),
        html.Div(id="sources-compare", **{"aria-live": "polite"}),
        dcc.Link("Ranked purchasers, dealers and guns", href="/index"),
    ], className="inv-page", id="sources-page")


def _period_controls(years: list[int]) -> html.Div:
    """From/to year of the first and second period; by default the earlier years against the latest."""
    opts = [{"label": str(y), "value": y} for y in years]
    first = (years[0], years[max(0, len(years) - 2)]) if years else (None, None)
    second = (years[-1], years[-1]) if years else (None, None)

    def pick(id_: str, label: str, value) -> html.Div:
        return html.Div([html.Label(label, htmlFor=id_, className="form-label small"),
                         dcc.Dropdown(id=id_, options=opts, value=value, clearable=False)], style={"minWidth": "8rem"})

    return html.Div([pick("sources-a-from", "First period from", first[0]), pick("sources-a-to", "to", first[1]),
                     pick("sources-b-from", "Second period from", second[0]), pick("sources-b-to", "to", second[1])],
                    className="d-flex flex-wrap gap-3 mb-2")


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.0f}%"


@callback(Output("sources-compare", "children"), Input("sources-a-from", "value"), Input("sources-a-to", "value"),
          Input("sources-b-from", "value"), Input("sources-b-to", "value"))
def compare(a0, a1, b0, b1):
    if None in (a0, a1, b0, b1):
        return html.P("No traced guns yet.", className="small")
    try:
        data = index.compare_periods((int(a0), int(a1)), (int(b0), int(b1)), access.current_viewer())
    except (TypeError, ValueError) as exc:
        return html.P(f"Choose the years of both periods ({exc}).", className="small")
    (fa, ta), (fb, tb) = data["first"], data["second"]
    name_a = f"{fa}" if fa == ta else f"{fa}–{ta}"
    name_b = f"{fb}" if fb == tb else f"{fb}–{tb}"
    head = html.Tr([html.Th(h, scope="col") for h in (
        "State", f"Rank {name_a}", f"Traces {name_a}", f"Share {name_a}", f"Under 1 year {name_a}",
        f"Rank {name_b}", f"Traces {name_b}", f"Share {name_b}", f"Under 1 year {name_b}", "Rank change",
        "Share change")])

    def change(x, points: bool = False) -> str:
        if x is None:
            return ""
        if points:
            return f"{100 * x:+.1f} pts"
        return f"{x:+d}" if x else "="

    body = [html.Tr([html.Td(r["state"]), html.Td(r["rank_a"]), html.Td(f"{r['traces_a']:,}"), html.Td(_pct(r["share_a"])),
                     html.Td(_pct(r["short_a"])), html.Td(r["rank_b"]), html.Td(f"{r['traces_b']:,}"),
                     html.Td(_pct(r["share_b"])), html.Td(_pct(r["short_b"])), html.Td(change(r["rank_change"])),
                     html.Td(change(r["share_change"], True))]) for r in data["rows"]]
    return html.Table([html.Caption(f"Source states, {name_a} against {name_b}"), html.Thead(head), html.Tbody(body)],
                      className="table table-sm table-striped", id="sources-compare-table")
