"""The detective's daily questions: names that match by whole words, the NIBIN list newest first, and
tables exported as CSV for the viewer's role (audited)."""

from __future__ import annotations

import re

import pytest

from tests.db import test_journey as _fixtures
from tests.db.test_journey import DETECTIVE

inv_db, ids = _fixtures.inv_db, _fixtures.ids  # the investigation fixtures, loaded once per module

pytestmark = pytest.mark.db


@pytest.fixture
def synth_sql(synthetic_url):
    from tests.conftest import query_runner

    return query_runner(synthetic_url)


def _has_word(name: str | None, prefix: str) -> bool:
    """Independent of the SQL under test: some word of the name begins with the prefix."""
    return any(w.startswith(prefix.upper()) for w in re.split(r"[^A-Z0-9]+", (name or "").upper()) if w)


# --- names ---------------------------------------------------------------------------------------------

def test_two_letters_find_only_dealers_with_a_word_beginning_so(synthetic_db, synth_sql):
    from layers.search import search

    dealers = synth_sql("SELECT id, business_name, license_name FROM dealer")
    assert any(b is None for _, b, _ in dealers), "the data holds dealers with an empty business name"
    # What the old rule (anywhere in either column, NULLs not excluded) let through: names with AL inside.
    inside = [i for i, b, lic in dealers if "AL" in f"{b or ''} {lic or ''}".upper()
              and not (_has_word(b, "AL") or _has_word(lic, "AL"))]
    assert inside, "the data holds names with AL inside a word (ROYAL, VALLEY...)"
    expected = {i for i, b, lic in dealers if _has_word(b, "AL") or _has_word(lic, "AL")}
    res = search("al", DETECTIVE)
    got = [r["id"] for r in res["groups"]["dealer"]]
    assert set(got) <= expected and not set(got) & set(inside)
    assert len(got) == min(len(expected), 12)
    for r in res["groups"]["dealer"]:
        assert r["matched"] == "name"
    people = synth_sql("SELECT id, last_name, first_name FROM pii.person")
    expected_people = {i for i, last, first in people if _has_word(last, "AL") or _has_word(first, "AL")}
    got_people = {r["id"] for r in res["groups"]["person"]}
    assert got_people <= expected_people and len(got_people) == min(len(expected_people), 12)


def test_a_real_name_still_matches(synthetic_db, synth_sql):
    from layers.search import search

    did, business = synth_sql("""SELECT id, business_name FROM dealer WHERE business_name ~ '^[A-Z]{3,} [A-Z]{3,}'
                                 ORDER BY id LIMIT 1""")[0]
    first, second = business.split()[:2]
    for q in (f"{first} {second}", f"{second[:3].lower()} {first.lower()}"):
        assert did in [r["id"] for r in search(q, DETECTIVE)["groups"]["dealer"]], q
    pid, last, given = synth_sql("""SELECT id, last_name, first_name FROM pii.person
                                    WHERE first_name ~ '^[A-Z]{2,}$' AND last_name ~ '^[A-Z]{2,}$' ORDER BY id LIMIT 1""")[0]
    for q in (f"{given} {last}", f"{last}, {given}", f"{last[:3]} {given[:2]}"):
        found = search(q, DETECTIVE)["groups"]["person"]
        assert pid in [r["id"] for r in found], q
        assert all(_has_word(f"{r['title']}", w) for r in found for w in re.split(r"[^A-Z0-9]+", q.upper()) if w)


def test_name_words_rule(ids):
    from layers.search import name_words, search

    assert name_words("Parker, P. al") == ["PARKER", "AL"]
    assert name_words("a b") == []
    single = search("a b", DETECTIVE)["groups"]  # single letters name nothing (as a code "AB" may match a serial)
    assert single["dealer"] == [] and single["person"] == []
    # Inside a word is not a match: "iver" is in RIVER GUNS LLC but begins none of its words.
    assert search("iver", DETECTIVE)["groups"]["dealer"] == []
    assert [r["id"] for r in search("riv gu", DETECTIVE)["groups"]["dealer"]] == [ids["river"]]
    assert [r["id"] for r in search("arker", DETECTIVE)["groups"]["person"]] == []
    assert [r["id"] for r in search("pat park", DETECTIVE)["groups"]["person"]] == [ids["parker"]]


# --- the NIBIN list ----------------------------------------------------------------------------------

