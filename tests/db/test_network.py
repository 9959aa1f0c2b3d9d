"""The link network on the investigation fixtures: hops, relations, time filter, expand, shortest path."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.db import test_journey as _fixtures
from tests.db.test_journey import DETECTIVE, PRESS

inv_db, ids = _fixtures.inv_db, _fixtures.ids  # the investigation fixtures, loaded once per module

pytestmark = pytest.mark.db


def _rels(g):
    return {(e["source"], e["relation"], e["target"]) for e in g["edges"]}


def test_one_hop_around_a_gun_names_every_relation(ids):
    from layers.network import network

    gun = f"firearm:{ids['gun_a']}"
    g = network(gun, hops=1, viewer=DETECTIVE)
    rels = _rels(g)
    assert (f"dealer:{ids['river']}", "sold", gun) in rels
    assert (f"person:{ids['parker']}", "purchased", gun) in rels
    assert (f"person:{ids['quinn']}", "possessed", gun) in rels
    assert (f"person:{ids['rowe']}", "possessed", gun) in rels
    assert (gun, "recovered at", "place:1000 N MOUNT ST") in rels
    assert (gun, "recovered at", f"incident:{ids['i_jun']}") in rels
    assert (gun, "linked by NIBIN", f"incident:{ids['i_apr']}") in rels
    assert (gun, "linked by NIBIN", f"incident:{ids['i_mar']}") in rels
    assert all(n["hop"] <= 1 for n in g["nodes"])
    dated = {e["relation"]: e["date"] for e in g["edges"]}
    assert dated["sold"] == "2021-01-10"
    nodes = {n["id"]: n for n in g["nodes"]}
    assert nodes[f"person:{ids['parker']}"]["label"] == "PARKER, PAT"
    assert nodes[gun]["page"] == f"/firearm/{ids['gun_a']}"


def test_two_hops_reach_the_repeat_purchasers_other_gun_and_associates(ids):
    from layers.network import network

    g = network(f"firearm:{ids['gun_a']}", hops=2, viewer=DETECTIVE)
    node_ids = {n["id"] for n in g["nodes"]}
    assert f"firearm:{ids['gun_c']}" in node_ids      # PARKER bought it too
    assert f"firearm:{ids['gun_b']}" in node_ids      # QUINN held the obliterated gun
    assert (f"person:{ids['quinn']}", "associated with", f"person:{ids['rowe']}") in _rels(g) or \
           (f"person:{ids['rowe']}", "associated with", f"person:{ids['quinn']}") in _rels(g)
    assert f"firearm:{ids['gun_d']}" not in node_ids  # no link at all
    one = network(f"firearm:{ids['gun_a']}", hops=1, viewer=DETECTIVE)
    assert len(one["nodes"]) < len(g["nodes"])


def test_relation_and_time_filters(ids):
    from layers.network import network

    gun = f"firearm:{ids['gun_a']}"
    g = network(gun, hops=1, relations=["linked by NIBIN"], viewer=DETECTIVE)
    assert {e["relation"] for e in g["edges"]} == {"linked by NIBIN"}
    g = network(gun, hops=1, start=dt.date(2021, 5, 1), end=dt.date(2021, 12, 31), viewer=DETECTIVE)
    dates = [e["date"] for e in g["edges"] if e["date"]]
    assert dates and all("2021-05-01" <= d <= "2021-12-31" for d in dates)
    assert not any(e["relation"] == "sold" for e in g["edges"])  # sold 2021-01-10


def test_nibin_chain_between_scenes_without_a_gun(ids):
    from layers.network import network

    g = network(f"incident:{ids['i_oct']}", hops=2, viewer=DETECTIVE)
    assert f"incident:{ids['i_aug']}" in {n["id"] for n in g["nodes"]}  # via the October 10 scene
    assert not any(n["kind"] == "firearm" for n in g["nodes"])


def test_expand_adds_direct_neighbours(ids):
    from layers.network import expand

    e = expand(f"person:{ids['parker']}", viewer=DETECTIVE)
    assert {n["id"] for n in e["nodes"]} == {f"person:{ids['parker']}", f"firearm:{ids['gun_a']}",
                                             f"firearm:{ids['gun_c']}"}


def test_shortest_path_across_people_and_guns(ids):
    from layers.network import shortest_path

    res = shortest_path(f"person:{ids['rowe']}", f"firearm:{ids['gun_b']}", viewer=DETECTIVE)
    # ROWE possessed gun A, QUINN possessed gun A too and held gun B (or: ROWE associated with QUINN).
    assert res["path"][0] == f"person:{ids['rowe']}" and res["path"][-1] == f"firearm:{ids['gun_b']}"
    assert len(res["path"]) == 3 and res["path"][1] == f"person:{ids['quinn']}"
    assert len(res["edges"]) == 2
    far = shortest_path(f"firearm:{ids['gun_d']}", f"person:{ids['parker']}", viewer=DETECTIVE)
    assert far["path"] == []
    longer = shortest_path(f"dealer:{ids['river']}", f"incident:{ids['i_mar']}", viewer=DETECTIVE)
    assert len(longer["path"]) == 3  # dealer -> gun A -> March shooting (NIBIN)
    blocked = shortest_path(f"dealer:{ids['river']}", f"incident:{ids['i_mar']}", relations=["sold"],
                            viewer=DETECTIVE)
    assert blocked["path"] == []


@pytest.mark.parametrize("role", ["press", "commander"])
def test_networks_are_for_records_roles_only(ids, role):
    from layers import access
    from layers.network import expand, network, shortest_path

    viewer = access.Viewer("t", role)
    for call in (lambda: network(f"firearm:{ids['gun_a']}", hops=2, viewer=viewer),
                 lambda: expand(f"firearm:{ids['gun_a']}", viewer=viewer),
                 lambda: shortest_path(f"person:{ids['rowe']}", f"firearm:{ids['gun_b']}", viewer=viewer)):
        with pytest.raises(access.Denied):
            call()
    assert PRESS.role == "press"


def test_bad_node_ids_are_refused():
    from layers.network import parse_node

    for bad in ("gun:1", "firearm:abc", "person:", ""):
        with pytest.raises(ValueError):
            parse_node(bad)
    assert parse_node("place:1000 N MOUNT ST") == ("place", "1000 N MOUNT ST")


def test_a_place_opens_by_an_opaque_id_never_its_address(ids):
    from layers.network import network

    g = network(f"firearm:{ids['gun_a']}", hops=1, viewer=DETECTIVE)
    place = {n["id"]: n for n in g["nodes"]}["place:1000 N MOUNT ST"]
    assert "MOUNT" not in place["page"] and place["page"].startswith("/network?focus=place:")
    focus = place["page"].split("focus=", 1)[1]
    around = network(focus, hops=1, viewer=DETECTIVE)
    assert around["focus"] == ["place:1000 N MOUNT ST"]
    assert f"firearm:{ids['gun_a']}" in {n["id"] for n in around["nodes"]}
    with pytest.raises(ValueError):
        network("place:i999999999", hops=1, viewer=DETECTIVE)
