"""One table for every list of records: filtered and sorted in the browser, downloaded as CSV from the server.

`table(name, viewer, params)` renders a `dash_table.DataTable` (native filter and sort, links as
markdown) with a "Download CSV" button. The download never trusts what the browser holds: the server
reads the rows again through the layers function of the source, for the viewer of the request (so
only what the role may see), applies the table's filter and sort, neutralises cells a spreadsheet
would run as formulas, writes the export to the audit trail, and sends the file.

Each source (`SOURCES`) names its columns and its loader: `load(viewer, params) -> rows`. Parameters
that could be tampered with are checked by the loader (they only pick what to read, the gate decides
whether it may be read); the search query is taken from the session, never from the browser.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dash import MATCH, Input, Output, State, dash_table, dcc, html

from layers import access


@dataclass(frozen=True)
class Column:
    id: str
    name: str
    type: str = "text"          # "text" or "numeric" (sorting and filtering follow it)
    link: str | None = None     # key of the row's href: the cell is a link to it
    links: bool = False         # the cell is a list of (label, href)


@dataclass(frozen=True)
class Source:
    name: str
    filename: str
    columns: tuple[Column, ...]
    load: Callable[[access.Viewer, dict[str, Any]], list[dict[str, Any]]]
    record_kind: str | None = None
    id_key: str | None = None
    server_params: Callable[[], dict[str, Any]] | None = field(default=None, compare=False)


SOURCES: dict[str, Source] = {}
MAX_ROWS = 5000


def register(source: Source) -> Source:
    SOURCES[source.name] = source
    return source


# --- cells ------------------------------------------------------------------------------------------------

def _md_escape(s: str) -> str:
    return re.sub(r"([\\\[\]()*_`<>#|])", r"\\\1", s)


def _link_md(label: Any, href: str | None) -> str:
    label = "" if label is None else str(label)
    if not href or not str(href).startswith("/"):
        return _md_escape(label)
    return f"[{_md_escape(label)}]({href})"


def _display(col: Column, row: dict[str, Any]) -> Any:
    v = row.get(col.id)
    if col.links:
        return " · ".join(_link_md(label, href) for label, href in (v or []))
    if col.link:
        return _link_md(v, row.get(col.link))
    if col.type == "text" and v is not None and not isinstance(v, str):
        return str(v)
    return v


def csv_cell(v: Any) -> Any:
    """A value as a CSV cell; text a spreadsheet would run as a formula (= + - @, tab, CR) gets a leading '."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, (int,)):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    s = str(v)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + s
    return s


def _plain(col: Column, row: dict[str, Any]) -> Any:
    v = row.get(col.id)
    if col.links:
        return "; ".join(f"{label} {href}" for label, href in (v or []))
    return v


# --- filter and sort (the DataTable's native syntax, applied again on the server) --------------------------

_CLAUSE = re.compile(r"^\{(?P<col>[^}]+)\}\s+(?P<op>[a-z]*contains|datestartswith|[si]?(?:!=|<=|>=|=|<|>)|"
                     r"[si]?(?:eq|ne|lt|le|gt|ge))\s*(?P<val>.*)$", re.S)
_OPS = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'`":
        return v[1:-1]
    return v


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _match(value: Any, op: str, arg: str) -> bool:
    text = "" if value is None else str(value)
    if op.endswith("contains"):
        return arg.lower() in text.lower()
    if op == "datestartswith":
        return text.startswith(arg)
    if op[:1] in ("s", "i") and len(op) > 1:
        op = op[1:]  # case-sensitive or not: the table filters without case
    op = _OPS.get(op, op)
    a, b = _num(value), _num(arg)
    if a is None or b is None:
        a, b = text.lower(), arg.lower()
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if value is None:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def apply_filter(rows: list[dict[str, Any]], columns: tuple[Column, ...], filter_query: str | None
                 ) -> list[dict[str, Any]]:
    """Rows that pass the table's filter (clauses joined by &&, compared with the text the table shows)."""
    if not filter_query:
        return rows
    known = {c.id: c for c in columns}
    clauses = []
    for part in str(filter_query)[:2000].split(" && "):
        m = _CLAUSE.match(part.strip())
        if m and m["col"] in known:
            clauses.append((known[m["col"]], m["op"], _unquote(m["val"])))
    out = []
    for r in rows:
        if all(_match(_plain(c, r) if c.links else r.get(c.id), op, arg) for c, op, arg in clauses):
            out.append(r)
    return out


