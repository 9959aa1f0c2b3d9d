"""Leads: trafficking patterns turned into work, each saying why it is there."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboard.components import tables
from dashboard.components.investigate import restricted_notice
from layers.access import current_viewer
from layers.leads import LIMIT, RECENT_DAYS, leads

dash.register_page(__name__, capability="records", path="/leads", name="Leads", order=2, title="Crime Gun Atlas — leads")

SECTIONS = (
    ("purchasers", "Repeat and straw-pattern purchasers",
     "Purchasers with two or more traced guns, or a gun recovered from someone else within a year of the sale, "
     "in the order of their trafficking-index score."),
    ("unrecovered", "Guns still on the street",
     "NIBIN ties casings from several incidents to one gun, and no gun has been recovered and test-fired."),
    ("dealers", "Dealers out of line with their peers",
     "More traces under one year, bought by repeat purchasers or sold in multiple sales than their peers' shares "
     "predict for their volume, in the order of their trafficking-index score."),
    ("recent_nibin", f"New NIBIN links (last {RECENT_DAYS} days of leads)",
     "Recently delivered leads and hits that touch a traced gun or a known person."),
)


def _version(data: dict) -> str:
    for key in ("purchasers", "dealers"):
        for item in data[key]:
            return item["config_version"]
    from layers.index.weights import VERSION

    return VERSION


def layout(**_query) -> html.Div:
    viewer = current_viewer()
    data = leads(viewer)
    sections = []
    for key, title, note in SECTIONS:
        items = data[key]
        sections.append(html.Section([
            html.H2(f"{title} ({'top ' if len(items) >= LIMIT else ''}{len(items)})", className="inv-h2"),
            html.P(note, className="inv-note"),
            tables.table(f"leads-{key}", viewer, rows=tables.lead_rows(items), page_size=10),
        ], id=f"leads-{key}", className="inv-lead-section"))
    return html.Div([
        html.H1("Leads", className="inv-title"),
        html.P([f"Scores: trafficking index, weights {_version(data)}. ",
                dcc.Link("Every purchaser, dealer, gun and source state ranked, explained and reviewed", href="/index"),
                ". ", dcc.Link("Every gun linked by NIBIN to several incidents, newest first", href="/nibin",
                               id="leads-nibin-link"), "."],
               className="inv-note"),
        None if viewer.personal_data else restricted_notice(),
        html.Div(sections, className="inv-lead-grid"),
    ], className="inv-page", id="leads-page")
