"""The link network around a firearm, person, dealer, incident or place.

Nodes are `kind:id` strings (`firearm:12`, `person:5`, `dealer:3`, `incident:99`, `place:1000 N MOUNT ST`);
edges carry a relation (sold, purchased, possessed, recovered at, linked by NIBIN, occurred at,
associated with) and a date. The graph grows hop by hop with one batched, indexed query per node
kind and relation, each capped per node (most recent first) so a busy dealer or corner cannot flood
it. People and places (addresses) are personal data: for viewers without that permission they are
left out of the graph altogether, on the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

from layers import access
from layers.db import read_engine

NODE_KINDS = ("firearm", "person", "dealer", "incident", "place")
RELATIONS = ("sold", "purchased", "possessed", "recovered at", "linked by NIBIN", "occurred at", "associated with")
PERSONAL_KINDS = frozenset({"person", "place"})
PER_NODE = 40        # most edges of one relation fetched for one node in one hop
MAX_NODES = 300      # the graph stops growing past this
MAX_PATH_HOPS = 6

# (from kind, SQL giving (from_id, to_kind, to_id, relation, date, detail)); :ids are the from ids.
_EDGE_SQL: dict[str, list[str]] = {
    "firearm": [
        """SELECT t.firearm_id::text, 'dealer', t.dealer_id::text, 'sold', t.purchase_date, t.trace_number
           FROM trace t WHERE t.firearm_id = ANY(:ids) AND t.dealer_id IS NOT NULL""",
        """SELECT t.firearm_id::text, 'person', t.purchaser_id::text, 'purchased', t.purchase_date, t.trace_number
           FROM trace t WHERE t.firearm_id = ANY(:ids) AND t.purchaser_id IS NOT NULL""",
        """SELECT t.firearm_id::text, 'person', t.possessor_id::text, 'possessed', r.recovery_date, t.trace_number
           FROM trace t JOIN recovery r ON r.trace_id = t.id
           WHERE t.firearm_id = ANY(:ids) AND t.possessor_id IS NOT NULL""",
        """SELECT r.firearm_id::text, 'place', r.street, 'recovered at', r.recovery_date, t.trace_number
           FROM recovery r JOIN trace t ON t.id = r.trace_id WHERE r.firearm_id = ANY(:ids) AND r.street IS NOT NULL""",
        """SELECT fi.firearm_id::text, 'incident', fi.incident_id::text,
                  CASE fi.via WHEN 'nibin' THEN 'linked by NIBIN' ELSE 'recovered at' END,
                  coalesce(l.lead_date, (i.crime_datetime AT TIME ZONE 'America/New_York')::date),
                  coalesce(fi.lead_id || ' (' || fi.lead_status || ')', 'recovery case')
           FROM firearm_incident fi JOIN incident i ON i.id = fi.incident_id
           LEFT JOIN nibin_lead l ON l.lead_id = fi.lead_id AND l.agency = i.agency
           WHERE fi.firearm_id = ANY(:ids)""",
    ],
    "person": [
        """SELECT x.id::text, 'firearm', s.firearm_id::text, 'purchased', s.purchase_date, s.trace_number
           FROM unnest(CAST(:ids AS int[])) x(id) CROSS JOIN LATERAL (
               SELECT t.firearm_id, t.purchase_date, t.trace_number FROM trace t WHERE t.purchaser_id = x.id
               ORDER BY t.purchase_date DESC NULLS LAST LIMIT :cap) s""",
        """SELECT x.id::text, 'firearm', s.firearm_id::text, 'possessed', s.recovery_date, s.trace_number
           FROM unnest(CAST(:ids AS int[])) x(id) CROSS JOIN LATERAL (
               SELECT t.firearm_id, r.recovery_date, t.trace_number FROM trace t JOIN recovery r ON r.trace_id = t.id
               WHERE t.possessor_id = x.id ORDER BY r.recovery_date DESC LIMIT :cap) s""",
        """SELECT t.associate_id::text, 'person', t.possessor_id::text, 'associated with', r.recovery_date,
                  t.trace_number
           FROM trace t JOIN recovery r ON r.trace_id = t.id
           WHERE t.associate_id = ANY(:ids) AND t.possessor_id IS NOT NULL""",
        """SELECT t.possessor_id::text, 'person', t.associate_id::text, 'associated with', r.recovery_date,
                  t.trace_number
           FROM trace t JOIN recovery r ON r.trace_id = t.id
           WHERE t.possessor_id = ANY(:ids) AND t.associate_id IS NOT NULL""",
    ],
    "dealer": [
        """SELECT x.id::text, 'firearm', s.firearm_id::text, 'sold', s.purchase_date, s.trace_number
           FROM unnest(CAST(:ids AS int[])) x(id) CROSS JOIN LATERAL (
               SELECT t.firearm_id, t.purchase_date, t.trace_number FROM trace t WHERE t.dealer_id = x.id
               ORDER BY t.purchase_date DESC NULLS LAST LIMIT :cap) s""",
    ],
    "incident": [
        """SELECT fi.incident_id::text, 'firearm', fi.firearm_id::text,
                  CASE fi.via WHEN 'nibin' THEN 'linked by NIBIN' ELSE 'recovered at' END,
                  coalesce(l.lead_date, (i.crime_datetime AT TIME ZONE 'America/New_York')::date),
                  coalesce(fi.lead_id || ' (' || fi.lead_status || ')', 'recovery case')
           FROM firearm_incident fi JOIN incident i ON i.id = fi.incident_id
           LEFT JOIN nibin_lead l ON l.lead_id = fi.lead_id AND l.agency = i.agency
           WHERE fi.incident_id = ANY(:ids)""",
        """SELECT i.id::text, 'place', i.location, 'occurred at',
                  (i.crime_datetime AT TIME ZONE 'America/New_York')::date, i.cc_number
           FROM incident i WHERE i.id = ANY(:ids) AND i.location IS NOT NULL""",
        # Scenes whose casings NIBIN links directly (also when no gun was ever recovered).
        """SELECT a.incident_id::text, 'incident', b.incident_id::text, 'linked by NIBIN', l.lead_date,
                  l.lead_id || ' (' || l.lead_status || ')'
           FROM ballistic_evidence a
           JOIN nibin_lead l ON a.id IN (l.evidence_a_id, l.evidence_b_id)
           JOIN ballistic_evidence b ON b.id = CASE WHEN l.evidence_a_id = a.id THEN l.evidence_b_id
                                                    ELSE l.evidence_a_id END
           WHERE a.incident_id = ANY(:ids) AND b.incident_id IS NOT NULL AND b.incident_id <> a.incident_id""",
    ],
    "place": [
        """SELECT x.s, 'incident', s.id::text, 'occurred at', s.d, s.cc_number
           FROM unnest(CAST(:ids AS text[])) x(s) CROSS JOIN LATERAL (
               SELECT i.id, (i.crime_datetime AT TIME ZONE 'America/New_York')::date AS d, i.cc_number
               FROM incident i WHERE i.location = x.s AND (i.is_firearm OR i.category IN ('homicide', 'shooting'))
               ORDER BY i.crime_datetime DESC LIMIT :cap) s""",
        """SELECT x.s, 'firearm', s.firearm_id::text, 'recovered at', s.recovery_date, s.trace_number
           FROM unnest(CAST(:ids AS text[])) x(s) CROSS JOIN LATERAL (
               SELECT r.firearm_id, r.recovery_date, t.trace_number FROM recovery r JOIN trace t ON t.id = r.trace_id
               WHERE r.street = x.s ORDER BY r.recovery_date DESC LIMIT :cap) s""",
    ],
}
_EDGE_RELATIONS = {
    ("firearm", 0): "sold", ("firearm", 1): "purchased", ("firearm", 2): "possessed", ("firearm", 3): "recovered at",
    ("firearm", 4): None, ("person", 0): "purchased", ("person", 1): "possessed", ("person", 2): "associated with",
    ("person", 3): "associated with", ("dealer", 0): "sold", ("incident", 0): None, ("incident", 1): "occurred at",
    ("incident", 2): "linked by NIBIN", ("place", 0): "occurred at", ("place", 1): "recovered at",
}


def parse_node(node: str) -> tuple[str, str]:
    kind, _, key = (node or "").partition(":")
    if kind not in NODE_KINDS or not key:
        raise ValueError(f"not a node: {node!r} (expected kind:id, kind one of {', '.join(NODE_KINDS)})")
    if kind != "place" and not key.isdigit():
        raise ValueError(f"not a node: {node!r}")
    return kind, key


_PLACE_REF = __import__("re").compile(r"^[ir][0-9]+$")


def place_ref(conn: Connection, address: str) -> str | None:
    """An opaque key for a place, for URLs: `i<id>` (the first incident at that address) or `r<id>` (the
    first recovery there). Addresses are personal data and must not travel in URLs or server logs."""
    # Each address's rows come from its own index first (OFFSET 0 keeps them apart): as a plain min(id) the
    # planner may walk the whole id index for an address the table lacks (0.6 s at 100x, per place shown).
    row = conn.execute(text("""
        SELECT 'i' || (SELECT min(id) FROM (SELECT id FROM incident WHERE location = :a OFFSET 0) i)
        UNION ALL SELECT 'r' || (SELECT min(id) FROM (SELECT id FROM recovery WHERE street = :a OFFSET 0) r)"""),
                       {"a": address}).scalars().all()
    return next((r for r in row if r), None)


def resolve_place(conn: Connection, node: str) -> str:
    """`place:i123` / `place:r45` (from a URL) -> `place:<address>`; other nodes unchanged."""
    kind, key = parse_node(node)
    if kind != "place" or not _PLACE_REF.match(key):
        return node
    table, column = ("incident", "location") if key[0] == "i" else ("recovery", "street")
    address = conn.execute(text(f"SELECT {column} FROM {table} WHERE id = :i"), {"i": int(key[1:])}).scalar()
    if not address:
        raise ValueError(f"no such place: {node!r}")
    return f"place:{address}"


def page_of(node: str, conn: Connection | None = None) -> str | None:
    kind, key = parse_node(node)
    if kind == "place":
        ref = place_ref(conn, key) if conn is not None else None
        return f"/network?focus=place:{ref}" if ref else None
    return f"/{kind}/{key}"


class _Filter:
    def __init__(self, relations: Iterable[str] | None, start: dt.date | None, end: dt.date | None,
                 viewer: access.Viewer):
        self.relations = set(relations) if relations else set(RELATIONS)
        self.start, self.end, self.viewer = start, end, viewer

    def kind_ok(self, kind: str) -> bool:
        return self.viewer.personal_data or kind not in PERSONAL_KINDS

    def edge_ok(self, relation: str, date: dt.date | None) -> bool:
        if relation not in self.relations:
            return False
        if date is not None and ((self.start and date < self.start) or (self.end and date > self.end)):
            return False
        return True


def _neighbours(conn: Connection, nodes: Iterable[str], flt: _Filter) -> list[dict[str, Any]]:
    """Edges (as dicts with source/target node ids) touching the given nodes, after filters."""
    by_kind: dict[str, list[str]] = {}
    for n in nodes:
        kind, key = parse_node(n)
        if flt.kind_ok(kind):
            by_kind.setdefault(kind, []).append(key)
    edges = []
    for kind, keys in by_kind.items():
        ids: list[Any] = keys if kind == "place" else [int(k) for k in keys]
        for n, sql in enumerate(_EDGE_SQL[kind]):
            rel = _EDGE_RELATIONS[(kind, n)]
            if rel is not None and rel not in flt.relations:
                continue
            for src, to_kind, dst, relation, date, detail in conn.execute(text(sql), {"ids": ids, "cap": PER_NODE}):
                if dst is None or not flt.kind_ok(to_kind) or not flt.edge_ok(relation, date):
                    continue
                a, b = f"{kind}:{src}", f"{to_kind}:{dst}"
                if _reversed(kind, to_kind, relation):
                    a, b = b, a
                edges.append({"source": a, "target": b, "relation": relation,
                              "date": date.isoformat() if date else None, "detail": detail})
    return edges


def _reversed(src_kind: str, dst_kind: str, relation: str) -> bool:
    """Edges read subject -> object: dealer sold firearm, person possessed firearm, firearm recovered at place."""
    if relation in ("sold", "purchased", "possessed"):
        return src_kind == "firearm"
    if relation in ("recovered at", "occurred at"):
        return src_kind == "place" or (src_kind == "incident" and dst_kind == "firearm")
    if relation == "linked by NIBIN":
        return src_kind == "incident" and dst_kind == "firearm"
    return False


def _edge_id(e: dict[str, Any]) -> str:
    a, b = sorted((e["source"], e["target"]))
    return f"{a}|{e['relation']}|{b}"


def _labels(conn: Connection, nodes: Iterable[str], viewer: access.Viewer) -> dict[str, dict[str, Any]]:
    """Label, sublabel and page for each node (personal parts only for personal-data roles)."""
    by_kind: dict[str, list[str]] = {}
    for n in nodes:
        kind, key = parse_node(n)
        by_kind.setdefault(kind, []).append(key)
    out: dict[str, dict[str, Any]] = {}
    pd = viewer.personal_data
    if "firearm" in by_kind:
        for r in conn.execute(text("""SELECT id, manufacturer, model, caliber, serial_number, serial_obliterated
                                      FROM firearm WHERE id = ANY(:ids)"""),
                              {"ids": [int(k) for k in by_kind["firearm"]]}).mappings():
            serial = "obliterated serial" if r["serial_obliterated"] else (r["serial_number"] if pd else None)
            out[f"firearm:{r['id']}"] = {"label": " ".join(x for x in (r["manufacturer"], r["model"]) if x) or "Firearm",
                                         "sub": " · ".join(x for x in (r["caliber"], serial) if x)}
    if "person" in by_kind and pd:
        for r in conn.execute(text("SELECT id, last_name, first_name, dob FROM pii.person WHERE id = ANY(:ids)"),
                              {"ids": [int(k) for k in by_kind["person"]]}).mappings():
            out[f"person:{r['id']}"] = {"label": f"{r['last_name']}, {r['first_name'] or ''}".strip(", "),
                                        "sub": f"born {r['dob']}" if r["dob"] else ""}
    if "dealer" in by_kind:
        for r in conn.execute(text("""SELECT id, coalesce(business_name, license_name) AS name, premise_city,
                                             premise_state FROM dealer WHERE id = ANY(:ids)"""),
                              {"ids": [int(k) for k in by_kind["dealer"]]}).mappings():
            out[f"dealer:{r['id']}"] = {"label": r["name"] or "Dealer",
                                        "sub": f"{(r['premise_city'] or '').title()}, {r['premise_state'] or ''}"}
    if "incident" in by_kind:
        for r in conn.execute(text("""SELECT id, cc_number, category, description, district,
                                             to_char(crime_datetime AT TIME ZONE 'America/New_York', 'YYYY-MM-DD') AS d
                                      FROM incident WHERE id = ANY(:ids)"""),
                              {"ids": [int(k) for k in by_kind["incident"]]}).mappings():
            out[f"incident:{r['id']}"] = {"label": f"{(r['description'] or r['category'] or 'Incident').title()} {r['d']}",
                                          "sub": " · ".join(x for x in ((r["cc_number"] if pd else None),
                                                                        (r["district"] or "").title()) if x)}
    if "place" in by_kind and pd:
        for k in by_kind["place"]:
            out[f"place:{k}"] = {"label": k, "sub": "place"}
    for n in list(out):
        out[n]["page"] = page_of(n, conn)
    return out


def _finish(conn: Connection, nodes: dict[str, int], edges: dict[str, dict], viewer: access.Viewer,
            focus: list[str], truncated: bool) -> dict[str, Any]:
    labels = _labels(conn, nodes, viewer)
    node_list = []
    for n, hop in nodes.items():
        kind, key = parse_node(n)
        info = labels.get(n)
        if info is None:  # deleted meanwhile, or a kind this viewer may not see
            continue
        node_list.append({"id": n, "kind": kind, "hop": hop, "focus": n in focus, **info})
    keep = {x["id"] for x in node_list}
    edge_list = [{"id": k, **e} for k, e in edges.items() if e["source"] in keep and e["target"] in keep]
    if not viewer.personal_data:
        for e in edge_list:
            if e["detail"] and e["relation"] != "linked by NIBIN" and e["detail"] != "recovery case":
                e["detail"] = "[restricted]"  # trace and case numbers
    if viewer.personal_data:
        people = [parse_node(n)[1] for n in keep if n.startswith("person:")]
        access.record_access(viewer, "view network", "person", people)
        access.record_access(viewer, "view network", "firearm", [parse_node(n)[1] for n in keep
                                                                  if n.startswith("firearm:")])
    return {"focus": focus, "nodes": node_list, "edges": edge_list, "truncated": truncated}


def network(focus: str, hops: int = 2, relations: Iterable[str] | None = None, start: dt.date | None = None,
            end: dt.date | None = None, viewer: access.Viewer | None = None,
            max_nodes: int = MAX_NODES) -> dict[str, Any]:
    """Nodes and edges within `hops` of the focus node (breadth first, capped at max_nodes)."""
    viewer = access.require("records", viewer)
    flt = _Filter(relations, start, end, viewer)
    parse_node(focus)
    edges: dict[str, dict] = {}
    truncated = False
    with read_engine().connect() as conn:
        focus = resolve_place(conn, focus)
        nodes: dict[str, int] = {focus: 0}
        frontier = [focus]
        for hop in range(1, max(0, hops) + 1):
            if not frontier:
                break
            new: list[str] = []
            for e in _neighbours(conn, frontier, flt):
                for end_ in (e["source"], e["target"]):
                    if end_ not in nodes:
                        if len(nodes) >= max_nodes:
                            truncated = True
                            break
                        nodes[end_] = hop
                        new.append(end_)
                else:
                    edges.setdefault(_edge_id(e), e)
            frontier = new
        return _finish(conn, nodes, edges, viewer, [focus], truncated)


def expand(node: str, known: Iterable[str] = (), relations: Iterable[str] | None = None,
           start: dt.date | None = None, end: dt.date | None = None,
           viewer: access.Viewer | None = None) -> dict[str, Any]:
    """The node's direct neighbours (one hop), to merge into a graph already on screen."""
    viewer = access.require("records", viewer)
    flt = _Filter(relations, start, end, viewer)
    parse_node(node)
    known_set = set(known)
    nodes: dict[str, int] = {node: 0}
    edges: dict[str, dict] = {}
    truncated = False
    with read_engine().connect() as conn:
        for e in _neighbours(conn, [node], flt):
            other = e["target"] if e["source"] == node else e["source"]
            if other not in nodes and len(nodes) - 1 >= MAX_NODES and other not in known_set:
                truncated = True
                continue
            nodes.setdefault(other, 1)
            edges.setdefault(_edge_id(e), e)
        return _finish(conn, nodes, edges, viewer, [node], truncated)


