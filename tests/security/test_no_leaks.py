"""No leaks: every HTTP route and every server-side Dash callback, called as nobody, press, commander and
detective with crafted inputs (ids of the seeded records, names and serial fragments, node ids, map views
on the seeded points, a rejected run). Unauthenticated calls get nothing; press and commander never
receive a value from the personal-data columns of the database or a coordinate finer than their grid.
The detective's runs are the positive control: the same search finds the seeded values there."""

from __future__ import annotations

import copy
import json
import re
import time
from collections import Counter

import pytest
from dash._utils import split_callback_id

from dashboard import security
from tests.security.conftest import SEED
from tests.security.forbidden import Matcher, coordinates, forbidden_values

pytestmark = pytest.mark.db

ROLES = (None, "press", "commander", "detective")
CHECKED = ("press", "commander")
VARIANTS_PER_CALLBACK = 10
PAGE_CALLBACK = ".._pages_content.children..._pages_store.data.."
# Binary exports (PNG, PDF, the PDF packet) render through a headless browser, take seconds each and cannot be
# searched as text: the text formats of the same charts are called instead (CSV of every chart, SVG of one).
BINARY_TRIGGER = re.compile(r"charts-export-(png|pdf)-|charts-packet|charts-export-svg-(?!recoveries_by_month)")


def _name(role):
    return role or "nobody"


@pytest.fixture(scope="module")
def matchers(leak_sql, seeded):
    values = forbidden_values(leak_sql, SEED)
    points = coordinates(leak_sql)
    seeds = [SEED["recovery_point"], SEED["incident_point"], SEED["alert_point"]]
    # press: nothing finer than 500 m cells, so no coordinate to 3 decimals (~100 m) or better;
    # commander: points rounded to 3 decimals, so no coordinate to 4 decimals or better.
    return {"press": Matcher(values, points, seeds, min_decimals=3),
            "commander": Matcher(values, points, seeds, min_decimals=4),
            "detective": Matcher(values, points, seeds, min_decimals=4), "values": values, "points": len(points)}


def pages(ids) -> list[str]:
    return ["/", "/search", "/leads", "/network", "/data", "/audit", "/charts", f"/firearm/{ids['firearm']}",
            f"/person/{ids['person']}", f"/incident/{ids['incident']}", f"/dealer/{ids['dealer']}",
            f"/firearm/{SEED['serial']}", "/firearm/1", "/person/1", "/incident/1", "/dealer/1"]


def node_ids(ids) -> list[str]:
    return [f"firearm:{ids['firearm']}", f"person:{ids['person']}", f"dealer:{ids['dealer']}",
            f"incident:{ids['incident']}", f"place:{SEED['street']}", f"place:i{ids['incident']}",
            f"place:r{ids['recovery']}"]


# ---------------------------------------------------------------------------------------------------------
# HTTP routes


def _fill(rule: str, ids) -> list[str]:
    """Concrete paths for a URL rule: real ids and crafted strings in place of its variables."""
    if "<" not in rule:
        return [rule]
    if rule.startswith("/_dash-component-suites"):
        return ["/_dash-component-suites/dash/dash-renderer/build/dash_renderer.min.js"]
    if rule.startswith("/assets"):
        return ["/assets/js/atlas.js", "/assets/css/10-atlas.css"]
    if rule.startswith("/static"):
        return ["/static/x.js"]
    if rule == "/<path:path>":
        return [p for p in pages(ids) if p != "/"] + [f"/{SEED['serial']}", f"/search/{SEED['last_name']}",
                                                       f"/network?focus=person:{ids['person']}",
                                                       f"/network?focus=firearm:{ids['firearm']}"]
    return [re.sub(r"<[^>]+>", str(ids["firearm"]), rule)]


def _routes(app, ids) -> list[tuple[str, str]]:
    out = []
    for rule in app.server.url_map.iter_rules():
        if "GET" in rule.methods:
            out += [("GET", p) for p in _fill(rule.rule, ids)]
        elif rule.rule != "/_dash-update-component":
            out += [("POST", p) for p in _fill(rule.rule, ids)]
    return out


