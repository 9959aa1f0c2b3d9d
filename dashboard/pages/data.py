"""Data: what is loaded, how fresh it is, and every rejected row — so users can trust what they see."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from layers import access, etl_runs

dash.register_page(__name__, capability="data", path="/data", name="Data", title="Crime Gun Atlas — data", order=4)

COUNTS = ("rows_read", "rows_loaded", "rows_updated", "rows_duplicate", "rows_rejected")


def _numeric(cell) -> bool:
    return isinstance(cell, int) or (isinstance(cell, str) and cell.replace(",", "").isdigit())


def _table(caption: str, header: list[str], rows: list[list], table_id: str) -> html.Table:
    return html.Table([
        html.Caption(caption),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in header])),
        html.Tbody([html.Tr([html.Td(c, className="text-end" if _numeric(c) else None) for c in row])
                    for row in rows]),
    ], className="table table-sm table-striped data-table", id=table_id)


def layout(**_query) -> html.Div:
    fresh = etl_runs.freshness()
    history = etl_runs.load_history()
    with_rejects = [r for r in history if r["rows_rejected"]]
    return html.Div([
        html.H1("Data", className="h4 mt-3"),
        html.P("Every input row is loaded, or recorded as rejected with its reason: read = loaded + updated "
               "+ duplicate + rejected.", className="text-muted"),
        _table("What is loaded", ["Source", "Records", "Latest date"],
               [[f["source"], f"{f['records']:,}", f["latest"].isoformat() if f["latest"] else "—"] for f in fresh],
               "data-freshness"),
        _table("Recent loads (newest first)",
               ["#", "File", "Kind / layout", "Status", "Finished", "Read", "Loaded", "Updated", "Duplicate",
                "Rejected"],
               [[r["id"], r["file"], f"{r['kind'] or '—'} / {r['layout'] or '—'}",
                 r["status"] + (f": {r['message']}" if r["message"] else ""), r["finished"] or "—",
                 *[f"{r[c]:,}" for c in COUNTS]] for r in history], "data-loads"),
        html.H2("Rejected rows", className="h5 mt-3"),
        html.Label("Load", htmlFor="data-run", className="form-label"),
        dcc.Dropdown(id="data-run", clearable=False,
                     options=[{"label": f"#{r['id']} {r['file']} ({r['rows_rejected']:,} rejected)", "value": r["id"]}
                              for r in with_rejects],
                     value=with_rejects[0]["id"] if with_rejects else None,
                     placeholder="No load has rejected rows"),
        html.Div(id="data-rejects", className="mt-2", **{"aria-live": "polite"}),
    ], className="container-fluid data-page")


@callback(Output("data-rejects", "children"), Input("data-run", "value"))
def show_rejects(run_id: int | None):
    if run_id is None:
        return html.P("No rejected rows.", className="text-muted")
    viewer = access.current_viewer()
    rows = etl_runs.rejected_for_run(int(run_id), viewer)
    if not viewer.personal_data:
        return [html.P("Raw rows and the values a reason quotes can hold names, dates of birth, serials and "
                       "addresses: they are shown to detective, analyst and admin roles only.",
                       className="text-muted small", id="data-rejects-note"),
                _table(f"Rejected rows of load #{run_id}", ["Line", "Reason (values withheld)"],
                       [[r["line_number"], r["reason"]] for r in rows], "data-rejects-table")]
    return [_table(f"Rejected rows of load #{run_id}", ["Line", "Reason", "Raw text"],
                   [[r["line_number"], r["reason"], html.Code(r["raw"][:300])] for r in rows], "data-rejects-table")]
