"""The journey of one firearm: /firearm/<firearm_id>."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboard.components import journey_view as jv
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


def layout(firearm_id: str | None = None, **_query) -> html.Div:
    fid = int_or_none(firearm_id)
    j = firearm_journey(fid) if fid is not None else None
    if j is None:
        return not_found("Firearm")
    f = j["firearm"]
    sub = [jv.serial_text(f), f" · {len(j['traces'])} trace{'s' if len(j['traces']) != 1 else ''}",
           f" · {sum(1 for i in j['incidents'] if i['via'] == 'nibin')} NIBIN-linked incidents"]
    return html.Div([
        page_head(f["description"].upper(), sub, [network_link("firearm", fid, id="firearm-open-network")]),
        None if j["personal_data"] else restricted_notice(),
        html.Section([html.H2("Summary", className="inv-h2"),
                      html.P(j["summary"], id="journey-summary", className="inv-summary")]),
        html.Div([
            html.Section([html.H2("Timeline", className="inv-h2"), jv.timeline(j["timeline"])],
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
        dcc.Link("Back to search", href="/search", className="inv-back"),
    ], className="inv-page", id="firearm-page")
