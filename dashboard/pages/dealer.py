"""What is known about one dealer: /dealer/<dealer_id> (its trace record against its peers)."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboard.components.index_panel import score_panel
from dashboard.components.investigate import dl_table, int_or_none, network_link, not_found, page_head
from dashboard.components.journey_view import indicators
from layers.entities import dealer_detail

dash.register_page(__name__, capability="records", path_template="/dealer/<dealer_id>", name="Dealer", nav=False,
                   title="Crime Gun Atlas — dealer")


def layout(dealer_id: str | None = None, **_query) -> html.Div:
    did = int_or_none(dealer_id)
    d = dealer_detail(did) if did is not None else None
    if d is None:
        return not_found("Dealer")
    x = d["dealer"]
    premise = ", ".join(v for v in (x["premise_street"], (x["premise_city"] or "").title(), x["premise_state"],
                                    x["premise_zip"]) if v)
    guns = [html.Tr([
        html.Td(dcc.Link(" ".join(v for v in (g["manufacturer"], g["model"], g["caliber"]) if v) or "Firearm",
                         href=f"/firearm/{g['firearm_id']}")),
        html.Td(g["purchase_date"] or ""), html.Td(g["recovery_date"]),
        html.Td("" if g["ttc_days"] is None else f"{g['ttc_days']} days"), html.Td((g["district"] or "").title()),
        html.Td("yes" if g["multiple_sale"] else ""),
        html.Td("no" if g["possessor_is_purchaser"] is False else "yes" if g["possessor_is_purchaser"] else "?"),
    ]) for g in d["guns"]]
    years = [html.Tr([html.Td(r["year"]), html.Td(r["traces"]), html.Td(r["short"])]) for r in d["by_year"]]
    return html.Div([
        page_head(d["name"], f"Licence {x['license_number'] or x['ffl_key']} · {premise}",
                  [network_link("dealer", did, id="dealer-open-network")]),
        dl_table([("Licensee", x["license_name"]), ("In the city", "yes" if x["in_city"] else "no"),
                  ("Located by", {"zip": "ZIP-code centroid", "given": "given coordinates"}.get(
                      x["geocode_precision"], "not located"))]),
        html.H2("Record against peers", className="inv-h2"), indicators([d["indicator"]]),
        score_panel("dealer", did),
        html.H2("Traced guns by recovery year", className="inv-h2"),
        html.Table([html.Thead(html.Tr([html.Th("Year"), html.Th("Traces"), html.Th("Under 1 year")])),
                    html.Tbody(years)], className="table table-sm inv-narrow"),
        html.H2(f"Most recent traced sales ({len(guns)} shown)", className="inv-h2"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in ("Firearm", "Sold", "Recovered", "Time-to-crime",
                                                               "District", "Multiple sale", "Held by buyer")])),
                    html.Tbody(guns)], className="table table-sm", id="dealer-guns"),
    ], className="inv-page", id="dealer-page")
