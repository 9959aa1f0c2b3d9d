"""The trafficking-index panel of a record page (person, dealer, firearm): the record's score and rank, the
contributions behind it with links to the rows behind each, the weights version, and the analysts'
reviews with a form to confirm or reject it with a note. The trafficking-index page (dashboard/pages/index.py)
uses the same form, contributions and reviews list for the row it explains.

Records roles only (detective, analyst, admin): the panel is empty for anyone else, and every read and
write below goes through layers/index, which checks the capability again on the server.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html

from layers import access, index

KINDS = ("purchaser", "dealer", "firearm")
SHOWN_LINKS = 12


def review_list(reviews: list[dict[str, Any]]) -> html.Div:
    if not reviews:
        return html.P("Not reviewed yet.", className="text-muted small")
    return html.Ul([html.Li([html.Strong(r["verdict"]), f" by {r['username']} ({r['role']}) on {r['at']:%Y-%m-%d %H:%M}",
                             f" (score {float(r['score']):.2f}, weights {r['config_version']})" if r.get("score") is not None
                             else "", ": ", r["note"]], className="ixp-review")
                    for r in reviews], className="small")


def contributions(e: dict[str, Any]) -> html.Ol:
    """Each contribution: label, points, the finding in words and links to the rows behind it."""
    return html.Ol([html.Li([
        html.Strong(f"{c['label']} +{c['points']:.2f}: "), c["finding"],
        html.Div([dcc.Link(lbl, href=href, className="inv-lead-link") for lbl, href in c["links"][:SHOWN_LINKS]]
                 + ([html.Span(f" … {c['rows']} records in all")] if (c["rows"] or 0) > SHOWN_LINKS else []),
                 className="inv-lead-links"),
    ], className="ixp-contribution") for c in e["contributions"]]) if e["contributions"] else html.P(
        "No indicator above the city's baseline.", className="small")


def score_panel(level: str, entity_id: Any, viewer: access.Viewer | None = None) -> html.Div | None:
    """The panel, or None for a viewer without the records capability."""
    viewer = viewer or access.current_viewer()
    if level not in KINDS or not viewer.can("records"):
        return None
    e = index.explain(level, entity_id, viewer)
    if e is None:
        return html.Div([html.H2("Trafficking index", className="inv-h2"),
                         html.P("Not scored: the index scores purchasers, dealers and guns with traces, after every load.",
                                className="small")], id="index-panel", className="ixp")
    return html.Div([
        html.H2("Trafficking index", className="inv-h2"),
        html.P([html.Strong(f"Score {float(e['score']):.2f}"), f", rank {e['rank']:,} · weights {e['config_version']}, "
                f"computed {e['computed_at']:%Y-%m-%d %H:%M} · ",
                dcc.Link("ranked list", href=f"/index?level={level}")], id="index-panel-score"),
        contributions(e),
        html.H3("Analysts' reviews", className="h6"),
        html.Div(review_list(e["reviews"]), id="ixp-reviews"),
        *review_form(level, entity_id),
    ], id="index-panel", className="ixp")


def review_form(level: str | None = None, entity_id: Any = None) -> list:
    """The review form for the entity held in the `ixp-entity` store (a page that picks the entity, as the index
    page does, writes the store). Saving (`save`, registered per app) shows its result and the entity's reviews
    again in `ixp-reviews`, which the page places (with `review_list`) wherever it lists them."""
    return [
        dcc.Store(id="ixp-entity", data={"level": level, "id": entity_id}),
        # The label names the radio group for screen readers (assets/js/a11y.js points the group at it).
        html.Label("Verdict", htmlFor="ixp-verdict", className="form-label small mb-0 d-block"),
        dcc.RadioItems(id="ixp-verdict", options=[{"label": " confirm", "value": "confirmed"},
                                                  {"label": " reject", "value": "rejected"}],
                       value="confirmed", inline=True, inputClassName="me-1", labelClassName="me-3"),
        html.Label("Note", htmlFor="ixp-note", className="form-label small mb-0"),
        dcc.Textarea(id="ixp-note", maxLength=2000, placeholder="Why (kept with your name and the time)",
                     className="form-control", style={"height": "4rem"}),
        html.Button("Save review", id="ixp-save", className="btn btn-sm btn-secondary mt-1"),
        html.Div(id="ixp-result", className="small", **{"aria-live": "polite"}),
    ]


def register_callbacks(app) -> None:
    """The review form's callback, registered on each app (dashboard/app.py create_app): a module-level
    @callback in a component reaches only the first app a process builds."""
    app.callback(Output("ixp-result", "children"), Output("ixp-reviews", "children"), Input("ixp-save", "n_clicks"),
                 State("ixp-entity", "data"), State("ixp-verdict", "value"), State("ixp-note", "value"),
                 prevent_initial_call=True)(save)


def save(_n, entity, verdict, note):
    """Append the review (layers/index checks the role and audits it), then show the reviews again."""
    viewer = access.require("records")
    entity = entity if isinstance(entity, dict) else {}
    level, entity_id = entity.get("level"), entity.get("id")
    if level not in KINDS or entity_id is None:
        return "Choose a purchaser, dealer or gun by its id first.", None
    try:
        r = index.review(level, entity_id, verdict if verdict in index.VERDICTS else "", str(note or ""), viewer)
    except ValueError as exc:
        return f"Not saved: {exc}.", review_list((index.explain(level, entity_id, viewer) or {}).get("reviews", []))
    e = index.explain(level, entity_id, viewer) or {"reviews": []}
    return f"Saved: {r['verdict']} by {r['username']} at {r['at']:%Y-%m-%d %H:%M}.", review_list(e["reviews"])