def apply_sort(rows: list[dict[str, Any]], columns: tuple[Column, ...], sort_by: list[dict] | None
               ) -> list[dict[str, Any]]:
    known = {c.id for c in columns}
    rows = list(rows)
    for s in reversed([s for s in (sort_by or []) if isinstance(s, dict) and s.get("column_id") in known]):
        key, desc = s["column_id"], s.get("direction") == "desc"
        present = [r for r in rows if r.get(key) not in (None, "")]
        missing = [r for r in rows if r.get(key) in (None, "")]
        present.sort(key=lambda r: (0, r[key]) if isinstance(r[key], (int, float)) else (1, str(r[key])),
                     reverse=desc)
        rows = present + missing
    return rows


# --- export -------------------------------------------------------------------------------------------------

def _params(source: Source, params: dict[str, Any] | None) -> dict[str, Any]:
    p = dict(params) if isinstance(params, dict) else {}
    if source.server_params:
        p.update(source.server_params())
    return p


def export_csv(name: str, viewer: access.Viewer | None = None, params: dict[str, Any] | None = None,
               filter_query: str | None = None, sort_by: list[dict] | None = None) -> dict[str, str]:
    """The table's rows read again for the viewer, filtered and sorted like the table, as a CSV download
    ({'content', 'filename', 'type'}). Audited; roles without records are refused (access.Denied)."""
    viewer = access.require("records", viewer)
    source = SOURCES[name]
    rows = source.load(viewer, _params(source, params))[:MAX_ROWS]
    rows = apply_sort(apply_filter(rows, source.columns, filter_query), source.columns, sort_by)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([c.name for c in source.columns])
    for r in rows:
        w.writerow([csv_cell(_plain(c, r)) for c in source.columns])
    from layers.access import audit

    audit.record(viewer, "export", kind=source.record_kind,
                 ids=[r[source.id_key] for r in rows if source.id_key and r.get(source.id_key) is not None],
                 detail={"what": f"table {name}", "rows": len(rows), "filter": filter_query or "",
                         "sort": sort_by or [], "params": {k: v for k, v in (params or {}).items() if k != "q"}})
    return {"content": out.getvalue(), "filename": source.filename, "type": "text/csv"}


# --- the component -------------------------------------------------------------------------------------------

def table(name: str, viewer: access.Viewer | None = None, params: dict[str, Any] | None = None,
          rows: list[dict[str, Any]] | None = None, page_size: int = 25, empty: str = "None at the moment.",
          csv_label: str = "Download CSV") -> html.Div:
    """The table of source `name` for the viewer (rows read now unless given), with its CSV button."""
    source = SOURCES[name]
    viewer = viewer or access.current_viewer()
    if rows is None:
        rows = source.load(viewer, _params(source, params))
    if not rows:
        return html.Div(html.P(empty, className="inv-note"), id=f"table-{name}", className="cga-table")
    columns = [{"id": c.id, "name": c.name, "type": c.type,
                **({"presentation": "markdown"} if (c.link or c.links) else {})} for c in source.columns]
    data = [{c.id: _display(c, r) for c in source.columns} for r in rows]
    return html.Div([
        html.Div([
            html.Button(csv_label, id={"type": "cga-table-csv", "name": name},
                        className="btn btn-sm btn-outline-primary cga-table-csv"),
            html.Span(f"{len(rows):,} row{'s' if len(rows) != 1 else ''}. Filter under each heading; sort by "
                      "clicking the arrows; the CSV keeps the filter and sort.", className="text-muted small ms-2"),
        ], className="cga-table-tools mb-1"),
        dash_table.DataTable(
            id={"type": "cga-table", "name": name}, columns=columns, data=data,
            filter_action="native", sort_action="native", sort_mode="multi", page_action="native",
            page_size=page_size, filter_options={"case": "insensitive"},
            markdown_options={"link_target": "_self"},
            style_table={"overflowX": "auto"},
            style_cell={"textAlign": "left", "whiteSpace": "normal", "height": "auto", "fontSize": "0.85rem",
                        "maxWidth": "28rem"},
            style_header={"fontWeight": "600"}),
        dcc.Store(id={"type": "cga-table-params", "name": name}, data=params or {}),
        dcc.Download(id={"type": "cga-table-download", "name": name}),
    ], id=f"table-{name}", className="cga-table")


