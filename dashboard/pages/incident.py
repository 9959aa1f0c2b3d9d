"""What is known about one incident: /incident/<incident_id>."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboard.components.investigate import dl_table, int_or_none, network_link, not_found, page_head
from layers.entities import incident_detail

dash.register_page(__name__, capability="records", path_template="/incident/<incident_id>", name="Incident", nav=False,
                   title="Crime Gun Atlas — incident")


def layout(incident_id: str | None = None, **_query) -> html.Div:
    iid = int_or_none(incident_id)
    d = incident_detail(iid) if iid is not None else None
    if d is None:
        return not_found("Incident")
    i = d["incident"]
    title = f"{(i['description'] or i['category'] or 'Incident').title()} {i['at']}"
    guns = [html.Li([dcc.Link(" ".join(v for v in (g["manufacturer"], g["model"], g["caliber"]) if v) or "Firearm",
                              href=f"/firearm/{g['firearm_id']}"),
                     " — recovered in this case" if g["via"] == "recovery" else
                     f" — linked by NIBIN {g['lead_id'] or ''} ({g['lead_status'] or ''})"]) for g in d["guns"]]
    chain = [html.Li([dcc.Link(f"{(o['description'] or o['category'] or 'Incident').title()} {o['date']}",
                               href=f"/incident/{o['id']}"),
                      f", {(o['district'] or '').title()}", f" — {o['lead']}" if o["lead"] else ""])
             for o in d["nibin_incidents"]]
    alerts = [html.Li(f"{a['source_id'] or 'alert ' + str(a['id'])}: {a['alert_type'].replace('_', ' ').lower()} "
                      f"at {a['at']}" + (f", {a['rounds']} rounds" if a["rounds"] else "")) for a in d["alerts"]]
    return html.Div([
        page_head(title, f"CCNumber {i['cc_number']}" if i["cc_number"] else None,
                  [network_link("incident", iid, id="incident-open-network")]),
        dl_table([("Crime code", i["crime_code"]), ("Weapon", i["weapon"]),
                  ("District", (i["district"] or "").title()), ("Neighborhood", (i["neighborhood"] or "").title()),
                  ("Address", i["address"]), ("Premise", i["premise"])]),
        html.H2("Guns tied to this incident", className="inv-h2"),
        html.Ul(guns, id="incident-guns") if guns else html.P("No gun is tied to this incident yet."),
        html.H2("Scenes fired by the same gun (NIBIN)", className="inv-h2"),
        html.Ul(chain, id="incident-nibin") if chain else html.P("No NIBIN link."),
        html.H2("Corroborating ShotSpotter alerts", className="inv-h2"),
        html.Ul(alerts, id="incident-alerts") if alerts else html.P("None matched (within 250 m and 30 minutes)."),
    ], className="inv-page", id="incident-page")
