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
