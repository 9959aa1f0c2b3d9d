"""The personal-data gate: roles decide, on the server, what identifying fields leave it."""

from __future__ import annotations

import pytest

from layers import settings
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


def test_default_role_is_press(monkeypatch):
    monkeypatch.delenv("CGA_ROLE", raising=False)
    monkeypatch.setattr(settings, "_dotenv", lambda: {})
    assert current_viewer().role == "press"


def test_unknown_role_is_refused(monkeypatch):
    monkeypatch.setenv("CGA_ROLE", "sheriff")
    with pytest.raises(settings.SettingError, match="CGA_ROLE"):
        current_viewer()