def test_every_route_refuses_nobody_and_leaks_nothing(leak_app, clients, seeded, matchers):
    routes = _routes(leak_app, seeded)
    assert len(routes) >= 25, routes
    leaks, refused, calls = [], [], 0
    for role in ("press", "commander", "detective", None):  # nobody last: /logout is only called there
        client = clients[role]
        for method, path in routes:
            if role and path.startswith(("/logout", "/login", "/auth/oidc")):
                continue  # sign-out or sign-in again for a signed-in client: covered by nobody
            headers = {"X-CSRFToken": client.get_cookie("_csrf_token").value} if role and method == "POST" else {}
            res = client.open(path, method=method, headers=headers, data={"q": SEED["last_name"]}
                              if method == "POST" else None)
            calls += 1
            body = res.get_data().decode("utf-8", "replace")
            if role is None:
                bare = path.split("?")[0]
                if not security._is_public(bare):
                    redirected = res.status_code == 302 and res.headers["Location"].startswith("/login")
                    if not (redirected or res.status_code == 401):
                        refused.append((method, path, res.status_code))
                hits = matchers["press"].find(body)
            elif role in CHECKED:
                hits = matchers[role].find(body)
            else:
                continue
            reflected = matchers["press"].find(path)
            hits = {h for h in hits if h not in reflected}
            if hits:
                leaks.append((_name(role), method, path, res.status_code, sorted(hits)[:5]))
    print(f"\nroutes: {len(routes)} paths, {calls} requests")
    assert not refused, f"served to a visitor who never signed in: {refused}"
    assert not leaks, "personal data in route responses:\n" + "\n".join(map(str, leaks))


# ---------------------------------------------------------------------------------------------------------
# Dash callbacks


def _post(client, body: dict):
    token = client.get_cookie("_csrf_token")
    headers = {"X-CSRFToken": token.value} if token else {}
    return client.post("/_dash-update-component", json=body, headers=headers)


def _walk(node, found: dict):
    """Every (id, property) -> value set in a rendered layout."""
    if isinstance(node, list):
        for n in node:
            _walk(n, found)
        return
    if not isinstance(node, dict):
        return
    props = node.get("props")
    if not isinstance(props, dict):
        for value in node.values():
            _walk(value, found)
        return
    if True:
        cid = props.get("id")
        if cid is not None:
            key = json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else cid
            for prop, value in props.items():
                if prop not in ("children", "id"):
                    found.setdefault((key, prop), value)
        for value in props.values():
            _walk(value, found)


def _page_body(path: str, search: str = "") -> dict:
    return {"output": PAGE_CALLBACK,
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}


def _defaults(clients, ids) -> dict:
    """The values every control starts with, from the pages as the detective and commander get them."""
    found: dict = {}
    import time

    for role in ("detective", "commander"):
        for path in pages(ids):
            body = _page_body(path, f"?focus=firearm:{ids['firearm']}" if path == "/network" else "")
            res = _post(clients[role], body)
            for _ in range(3):  # a busy machine can make the database miss a liveness check: wait, retry
                if res.status_code != 503:
                    break
                time.sleep(2.5)
                res = _post(clients[role], body)
            if res.status_code == 200:
                _walk(res.get_json(), found)
    return found


