"""Data flows one way: dashboard -> layers <- etl. layers imports neither; the dashboard writes no SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found += [(str(path.relative_to(ROOT)), node.module)]
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("layers", ("dash", "dashboard", "etl", "plotly", "dash_leaflet")),
    ("etl", ("dash", "dashboard", "plotly", "dash_leaflet")),
    ("dashboard", ("etl", "psycopg", "sqlalchemy", "geoalchemy2")),
])
def test_dependency_direction(package, forbidden):
    bad = [(f, m) for f, m in _imports(package) if m.split(".")[0] in forbidden]
    assert not bad, f"{package} must not import {forbidden}: {bad}"


def test_components_register_their_callbacks_on_each_app():
    """A module-level @callback outside dashboard/pages reaches only the first app a process builds (a second
    app — another worker's, or the next test's — silently lacks it): components register per app instead."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "dashboard"
    offenders = [str(p.relative_to(root.parent)) for p in root.rglob("*.py")
                 if "pages" not in p.parts and re.search(r"^@(dash\.)?callback\(", p.read_text(), re.MULTILINE)]
    assert not offenders, f"module-level callbacks outside pages: {offenders}"
