"""The link network on screen: cytoscape elements and styles, graph merging, CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

KIND_STYLE = {  # shape + colour: never colour alone (the legend names each)
    "firearm": ("diamond", "#c05621"),
    "person": ("ellipse", "#2b6cb0"),
    "dealer": ("round-rectangle", "#2f855a"),
    "incident": ("triangle", "#c53030"),
    "place": ("hexagon", "#6b46c1"),
}
RELATION_COLORS = {
    "sold": "#2f855a", "purchased": "#2b6cb0", "possessed": "#3182ce", "recovered at": "#c05621",
    "linked by NIBIN": "#c53030", "occurred at": "#6b46c1", "associated with": "#718096",
}


def stylesheet() -> list[dict[str, Any]]:
    styles: list[dict[str, Any]] = [
        {"selector": "node", "style": {"label": "data(label)", "font-size": 9, "text-wrap": "wrap",
                                       "text-max-width": 110, "text-valign": "bottom", "text-margin-y": 3,
                                       "width": 26, "height": 26, "border-width": 1, "border-color": "#1a202c",
                                       "color": "#1a202c", "text-background-color": "#ffffff",
                                       "text-background-opacity": 0.75, "text-background-padding": 1}},
        {"selector": "edge", "style": {"label": "data(label)", "font-size": 7, "curve-style": "bezier",
                                       "target-arrow-shape": "triangle", "arrow-scale": 0.8, "width": 1.5,
                                       "color": "#2d3748", "text-rotation": "autorotate",
                                       "text-background-color": "#ffffff", "text-background-opacity": 0.7}},
        {"selector": ".focus", "style": {"width": 38, "height": 38, "border-width": 3, "font-weight": "bold"}},
        {"selector": ".path", "style": {"border-width": 4, "border-color": "#d69e2e", "line-color": "#d69e2e",
                                        "target-arrow-color": "#d69e2e", "width": 4, "z-index": 10}},
        {"selector": "node.path", "style": {"width": 34, "height": 34}},
        {"selector": ":selected", "style": {"border-width": 4, "border-color": "#000000"}},
    ]
    for kind, (shape, color) in KIND_STYLE.items():
        styles.insert(2, {"selector": f".{kind}", "style": {"shape": shape, "background-color": color}})
    for rel, color in RELATION_COLORS.items():
        styles.insert(2, {"selector": f".rel-{_slug(rel)}", "style": {"line-color": color,
                                                                         "target-arrow-color": color}})
    return styles


def _slug(s: str) -> str:
    return s.lower().replace(" ", "-")


def empty_graph(focus: str | None = None) -> dict[str, Any]:
    return {"focus": [focus] if focus else [], "nodes": [], "edges": [], "path": [], "truncated": False}


def merge(graph: dict[str, Any] | None, addition: dict[str, Any]) -> dict[str, Any]:
    """The graph on screen plus new nodes and edges (deduplicated by id); keeps the original focus."""
    graph = graph or empty_graph()
    nodes = {n["id"]: n for n in graph["nodes"]}
    for n in addition["nodes"]:
        if n["id"] not in nodes:
            nodes[n["id"]] = {**n, "focus": False}
    edges = {e["id"]: e for e in graph["edges"]}
    for e in addition["edges"]:
        edges.setdefault(e["id"], e)
    return {**graph, "nodes": list(nodes.values()), "edges": list(edges.values()),
            "truncated": graph.get("truncated") or addition.get("truncated", False)}


def elements(graph: dict[str, Any]) -> list[dict[str, Any]]:
    path = set(graph.get("path") or [])
    path_edges = set()
    p = graph.get("path") or []
    for a, b in zip(p, p[1:], strict=False):
        path_edges.add(frozenset((a, b)))
    out = []
    for n in graph["nodes"]:
        label = n["label"] if not n.get("sub") else f"{n['label']}\n{n['sub']}"
        classes = [n["kind"]] + (["focus"] if n.get("focus") else []) + (["path"] if n["id"] in path else [])
        out.append({"data": {"id": n["id"], "label": label, "kind": n["kind"], "page": n.get("page")},
                    "classes": " ".join(classes)})
    for e in graph["edges"]:
        classes = [f"rel-{_slug(e['relation'])}"]
        if frozenset((e["source"], e["target"])) in path_edges:
            classes.append("path")
        label = e["relation"] + (f" {e['date']}" if e.get("date") else "")
        out.append({"data": {"id": e["id"], "source": e["source"], "target": e["target"], "label": label,
                             "relation": e["relation"]}, "classes": " ".join(classes)})
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = ["record", "id", "kind", "label", "detail", "source", "target", "relation", "date"]
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in fields})
    return buf.getvalue()
