"""What is known about one person: /person/<person_id> (personal-data roles only)."""

from __future__ import annotations

import dash
from dash import html

from dashboard.components import tables
from dashboard.components.index_panel import score_panel
from dashboard.components.investigate import (
    dl_table,
    int_or_none,
    network_link,
    not_found,
    page_head,
    restricted_notice,
)
from layers.access import current_viewer
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
    return html.Div([
        page_head(name, f"{d['purchased']} traced gun(s) purchased · {d['possessed']} possessed",
                  [network_link("person", pid, id="person-open-network")]),
        dl_table([("Born", str(p["dob"]) if p["dob"] else None), ("Sex", p["sex"]), ("Race", p["race"]),
                  ("Address", address)]),
        html.H2("Traced guns", className="inv-h2"),
        html.Div(tables.table("person-guns", current_viewer(), {"person_id": pid},
                              rows=tables.person_gun_rows(d["guns"])), id="person-guns"),
        score_panel("purchaser", pid) if d["purchased"] else None,
    ], className="inv-page", id="person-page")
