"""Small shared pieces of the investigation pages: the compact search form, links, notices."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from dash import dcc, html

RESTRICTED = "[restricted]"

KIND_LABELS = {"firearm": "Firearm", "person": "Person", "dealer": "Dealer", "incident": "Incident", "place": "Place"}


def search_form(value: str = "", compact: bool = True, input_id: str | None = None) -> html.Form:
    """A plain POST form to /search: works from any page, with the keyboard, without callbacks. The query
    travels in the request body and the session, never in a URL (URLs end up in logs and history)."""
    from flask import has_request_context, session

    token = session.get("csrf", "") if has_request_context() else ""
    return html.Form([
        dcc.Input(type="hidden", name="csrf_token", value=token, style={"display": "none"}),
        html.Label("Search", htmlFor=input_id or "inv-search-compact", className="visually-hidden"),
        dcc.Input(id=input_id or "inv-search-compact", name="q", type="search", value=value, debounce=True,
                  placeholder="Serial, trace or case number, dealer licence or name, person",
                  className="form-control form-control-sm" if compact else "form-control",
                  autoComplete="off"),
        html.Button("Search", type="submit", className="btn btn-sm btn-primary" if compact else "btn btn-primary",
                    id=(input_id or "inv-search-compact") + "-go"),
    ], action="/search", method="post", className="inv-search " + ("inv-search-compact" if compact else "inv-search-big"),
        role="search")


def page_head(title: str, subtitle: Any = None, actions: list | None = None, query: str = "") -> html.Div:
    return html.Div([
        html.Div([html.H1(title, className="inv-title", id="inv-title"),
                  html.Div(subtitle, className="inv-subtitle") if subtitle else None], className="inv-head-text"),
        html.Div([*(actions or []), search_form(query)], className="inv-head-actions"),
    ], className="inv-head")


def network_link(kind: str, key: Any, label: str = "Open network", id: str | None = None) -> dcc.Link:
    kw = {"id": id} if id else {}
    return dcc.Link(label, href=f"/network?focus={kind}:{quote(str(key))}", className="btn btn-sm btn-outline-primary",
                    **kw)


def restricted_notice(what: str = "Names, serial and trace numbers, case numbers and exact addresses") -> html.Div:
    return html.Div(f"{what} are shown only to detective, analyst and admin roles. You are seeing what may be "
                    "shared: aggregates and non-identifying facts.", className="alert alert-secondary inv-restricted",
                    role="note", id="inv-restricted-notice")


def not_found(what: str) -> html.Div:
    return html.Div([page_head(f"{what} not found"),
                     html.P(f"There is no such {what.lower()} in the loaded data. Try the search.")],
                    className="inv-page")


def person_text(ref: Any) -> Any:
    """A person reference as a link (personal-data roles) or plain restricted text."""
    if not ref:
        return "unidentified"
    if isinstance(ref, str):
        return ref
    if ref.get("id"):
        return dcc.Link(ref["person_name"], href=f"/person/{ref['id']}")
    return ref.get("person_name") or RESTRICTED


def dl_table(pairs: list[tuple[str, Any]], class_name: str = "inv-facts") -> html.Dl:
    items = []
    for k, v in pairs:
        if v is None or v == "":
            continue
        items += [html.Dt(k), html.Dd(v)]
    return html.Dl(items, className=class_name)


def int_or_none(x: Any) -> int | None:
    try:
        return int(str(x))
    except (TypeError, ValueError):
        return None