def register_callbacks(app) -> None:
    """The tables' download callback, registered on each app (dashboard/app.py create_app): a module-level
    @callback would reach only the first app a process builds."""
    app.callback(Output({"type": "cga-table-download", "name": MATCH}, "data"),
                 Input({"type": "cga-table-csv", "name": MATCH}, "n_clicks"),
                 State({"type": "cga-table-params", "name": MATCH}, "data"),
                 State({"type": "cga-table", "name": MATCH}, "filter_query"),
                 State({"type": "cga-table", "name": MATCH}, "sort_by"),
                 State({"type": "cga-table-csv", "name": MATCH}, "id"),
                 prevent_initial_call=True)(_download)


def _download(n_clicks, params, filter_query, sort_by, button_id):
    from dash import no_update

    name = button_id.get("name") if isinstance(button_id, dict) else None
    if not n_clicks or name not in SOURCES:  # not a press, or not one of our tables: nothing to send
        return no_update
    return export_csv(name, access.current_viewer(), params if isinstance(params, dict) else None,
                      filter_query if isinstance(filter_query, str) else None,
                      sort_by if isinstance(sort_by, list) else None)


# --- the sources ---------------------------------------------------------------------------------------------

def _int(v: Any) -> int | None:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


def _load_nibin(viewer: access.Viewer, _p: dict) -> list[dict[str, Any]]:
    from layers.nibin import nibin_guns

    return [{**r, "open": "journey" if r["firearm_id"] else "scenes",
             "lead": r["lead_id"] or ""} for r in nibin_guns(viewer)]


def _load_scenes(viewer: access.Viewer, p: dict) -> list[dict[str, Any]]:
    from layers.nibin import group_scenes

    g = _int(p.get("group"))
    d = group_scenes(g, viewer) if g is not None else None
    return d["scenes"] if d else []


def _load_person_guns(viewer: access.Viewer, p: dict) -> list[dict[str, Any]]:
    from layers.entities import person_detail

    pid = _int(p.get("person_id"))
    d = person_detail(pid, viewer) if pid is not None else None
    if not d or d.get("restricted"):
        return []
    return person_gun_rows(d["guns"])