def _expected_nibin(run) -> list[tuple]:
    """Independent of layers/nibin.py: (firearm or None, group or None, incidents, newest incident date),
    from the raw link rows, grouped in Python."""
    from collections import defaultdict

    by_gun: dict[int, dict[int, object]] = defaultdict(dict)
    for fid, inc, at in run("""SELECT fi.firearm_id, i.id, (i.crime_datetime AT TIME ZONE 'America/New_York')::date
                               FROM firearm_incident fi JOIN incident i ON i.id = fi.incident_id
                               WHERE fi.via = 'nibin'"""):
        by_gun[fid][inc] = at
    by_group: dict[int, dict[int, object]] = defaultdict(dict)
    recovered_groups = {g for (g,) in run("""SELECT DISTINCT gun_group FROM ballistic_evidence WHERE gun_group IS NOT NULL
                                              AND (evidence_type = 'TEST_FIRE' OR firearm_id IS NOT NULL)""")}
    for grp, inc, at in run("""SELECT e.gun_group, i.id, (i.crime_datetime AT TIME ZONE 'America/New_York')::date
                               FROM ballistic_evidence e JOIN incident i ON i.id = e.incident_id
                               WHERE e.gun_group IS NOT NULL"""):
        if grp not in recovered_groups:
            by_group[grp][inc] = at
    rows = [(f, None, len(v), max(v.values())) for f, v in by_gun.items() if len(v) >= 2]
    rows += [(None, g, len(v), max(v.values())) for g, v in by_group.items() if len(v) >= 2]
    return rows


def test_nibin_list_on_the_fixtures(ids, sql):
    from layers.nibin import group_scenes, nibin_guns

    rows = nibin_guns(DETECTIVE)
    assert [(r["status"], r["firearm_id"]) for r in rows][:2] == [("unrecovered", None), ("recovered", ids["gun_a"])]
    unrec, gun_a = rows[0], rows[1]
    # August -> Oct 9 -> Oct 11 (2021, Baltimore time), casings only; newest first, so before gun A (March, April).
    assert unrec["incidents"] == 3 and unrec["last_date"] == "2021-10-11" and unrec["lead_id"] == "NL-T-0004"
    assert unrec["href"] == f"/nibin?group={unrec['gun_group']}&lead=NL-T-0004"
    assert gun_a["incidents"] == 2 and gun_a["last_date"] == "2021-04-15"
    newest_lead = sql("""SELECT l.lead_id FROM nibin_lead l JOIN ballistic_evidence e ON e.id IN (l.evidence_a_id, l.evidence_b_id)
                         WHERE e.gun_group = (SELECT gun_group FROM ballistic_evidence WHERE evidence_id = 'TF-T20210000101')
                         ORDER BY l.lead_date DESC LIMIT 1""")[0][0]
    assert gun_a["lead_id"] == newest_lead == "NL-T-0002"
    assert gun_a["href"] == f"/firearm/{ids['gun_a']}?lead=NL-T-0002"
    assert ids["gun_c"] not in [r["firearm_id"] for r in rows], "gun C is linked to one incident only"
    g = group_scenes(unrec["gun_group"], DETECTIVE)
    assert [s["cc_number"] for s in g["scenes"]] == ["21H00020", "21J00021", "21J00022"]
    assert [x["lead_id"] for x in g["leads"]] == ["NL-T-0004", "NL-T-0003"] and g["firearm_id"] is None
    assert group_scenes(10**6, DETECTIVE) is None


def test_nibin_list_on_synthetic_baltimore(synthetic_db, synth_sql):
    from layers.nibin import nibin_guns

    rows = nibin_guns(DETECTIVE, limit=10**6)
    expected = _expected_nibin(synth_sql)
    assert any(f for f, *_ in expected) and any(g for _, g, *_ in expected), "both kinds are planted"
    got = [(r["firearm_id"], r["gun_group"], r["incidents"], r["last_date"]) for r in rows]
    assert sorted(got, key=str) == sorted(((f, g, n, d.isoformat()) for f, g, n, d in expected), key=str)
    dates = [r["last_date"] for r in rows]
    assert dates == sorted(dates, reverse=True), "newest linked incident first"
    for r in rows:
        assert r["lead_id"], r
        assert r["href"].startswith(f"/firearm/{r['firearm_id']}?lead=" if r["firearm_id"] else "/nibin?group=")


@pytest.mark.parametrize("role", ["press", "commander"])
def test_nibin_list_is_for_records_roles_only(ids, role):
    from layers import access
    from layers.nibin import group_scenes, nibin_guns

    with pytest.raises(access.Denied):
        nibin_guns(access.Viewer("t", role))
    with pytest.raises(access.Denied):
        group_scenes(1, access.Viewer("t", role))


# --- tables downloaded as CSV --------------------------------------------------------------------------

