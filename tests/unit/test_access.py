"""The gate: roles decide, on the server, what leaves it — capabilities, redaction, licensee names, points."""

from __future__ import annotations

import pytest

from layers import access
from layers.access import Viewer, current_viewer, personal_data_allowed, redact

ROW = {"last_name": "ROE", "serial_number": "ABC123", "district": "WESTERN", "ttc_days": 270}


@pytest.mark.parametrize(("role", "sees"), [("detective", True), ("analyst", True), ("admin", True),
                                            ("commander", False), ("press", False)])
def test_roles_decide_personal_data(role, sees):
    viewer = Viewer("u", role)
    assert personal_data_allowed(viewer) is sees
    out = redact(ROW, viewer)
    assert (out["last_name"] == "ROE") is sees
    assert out["district"] == "WESTERN" and out["ttc_days"] == 270


def test_nobody_is_allowed_nothing_outside_a_request():
    assert current_viewer() == access.NOBODY
    for capability in ("map", "charts", "data", "points", "records", "personal", "audit"):
        assert not access.allowed(capability)
    with pytest.raises(access.Denied, match="has not signed in"):
        access.require("map")


@pytest.mark.parametrize(("role", "records", "points"), [("press", False, False), ("commander", False, True),
                                                         ("detective", True, True), ("admin", True, True)])
def test_least_privilege_table(role, records, points):
    v = Viewer("u", role)
    assert v.can("records") is records and v.can("points") is points and v.can("map") and v.can("charts")
    assert v.can("audit") is (role == "admin")


def test_records_wait_for_a_purpose_in_a_session():
    v = Viewer("u", "detective", needs_purpose=True)
    assert not v.can("records") and not v.can("personal") and v.can("map")
    with pytest.raises(access.Denied) as exc:
        access.require("records", v)
    assert exc.value.needs_purpose and "case number or reason" in str(exc.value)
    with access.use_viewer(Viewer("u", "detective", purpose="24-1")):
        assert access.require("records").purpose == "24-1"
    assert current_viewer() == access.NOBODY


@pytest.mark.parametrize(("business", "licensee", "shown"), [
    (None, "DAWSON, ALICE C", "Individual licensee (Towson, MD)"),
    ("", "DAWSON, ALICE C", "Individual licensee (Towson, MD)"),
    ("DAWSON, ALICE C", "DAWSON, ALICE C", "Individual licensee (Towson, MD)"),
    ("RIVER GUNS", "DAWSON, ALICE C", "RIVER GUNS"),
    (None, "BASS PRO OUTDOOR WORLD LLC", "BASS PRO OUTDOOR WORLD LLC"),
])
def test_an_individual_licensees_name_is_personal(business, licensee, shown):
    assert access.dealer_name(business, licensee, Viewer("u", "commander"), "TOWSON", "MD") == shown
    assert access.dealer_name(business, licensee, Viewer("u", "press"), "TOWSON", "MD") == shown
    assert access.dealer_name(business, licensee, Viewer("u", "detective")) == (business or licensee)


def test_points_are_exact_rounded_or_absent_by_role():
    assert access.coarse(39.2904567, Viewer("u", "detective")) == 39.2904567
    assert access.coarse(39.2904567, Viewer("u", "commander")) == 39.29
    with pytest.raises(access.Denied):
        access.coarse(39.2904567, Viewer("u", "press"))


def test_small_counts_are_suppressed_for_press_only(monkeypatch):
    monkeypatch.setenv("CGA_SMALL_COUNT", "5")
    press, commander = Viewer("u", "press"), Viewer("u", "commander")
    assert [access.suppress(n, press) for n in (0, 1, 4, 5, 50)] == [0, None, None, 5, 50]
    assert access.suppress(3, commander) == 3


@pytest.mark.parametrize(("address", "block"), [("1234 N MOUNT ST", "1200 block N MOUNT ST"),
                                                ("77 ZZLEAK STREET", "0 block ZZLEAK STREET"),
                                                ("4500-4502 YORK RD", "4500 block YORK RD"),
                                                ("N MOUNT ST & W NORTH AVE", "N MOUNT ST & W NORTH AVE")])
def test_commanders_see_blocks_not_addresses(address, block):
    assert access.block_of(address) == block
    assert redact({"location": address}, Viewer("u", "commander"))["location"] == block
    assert redact({"location": address}, Viewer("u", "detective"))["location"] == address
