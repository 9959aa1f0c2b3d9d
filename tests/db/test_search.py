"""Search over serials, trace and case numbers, dealer licences and names, and people."""

from __future__ import annotations

import pytest

from tests.db import test_journey as _fixtures
from tests.db.test_journey import DETECTIVE

inv_db, ids = _fixtures.inv_db, _fixtures.ids  # the investigation fixtures, loaded once per module

pytestmark = pytest.mark.db


def _ids(res, kind):
    return [r["id"] for r in res["groups"][kind]]


@pytest.mark.parametrize("q", ["AB-123-45", "ab12345", "b 123", "12345"])
def test_serials_partial_and_dash_insensitive(ids, q):
    from layers.search import search

    res = search(q, DETECTIVE)
    assert ids["gun_a"] in _ids(res, "firearm")
    assert res["groups"]["firearm"][0]["href"] == f"/firearm/{ids['gun_a']}" or len(_ids(res, "firearm")) > 1


def test_obliterated_gun_found_by_trace_number(ids):
    from layers.search import search

    res = search("t20210000103", DETECTIVE)
    assert _ids(res, "firearm") == [ids["gun_b"]]
    assert "obliterated" in res["groups"]["firearm"][0]["detail"]
    assert res["groups"]["firearm"][0]["matched"] == "trace T20210000103"


def test_case_numbers_dealers_and_people(ids):
    from layers.search import search

    assert _ids(search("21J0002", DETECTIVE), "incident")[:1]  # prefix of two case numbers
    assert len(_ids(search("21J0002", DETECTIVE), "incident")) == 2
    assert _ids(search("22b00003", DETECTIVE), "incident") == [ids["i_feb"]]
    for q in ("1-54-760-01-2B-01234", "1-54-760-01-01234", "154760", "river guns"):
        assert _ids(search(q, DETECTIVE), "dealer") == [ids["river"]], q
    for q in ("parker pat", "Pat Parker", "PARKER, PAT", "park"):
        assert _ids(search(q, DETECTIVE), "person") == [ids["parker"]], q
    assert search("zzzz-nothing", DETECTIVE)["total"] == 0
    assert search("", DETECTIVE)["total"] == 0


@pytest.mark.parametrize("role", ["press", "commander"])
def test_search_is_for_records_roles_only(ids, role):
    from layers import access
    from layers.search import search

    with access.use_viewer(access.Viewer("t", role)), pytest.raises(access.Denied):
        search("river guns")


def test_trigram_indexes_exist_after_migration(inv_db, sql):
    names = {r[0] for r in sql("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%trgm'")}
    assert {"ix_firearm_serial_trgm", "ix_trace_number_trgm", "ix_person_last_name_trgm", "ix_dealer_business_name_trgm"} <= names


def test_every_search_is_audited_with_what_was_typed(ids, sql):
    from layers.search import search

    search("parker pat", DETECTIVE)
    query, results = sql("SELECT detail->>'query', detail->'results'->>'person' FROM audit.event "
                         "WHERE event = 'search' AND record_kind IS NULL ORDER BY id DESC LIMIT 1")[0]
    assert query == "parker pat" and results == "1"
