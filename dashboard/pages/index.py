"""Trafficking index: every purchaser, dealer, gun and source state ranked, each score broken into the
indicators behind it, with analysts' verdicts (records roles only). The explanation and the review form are
the record pages' (dashboard/components/index_panel.py): the form saves for the row being explained."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboard.components import index_panel
from layers import access, index

dash.register_page(__name__, capability="records", path="/index", name="Index", order=3,
                   title="Crime Gun Atlas — trafficking index")

LEVEL_NAMES = {"purchaser": "Purchasers", "dealer": "Dealers", "firearm": "Guns", "state": "Source states"}
SORTS = {
    "purchaser": ("rank", "guns", "dealers", "fast_guns", "multiple", "last_purchase", "min_ttc"),
    "dealer": ("rank", "traces", "short_n", "short_share", "z_short", "repeat_n", "purchasers"),
    "firearm": ("rank", "min_ttc", "recoveries", "nibin_incidents", "last_trace"),
    "state": ("rank", "traces", "short_n", "short_share", "z_short"),
}
FIGURES = {
    "purchaser": (("guns", "guns"), ("dealers", "dealers"), ("fast_guns", "fast guns, other hands"),
                  ("multiple", "multiple-sale guns"), ("min_ttc", "fastest TTC (days)")),
    "dealer": (("traces", "traces"), ("short_n", "under 1 year"), ("peer_group", "peers"),
               ("repeat_n", "to repeat buyers"), ("z_short", "z")),
    "firearm": (("min_ttc", "TTC (days)"), ("source_state", "source"), ("recoveries", "recoveries"),
                ("nibin_incidents", "NIBIN incidents")),
    "state": (("traces", "traces"), ("short_n", "under 1 year"), ("z_short", "z"), ("dealers", "dealers")),
}


def layout(level: str = "purchaser", **_query) -> html.Div:
    level = level if level in LEVEL_NAMES else "purchaser"
    return html.Div([
        html.H1("Trafficking index", className="inv-title"),
        html.P(["Every purchaser, dealer, gun and source state scored from the trafficking indicators, against "
                "this city's own baselines (how rare each indicator is here; dealers against their peers' share "
                "for their volume). Open a row for the indicators behind its score and the records behind each. ",
                dcc.Link("Sources and dealer concentration", href="/sources")], className="inv-note"),
        html.Div([
            html.Div([html.Label("List", htmlFor="index-level", className="form-label"),
                      dcc.Dropdown(id="index-level", options=[{"label": v, "value": k} for k, v in LEVEL_NAMES.items()],
                                   value=level, clearable=False)], style={"minWidth": "11rem"}),
            html.Div([html.Label("Sort by", htmlFor="index-sort", className="form-label"),
                      dcc.Dropdown(id="index-sort", value="rank", clearable=False)], style={"minWidth": "10rem"}),
            html.Div([html.Label("State", htmlFor="index-state", className="form-label"),
                      dcc.Input(id="index-state", type="text", maxLength=2, debounce=True, placeholder="any",
                                className="form-control form-control-sm", style={"width": "5rem"})]),
            html.Div([html.Label("Score at least", htmlFor="index-min", className="form-label"),
                      dcc.Input(id="index-min", type="number", debounce=True, min=0,
                                className="form-control form-control-sm", style={"width": "7rem"})]),
            html.Div([html.Label("Review", htmlFor="index-verdict", className="form-label"),
                      dcc.Dropdown(id="index-verdict", options=[
                          {"label": "any", "value": ""}, {"label": "confirmed", "value": "confirmed"},
                          {"label": "rejected", "value": "rejected"}, {"label": "not reviewed", "value": "unreviewed"}],
                          value="", clearable=False)], style={"minWidth": "10rem"}),
            html.Div(html.Button("Export CSV", id="index-export", className="btn btn-sm btn-primary"),
                     className="align-self-end"),
        ], className="d-flex flex-wrap gap-3 align-items-start mb-2"),
        dcc.Download(id="index-download"),
        html.Div(id="index-meta", className="text-muted small", **{"aria-live": "polite"}),
        html.Div(id="index-table"),
        html.Hr(),
        html.Div([
            html.Label("Explain the score of (id from the list)", htmlFor="index-explain-id", className="form-label"),
            dcc.Input(id="index-explain-id", type="text", debounce=True, className="form-control form-control-sm",
                      style={"width": "10rem"}),
        ]),
        html.Div(id="index-explain"),
        html.Div([html.H2("Review", className="inv-h2"), *index_panel.review_form()], id="index-review",
                 className="mt-2"),
    ], className="inv-page", id="index-page")


def _filters(state, min_score, verdict) -> dict:
    f: dict = {}
    if isinstance(state, str) and state.strip().isalpha():
        f["state"] = state.strip().upper()[:2]
    try:
        if min_score not in (None, ""):
            f["min_score"] = float(min_score)
    except (TypeError, ValueError):
        pass
    if verdict in ("confirmed", "rejected", "unreviewed"):
        f["verdict"] = verdict
    return f


def _level(level) -> str:
    return level if level in LEVEL_NAMES else "purchaser"


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


@callback(Output("index-sort", "options"), Output("index-sort", "value"), Input("index-level", "value"))
def sorts(level):
    level = _level(level)
    return [{"label": "score" if s == "rank" else s.replace("_", " "), "value": s} for s in SORTS[level]], "rank"


@callback(Output("index-table", "children"), Output("index-meta", "children"),
          Input("index-level", "value"), Input("index-sort", "value"), Input("index-state", "value"),
          Input("index-min", "value"), Input("index-verdict", "value"))
def show(level, sort, state, min_score, verdict):
    level = _level(level)
    data = index.ranked(level, access.current_viewer(), filters=_filters(state, min_score, verdict),
                        sort=sort if sort in SORTS[level] else "rank", limit=100)
    figs = FIGURES[level]
    head = html.Tr([html.Th(h, scope="col") for h in ("Rank", "Id", level.capitalize(), "Score",
                                                      *(f[1] for f in figs), "Main indicators", "Review")])
    body = []
    for r in data["rows"]:
        title = dcc.Link(r["title"], href=r["href"]) if r["href"] else r["title"]
        review = f"{r['verdict']} by {r['reviewed_by']}: {r['note']}" if r.get("verdict") else ""
        body.append(html.Tr([html.Td(r["rank"]), html.Td(str(r["id"])), html.Td(title), html.Td(f"{r['score']:.2f}"),
                             *(html.Td(_fmt(r.get(k))) for k, _ in figs), html.Td(r["why"]), html.Td(review)]))
    table = html.Table([html.Thead(head), html.Tbody(body)], className="table table-sm table-striped",
                       id=f"index-{level}-table")
    meta = (f"{data['total']:,} {LEVEL_NAMES[level].lower()} match; first {len(data['rows'])} shown. Weights "
            f"{data['config_version']}, computed {data['computed_at']:%Y-%m-%d %H:%M}." if data["computed_at"] else
            "The index has not been computed yet: it is computed after every load (`crimegun derive`).")
    return table, meta


@callback(Output("index-download", "data"), Input("index-export", "n_clicks"),
          State("index-level", "value"), State("index-sort", "value"), State("index-state", "value"),
          State("index-min", "value"), State("index-verdict", "value"), prevent_initial_call=True)
def export(_n, level, sort, state, min_score, verdict):
    level = _level(level)
    content = index.export_csv(level, access.current_viewer(), filters=_filters(state, min_score, verdict),
                               sort=sort if sort in SORTS[level] else "rank")
    return {"content": content, "filename": f"trafficking-index-{level}s.csv", "type": "text/csv"}


def _entity_id(level: str, raw):
    raw = str(raw or "").strip()
    if level == "state":
        return raw.upper()[:2] if raw.isalpha() else None
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@callback(Output("index-explain", "children"), Output("ixp-entity", "data"),
          Input("index-explain-id", "value"), Input("index-level", "value"))
def explain(raw_id, level):
    """The row's explanation, and the row as the entity the review form saves for (index_panel.save: states and
    unknown ids are refused there). `ixp-reviews` is always on the page, for the form to refresh."""
    level = _level(level)
    entity = _entity_id(level, raw_id)
    chosen = {"level": level, "id": entity}
    if entity is None:
        return [html.P("Type the id of a row to see what its score is made of.", className="text-muted small"),
                html.Div(id="ixp-reviews")], chosen
    e = index.explain(level, entity, access.current_viewer())
    if e is None:
        return [html.P("Not in the index.", className="text-muted small"), html.Div(id="ixp-reviews")], chosen
    return html.Div([
        html.H2(f"{e['title']}: score {e['score']:.2f}, rank {e['rank']}", className="inv-h2"),
        html.P(f"Weights {e['config_version']}, computed {e['computed_at']:%Y-%m-%d %H:%M}.", className="small"),
        index_panel.contributions(e),
        html.H3("Reviews", className="h6"),
        html.Div(index_panel.review_list(e["reviews"]), id="ixp-reviews"),
    ], id="index-explanation"), chosen
