"""The link network: /network?focus=<kind>:<id> — expand on click, filter, shortest connection, export."""

from __future__ import annotations

import datetime as dt

import dash
import dash_cytoscape as cyto
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard.components import network_view as nv
from dashboard.components.investigate import KIND_LABELS, restricted_notice, search_form
from layers import network as net
from layers.access import current_viewer

dash.register_page(__name__, capability="records", path="/network", name="Network", order=3, title="Crime Gun Atlas — network")

# dash-cytoscape (~500 KB) is only needed here: it is left out of every page's scripts and this page loads
# it on arrival (assets/js/network.js), then draws the graph. Dash still serves the file.
for _resource in cyto._js_dist:
    _resource["dynamic"] = True


def cytoscape_src() -> str:
    """URL of dash-cytoscape's bundle as Dash serves it (fingerprinted, so browsers cache it)."""
    bundle = {k: v for k, v in cyto._js_dist[0].items() if k not in ("dynamic", "async")}
    return dash.get_app()._collect_and_register_resources([bundle])[0]


def _graph() -> cyto.Cytoscape:
    return cyto.Cytoscape(
        id="network-graph", elements=[], stylesheet=nv.stylesheet(),
        # randomize False: a re-layout after an expansion starts from where the nodes were, so they move less.
        layout={"name": "cose", "animate": False, "randomize": False, "nodeRepulsion": 9000, "idealEdgeLength": 90},
        style={"width": "100%", "height": "100%"}, minZoom=0.2, maxZoom=3, responsive=True,
    )


