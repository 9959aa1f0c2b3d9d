"""The sign-in pages: password, second factor (TOTP), enrolment, purpose, sign-out, single sign-on.

Server-rendered forms (no scripts), each with a CSRF field. Every outcome is written to the audit
trail: sign-in and its failures (with the reason), lockouts, second-factor enrolment, sign-out, the
purpose a user gives. Error messages never tell whether an account name exists.
"""

from __future__ import annotations

import io
import secrets
import time
from typing import Any

import flask
from flask import Blueprint, Flask, redirect, render_template, request, session
from flask_login import current_user, login_user

from dashboard import security
from layers import access, settings
from layers.access import accounts, audit

bp = Blueprint("signin", __name__, template_folder="templates")


def _page(template: str, title: str, messages: list[tuple[str, str]] | None = None, status: int = 200,
          **ctx: Any):
    body = render_template(template, title=title, messages=messages or [], **security.login_state(), **ctx)
    return flask.Response(body, status=status, mimetype="text/html")


def _who(username: str | None, role: str | None = None) -> access.Viewer:
    return access.Viewer(user=username or "", role=role, session=session.get("sid"), ip=request.remote_addr)


def _start_session(acct: accounts.Account, nxt: str, how: str) -> flask.Response:
    session.clear()  # a fresh session: nothing carried over from before sign-in (fixation)
    login_user(security.User(acct))
    session.update({"sid": secrets.token_hex(8), "last_seen": time.time(), "csrf": secrets.token_urlsafe(32)})
    accounts.signed_in(acct.id)
    audit.record(security.viewer_of_request(), "sign-in", detail={"method": how})
    return redirect(security._safe_next(nxt))


def _lock_message(until) -> str:
    minutes = accounts.lockout_minutes()
    return (f"Too many failed sign-ins: this account is locked for {minutes} minutes"
            + (f" (until {until:%H:%M} UTC)." if until else ".") + " An administrator can unlock it sooner.")


@bp.route("/login", methods=["GET", "HEAD", "POST"])
def login():
    nxt = security._safe_next(request.values.get("next"))
    if request.method != "POST":
        if current_user.is_authenticated:
            return redirect(nxt)
        messages = []
        if request.args.get("expired"):
            messages.append(("info", f"You were signed out after {settings.get('CGA_SESSION_IDLE_MINUTES')} "
                                     "minutes without activity. Sign in again."))
        if request.args.get("out"):
            messages.append(("info", "You are signed out."))
        if not security.cookies_secure() and not security._loopback_request():
            messages.append(("warning", "This page is served over plain HTTP: sign in only on a trusted network."))
        if security.cookies_secure() and not request.is_secure:
            if not security._loopback_request():
                messages.append(("danger", "Sign-in needs HTTPS at this address: serve the dashboard behind TLS "
                                           "(CGA_TRUSTED_PROXIES for a reverse proxy)."))
        return _page("login.html", "Sign in", messages, next=nxt, username="")
    username = (request.form.get("username") or "").strip().lower()[:64]
    password = request.form.get("password") or ""
    result = accounts.verify_password(username, password)
    if not result.ok:
        who = _who(username, result.account.role if result.account else None)
        if result.reason.startswith("locked"):
            audit.record(who, "locked" if result.reason == "locked now" else "sign-in failed",
                         outcome="refused", detail={"reason": "account locked"})
            msg = _lock_message(result.locked_until)
        elif result.reason == "disabled":
            audit.record(who, "sign-in failed", outcome="refused", detail={"reason": "account disabled"})
            msg = "Wrong account name or password, or the account cannot sign in. Ask an administrator."
        else:
            audit.record(who, "sign-in failed", outcome="refused",
                         detail={"reason": "wrong password" if result.account else "unknown account"})
            msg = "Wrong account name or password."
        return _page("login.html", "Sign in", [("danger", msg)], status=401, next=nxt, username=username)
    acct = result.account
    session.clear()
    session.update({"pending": acct.id, "pending_at": time.time(), "next": nxt, "csrf": secrets.token_urlsafe(32),
                    "sid": secrets.token_hex(8)})
    if acct.totp_enabled:
        return redirect("/login/code")
    if accounts.mfa_required(acct.role):
        session["enrol_secret"] = accounts.new_totp_secret()
        return redirect("/login/enrol")
    return _start_session(acct, nxt, "password")


