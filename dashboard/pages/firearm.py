"""The journey of one firearm: /firearm/<firearm_id>."""

from __future__ import annotations

import dash
from dash import Input, Output, clientside_callback, dcc, html

from dashboard.components import journey_view as jv
from dashboard.components.index_panel import score_panel
from dashboard.components.investigate import (
    int_or_none,
    network_link,
    not_found,
    page_head,
    restricted_notice,
)
from layers import districts
from layers.journey import firearm_journey

dash.register_page(__name__, capability="records", path_template="/firearm/<firearm_id>", name="Firearm", nav=False,
                   title="Crime Gun Atlas — firearm journey")


def _timeline(j: dict) -> html.Ol:
    """The timeline, the steps of the lead asked for (?lead=) marked."""
    ol = jv.timeline(j["timeline"])
    marked = {s["step"] for s in j["timeline"] if s.get("lead")}
    for li in ol.children:
        step = int(str(li.id).rsplit("-", 1)[1])
        if step in marked:
            li.className += " inv-step-lead"
            li.style = {"outline": "3px solid #d69e2e", "outlineOffset": "2px", "background": "#fffbea"}
            li.children = [html.Div(f"NIBIN lead {j['lead']['lead_id']}", className="badge bg-warning text-dark"),
                           *li.children]
    return ol


def _lead_note(j: dict) -> html.Div | None:
    lead = j.get("lead")
    if not lead:
        return None
    if not lead["found"]:
        return html.Div(f"Lead {lead['lead_id']} does not touch this gun's timeline.",
                        className="alert alert-secondary", id="journey-lead")
    steps = ", ".join(str(n) for n in lead["steps"])
    return html.Div([f"NIBIN lead {lead['lead_id']} ({lead['lead_status']}, {lead['lead_date']}): ",
                     html.A(f"step{'s' if len(lead['steps']) != 1 else ''} {steps}",
                            href=f"#step-{lead['steps'][0]}"), " of the timeline."],
                    className="alert alert-warning", id="journey-lead")


def layout(firearm_id: str | None = None, lead: str | None = None, **_query) -> html.Div:
    fid = int_or_none(firearm_id)
    j = firearm_journey(fid, lead=str(lead)[:32] if lead else None) if fid is not None else None
    if j is None:
        return not_found("Firearm")
    first = (j.get("lead") or {}).get("steps") or []
    f = j["firearm"]
    sub = [jv.serial_text(f), f" · {len(j['traces'])} trace{'s' if len(j['traces']) != 1 else ''}",
           f" · {sum(1 for i in j['incidents'] if i['via'] == 'nibin')} NIBIN-linked incidents"]
    return html.Div([
        page_head(f["description"].upper(), sub, [network_link("firearm", fid, id="firearm-open-network")]),
        None if j["personal_data"] else restricted_notice(),
        _lead_note(j),
        dcc.Store(id="journey-lead-target", data=f"step-{first[0]}" if first else None),
        html.Div(id="journey-lead-scrolled", hidden=True),
        html.Section([html.H2("Summary", className="inv-h2"),
                      html.P(j["summary"], id="journey-summary", className="inv-summary")]),
        html.Div([
            html.Section([html.H2("Timeline", className="inv-h2"), _timeline(j)],
                         className="inv-col-timeline"),
            html.Section([html.H2("Path", className="inv-h2"),
                          html.P(f"Distance travelled along the path: about {j['distance_km']:,.1f} km "
                                 f"(straight lines between {len(j['path'])} located steps).",
                                 id="journey-distance", className="inv-note"),
                          jv.path_map(j["path"], districts.boundaries_geojson("district"), j["summary"])],
                         className="inv-col-map"),
        ], className="inv-two-col"),
        html.Section([html.H2("Trafficking indicators", className="inv-h2"),
                      html.P("Each indicator with the figures it rests on; none is proof on its own.",
                             className="inv-note"),
                      jv.indicators(j["indicators"])]),
        score_panel("firearm", fid),
        dcc.Link("Back to search", href="/search", className="inv-back"),
    ], className="inv-page", id="firearm-page")


# The lead asked for is scrolled into view once the page is drawn.
clientside_callback(
    """function (target) {
        if (!target) { return window.dash_clientside.no_update; }
        var el = document.getElementById(target);
        if (el) { el.scrollIntoView({block: "center"}); }
        return target;
    }""",
    Output("journey-lead-scrolled", "children"), Input("journey-lead-target", "data"))