def person_gun_rows(guns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A person's traced guns (layers.entities.person_detail) as table rows."""
    out = []
    for g in guns:
        out.append({**g, "gun": " ".join(x for x in (g["manufacturer"], g["model"], g["caliber"]) if x) or "Firearm",
                    "gun_href": f"/firearm/{g['firearm_id']}",
                    "serial": "obliterated" if g["serial_obliterated"] else g["serial_number"] or "",
                    "dealer_href": f"/dealer/{g['dealer_id']}" if g["dealer_id"] else None,
                    "ttc": g["ttc_days"], "purchase_date": str(g["purchase_date"] or ""),
                    "recovery_date": str(g["recovery_date"] or "")})
    return out


def lead_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leads (layers.leads) as table rows: the analyst's verdict as text, the score to one decimal."""
    out = []
    for r in items:
        review = r.get("review")
        row = {**r, "review": f"{review['verdict']} by {review['by']} on {review['at']}: {review['note']}"
               if review else ""}
        if isinstance(row.get("score"), float):  # to one decimal: more digits only look precise
            row["score"] = round(row["score"], 1)
        out.append(row)
    return out


def _leads(key: str) -> Callable[[access.Viewer, dict], list[dict[str, Any]]]:
    def load(viewer: access.Viewer, _p: dict) -> list[dict[str, Any]]:
        from layers.leads import leads

        return lead_rows(leads(viewer)[key])

    return load


def _search(kind: str) -> Callable[[access.Viewer, dict], list[dict[str, Any]]]:
    def load(viewer: access.Viewer, p: dict) -> list[dict[str, Any]]:
        from layers.search import search

        q = str(p.get("q") or "").strip()
        return search(q, viewer)["groups"][kind] if q else []

    return load


def _session_query() -> dict[str, Any]:
    from flask import has_request_context, session

    return {"q": session.get("search_q") or ""} if has_request_context() else {}


register(Source("nibin", "nibin-linked-guns.csv", (
    Column("last_date", "Newest linked incident"), Column("status", "Status"),
    Column("gun", "Gun", link="href"), Column("incidents", "Incidents", "numeric"),
    Column("shootings", "Shootings and homicides", "numeric"), Column("first_date", "First linked incident"),
    Column("lead_id", "Newest lead", link="href"), Column("lead_date", "Lead date"),
    Column("lead_status", "Lead status"), Column("districts", "Districts")), _load_nibin, "firearm", "firearm_id"))
register(Source("nibin-scenes", "nibin-group-scenes.csv", (
    Column("date", "Date"), Column("cc_number", "Case number", link="href"), Column("category", "Category"),
    Column("description", "Description"), Column("district", "District"), Column("location", "Address"),
    Column("evidence_id", "Evidence"), Column("caliber", "Caliber")), _load_scenes, "incident", "incident_id"))
register(Source("person-guns", "person-traced-guns.csv", (
    Column("gun", "Firearm", link="gun_href"), Column("serial", "Serial"), Column("role", "Role"),
    Column("purchase_date", "Bought"), Column("recovery_date", "Recovered"),
    Column("ttc", "Time-to-crime (days)", "numeric"), Column("dealer", "Dealer", link="dealer_href"),
    Column("trace_number", "Trace")), _load_person_guns, "firearm", "firearm_id"))
register(Source("leads-purchasers", "leads-purchasers.csv", (
    Column("rank", "Rank", "numeric"), Column("score", "Score", "numeric"), Column("title", "Purchaser"),
    Column("guns", "Guns", "numeric"), Column("dealers", "Dealers", "numeric"),
    Column("short_other", "Fast, other hands", "numeric"), Column("why", "Why"), Column("review", "Review"),
    Column("links", "Open", links=True)), _leads("purchasers"), "person", "id"))
register(Source("leads-unrecovered", "leads-unrecovered-guns.csv", (
    Column("last_date", "Newest incident"), Column("title", "Gun"), Column("incidents", "Incidents", "numeric"),
    Column("why", "Why"), Column("links", "Open", links=True)), _leads("unrecovered")))
register(Source("leads-dealers", "leads-dealers.csv", (
    Column("rank", "Rank", "numeric"), Column("score", "Score", "numeric"), Column("title", "Dealer"),
    Column("place", "Place"), Column("traces", "Traces", "numeric"), Column("short_traces", "Under 1 year", "numeric"),
    Column("why", "Why"), Column("review", "Review"), Column("links", "Open", links=True)),
    _leads("dealers"), "dealer", "id"))
register(Source("leads-recent_nibin", "leads-new-nibin-links.csv", (
    Column("lead_date", "Lead date"), Column("title", "Lead"), Column("why", "Why"),
    Column("links", "Open", links=True)), _leads("recent_nibin")))
for _kind, _label in (("firearm", "Firearm"), ("incident", "Incident"), ("person", "Person"), ("dealer", "Dealer")):
    register(Source(f"search-{_kind}", f"search-{_kind}s.csv", (
        Column("title", _label, link="href"), Column("detail", "Detail"), Column("matched", "Matched")),
        _search(_kind), _kind, "id", server_params=_session_query))