def _date(s: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(s[:10]) if s else None
    except ValueError:
        return None


def _legend() -> html.Div:
    rows = [html.Div([html.Span(className=f"inv-shape inv-shape-{k}", style={"backgroundColor": c}),
                      html.Span(KIND_LABELS[k])], className="legend-row")
            for k, (_, c) in nv.KIND_STYLE.items()]
    return html.Div([html.Div("Nodes", className="legend-title"), *rows], className="legend-block")


def layout(focus: str | None = None, **_query) -> html.Div:
    viewer = current_viewer()
    error = None
    if focus:
        try:
            net.parse_node(focus)
        except ValueError as exc:
            error, focus = str(exc), None
    controls = html.Div([
        html.H1("Network", className="side-title"),
        search_form(),
        html.Div(error, className="alert alert-warning") if error else None,
        None if focus else html.P("Open a network from a firearm, person, dealer or incident page, or from "
                                  "a search result.", className="inv-note", id="network-no-focus"),
        html.Fieldset([
            html.Legend("Hops from the focus", className="form-label fw-semibold mt-2 fs-6"),
            dcc.RadioItems(id="network-hops", options=[{"label": f" {n}", "value": n} for n in (1, 2, 3)], value=2,
                           inline=True, inputClassName="me-1", labelClassName="me-3"),
        ]),
        html.Fieldset([
            html.Legend("Relations", className="form-label fw-semibold mt-2 fs-6"),
            dcc.Checklist(id="network-relations", options=[{"label": f" {r}", "value": r} for r in net.RELATIONS],
                          value=list(net.RELATIONS), labelClassName="d-block"),
        ]),
        html.Div([
            html.Label("From", htmlFor="network-start", className="form-label fw-semibold mt-2 me-2"),
            dcc.Input(id="network-start", type="date", debounce=True, className="form-control form-control-sm"),
            html.Label("To", htmlFor="network-end", className="form-label fw-semibold mt-1 me-2"),
            dcc.Input(id="network-end", type="date", debounce=True, className="form-control form-control-sm"),
        ]),
        html.Div(id="network-count", className="inv-note mt-2", **{"aria-live": "polite"}),
        html.Hr(),
        html.Div(id="network-selected", children=html.P("Click a node: it expands, and its details show here.",
                                                         className="inv-note")),
        html.Div([
            html.Button("Use as start", id="network-set-a", className="btn btn-sm btn-outline-secondary me-1"),
            html.Button("Use as end", id="network-set-b", className="btn btn-sm btn-outline-secondary"),
        ], className="mt-2"),
        html.Div(id="network-ends", className="inv-note mt-1"),
        html.Button("Find shortest connection", id="network-find-path", className="btn btn-sm btn-primary mt-1"),
        html.Div(id="network-path-result", className="mt-1", **{"aria-live": "polite"}),
        html.Hr(),
        html.Div([
            html.Button("Export image (PNG)", id="network-export-png", className="btn btn-sm btn-outline-primary me-1"),
            html.Button("Export table (CSV)", id="network-export-csv", className="btn btn-sm btn-outline-primary"),
        ]),
        html.Div(id="network-export-status", className="inv-note mt-1", **{"aria-live": "polite"}),
        dcc.Download(id="network-download"),
        _legend(),
        None if viewer.personal_data else restricted_notice("People and places (addresses)"),
    ], className="map-side inv-network-side")
    graph = html.Div(html.P("Drawing the graph…", className="inv-note p-3"), id="network-graph-holder",
                     className="inv-network-wrap", role="img", **{
                         "data-src": cytoscape_src(),
                         "aria-label": "Link network graph; the node list below is the text alternative."})
    return html.Div([
        dcc.Store(id="network-focus", data=focus),
        dcc.Store(id="network-store"),
        dcc.Store(id="network-selected-node"),
        dcc.Store(id="network-path-ends", data={"a": None, "b": None}),
        dcc.Store(id="network-cyto-ready"),
        controls,
        # The graph is drawn on a canvas a keyboard cannot reach: the same nodes as a list (each one selects and
        # expands like a tap, and links to its page) and the links as text, open by default.
        html.Div([graph, html.Details([html.Summary("Nodes and links as a list", className="fw-semibold"),
                                       html.Div(id="network-text")], className="inv-network-text", open=True,
                                      id="network-text-section")],
                 className="inv-network-main"),
    ], className="map-page inv-network-page")


def _filters(relations, start, end) -> dict:
    return {"relations": relations or [], "start": _date(start), "end": _date(end)}


@callback(Output("network-store", "data"),
          Input("network-hops", "value"), Input("network-relations", "value"),
          Input("network-start", "value"), Input("network-end", "value"),
          State("network-focus", "data"))
def build(hops, relations, start, end, focus):
    if not focus:
        return nv.empty_graph()
    g = net.network(focus, hops=int(hops or 2), **_filters(relations, start, end))
    return {**g, "path": []}


def _expand(node, graph, relations, start, end):
    if not node:
        raise dash.exceptions.PreventUpdate
    known = [n["id"] for n in graph["nodes"]]
    addition = net.expand(node["id"], known=known, **_filters(relations, start, end))
    return nv.merge(graph, addition), node


def _graph_ok(graph) -> bool:
    return isinstance(graph, dict) and isinstance(graph.get("nodes"), list)


# Two callbacks, not one: the graph appears after its library loads, and a callback with an input on a
# component not yet in the page must not fire (the node list can be used before the graph is drawn).
@callback(Output("network-store", "data", allow_duplicate=True), Output("network-selected-node", "data"),
          Input("network-graph", "tapNodeData"),
          State("network-store", "data"), State("network-relations", "value"),
          State("network-start", "value"), State("network-end", "value"), prevent_initial_call=True)
def expand_on_tap(tapped, graph, relations, start, end):
    """A node tapped in the graph is selected and expanded."""
    if not _graph_ok(graph):
        raise dash.exceptions.PreventUpdate
    return _expand(tapped, graph, relations, start, end)


@callback(Output("network-store", "data", allow_duplicate=True),
          Output("network-selected-node", "data", allow_duplicate=True),
          Input({"type": "network-node", "id": ALL}, "n_clicks"),
          State("network-store", "data"), State("network-relations", "value"),
          State("network-start", "value"), State("network-end", "value"), prevent_initial_call=True)
def expand_from_list(_clicks, graph, relations, start, end):
    """A node chosen in the node list (mouse or keyboard) is selected and expanded, as a tap would."""
    if not _graph_ok(graph) or not isinstance(ctx.triggered_id, dict):
        raise dash.exceptions.PreventUpdate
    if not ctx.triggered or not ctx.triggered[0]["value"]:  # a button press, not its (re)appearance with 0 clicks
        raise dash.exceptions.PreventUpdate
    listed = next((n for n in graph["nodes"] if isinstance(n, dict) and n.get("id") == ctx.triggered_id.get("id")
                   and "label" in n and "kind" in n), None)
    # The same data a tap on the graph sends (label with its second line, kind, page).
    node = nv.elements({"nodes": [listed], "edges": []})[0]["data"] if listed else None
    return _expand(node, graph, relations, start, end)


dash.clientside_callback(dash.ClientsideFunction("atlasNetwork", "loadGraphLibrary"),
                         Output("network-cyto-ready", "data"), Input("network-graph-holder", "data-src"))


@callback(Output("network-graph-holder", "children"), Input("network-cyto-ready", "data"))
def draw_graph(ready):
    """The graph component, once its library is in the page (its elements follow from `graph_elements`)."""
    if not ready:
        return html.P("The graph could not be drawn in this browser; the node list below has every node and link.",
                      className="inv-note p-3")
    return _graph()


@callback(Output("network-graph", "elements"), Input("network-store", "data"), Input("network-graph", "id"))
def graph_elements(graph, _mounted):
    """The graph's elements — also when the graph appears after the data (its library loads on arrival)."""
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) or not graph["nodes"]:
        return []
    return nv.elements(graph)


