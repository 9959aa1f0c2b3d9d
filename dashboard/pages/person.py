"""What is known about one person: /person/<person_id> (personal-data roles only)."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboard.components.investigate import (
    dl_table,
    int_or_none,
    network_link,
    not_found,
    page_head,
    restricted_notice,
)
from layers.entities import person_detail

dash.register_page(__name__, capability="records", path_template="/person/<person_id>", name="Person", nav=False,
                   title="Crime Gun Atlas — person")


def layout(person_id: str | None = None, **_query) -> html.Div:
    pid = int_or_none(person_id)
    d = person_detail(pid) if pid is not None else None
    if d is None:
        return not_found("Person")
    if d["restricted"]:
        return html.Div([page_head("Person [restricted]"), restricted_notice("People")], className="inv-page")
    p = d["person"]
    name = f"{p['last_name']}, {p['first_name']}" if p["first_name"] else p["last_name"]
    address = ", ".join(x for x in (p["street"], (p["city"] or "").title(), p["state"], p["zip"]) if x)
    rows = [html.Tr([
        html.Td(dcc.Link(" ".join(x for x in (g["manufacturer"], g["model"], g["caliber"]) if x),
                         href=f"/firearm/{g['firearm_id']}")),
        html.Td("obliterated" if g["serial_obliterated"] else g["serial_number"] or ""),
        html.Td(g["role"]), html.Td(g["purchase_date"] or ""), html.Td(g["recovery_date"] or ""),
        html.Td("" if g["ttc_days"] is None else f"{g['ttc_days']} days"),
        html.Td(dcc.Link(g["dealer"], href=f"/dealer/{g['dealer_id']}") if g["dealer_id"] else (g["dealer"] or "")),
        html.Td(g["trace_number"]),
    ]) for g in d["guns"]]
    return html.Div([
        page_head(name, f"{d['purchased']} traced gun(s) purchased · {d['possessed']} possessed",
                  [network_link("person", pid, id="person-open-network")]),
        dl_table([("Born", str(p["dob"]) if p["dob"] else None), ("Sex", p["sex"]), ("Race", p["race"]),
                  ("Address", address)]),
        html.H2("Traced guns", className="inv-h2"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in ("Firearm", "Serial", "Role", "Bought", "Recovered",
                                                               "Time-to-crime", "Dealer", "Trace")])),
                    html.Tbody(rows)], className="table table-sm", id="person-guns"),
    ], className="inv-page", id="person-page")
