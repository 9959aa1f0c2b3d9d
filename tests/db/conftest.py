"""Database tests read data products as an analyst with a purpose, unless a test says otherwise
(`access.use_viewer(...)` or an explicit `viewer=`): what they check is the data, not the gate;
tests of the gate name their viewer."""

from __future__ import annotations

import pytest

from layers import access


@pytest.fixture(autouse=True)
def as_analyst():
    with access.use_viewer(access.Viewer("db-test", "analyst", purpose="database tests")) as viewer:
        yield viewer
