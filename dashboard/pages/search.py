"""Search: one box for serials, trace and case numbers, dealer licences or names, and people."""

from __future__ import annotations

import dash
from dash import html

from dashboard.components import tables
from dashboard.components.investigate import restricted_notice, search_form
from layers.access import current_viewer
from layers.search import KIND_TITLES, search

dash.register_page(__name__, capability="records", path="/search", name="Search", order=1, title="Crime Gun Atlas — search")


def _group(kind: str, results: list[dict], more: bool) -> html.Section:
    return html.Section([
        html.H2(f"{KIND_TITLES[kind]} ({len(results)}{'+' if more else ''})", className="inv-h2"),
        # The CSV is read again on the server with the query kept in the session (never sent by the browser).
        tables.table(f"search-{kind}", current_viewer(), rows=results, page_size=12),
        html.P("More match: refine the search.", className="inv-note") if more else None,
    ], id=f"search-group-{kind}", className="inv-result-group")


def layout(**_query) -> html.Div:
    from flask import session

    # The query arrives by POST /search (dashboard/login.py) and waits in the session: no URL holds it.
    q = (session.get("search_q") or "").strip()
    body: list = []
    if q:
        res = search(q)
        if res["restricted"]:
            body.append(restricted_notice("Searching serials, trace and case numbers and people"))
        groups = [_group(k, v, res["more"][k]) for k, v in res["groups"].items() if v]
        body += groups or [html.P(f"Nothing matches “{q}”.", id="search-empty")]
    else:
        body.append(html.Div([
            html.P("Type any of:"),
            html.Ul([html.Li("a serial number, whole or part (case, spaces and dashes ignored)"),
                     html.Li("a trace number — also finds guns whose serial was obliterated"),
                     html.Li("an incident case number (CCNumber)"),
                     html.Li("a dealer licence (with or without the expiry part) or a dealer name"),
                     html.Li("a person's name, in any order")]),
        ], className="inv-note"))
    return html.Div([
        html.H1("Search", className="inv-title"),
        search_form(q, compact=False, input_id="search-q"),
        html.Div(body, id="search-results", **{"aria-live": "polite"}),
    ], className="inv-page", id="search-page")
