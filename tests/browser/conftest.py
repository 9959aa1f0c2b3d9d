"""Browser tests: the real app in headless Chromium (dash.testing) on a real, loaded PostGIS."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, query_runner


@pytest.fixture
def loaded_db(empty_db, tmp_path_factory):
    """Fixture files loaded through the ETL, with two test districts, then derived."""
    import geopandas as gpd
    from shapely.geometry import box

    from etl.derive import derive
    from etl.loader import load_file

    path = tmp_path_factory.mktemp("geo") / "districts.geojson"
    gpd.GeoDataFrame({"Dist_Name": ["Western", "Central"], "approximate": [True, True]},
                     geometry=[box(-76.70, 39.28, -76.64, 39.33), box(-76.64, 39.27, -76.60, 39.33)],
                     crs=4326).to_file(path)
    load_file(path, progress=False)
    for name in ("ffl_current.csv", "incidents_2022.csv", "shots_chicago.csv", "shots_generic.csv",
                 "traces_canonical.csv", "nibin_leads.csv"):
        load_file(FIXTURES / name, progress=False)
    derive(full=True)
    return empty_db


@pytest.fixture
def app(loaded_db):
    from dashboard.app import create_app
    from layers.db import reset_engines

    reset_engines()
    return create_app()


@pytest.fixture
def synth_app(synthetic_db):
    """The app on the session's small synthetic Baltimore (2024–2025 at 5% scale, loaded through the ETL)."""
    from dashboard.app import create_app

    return create_app()


@pytest.fixture
def synth_sql(synthetic_url):
    """Run one query on the synthetic database (independent of the layers under test)."""
    return query_runner(synthetic_url)
