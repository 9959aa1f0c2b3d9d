"""Sign-in, sessions and the HTTP hardening around the Dash app (Flask hooks; no data, no SQL).

Every request except the sign-in pages and static assets needs a signed-in account; the account's
role becomes the request's `layers.access` viewer, so every data product the request touches is
gated by it. Sessions end after CGA_SESSION_IDLE_MINUTES without user activity (background refreshes
do not count). State-changing requests carry a CSRF token (Dash sends the `_csrf_token` cookie back as
the X-CSRFToken header; forms carry it as a field). Hosts outside CGA_ALLOWED_HOSTS are refused, and
responses carry a content security policy and the usual hardening headers.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any

import flask
from flask import Flask, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from layers import access, settings
from layers.access import accounts, audit, keys

PUBLIC_PREFIXES = ("/login", "/logout", "/auth/oidc/", "/assets/", "/healthz", "/_favicon.ico", "/favicon.ico")
CSRF_COOKIE = "_csrf_token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class User(UserMixin):
    """The signed-in account as Flask-Login sees it."""

    def __init__(self, account: accounts.Account):
        self.account = account
        self.id = str(account.id)

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def role(self) -> str:
        return self.account.role


def _loopback_request() -> bool:
    host = (request.host or "").rsplit(":", 1)[0] if not request.host.startswith("[") else "[::1]"
    return host in LOOPBACK


def cookies_secure() -> bool:
    mode = str(settings.get("CGA_SECURE_COOKIES")).lower()
    if mode in ("true", "1", "yes"):
        return True
    if mode in ("false", "0", "no"):
        return False
    if not flask.has_request_context():
        return True
    return request.is_secure or not _loopback_request()


class _Sessions(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:  # per request: plain HTTP is only fine on loopback
        return cookies_secure()


def allowed_hosts() -> list[str]:
    return [h.strip().lower() for h in str(settings.get("CGA_ALLOWED_HOSTS")).split(",") if h.strip()]


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.headers.get("X-CSRFToken") or request.form.get("csrf_token") or ""
    return bool(expected) and hmac.compare_digest(str(expected), str(given))


def _is_public(path: str) -> bool:
    return path == "/login" or any(path.startswith(p) for p in PUBLIC_PREFIXES)


def _is_dash_xhr(path: str) -> bool:
    return path.startswith("/_dash-") or path.startswith("/_reload-hash")


# What timers change, and what follows from a new data version: requests set off only by these are not
# the user's doing.
BACKGROUND_PROPS = ("shell-version.data", "map-version.data")


def _background_only() -> bool:
    """A Dash request fired by a timer (dcc.Interval) or by newly loaded data, not by the user: it must not
    keep a session alive."""
    if request.path != "/_dash-update-component":
        return False
    try:
        body = request.get_json(silent=True) or {}
    except Exception:  # an unreadable body is not a timer tick
        return False
    changed = body.get("changedPropIds") or []
    return bool(changed) and all(str(c).endswith(".n_intervals") or str(c) in BACKGROUND_PROPS for c in changed)


def viewer_of_request() -> access.Viewer:
    if not current_user.is_authenticated:
        return access.NOBODY
    role = current_user.role
    purpose = session.get("purpose")
    return access.Viewer(user=current_user.username, role=role, purpose=purpose, session=session.get("sid"),
                         ip=request.remote_addr,
                         needs_purpose="personal" in access.CAPABILITIES.get(role, frozenset()) and not purpose)


def _refuse(status: int, message: str, **extra: Any):
    if _is_dash_xhr(request.path) or request.is_json:
        return jsonify({"error": message, **extra}), status
    return flask.Response(message + "\n", status=status, mimetype="text/plain")


def end_session(reason: str) -> None:
    viewer = viewer_of_request()
    if viewer.signed_in:
        audit.record(viewer, reason)
    if session.get("sid"):
        accounts.end_session(session["sid"])
    logout_user()
    session.clear()


def install(app: Flask) -> None:
    """Wire sign-in, sessions, CSRF, host checks and security headers into the Dash app's Flask server."""
    from flask_talisman import Talisman

    server: Flask = app.server
    proxies = settings.get("CGA_TRUSTED_PROXIES")
    if proxies:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    server.secret_key = keys.secret_key()
    server.session_interface = _Sessions()
    server.config.update(
        SESSION_COOKIE_NAME="cga_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=accounts.SESSION_HOURS * 3600, MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    logins = LoginManager(server)
    logins.session_protection = "strong"

    @logins.user_loader
    def _load(user_id: str):
        # A session that was ended (signed out, timed out) signs no one in, whatever cookie comes back.
        if not session.get("sid"):
            return None
        try:
            acct = accounts.current(int(user_id), session["sid"])
        except (TypeError, ValueError):
            return None
        if acct is None or acct.disabled:
            return None
        return User(acct)

    @logins.unauthorized_handler
    def _unauthorized():
        return _refuse(401, "sign in first", login="/login")

    hosts = allowed_hosts()

    @server.before_request
    def _gate():
        access.set_viewer(access.NOBODY)
        if request.path == "/healthz":  # the container's own health check may use any address
            return None
        host = (request.host or "").lower()
        bare = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0]
        if hosts and bare not in hosts and "*" not in hosts:
            return _refuse(400, f"unknown host {bare!r}: add it to CGA_ALLOWED_HOSTS to serve it")
        changing = request.method not in ("GET", "HEAD", "OPTIONS")
        path = request.path
        if _is_public(path):
            if changing and not _csrf_ok():
                return _refuse(403, "the form is out of date (missing or wrong CSRF token); reload the page")
            return None
        if not current_user.is_authenticated:
            if _is_dash_xhr(path) or request.method != "GET":
                return _refuse(401, "sign in first", login="/login")
            nxt = request.full_path.rstrip("?") if request.query_string else path
            from urllib.parse import quote

            return redirect(f"/login?next={quote(_safe_next(nxt), safe='/')}")
        idle = settings.get("CGA_SESSION_IDLE_MINUTES") * 60
        now = time.time()
        last = session.get("last_seen", now)
        if now - last > idle:
            end_session("session expired")
            if _is_dash_xhr(path):
                return _refuse(401, "signed out after inactivity", login="/login?expired=1")
            return redirect("/login?expired=1")
        if changing and not _csrf_ok():
            return _refuse(403, "the form or page is out of date (missing or wrong CSRF token); reload the page")
        if not _background_only():
            session["last_seen"] = now
        access.set_viewer(viewer_of_request())
        return None

    @server.after_request
    def _csrf_cookie(response):
        if "csrf" in session or current_user.is_authenticated:
            token = csrf_token()
            if request.cookies.get(CSRF_COOKIE) != token:
                response.set_cookie(CSRF_COOKIE, token, secure=cookies_secure(), httponly=False, samesite="Strict")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @server.teardown_request
    def _forget_viewer(_exc):
        access.set_viewer(access.NOBODY)

    @server.errorhandler(access.Denied)
    def _denied(exc: access.Denied):
        return _refuse(403, str(exc))

    @server.route("/healthz")
    def _health():
        return jsonify({"ok": True})

    issuer = settings.get("CGA_OIDC_ISSUER")
    tiles = settings.get("CGA_TILE_URL")
    tile_origin = _origin(tiles) if tiles else None
    csp = {
        "default-src": "'self'",
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *([tile_origin] if tile_origin else [])],
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",
        "form-action": ["'self'", *([_origin(issuer)] if issuer else [])],
    }
    policy: dict[str, str] = {}
    policy_lock = threading.Lock()

    @server.after_request
    def _content_security_policy(response):
        # Dash registers its inline scripts (clientside callbacks) at the first request: hash them then.
        if "value" not in policy:
            with policy_lock:
                if "value" not in policy:
                    parts = {**csp, "script-src": ["'self'", *app.csp_hashes()]}
                    policy["value"] = "; ".join(f"{k} {' '.join(v) if isinstance(v, list) else v}"
                                                for k, v in parts.items())
        response.headers["Content-Security-Policy"] = policy["value"]
        return response

    Talisman(server, force_https=False, strict_transport_security=True, frame_options="DENY",
             content_security_policy=None, referrer_policy="same-origin", session_cookie_secure=False,
             session_cookie_http_only=True, session_cookie_samesite="Lax", x_content_type_options=True,
             permissions_policy={"geolocation": "()", "camera": "()", "microphone": "()"})
    server.session_interface = _Sessions()  # Talisman must not pin Secure on: `auto` decides per request


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("{s}", "a"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "'self'"


def _safe_next(target: str | None) -> str:
    """Only paths on this site (no scheme, no //host) are followed after sign-in."""
    target = target or "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_state() -> dict[str, Any]:
    """What templates need: the CSRF token, OIDC availability, banner."""
    return {"csrf_token": csrf_token(), "banner": settings.get("CGA_LOGIN_BANNER"),
            "oidc": bool(settings.get("CGA_OIDC_ISSUER")), "oidc_label": settings.get("CGA_OIDC_LABEL")}