def _crafted(cid: str, prop: str, ids, defaults: dict) -> list:
    """Plausible and hostile values for one input, chosen by its property (and id where that says more)."""
    lon, lat = SEED["recovery_point"]
    nodes = node_ids(ids)
    node_data = [{"id": n, "kind": n.split(":")[0], "label": n, "page": f"/{n.replace(':', '/')}"} for n in nodes]
    graph = {"focus": nodes[0], "nodes": node_data[:3], "edges": [], "path": [], "truncated": False}
    if prop == "pathname":
        return pages(ids)
    if prop == "search":
        return ["", *[f"?focus={n}" for n in nodes[:5]], f"?q={SEED['last_name']}"]
    if prop == "bounds":
        return [[[lat - 0.002, lon - 0.002], [lat + 0.002, lon + 0.002]], [[39.19, -76.72], [39.38, -76.52]]]
    if prop == "zoom":
        return [18, 12]
    if prop == "center":  # the viewer's own map centre, near the seeded points but not on them
        return [{"lat": 39.2991, "lng": -76.6117}]
    if prop in ("start_date",) or cid in ("network-start", "audit-start"):
        return ["2000-01-01"]
    if prop in ("end_date",) or cid in ("network-end", "audit-end"):
        return ["2030-12-31"]
    if prop in ("n_clicks", "n_intervals"):
        return [1, 2]
    if prop == "clickData":
        if cid.startswith("pts-"):
            pid = ids["alert" if "alerts" in cid else "incident" if "shootings" in cid else "recovery"]
            return [{"type": "Feature", "properties": {"id": pid}, "geometry": {"type": "Point",
                                                                                   "coordinates": [lon, lat]}},
                    {"type": "Feature", "properties": {"cluster": True, "point_count": 9},
                     "geometry": {"type": "Point", "coordinates": [lon, lat]}},
                    {"type": "Feature", "properties": {"stack": 3, "ids": [ids["recovery"], ids["incident"],
                                                                           ids["alert"]]},
                     "geometry": {"type": "Point", "coordinates": [lon, lat]}}]
        if cid == "dealers":
            return [{"type": "Feature", "properties": {"id": ids["dealer"]}}]
        if cid == "districts":
            return [{"type": "Feature", "properties": {"name": ids["district"]}},
                    {"type": "Feature", "properties": {"name": ids["district"], "kind": "district"}}]
        return [{"type": "Feature", "properties": {"n": 3}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}]
    if prop == "tapNodeData":
        return node_data
    if cid == "network-focus":
        return nodes
    if cid == "network-selected-node":
        return node_data[:2]
    if cid == "network-path-ends":
        return [{"a": {"id": nodes[0], "label": "a"}, "b": {"id": nodes[1], "label": "b"}}]
    if cid == "network-store":
        return [graph]
    if cid == "data-run":
        return [ids["run"], *ids["runs"][:2]]
    if cid in ("audit-user", "audit-record"):
        return ["sec-detective", "ZZLEAK", str(ids["firearm"])]
    if cid == "audit-event":
        return ["view"]
    if cid == "map-district":
        return [[ids["district"]]]
    if cid == "map-boundary":
        return ["district", "post", "neighborhood"]
    if prop == "imageData":
        return ["data:image/png;base64,AAAA"]
    if cid == "map-last":
        return ["2025-12-31"]
    return []


def _concrete(dep_id: str, defaults: dict) -> list:
    """Concrete ids for a (possibly pattern-matching) dependency id."""
    if not dep_id.startswith("{"):
        return [dep_id]
    pattern = json.loads(dep_id)
    out = []
    for key, _ in defaults:
        if not key.startswith("{"):
            continue
        cand = json.loads(key)
        if set(cand) == set(pattern) and all(isinstance(v, list) or cand[k] == v for k, v in pattern.items()):
            out.append(cand)
    seen = []
    for c in out:
        if c not in seen:
            seen.append(c)
    return seen


def _dependency(dep: dict, value_of, defaults: dict) -> dict | list:
    concrete = _concrete(dep["id"], defaults)
    wildcard = dep["id"].startswith("{") and '["ALL"]' in dep["id"]
    entries = [{"id": c, "property": dep["property"], "value": value_of(c, dep["property"])} for c in concrete]
    if wildcard:
        return entries
    return entries[0] if entries else {"id": dep["id"], "property": dep["property"],
                                       "value": value_of(dep["id"], dep["property"])}


