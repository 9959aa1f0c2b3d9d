"""Audit: every sign-in, search, record view, network expansion, export and account change (admin only)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import dash
from dash import Input, Output, State, callback, dcc, html

from layers import access
from layers.access import audit

dash.register_page(__name__, capability="audit", path="/audit", name="Audit", order=6,
                   title="Crime Gun Atlas — audit trail")

COLUMNS = ("at", "username", "role", "event", "outcome", "record_kind", "record_ids", "record_count", "purpose",
           "client_ip", "detail")
HEADERS = ("When (local)", "Account", "Role", "Event", "Outcome", "Records", "Ids", "Count", "Purpose", "Address",
           "Detail")


def layout(**_query) -> html.Div:
    today = dt.date.today()
    return html.Div([
        html.H1("Audit trail", className="h4 mt-3"),
        html.P(f"Append-only: the database refuses changes and deletions; events are kept "
               f"{audit.retention_days()} days. Filter, then export what you see as CSV (the export is itself "
               "recorded).", className="text-muted"),
        html.Div([
            html.Div([html.Label("Account", htmlFor="audit-user", className="form-label"),
                      dcc.Input(id="audit-user", type="text", debounce=True, className="form-control form-control-sm",
                                style={"width": "12rem"})]),
            html.Div([html.Label("Event", htmlFor="audit-event", className="form-label"),
                      dcc.Dropdown(id="audit-event", options=audit.event_names(), placeholder="any event")],
                     style={"minWidth": "14rem"}),
            html.Div([html.Label("From", htmlFor="audit-start", className="form-label"),
                      dcc.Input(id="audit-start", type="date", value=(today - dt.timedelta(days=30)).isoformat(),
                                className="form-control form-control-sm", style={"width": "10rem"})]),
            html.Div([html.Label("To", htmlFor="audit-end", className="form-label"),
                      dcc.Input(id="audit-end", type="date", value=today.isoformat(),
                                className="form-control form-control-sm", style={"width": "10rem"})]),
            html.Div([html.Label("Record (id or kind:id)", htmlFor="audit-record", className="form-label"),
                      dcc.Input(id="audit-record", type="text", debounce=True, placeholder="e.g. person:12",
                                className="form-control form-control-sm", style={"width": "12rem"})]),
            html.Div(html.Button("Export CSV", id="audit-export", className="btn btn-sm btn-primary"),
                     className="align-self-end"),
        ], className="d-flex flex-wrap gap-3 align-items-start mb-2"),
        dcc.Download(id="audit-download"),
        html.Div(id="audit-count", className="text-muted small", **{"aria-live": "polite"}),
        html.Div(id="audit-table"),
    ], className="container-fluid", id="audit-page")


def _date(value):
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _events(user, event, start, end, record):
    return audit.events(user=user, event=event, start=_date(start), end=_date(end), record=record)


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if key == "record_ids":
        ids = value or []
        return ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@callback(Output("audit-table", "children"), Output("audit-count", "children"),
          Input("audit-user", "value"), Input("audit-event", "value"), Input("audit-start", "value"),
          Input("audit-end", "value"), Input("audit-record", "value"))
def show(user, event, start, end, record):
    rows = _events(user, event, start, end, record)
    table = html.Table([
        html.Thead(html.Tr([html.Th(h, scope="col") for h in HEADERS])),
        html.Tbody([html.Tr([html.Td(_cell(r, k)) for k in COLUMNS]) for r in rows]),
    ], className="table table-sm table-striped audit-table", id="audit-events")
    return table, f"{len(rows):,} event(s) shown, newest first{' (first 500)' if len(rows) >= 500 else ''}."


@callback(Output("audit-download", "data"), Input("audit-export", "n_clicks"),
          State("audit-user", "value"), State("audit-event", "value"), State("audit-start", "value"),
          State("audit-end", "value"), State("audit-record", "value"), prevent_initial_call=True)
def export(_n, user, event, start, end, record):
    viewer = access.require("audit")
    rows = _events(user, event, start, end, record)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"# Crime Gun Atlas audit trail, exported {dt.datetime.now():%Y-%m-%d %H:%M} by {viewer.user}; "
                     f"filters: account={user or 'any'}, event={event or 'any'}, from={start or '-'}, to={end or '-'}, "
                     f"record={record or 'any'}"])
    writer.writerow(HEADERS)
    for r in rows:
        writer.writerow([_safe(_cell(r, k)) for k in COLUMNS])
    audit.record(viewer, "export", kind="audit", ids=[str(r["id"]) for r in rows],
                 detail={"what": "audit trail", "format": "csv", "user": user, "event": event, "start": start,
                         "end": end, "record": record})
    return {"content": out.getvalue(), "filename": "audit-trail.csv", "type": "text/csv"}


def _safe(text: str) -> str:
    """Cells a spreadsheet would run as formulas are quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
