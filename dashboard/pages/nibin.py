"""NIBIN: guns linked by NIBIN to several incidents, recovered or not, newest linked incident first.

/nibin lists them; a recovered gun's lead opens its journey with the lead shown
(/firearm/<id>?lead=<lead id>); a casings-only group opens here (/nibin?group=<gun group>&lead=<lead id>)
with its scenes and the leads that join them.
"""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboard.components import tables
from dashboard.components.investigate import int_or_none
from layers.access import current_viewer
from layers.nibin import MIN_INCIDENTS, group_scenes

dash.register_page(__name__, capability="records", path="/nibin", name="NIBIN", order=2.5,
                   title="Crime Gun Atlas — NIBIN-linked guns")


def _group(gun_group: int, lead: str | None) -> html.Div:
    viewer = current_viewer()
    g = group_scenes(gun_group, viewer)
    if g is None:
        return html.Div([html.H1("NIBIN group not found", className="inv-title"),
                         dcc.Link("All NIBIN-linked guns", href="/nibin")], className="inv-page", id="nibin-page")
    recovered = (html.P(["A gun of this group has been recovered: ",
                         dcc.Link("open its journey", href=f"/firearm/{g['firearm_id']}"
                                  + (f"?lead={lead}" if lead else ""))], className="inv-note")
                 if g["firearm_id"] else
                 html.P("No gun of this group has been recovered or test-fired: it may still be on the street.",
                        className="inv-note"))
    leads = [html.Li([html.Strong(x["lead_id"]), f" ({x['lead_status']}, {x['lead_date']}): ",
                      f"{x['evidence_a']} ↔ {x['evidence_b']}"],
                     className="inv-lead" + (" inv-lead-current" if x["lead_id"] == lead else ""),
                     **({"id": "nibin-lead-current", "aria-current": "true"} if x["lead_id"] == lead else {}))
             for x in g["leads"]]
    current = next((x for x in g["leads"] if x["lead_id"] == lead), None)
    return html.Div([
        html.H1(f"NIBIN group {gun_group}: {len(g['scenes'])} linked scenes", className="inv-title"),
        html.P(f"Lead {current['lead_id']} of {current['lead_date']} ({current['lead_status']}) joins "
               "the scenes marked in the list of leads.", id="nibin-current-lead", className="alert alert-info")
        if current else None,
        recovered,
        html.H2("Linked scenes, oldest first", className="inv-h2"),
        tables.table("nibin-scenes", viewer, {"group": gun_group}),
        html.H2("Leads joining them, newest first", className="inv-h2"),
        html.Ol(leads, className="inv-leads", id="nibin-group-leads"),
        dcc.Link("All NIBIN-linked guns", href="/nibin", className="inv-back"),
    ], className="inv-page", id="nibin-page")


def layout(group: str | None = None, lead: str | None = None, **_query) -> html.Div:
    gid = int_or_none(group)
    lead = str(lead)[:32] if lead else None
    if gid is not None:
        return _group(gid, lead)
    return html.Div([
        html.H1("NIBIN-linked guns", className="inv-title"),
        html.P(f"Recovered guns and casings-only gun groups tied by NIBIN to {MIN_INCIDENTS} or more incidents, "
               "the newest linked incident first. The newest lead opens the gun's journey with that lead shown, "
               "or, for a gun not recovered, the scenes its casings were found at.", className="inv-note"),
        tables.table("nibin", current_viewer(), page_size=50),
    ], className="inv-page", id="nibin-page")