def _bodies(key: str, cb: dict, ids, defaults: dict) -> list[dict]:
    """Up to VARIANTS_PER_CALLBACK request bodies: the defaults, then one crafted input at a time."""
    outputs = split_callback_id(key)
    multi = isinstance(outputs, list)

    def out_spec(o):
        prop = o["property"].split("@")[0]
        if o["id"].startswith("{"):
            concrete = _concrete(o["id"], defaults)
            if '["ALL"]' in o["id"]:
                return [{"id": c, "property": prop} for c in concrete]
            return {"id": concrete[0] if concrete else json.loads(o["id"]), "property": prop}
        return {"id": o["id"], "property": prop}

    outs = [out_spec(o) for o in outputs] if multi else out_spec(outputs)

    def base(cid, prop):
        k = json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else cid
        if prop in ("start_date", "end_date"):  # every call covers all the data, the seeded records too
            return _crafted(k, prop, ids, defaults)[0]
        if (k, prop) in defaults:
            return copy.deepcopy(defaults[(k, prop)])
        crafted = _crafted(k, prop, ids, defaults)
        return crafted[0] if crafted else None

    first = next((d for d in cb["inputs"] if not BINARY_TRIGGER.search(d["id"])), cb["inputs"][0])
    variants: list[tuple[dict, str]] = [({}, first["id"] + "." + first["property"])]
    for dep in cb["inputs"] + cb["state"]:
        if BINARY_TRIGGER.search(dep["id"]):
            continue
        for value in _crafted(dep["id"], dep["property"], ids, defaults):
            trigger = dep if dep in cb["inputs"] else first
            variants.append(({(dep["id"], dep["property"]): value}, trigger["id"] + "." + trigger["property"]))
    variants.append(({(d["id"], d["property"]): None for d in cb["inputs"] + cb["state"]},
                     first["id"] + "." + first["property"]))
    if key == PAGE_CALLBACK:
        limit = 64
    else:
        limit = VARIANTS_PER_CALLBACK
    if len(variants) > limit:  # keep the defaults, the all-None set and an even spread of the rest
        step = (len(variants) - 2) / (limit - 2)
        variants = [variants[0], *[variants[1 + int(i * step)] for i in range(limit - 2)], variants[-1]]
    bodies = []
    for overrides, trigger in variants:
        def value_of(cid, prop, overrides=overrides, dep_key=None):
            k = json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else cid
            for (oid, oprop), v in overrides.items():
                if oprop == prop and (oid == k or (oid.startswith("{") and isinstance(cid, dict))):
                    return v
            return base(cid, prop)
        inputs = [_dependency(d, value_of, defaults) for d in cb["inputs"]]
        state = [_dependency(d, value_of, defaults) for d in cb["state"]]
        changed = trigger
        if trigger.startswith("{"):
            first = next((e for e in inputs if isinstance(e, list) and e), None)
            if first:
                changed = json.dumps(first[0]["id"], sort_keys=True, separators=(",", ":")) + "." + \
                    first[0]["property"]
        bodies.append({"output": key, "outputs": outs, "inputs": inputs, "state": state, "changedPropIds": [changed]})
    return bodies


@pytest.fixture(scope="module")
def callback_ids(seeded, leak_sql):
    district = leak_sql("SELECT district FROM incident WHERE id = %s", (seeded["incident"],))[0][0]
    runs = [r[0] for r in leak_sql("SELECT DISTINCT run_id FROM etl_rejected_row ORDER BY 1 DESC LIMIT 3")]
    return {**seeded, "district": district, "runs": runs}


