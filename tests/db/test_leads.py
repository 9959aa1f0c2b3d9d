"""Leads from the investigation fixtures: each kind appears for the right reason."""

from __future__ import annotations

import pytest

from tests.db import test_journey as _fixtures
from tests.db.test_journey import DETECTIVE

inv_db, ids = _fixtures.inv_db, _fixtures.ids  # the investigation fixtures, loaded once per module

pytestmark = pytest.mark.db


def test_leads_of_every_kind(ids):
    from layers.leads import leads

    out = leads(DETECTIVE)
    purchasers = {x["title"]: x for x in out["purchasers"]}
    assert set(purchasers) == {"PARKER, PAT"}
    p = purchasers["PARKER, PAT"]
    assert p["guns"] == 2 and p["short_other"] == 1  # the second recovery came after 387 days
    assert "Bought 2 guns" in p["why"] and ("Person", f"/person/{ids['parker']}") in p["links"]
    unrec = out["unrecovered"]
    assert len(unrec) == 1 and unrec[0]["incidents"] == 3  # August -> Oct 10 -> Oct 12, no gun
    assert ("Latest incident", f"/incident/{ids['i_oct']}") in unrec[0]["links"]
    # Newest lead 2021-10-26: of the leads in the 30 days before it, only NL-T-0005 touches a traced gun
    # (gun C, test-fired); NL-T-0003/4 join casings only.
    recent = out["recent_nibin"]
    assert [x["title"].split()[0] for x in recent] == ["NL-T-0005"]
    assert ("Journey", f"/firearm/{ids['gun_c']}") in recent[0]["links"]
    assert "known person" in recent[0]["why"]
    assert all(x["why"] for k in out for x in out[k])


@pytest.mark.parametrize("role", ["press", "commander"])
def test_leads_are_for_records_roles_only(ids, role):
    from layers import access
    from layers.leads import leads

    with access.use_viewer(access.Viewer("t", role)), pytest.raises(access.Denied):
        leads()