def shortest_path(a: str, b: str, relations: Iterable[str] | None = None, start: dt.date | None = None,
                  end: dt.date | None = None, viewer: access.Viewer | None = None,
                  max_hops: int = MAX_PATH_HOPS) -> dict[str, Any]:
    """The shortest chain of relations between two nodes (bidirectional breadth-first search).

    Returns the path's nodes and edges plus `path` (node ids in order), empty when none is found
    within max_hops (each node's busiest relations are capped at PER_NODE, so a path through a
    very busy dealer or place can be missed — the result says how far it looked)."""
    viewer = access.require("records", viewer)
    flt = _Filter(relations, start, end, viewer)
    parse_node(a)
    parse_node(b)
    if a == b:
        with read_engine().connect() as conn:
            return {**_finish(conn, {a: 0}, {}, viewer, [a, b], False), "path": [a], "searched_hops": 0}
    parents = [{a: None}, {b: None}]   # node -> (previous node, edge)
    frontiers = [[a], [b]]
    meet = None
    hops = 0
    with read_engine().connect() as conn:
        while hops < max_hops and frontiers[0] and frontiers[1] and meet is None:
            side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
            new = []
            for e in _neighbours(conn, frontiers[side], flt):
                for here, there in ((e["source"], e["target"]), (e["target"], e["source"])):
                    if here in parents[side] and there not in parents[side]:
                        parents[side][there] = (here, e)
                        new.append(there)
                        if there in parents[1 - side]:
                            meet = there
                            break
                if meet:
                    break
            frontiers[side] = new[:5000]
            hops += 1
        if meet is None:
            return {**_finish(conn, {a: 0, b: 0}, {}, viewer, [a, b], False), "path": [], "searched_hops": hops}
        path, edges = [meet], {}
        for side in (0, 1):
            cur = meet
            while parents[side][cur] is not None:
                prev, e = parents[side][cur]
                edges[_edge_id(e)] = e
                cur = prev
                if side == 0:
                    path.insert(0, cur)
                else:
                    path.append(cur)
        nodes = {n: i for i, n in enumerate(path)}
        return {**_finish(conn, nodes, edges, viewer, [a, b], False), "path": path, "searched_hops": hops}


def to_csv_rows(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """One table of the graph: a row per node, then a row per edge."""
    rows = [{"record": "node", "id": n["id"], "kind": n["kind"], "label": n["label"], "detail": n.get("sub", ""),
             "source": "", "target": "", "relation": "", "date": ""} for n in graph["nodes"]]
    rows += [{"record": "edge", "id": e["id"], "kind": "", "label": "", "detail": e.get("detail") or "",
              "source": e["source"], "target": e["target"], "relation": e["relation"], "date": e["date"] or ""}
             for e in graph["edges"]]
    return rows


# --- What is known about one node: the person, dealer and incident pages ---------------------------
