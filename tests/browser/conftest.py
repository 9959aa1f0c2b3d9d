"""Browser tests: the real app in headless Chromium (dash.testing) on a real, loaded PostGIS."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, query_runner


@pytest.fixture(autouse=True)
def _no_second_factor(monkeypatch):
    """Browser tests sign in with a password only (the second factor has tests of its own)."""
    monkeypatch.setenv("CGA_MFA_REQUIRED", "none")


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


TEST_PASSWORD = "browser-test-password"


def ensure_account(role: str, username: str | None = None, password: str = TEST_PASSWORD) -> str:
    """An account with the role in the database the project points at (created once per database)."""
    from layers.access import accounts

    username = username or f"test-{role}"
    if accounts.get(username) is None:
        accounts.create(username, role, password)
    else:
        accounts.reset_password(username, password)
        accounts.set_role(username, role)
        accounts.set_disabled(username, False)
    return username


def sign_in_as(dash_duo, role: str, purpose: str | None = "test case 24-000001", username: str | None = None,
               path: str = "/") -> str:
    """Sign in through the real sign-in page (no second factor), give a purpose for records roles, then
    open `path`."""
    from selenium.webdriver.common.keys import Keys

    user = ensure_account(role, username)
    if not getattr(dash_duo, "_url", None):  # started with navigate=False: the sign-in page is not a Dash page
        dash_duo._url = dash_duo.server.url
    base = dash_duo.server_url
    dash_duo.driver.get(f"{base}/login")
    dash_duo.wait_for_element("#login-username").send_keys(user)
    dash_duo.find_element("#login-password").send_keys(TEST_PASSWORD, Keys.ENTER)
    dash_duo.wait_for_element("#nav-user", timeout=10)
    if purpose and role in ("detective", "analyst", "admin"):
        dash_duo.driver.get(f"{base}/purpose")
        box = dash_duo.wait_for_element("#purpose-input")
        box.clear()
        box.send_keys(purpose, Keys.ENTER)
        dash_duo.wait_for_element("#nav-user", timeout=10)
    if path != "/" or purpose:
        dash_duo.driver.get(f"{base}{path}")
    return user


@pytest.fixture
def sign_in():
    """sign_in(dash_duo, role, path="/"): a signed-in browser session for that role (no second factor)."""

    def run(dash_duo, role: str, path: str = "/", **kwargs):
        return sign_in_as(dash_duo, role, path=path, **kwargs)

    return run
