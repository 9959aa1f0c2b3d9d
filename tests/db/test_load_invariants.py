"""Loading is idempotent, all-or-nothing per file, and refuses bad files with one clear line."""

from __future__ import annotations

import pytest

from etl.errors import LoadError
from etl.loader import load_file
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

COUNTED = ("trace", "firearm", "pii.person", "recovery", "incident", "shot_alert", "dealer", "nibin_lead",
           "ballistic_evidence")


def _counts(sql):
    return {t: sql(f"SELECT count(*) FROM {t}")[0][0] for t in COUNTED}


def _load_all():
    for name in ("ffl_current.csv", "incidents_2022.csv", "shots_chicago.csv", "traces_canonical.csv",
                 "nibin_leads.csv"):
        yield load_file(FIXTURES / name, progress=False)


def test_loading_the_same_files_twice_changes_nothing(empty_db, sql):
    list(_load_all())
    before = _counts(sql)
    snapshot = {t: sql(f"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x") for t in COUNTED}
    second = list(_load_all())
    assert _counts(sql) == before
    for r in second:
        assert r.loaded == 0 and r.updated == 0
        assert r.duplicate == r.read - r.rejected
    # Not one stored row changed, not even its bookkeeping (run_id): nothing was rewritten.
    assert {t: sql(f"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x") for t in COUNTED} == snapshot


def test_changed_row_counts_as_updated(empty_db, sql, tmp_path):
    load_file(FIXTURES / "shots_dc.csv", progress=False)
    changed = tmp_path / "shots_dc.csv"
    changed.write_text((FIXTURES / "shots_dc.csv").read_text().replace("39.301,-76.645", "39.305,-76.640"))
    result = load_file(changed, progress=False)
    # No id in this layout: a moved alert is a new alert (time + place are its identity).
    assert (result.loaded, result.duplicate) == (1, 1)
    load_file(FIXTURES / "nibin_leads.csv", progress=False)
    edited = tmp_path / "nibin.csv"
    edited.write_text((FIXTURES / "nibin_leads.csv").read_text().replace("NL-2022-0002,2022-05-10,LEAD",
                                                                          "NL-2022-0002,2022-05-10,HIT"))
    result = load_file(edited, progress=False)
    assert (result.loaded, result.updated, result.duplicate, result.rejected) == (0, 1, 1, 1)
    assert sql("SELECT lead_status FROM nibin_lead WHERE lead_id = 'NL-2022-0002'") == [("HIT",)]


def test_repeated_key_in_one_file_counts_as_duplicate(empty_db, tmp_path):
    text = (FIXTURES / "shots_chicago.csv").read_text().splitlines()
    path = tmp_path / "dup.csv"
    path.write_text("\n".join([text[0], text[1], text[1], text[2]]) + "\n")
    result = load_file(path, progress=False)
    assert (result.read, result.loaded, result.duplicate) == (3, 2, 1)


def test_victims_of_one_incident_are_numbered_in_file_order_and_reload_as_duplicates(empty_db, sql, tmp_path):
    lines = (FIXTURES / "incidents_2022.csv").read_text().splitlines()
    victim = lines[1].replace("22C01234", "22C07777")
    rows = [victim.replace(",M,24,", f",M,{age},") for age in (20, 30, 40)]
    path = tmp_path / "victims.csv"
    path.write_text("\n".join([lines[0], rows[0], lines[2], rows[1], rows[2]]) + "\n")
    first = load_file(path, progress=False)
    assert (first.read, first.loaded, first.duplicate) == (4, 4, 0)
    stored = "SELECT source_key, victim_age FROM incident WHERE cc_number = '22C07777' ORDER BY source_key"
    assert sql(stored) == [("22C07777:9S", 20), ("22C07777:9S:1", 30), ("22C07777:9S:2", 40)]
    again = load_file(path, progress=False)
    assert (again.loaded, again.updated, again.duplicate) == (0, 0, 4)
    # The second victim's age corrected: that row is updated, the others are the same.
    path.write_text("\n".join([lines[0], rows[0], lines[2], rows[1].replace(",M,30,", ",M,31,"), rows[2]]) + "\n")
    corrected = load_file(path, progress=False)
    assert (corrected.loaded, corrected.updated, corrected.duplicate) == (0, 1, 3)
    assert sql(stored) == [("22C07777:9S", 20), ("22C07777:9S:1", 31), ("22C07777:9S:2", 40)]


def test_failure_mid_file_leaves_database_as_before(empty_db, sql, tmp_path):
    load_file(FIXTURES / "incidents_api.csv", progress=False)
    before = _counts(sql)
    lines = (FIXTURES / "incidents_2022.csv").read_text().splitlines()
    path = tmp_path / "broken.csv"
    # Valid rows, then bytes that are not UTF-8 deep in the file: the whole file must roll back.
    body = "\n".join(lines + [lines[1].replace("22C01234", f"22C9{i:04d}") for i in range(3000)])
    path.write_bytes(body.encode() + b"\n,,9,22C99999,2022/03/01 03:48:00+00,9S,SHOOT\xff\xfeING,O\n")
    with pytest.raises(LoadError, match="not valid"):
        load_file(path, progress=False)
    assert _counts(sql) == before
    status, message = sql("SELECT status, message FROM etl_run ORDER BY id DESC LIMIT 1")[0]
    assert status == "failed" and "not valid" in message


@pytest.mark.parametrize(("content", "match"), [
    (None, "no such file"),
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "binary"),  # a spreadsheet (zip); a UTF-16 BOM now means text
    (b"caf\xe9,bar\nx,y\n", "not valid utf-8"),
    (b"foo,bar\n1,2\n", "does not match any known layout"),
])
def test_bad_files_give_one_line_errors(empty_db, tmp_path, content, match):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(LoadError, match=match) as info:
        load_file(path, progress=False)
    assert "\n" not in str(info.value)


def test_windows_encoding_loads_with_encoding_option(empty_db, sql, tmp_path):
    text = (FIXTURES / "incidents_api.csv").read_text().replace("RESERVOIR HILL", "RÉSERVOIR HILL")
    path = tmp_path / "cp1252.csv"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(LoadError, match="--encoding cp1252"):
        load_file(path, progress=False)
    result = load_file(path, encoding="cp1252", progress=False)
    assert result.loaded == 2
    assert sql("SELECT count(*) FROM incident WHERE neighborhood = 'RÉSERVOIR HILL'") == [(1,)]