def _csv(download: dict) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(download["content"])))


def test_csv_export_reads_again_for_the_viewer_and_is_audited(ids, sql):
    from dashboard.components.tables import export_csv
    from layers.access import Viewer
    from layers.nibin import nibin_guns

    det = Viewer("det-csv", "detective", purpose="case 24-9")
    before = sql("SELECT coalesce(max(id), 0) FROM audit.event")[0][0]
    out = export_csv("nibin", det)
    rows = _csv(out)
    assert out["filename"].endswith(".csv") and out["type"] == "text/csv"
    assert rows[0][:3] == ["Newest linked incident", "Status", "Gun"]
    assert [r[0] for r in rows[1:]] == [r["last_date"] for r in nibin_guns(det)]
    # The table's own filter and sort are applied again on the server.
    only = _csv(export_csv("nibin", det, filter_query='{status} contains "unrec"'))
    assert len(only) == 2 and only[1][1] == "unrecovered"
    asc = _csv(export_csv("nibin", det, sort_by=[{"column_id": "last_date", "direction": "asc"}]))
    assert [r[0] for r in asc[1:]] == sorted(r[0] for r in rows[1:])
    events = sql("""SELECT username, event, record_kind, record_ids, purpose, detail->>'what', detail->>'rows'
                    FROM audit.event WHERE id > %s AND event = 'export' ORDER BY id""", (before,))
    assert len(events) == 3
    user, event, kind, rec_ids, purpose, what, n = events[0]
    assert (user, kind, purpose, what, n) == ("det-csv", "firearm", "case 24-9", "table nibin", str(len(rows) - 1))
    assert str(ids["gun_a"]) in rec_ids
    # A person's guns and the search results, read again through the layers (the query from the server side).
    guns = _csv(export_csv("person-guns", det, {"person_id": ids["parker"]}))
    assert len(guns) == 1 + 3 and {r[7] for r in guns[1:]} >= {"T20210000101", "T20210000104"}
    found = _csv(export_csv("search-dealer", det, {"q": "river guns"}))
    assert [r[0] for r in found[1:]] == ["RIVER GUNS LLC"]
    assert len(_csv(export_csv("leads-purchasers", det))) == 2


@pytest.mark.parametrize("role", ["press", "commander"])
def test_csv_export_refused_to_press_and_commander(ids, sql, role):
    from dashboard.components.tables import SOURCES, export_csv
    from layers import access

    before = sql("SELECT coalesce(max(id), 0) FROM audit.event")[0][0]
    for name in SOURCES:
        with pytest.raises(access.Denied):
            export_csv(name, access.Viewer("t", role), {"person_id": ids["parker"], "group": 1, "q": "river"})
    assert sql("SELECT count(*) FROM audit.event WHERE id > %s AND event = 'export'", (before,))[0][0] == 0


def test_csv_cells_that_look_like_formulas_are_neutralised(ids):
    from dashboard.components import tables
    from layers.access import Viewer

    assert [tables.csv_cell(v) for v in ("=SUM(A1)", "+1", "-2", "@cmd", "plain", 3, -4, None)] == [
        "'=SUM(A1)", "'+1", "'-2", "'@cmd", "plain", 3, -4, ""]
    tables.register(tables.Source("test-formula", "t.csv", (tables.Column("a", "A"), tables.Column("b", "B")),
                                  lambda v, p: [{"a": '=HYPERLINK("http://x","y")', "b": "@SUM(1)"}]))
    try:
        rows = _csv(tables.export_csv("test-formula", Viewer("t", "detective")))
    finally:
        tables.SOURCES.pop("test-formula")
    assert rows[1] == ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(1)"]


def test_journey_shows_the_lead_asked_for(ids):
    from layers.journey import firearm_journey

    j = firearm_journey(ids["gun_a"], DETECTIVE, lead="NL-T-0001")
    marked = [s for s in j["timeline"] if s.get("lead")]
    assert j["lead"]["found"] and j["lead"]["steps"] == [s["step"] for s in marked]
    assert {s["incident_id"] for s in marked} == {ids["i_mar"], ids["i_apr"]}  # the two casings it joins
    j2 = firearm_journey(ids["gun_a"], DETECTIVE, lead="NL-T-0002")  # casing -> this gun's test fire
    assert {s["kind"] for s in j2["timeline"] if s.get("lead")} >= {"incident", "recovery"}
    assert firearm_journey(ids["gun_a"], DETECTIVE, lead="NL-T-0004")["lead"]["found"] is False
    assert "lead" not in firearm_journey(ids["gun_a"], DETECTIVE)
