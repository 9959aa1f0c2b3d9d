"""The record pages' index panel (dashboard/components/index_panel.py) for a gun: what the firearm page
shows once it includes the panel — and nothing for roles without records."""

from __future__ import annotations

import pytest

from layers import access
from tests.conftest import query_runner

pytestmark = pytest.mark.db


def _text(node) -> str:
    if node is None:
        return ""
    if isinstance(node, (str, int, float)):
        return str(node)
    if isinstance(node, (list, tuple)):
        return " ".join(_text(n) for n in node)
    return _text(getattr(node, "children", None))


def _links(node) -> list[str]:
    if isinstance(node, (list, tuple)):
        return [h for n in node for h in _links(n)]
    out = [node.href] if getattr(node, "href", None) else []
    return out + _links(getattr(node, "children", None) or [])


def test_firearm_panel_explains_the_score_for_records_roles_only(synthetic_db):
    from dashboard.components.index_panel import score_panel
    from layers.index import weights

    sql = query_runner(synthetic_db)
    gun, score = sql("SELECT firearm_id, score FROM index.firearm_score WHERE rank = 1")[0]
    with access.use_viewer(access.Viewer("panel-detective", "detective", purpose="index tests")):
        panel = score_panel("firearm", gun)
    text = _text(panel)
    assert f"Score {score:.2f}" in text and f"weights {weights.VERSION}" in text and "Not reviewed yet" in text
    links = _links(panel)
    assert "/index?level=firearm" in links and any(h.startswith(("/firearm/", "/person/", "/dealer/")) for h in links)
    for role in ("press", "commander"):
        assert score_panel("firearm", gun, access.Viewer("t", role)) is None
    unscored = sql("SELECT max(id) + 1 FROM firearm")[0][0]
    with access.use_viewer(access.Viewer("panel-detective", "detective", purpose="index tests")):
        assert "Not scored" in _text(score_panel("firearm", unscored))
