"""Firearm journeys on a real PostGIS, from small fixture files loaded through the ETL.

The fixtures (tests/fixtures/investigate/) hold: one gun recovered twice (its serial typed two ways),
a NIBIN chain casing -> casing -> test fire tying it to two earlier shootings (one corroborated by a
ShotSpotter alert), an obliterated-serial gun, a repeat purchaser, a privately made gun with no
retail history, and a casings-only NIBIN group (an unrecovered gun).
"""

from __future__ import annotations

import pytest

from layers.access import Denied, Viewer

pytestmark = pytest.mark.db

INV = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "investigate"
DETECTIVE = Viewer("test", "detective")
PRESS = Viewer("test", "press")


@pytest.fixture(scope="module")
def inv_db(database_url):
    """The test database holding only the investigation fixtures (loaded once for the module)."""
    import psycopg

    from etl.derive import derive
    from etl.loader import load_file
    from layers.db import reset_engines
    from tests.conftest import TABLES

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    for name in ("ffl.csv", "incidents.csv", "traces.csv", "nibin.csv", "shots.csv"):
        load_file(INV / name, progress=False)
    derive(full=True)
    reset_engines()
    return database_url


@pytest.fixture
def ids(inv_db, sql):
    """Ids of the fixture's records by their source keys (no hard-coded database ids)."""
    def one(q, *p):
        rows = sql(q, p)
        assert len(rows) == 1, (q, p, rows)
        return rows[0][0]

    return {
        "gun_a": one("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000101'"),
        "gun_b": one("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000103'"),
        "gun_c": one("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000104'"),
        "gun_d": one("SELECT firearm_id FROM trace WHERE trace_number = 'T20210000105'"),
        "parker": one("SELECT id FROM pii.person WHERE last_name = 'PARKER'"),
        "quinn": one("SELECT id FROM pii.person WHERE last_name = 'QUINN'"),
        "rowe": one("SELECT id FROM pii.person WHERE last_name = 'ROWE'"),
        "river": one("SELECT id FROM dealer WHERE business_name = 'RIVER GUNS LLC'"),
        "i_mar": one("SELECT id FROM incident WHERE cc_number = '21C00010'"),
        "i_apr": one("SELECT id FROM incident WHERE cc_number = '21D00011'"),
        "i_jun": one("SELECT id FROM incident WHERE cc_number = '21F00001'"),
        "i_feb": one("SELECT id FROM incident WHERE cc_number = '22B00003'"),
        "i_aug": one("SELECT id FROM incident WHERE cc_number = '21H00020'"),
        "i_oct": one("SELECT id FROM incident WHERE cc_number = '21J00022'"),
    }


def test_one_gun_two_recoveries_and_a_nibin_chain_in_time_order(ids):
    from layers.journey import firearm_journey

    j = firearm_journey(ids["gun_a"], DETECTIVE)
    assert [t["trace_number"] for t in j["traces"]] == ["T20210000101", "T20220000102"]
    kinds = [(s["kind"], s["date"]) for s in j["timeline"]]
    dates = [d for _, d in kinds]
    assert dates == sorted(dates)
    assert kinds[0][0] == "sale" and kinds[0][1] == "2021-01-10"
    assert sum(1 for k, _ in kinds if k == "sale") == 1, "one retail sale even with two traces"
    assert [d for k, d in kinds if k == "recovery"] == ["2021-06-01", "2022-02-01"]
    nibin = [s for s in j["timeline"] if s["kind"] == "incident" and s["via"] == "nibin"]
    # The March shooting is linked only through the April one (casing -> casing -> test fire).
    assert {s["incident_id"] for s in nibin} == {ids["i_mar"], ids["i_apr"]}
    assert all(s["relative"] == "before recovery" for s in nibin)
    assert {s["lead_id"] for s in nibin} <= {"NL-T-0001", "NL-T-0002"}
    # Every step names its source record.
    for s in j["timeline"]:
        assert any(v for k, v in s["source"].items() if k != "kind"), s
    alert = [s for s in j["timeline"] if s["kind"] == "alert"]
    assert [a["source"]["alert_id"] for a in alert] == ["SST-9001"]
    assert alert[0]["incident_id"] == ids["i_mar"]
    # The recoveries' own incidents are tied by case number.
    rec_incidents = {s["incident_id"] for s in j["timeline"] if s["kind"] == "recovery"}
    assert rec_incidents == {ids["i_jun"], ids["i_feb"]}


def test_path_starts_at_the_dealer_and_follows_the_scenes(ids):
    from layers.journey import firearm_journey, haversine_km

    j = firearm_journey(ids["gun_a"], DETECTIVE)
    path = j["path"]
    assert path[0]["kind"] == "dealer" and path[0]["lat"] < 38.5, "Richmond, VA ZIP centroid"
    assert [p["date"] for p in path[1:]] == sorted(p["date"] for p in path[1:])
    assert len(path) == 5  # dealer, 2 NIBIN scenes, 2 recoveries
    richmond_to_baltimore = haversine_km((path[0]["lat"], path[0]["lon"]), (39.29, -76.61))
    assert richmond_to_baltimore < j["distance_km"] < richmond_to_baltimore + 30


