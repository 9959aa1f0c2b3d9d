"""When the database stops answering, the page says so in a banner, and clears it by itself once the
database answers again (the same stalling forwarder as tests/db/test_sick_database.py)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import sign_in_as
from tests.db.test_sick_database import MESSAGE, StallingProxy

pytestmark = pytest.mark.browser


@pytest.fixture
def stalling_app(database_url, monkeypatch):
    """The app reaching the test database through a forwarder the test can stall; returns (app, proxy)."""
    from dashboard.app import create_app
    from layers import db

    parts = urlsplit(database_url.replace("postgresql+psycopg", "postgresql"))
    proxy = StallingProxy(parts.port).start()
    monkeypatch.setenv("DATABASE_URL",
                       parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}").geturl())
    db.reset_engines()
    yield create_app(), proxy
    proxy.stop()
    db.reset_engines()


def test_unavailable001_banner_while_stalled_and_gone_after(dash_duo, stalling_app):
    app, proxy = stalling_app
    dash_duo.start_server(app, navigate=False)
    sign_in_as(dash_duo, "analyst", path="/")
    dash_duo.wait_for_element("#nav-data", timeout=10)

    proxy.pause()
    dash_duo.find_element("#nav-data").click()  # the page callback now meets a database that does not answer
    banner = dash_duo.wait_for_element("#data-unavailable-banner", timeout=15)
    assert MESSAGE in banner.text
    assert banner.is_displayed()

    proxy.resume()  # the page retries by itself: the banner goes and the page arrives
    dash_duo.wait_for_element("#data-loads", timeout=30)
    def banner_shown() -> bool:  # a page that reloaded by itself has no banner element at all
        from selenium.common.exceptions import StaleElementReferenceException

        try:
            return any(b.is_displayed() for b in dash_duo.find_elements("#data-unavailable-banner"))
        except StaleElementReferenceException:  # removed as the page reloaded
            return False

    deadline = time.monotonic() + 10
    while banner_shown() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not banner_shown()