def test_every_callback_as_every_role(leak_app, clients, callback_ids, matchers, leak_sql):
    ids = callback_ids
    defaults = _defaults(clients, ids)
    assert len(defaults) > 50, "the pages rendered no controls: the harvest of default values failed"
    server_side = {k: cb for k, cb in leak_app.callback_map.items() if "callback" in cb}
    assert len(server_side) >= 20, sorted(server_side)
    stats: Counter = Counter()
    seconds: Counter = Counter()
    errors: Counter = Counter()
    ok_per: Counter = Counter()
    leaks, open_to_nobody, positives = [], [], Counter()
    for key, cb in server_side.items():
        bodies = _bodies(key, cb, ids, defaults)
        for role in ROLES:
            client = clients[role]
            for body in bodies:
                started = time.perf_counter()
                res = _post(client, body)
                seconds[key[:60]] += time.perf_counter() - started
                text = res.get_data().decode("utf-8", "replace")
                stats[(_name(role), res.status_code)] += 1
                if res.status_code in (200, 204):
                    ok_per[(key, _name(role))] += 1
                elif res.status_code >= 500:
                    errors[key[:60]] += 1
                if role is None:
                    if res.status_code != 401 or "response" in text:
                        open_to_nobody.append((key, res.status_code, text[:200]))
                    continue
                matcher = matchers[role if role in matchers else "detective"]
                hits = matcher.find(text)
                reflected = matcher.find(json.dumps(body))
                hits -= reflected
                if role == "detective":
                    positives.update(category for category, _ in hits)
                    continue
                if hits:
                    leaks.append((key[:90], role, [f"{i['id']}.{i['property']}={i.get('value')!r}"[:120]
                                                   for i in body["inputs"] if isinstance(i, dict)][:3],
                                  sorted(hits)[:6]))
    calls = sum(stats.values())
    print(f"\ncallbacks: {len(server_side)} server-side x {len(ROLES)} roles, {calls} calls; "
          f"status by role: {dict(sorted(stats.items(), key=str))}")
    print(f"server errors (crafted inputs a browser would not send): {dict(errors)}")
    print(f"slowest: {[(k, round(v, 1)) for k, v in seconds.most_common(6)]}")
    print(f"forbidden values: { {k: len(v) for k, v in matchers['values'].items()} }")
    print(f"detective responses held (positive control): {dict(positives)}")
    assert not open_to_nobody, f"callbacks answered a visitor who never signed in: {open_to_nobody[:5]}"
    assert not leaks, f"{len(leaks)} responses with personal data:\n" + "\n".join(map(str, leaks[:40]))
    # Not a vacuous pass: every callback ran for every signed-in role, most of them successfully ...
    for role in ("press", "commander", "detective"):
        answered = sum(1 for key in server_side if ok_per[(key, role)])
        assert answered >= 0.6 * len(server_side), (role, answered, len(server_side))
    # ... and the matcher finds the seeded values where they are allowed (detective).
    for category in ("person name", "serial number", "trace number", "exact address", "date of birth"):
        assert positives[category], f"the detective never received a {category}: the search proves nothing"


def test_positive_control_detective_firearm_page(clients, seeded, leak_sql):
    res = _post(clients["detective"], _page_body(f"/firearm/{seeded['firearm']}"))
    assert res.status_code == 200 and SEED["serial"] in res.get_data(as_text=True)
    for role in CHECKED:
        res = _post(clients[role], _page_body(f"/firearm/{seeded['firearm']}"))
        assert SEED["serial"] not in res.get_data(as_text=True)
    events = leak_sql("SELECT event, record_kind, record_ids, purpose FROM audit.event WHERE username = "
                      "'sec-detective' AND %s = ANY(record_ids)", (str(seeded["firearm"]),))
    assert any(kind == "firearm" for _, kind, _, _ in events), events


def test_search_box_posts_and_the_search_page(leak_app, seeded, matchers):
    from tests.security.conftest import sign_in

    found = {}
    for role in ("press", "commander", "detective"):
        client = sign_in(leak_app, role)
        res = client.post("/search", data={"q": "ZZLEAK", "csrf_token": client.get_cookie("_csrf_token").value})
        assert res.status_code == 303 and res.headers["Location"].endswith("/search")
        page = _post(client, _page_body("/search"))
        text = page.get_data(as_text=True)
        found[role] = text
        if role in CHECKED:
            assert not matchers[role].find(text), (role, matchers[role].find(text))
    assert SEED["serial"] in found["detective"] and SEED["last_name"] in found["detective"]
    nobody = leak_app.server.test_client()
    assert nobody.post("/search", data={"q": "ZZLEAK"}).status_code in (401, 403)