@callback(Output("network-count", "children"), Output("network-text", "children"), Input("network-store", "data"))
def render(graph):
    if not graph or not graph["nodes"]:
        return "No nodes to show.", None
    msg = f"{len(graph['nodes'])} nodes, {len(graph['edges'])} links."
    if graph.get("truncated"):
        msg += f" Capped at {net.MAX_NODES} nodes: narrow the relations, dates or hops to see everything."
    labels = {n["id"]: n["label"] for n in graph["nodes"]}
    nodes = html.Ul([html.Li([
        html.Span(KIND_LABELS.get(n["kind"], n["kind"]) + ": ", className="inv-kind-inline"),
        html.Button(n["label"], id={"type": "network-node", "id": n["id"]}, n_clicks=0, type="button",
                    className="btn btn-link btn-sm p-0 align-baseline network-node-button",
                    title="Select and expand this node"),
        html.Span(f" {n['sub']}", className="inv-note") if n.get("sub") else None,
        " · ", dcc.Link("open its page", href=n["page"], className="network-node-page") if n.get("page") else
        html.Span("no page", className="inv-note"),
    ]) for n in graph["nodes"][:500]], id="network-node-list", className="network-node-list")
    links = html.Ul([html.Li(f"{labels.get(e['source'], e['source'])} — {e['relation']}"
                             f"{' ' + e['date'] if e.get('date') else ''} — {labels.get(e['target'], e['target'])}")
                     for e in graph["edges"][:500]], id="network-edge-list")
    text = [html.H2("Nodes", className="inv-h2 mt-1"), nodes, html.H2("Links", className="inv-h2"), links]
    return msg, text


@callback(Output("network-selected", "children"), Input("network-selected-node", "data"))
def show_selected(node):
    if not node:
        raise dash.exceptions.PreventUpdate
    kind = node.get("kind", "")
    return html.Div([
        html.Div(KIND_LABELS.get(kind, kind), className="inv-kind"),
        html.Div(node.get("label", "").split("\n")[0], className="fw-semibold", id="network-selected-label"),
        html.Div("\n".join(node.get("label", "").split("\n")[1:]), className="inv-note"),
        dcc.Link("Open its page", href=node["page"], id="network-open-page") if node.get("page") else None,
    ])


@callback(Output("network-path-ends", "data"), Output("network-ends", "children"),
          Input("network-set-a", "n_clicks"), Input("network-set-b", "n_clicks"),
          State("network-selected-node", "data"), State("network-path-ends", "data"), prevent_initial_call=True)
def set_ends(_a, _b, node, ends):
    if not node:
        return no_update, "Click a node first."
    ends = dict(ends or {})
    ends["a" if ctx.triggered_id == "network-set-a" else "b"] = {"id": node["id"],
                                                                 "label": node["label"].split("\n")[0]}
    text = " → ".join(x["label"] if x else "?" for x in (ends.get("a"), ends.get("b")))
    return ends, f"Connection: {text}"


@callback(Output("network-store", "data", allow_duplicate=True), Output("network-path-result", "children"),
          Input("network-find-path", "n_clicks"),
          State("network-path-ends", "data"), State("network-store", "data"), State("network-relations", "value"),
          State("network-start", "value"), State("network-end", "value"), prevent_initial_call=True)
def find_path(_n, ends, graph, relations, start, end):
    a, b = (ends or {}).get("a"), (ends or {}).get("b")
    if not a or not b:
        return no_update, html.Span("Choose a start and an end node first.", id="network-path-text")
    res = net.shortest_path(a["id"], b["id"], **_filters(relations, start, end))
    if not res["path"]:
        return no_update, html.Span(f"No connection within {res['searched_hops']} hops with these filters.",
                                    id="network-path-text")
    merged = nv.merge(graph, res)
    merged["path"] = res["path"]
    labels = {n["id"]: n["label"] for n in merged["nodes"]}
    hops = len(res["path"]) - 1
    return merged, html.Div([
        html.Span(f"Connected in {hops} step{'s' if hops != 1 else ''}: ", id="network-path-text"),
        html.Span(" → ".join(labels.get(n, n) for n in res["path"]), id="network-path-chain"),
    ])


@callback(Output("network-graph", "generateImage"), Input("network-export-png", "n_clicks"), prevent_initial_call=True)
def export_png(_n):
    return {"type": "png", "action": "both", "filename": "network", "options": {"full": True, "scale": 2}}


@callback(Output("network-export-status", "children"), Input("network-graph", "imageData"), prevent_initial_call=True)
def png_done(data):
    if not data:
        raise dash.exceptions.PreventUpdate
    return html.Span(f"Image exported ({len(data) * 3 // 4 // 1024} KB PNG).", id="network-png-done")


@callback(Output("network-download", "data"), Input("network-export-csv", "n_clicks"),
          State("network-store", "data"), prevent_initial_call=True)
def export_csv(_n, graph):
    if not graph or not graph["nodes"]:
        raise dash.exceptions.PreventUpdate
    from layers.access import audit, require

    viewer = require("records")
    rows = net.to_csv_rows(graph)
    audit.record(viewer, "export", kind="node", ids=[n["id"] for n in graph["nodes"]],
                 detail={"what": "network", "format": "csv", "focus": graph.get("focus")})
    return {"content": nv.to_csv(rows), "filename": "network.csv", "type": "text/csv"}