def _pending() -> accounts.Account | None:
    """The account that gave a right password in the last 5 minutes and still owes a second factor."""
    acct_id, at = session.get("pending"), session.get("pending_at", 0)
    if not acct_id or time.time() - at > 300:
        return None
    acct = accounts.get_by_id(acct_id)
    return acct if acct and not acct.disabled else None


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    acct = _pending()
    if acct is None:
        return redirect("/login")
    if request.method == "GET":
        return _page("code.html", "Second factor", enrol=False, username=acct.username, action="/login/code")
    if accounts.verify_totp(acct.id, request.form.get("code", "")):
        return _start_session(acct, session.get("next", "/"), "password+totp")
    return _wrong_code(acct, "wrong second-factor code", "Second factor",
                       "That code is not right; try the current one.",
                       {"enrol": False, "username": acct.username, "action": "/login/code"})


def _wrong_code(acct: accounts.Account, reason: str, title: str, message: str, ctx: dict[str, Any]):
    """A wrong code counts toward the lockout like a wrong password, and is recorded."""
    res = accounts.count_failed_totp(acct.id)
    audit.record(_who(acct.username, acct.role), "locked" if res.reason == "locked now" else "sign-in failed",
                 outcome="refused", detail={"reason": reason})
    if res.reason == "locked now":
        session.clear()
        return _page("login.html", "Sign in", [("danger", _lock_message(None))], status=401, next="/", username="")
    return _page("code.html", title, [("danger", message)], status=401, **ctx)


def _qr_svg(uri: str) -> str:
    import segno

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                    title="Authenticator set-up code")
    return out.getvalue().decode()


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol():
    acct = _pending()
    secret = session.get("enrol_secret")
    if acct is None or not secret:
        return redirect("/login")
    ctx = {"enrol": True, "secret": secret, "qr": _qr_svg(accounts.totp_uri(secret, acct.username)),
           "username": acct.username, "action": "/login/enrol"}
    if request.method == "GET":
        return _page("code.html", "Set up your second factor", **ctx)
    if accounts.enrol_totp(acct.id, secret, request.form.get("code", "")):
        session.pop("enrol_secret", None)
        audit.record(_who(acct.username, acct.role), "second factor enrolled")
        return _start_session(acct, session.get("next", "/"), "password+totp")
    return _wrong_code(acct, "wrong code while setting up the second factor", "Set up your second factor",
                       "That code does not match; check the app's clock and try the current code.", ctx)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    security.end_session("sign-out")
    return redirect("/login?out=1")


@bp.route("/purpose", methods=["GET", "POST"])
def purpose():
    if not current_user.is_authenticated:
        return redirect("/login?next=/purpose")
    nxt = security._safe_next(request.values.get("next"))
    if request.method == "GET":
        return _page("purpose.html", "Case number or reason", next=nxt, purpose=session.get("purpose", ""))
    text = " ".join((request.form.get("purpose") or "").split())[:200]
    if len(text) < 3:
        return _page("purpose.html", "Case number or reason",
                     [("danger", "Give a case number or a reason of at least 3 characters.")], status=400,
                     next=nxt, purpose=text)
    session["purpose"] = text
    audit.record(security.viewer_of_request(), "purpose", detail={"purpose": text})
    return redirect(nxt)


@bp.route("/search", methods=["POST"])
def search_post():
    """The header search box posts here: the query goes into the session, never into a URL or a log."""
    session["search_q"] = (request.form.get("q") or "").strip()[:100]
    return redirect("/search", code=303)


def install(app) -> None:
    server: Flask = app.server
    server.register_blueprint(bp)
    from dashboard import oidc

    oidc.install(server)
