"""Sign-in in the browser: the banner, lockout after five failures, the second factor (enrolment and
codes), sign-out, and the sign-out after thirty idle minutes."""

from __future__ import annotations

import time

import pyotp
import pytest
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import TEST_PASSWORD, ensure_account

pytestmark = pytest.mark.browser


def _start(dash_duo, app) -> str:
    dash_duo.start_server(app, navigate=False)
    dash_duo._url = dash_duo.server.url
    dash_duo.driver.set_window_size(1200, 900)
    return dash_duo.server_url


def _submit_login(dash_duo, base: str, user: str, password: str) -> None:
    dash_duo.driver.get(f"{base}/login")
    dash_duo.wait_for_element("#login-username").send_keys(user)
    dash_duo.find_element("#login-password").send_keys(password, Keys.ENTER)


def test_auth001_banner_wrong_password_and_lockout(dash_duo, app, sql):
    base = _start(dash_duo, app)
    user = ensure_account("commander", "lockout-commander")
    from layers.access import accounts

    accounts.unlock(user)
    dash_duo.driver.get(f"{base}/firearm/1")  # any page: the sign-in form comes first
    assert "/login" in dash_duo.driver.current_url
    assert "criminal justice information" in dash_duo.wait_for_element("#login-banner").text
    for attempt in range(1, 6):
        _submit_login(dash_duo, base, user, f"not-the-password-{attempt}")
        message = dash_duo.wait_for_element("#signin-danger").text
        if attempt < 5:
            assert message == "Wrong account name or password."
    assert "locked for 10 minutes" in message
    _submit_login(dash_duo, base, user, TEST_PASSWORD)  # the right password, but locked
    assert "locked" in dash_duo.wait_for_element("#signin-danger").text
    assert "/login" in dash_duo.driver.current_url
    events = [r[0] for r in sql("SELECT event FROM audit.event WHERE username = %s ORDER BY id", (user,))]
    assert events[-7:] == ["sign-in failed"] * 4 + ["locked", "sign-in failed"] or events.count("locked") == 1
    assert sql("SELECT locked_until > now() + interval '9 minutes' FROM auth.account WHERE username = %s",
               (user,))[0][0]
    accounts.unlock(user)
    _submit_login(dash_duo, base, user, TEST_PASSWORD)
    dash_duo.wait_for_text_to_equal("#nav-user", user, timeout=20)


def test_auth002_second_factor_enrolment_then_codes(dash_duo, app, sql, monkeypatch):
    monkeypatch.setenv("CGA_MFA_REQUIRED", "personal")
    from layers.access import accounts

    user = ensure_account("detective", "totp-detective")
    accounts.reset_totp(user)
    base = _start(dash_duo, app)
    _submit_login(dash_duo, base, user, TEST_PASSWORD)
    secret = dash_duo.wait_for_element("#enrol-secret", timeout=20).text
    assert dash_duo.find_element("#enrol-qr svg")
    dash_duo.find_element("#code-input").send_keys("000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
                                                   Keys.ENTER)
    assert "does not match" in dash_duo.wait_for_element("#signin-danger").text
    dash_duo.find_element("#code-input").send_keys(pyotp.TOTP(secret).now(), Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#nav-user", user, timeout=20)
    assert accounts.get(user).totp_enabled
    # Sign out stays inside the window, next to a detective's purpose, without a sideways scroll.
    assert dash_duo.driver.execute_script(
        "const r = document.querySelector('#nav-signout').getBoundingClientRect();"
        "return r.right <= document.documentElement.clientWidth"
        " && document.documentElement.scrollWidth <= document.documentElement.clientWidth;")
    # Signed out from a settled page: this test is about the second factor. A page callback still in flight
    # at sign-out used to set the signed-in cookie back; auth004 holds sign-out to ending the session anyway.
    until(dash_duo._wait_for_callbacks, timeout=20, poll=0.2)
    dash_duo.find_element("#nav-signout").click()
    dash_duo.wait_for_element("#login-form", timeout=20)
    # Next time: password, then a code from the app.
    _submit_login(dash_duo, base, user, TEST_PASSWORD)
    code = dash_duo.wait_for_element("#code-input", timeout=20)
    assert not dash_duo.find_elements("#enrol-secret"), "the key is shown only once"
    code.send_keys(pyotp.TOTP(secret).now(), Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#nav-user", user, timeout=20)
    rows = sql("SELECT event FROM audit.event WHERE username = %s ORDER BY id", (user,))
    assert [r[0] for r in rows][-5:] == ["sign-in failed", "second factor enrolled", "sign-in", "sign-out", "sign-in"]


def test_auth004_a_signed_out_session_cookie_signs_no_one_in(dash_duo, app, sql):
    """Sign-out ends the session on the server: the old cookie set back in the browser (as a page request
    still in flight at sign-out did, now and then) finds the sign-in form, not the map."""
    user = ensure_account("commander", "cookie-commander")
    base = _start(dash_duo, app)
    _submit_login(dash_duo, base, user, TEST_PASSWORD)
    dash_duo.wait_for_text_to_equal("#nav-user", user, timeout=20)
    old = dash_duo.driver.get_cookie("cga_session")
    dash_duo.find_element("#nav-signout").click()
    dash_duo.wait_for_element("#login-form", timeout=20)
    dash_duo.driver.delete_cookie("cga_session")
    dash_duo.driver.add_cookie({k: old[k] for k in ("name", "value", "path", "httpOnly") if k in old})
    dash_duo.driver.get(f"{base}/data")
    dash_duo.wait_for_element("#login-username", timeout=20)
    assert "/login" in dash_duo.driver.current_url
    assert sql("SELECT count(*) FROM auth.ended_session")[0][0] >= 1


def test_auth003_idle_sessions_end_after_thirty_minutes(dash_duo, app, monkeypatch):
    from dashboard import security
    from tests.browser.conftest import sign_in_as

    base = _start(dash_duo, app)
    sign_in_as(dash_duo, "commander", purpose=None, path="/data")
    dash_duo.wait_for_element("#data-loads", timeout=20)
    real = time.time

    class Clock:  # the server's clock, 31 minutes on
        @staticmethod
        def time():
            return real() + 31 * 60

    monkeypatch.setattr(security, "time", Clock)
    dash_duo.driver.get(f"{base}/data")
    assert "30 minutes without activity" in dash_duo.wait_for_element("#signin-info", timeout=20).text
    assert "/login" in dash_duo.driver.current_url
    monkeypatch.setattr(security, "time", time)
    sign_in_as(dash_duo, "commander", purpose=None, path="/data")
    dash_duo.wait_for_element("#data-loads", timeout=20)
    monkeypatch.setattr(security, "time", Clock)
    # An open page whose data request meets an ended session goes to the sign-in page by itself.
    dash_duo.driver.execute_script(
        "var t = (document.cookie.match(/_csrf_token=([^;]+)/) || [])[1];"
        "window.fetch('/_dash-update-component', {method: 'POST', headers: "
        "{'Content-Type': 'application/json', 'X-CSRFToken': t}, body: '{}'})")
    deadline = time.time() + 15
    while time.time() < deadline and "/login" not in dash_duo.driver.current_url:
        time.sleep(0.2)
    assert "/login" in dash_duo.driver.current_url