def test_summary_and_indicators_for_a_trafficked_gun(ids):
    from layers.journey import firearm_journey

    j = firearm_journey(ids["gun_a"], DETECTIVE)
    s = j["summary"]
    assert "First sold on 2021-01-10 at RIVER GUNS LLC in Richmond, VA to PARKER, PAT" in s
    assert "part of a multiple sale" in s and "from a different person (QUINN, ALEX)" in s
    assert "Recovered again" in s, s
    assert "Linked by NIBIN to 1 shooting, 1 homicide (2 before and 0 after" in s, s
    ind = {i["key"]: i for i in j["indicators"]}
    assert ind["ttc"]["status"] == "strong" and ind["ttc"]["evidence"]["days"] == 142
    assert ind["possessor"]["status"] == "strong"
    assert ind["out_of_state"]["status"] == "strong" and "VA" in ind["out_of_state"]["finding"]
    assert ind["multiple_sale"]["status"] == "flag"
    assert ind["obliterated"]["status"] == "clear"
    assert ind["repeat_purchaser"]["evidence"]["traced guns of purchaser"] == 2
    assert ind["dealer"]["evidence"]["dealer traces"] == 2
    assert ind["nibin"]["evidence"]["NIBIN-linked incidents"] == 2


def test_obliterated_serial_and_no_retail_history(ids):
    from layers.journey import firearm_journey

    b = firearm_journey(ids["gun_b"], DETECTIVE)
    assert b["firearm"]["serial_obliterated"] is True
    assert {i["key"]: i["status"] for i in b["indicators"]}["obliterated"] == "strong"
    assert not [s for s in b["timeline"] if s["kind"] == "sale"]
    assert "obliterated serial number" in b["summary"] and "No retail sale is known" in b["summary"]
    d = firearm_journey(ids["gun_d"], DETECTIVE)
    assert [p["kind"] for p in d["path"]] == ["recovery"] and d["distance_km"] == 0  # ZIP centroid only
    assert [s["kind"] for s in d["timeline"]] == ["recovery"]
    assert "privately made" in d["summary"]
    assert {i["key"]: i["status"] for i in d["indicators"]}["ttc"] == "unknown"
    assert firearm_journey(10**8, DETECTIVE) is None


@pytest.mark.parametrize("role", ["press", "commander", None])
def test_journeys_are_for_records_roles_only(ids, role):
    """Press and commander get aggregates and maps, never a record page; without a viewer, nothing."""
    from layers import access
    from layers.journey import firearm_journey

    with access.use_viewer(Viewer("test", role)), pytest.raises(access.Denied):
        firearm_journey(ids["gun_a"])
    with access.use_viewer(DETECTIVE):  # the viewer of the request is the default
        assert "PARKER" in repr(firearm_journey(ids["gun_a"]))


def test_detective_reads_are_recorded_in_the_audit_table(ids, sql):
    from layers.journey import firearm_journey

    before = sql("SELECT coalesce(max(id), 0) FROM audit.event")[0][0]
    firearm_journey(ids["gun_a"], Viewer("det-7", "detective", purpose="case 24-77"))
    rows = sql("SELECT username, role, event, record_kind, record_ids, purpose FROM audit.event WHERE id > %s "
               "ORDER BY id", (before,))
    kinds = {r[3]: r for r in rows}
    assert {"firearm", "trace", "person"} <= set(kinds)
    assert str(ids["parker"]) in kinds["person"][4]
    assert all(r[0] == "det-7" and r[1] == "detective" and r[2] == "view journey" and r[5] == "case 24-77"
               for r in rows)


def test_person_dealer_and_incident_details(ids):
    from layers.entities import dealer_detail, incident_detail, person_detail

    p = person_detail(ids["parker"], DETECTIVE)
    assert p["purchased"] == 3 and p["possessed"] == 1  # gun A twice (two traces), gun C
    with pytest.raises(Denied):
        person_detail(ids["parker"], PRESS)
    d = dealer_detail(ids["river"], DETECTIVE)
    assert d["record"]["traces"] == 2 and d["record"]["short_traces"] == 1
    i = incident_detail(ids["i_oct"], DETECTIVE)
    assert i["guns"] == []
    assert [o["id"] for o in i["nibin_incidents"]][0] == ids["i_aug"], "whole chain, oldest first"
    assert len(i["nibin_incidents"]) == 2
    with pytest.raises(Denied):
        incident_detail(ids["i_mar"], Viewer("t", "commander"))


def test_journeys_and_networks_on_synthetic_baltimore(synthetic_db):
    """On data loaded through the real ETL: the guns with most NIBIN links read in order, name their
    leads, and their two-hop networks stay within the cap."""
    import psycopg

    from layers.journey import firearm_journey
    from layers.network import MAX_NODES, network

    with psycopg.connect(synthetic_db.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        guns = [r[0] for r in conn.execute("""
            SELECT firearm_id FROM firearm_incident WHERE via = 'nibin' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5""")]
        obliterated = conn.execute("""SELECT t.trace_number, f.id FROM firearm f JOIN trace t ON t.firearm_id = f.id
                                      WHERE f.serial_obliterated LIMIT 1""").fetchone()
    assert guns, "the synthetic data plants NIBIN chains"
    for gun in guns:
        j = firearm_journey(gun, DETECTIVE)
        dates = [s["date"] for s in j["timeline"]]
        assert dates == sorted(dates)
        nibin = [s for s in j["timeline"] if s["kind"] == "incident" and s["via"] == "nibin"]
        assert nibin and all(s["lead_id"] and s["source"]["cc_number"] for s in nibin)
        assert j["indicators"] and j["summary"].count("Linked by NIBIN") == 1
        g = network(f"firearm:{gun}", hops=2, viewer=DETECTIVE)
        assert 1 < len(g["nodes"]) <= MAX_NODES
        assert {e["source"] for e in g["edges"]} | {e["target"] for e in g["edges"]} <= {n["id"] for n in g["nodes"]}
    if obliterated:
        from layers.search import search

        found = search(obliterated[0], DETECTIVE)["groups"]["firearm"]
        assert [r["id"] for r in found] == [obliterated[1]]
