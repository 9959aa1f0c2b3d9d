"""OpenID Connect single sign-on (Authlib), for agencies with an identity provider.

Turned on by CGA_OIDC_ISSUER, CGA_OIDC_CLIENT_ID and CGA_OIDC_CLIENT_SECRET. The provider's discovery
document is read; sign-in uses the authorization-code flow with PKCE and a nonce; the ID token's
signature, issuer, audience and expiry are checked by Authlib. The user's role comes from the claim
CGA_OIDC_ROLE_CLAIM through CGA_OIDC_ROLE_MAP on every sign-in; users without a mapped role are refused.
The provider's own policies (lockout, second factor) apply to these users.
"""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, Flask, redirect, request, session
from flask_login import login_user

from dashboard import security
from layers import access, settings
from layers.access import accounts, audit

bp = Blueprint("oidc", __name__)
_oauth = None


def enabled() -> bool:
    return bool(settings.get("CGA_OIDC_ISSUER") and settings.get("CGA_OIDC_CLIENT_ID"))


def role_map() -> dict[str, str]:
    out = {}
    for pair in str(settings.get("CGA_OIDC_ROLE_MAP")).split(","):
        group, _, role = pair.partition("=")
        if group.strip() and role.strip():
            out[group.strip()] = role.strip().lower()
    return out


def role_from_claims(claims: dict) -> str | None:
    """The most privileged role the provider's groups map to (a role name itself counts without a map)."""
    value = claims.get(settings.get("CGA_OIDC_ROLE_CLAIM"))
    groups = [value] if isinstance(value, str) else list(value or [])
    mapping = role_map()
    roles = {mapping.get(str(g), str(g).lower() if not mapping else "") for g in groups}
    for role in access.ROLES:  # ROLES is ordered most privileged first
        if role in roles:
            return role
    return None


def _client():
    global _oauth

    if _oauth is None:
        raise RuntimeError("single sign-on is not configured")
    return _oauth.create_client("agency")


@bp.route("/auth/oidc/login")
def oidc_login():
    if not enabled():
        return redirect("/login")
    session["oidc_next"] = security._safe_next(request.args.get("next"))
    redirect_uri = request.url_root.rstrip("/") + "/auth/oidc/callback"
    return _client().authorize_redirect(redirect_uri, nonce=secrets.token_urlsafe(16))


@bp.route("/auth/oidc/callback")
def oidc_callback():
    if not enabled():
        return redirect("/login")
    viewer = access.Viewer(user="", role=None, ip=request.remote_addr)
    try:
        token = _client().authorize_access_token()
    except Exception as exc:  # the provider refused or the response did not verify: say so, record it
        audit.record(viewer, "sign-in failed", outcome="refused",
                     detail={"method": "oidc", "reason": type(exc).__name__})
        return security._refuse(401, "single sign-on did not complete; try again or use a local account")
    claims = token.get("userinfo") or {}
    username = str(claims.get(settings.get("CGA_OIDC_USERNAME_CLAIM")) or claims.get("email") or claims.get("sub"))
    role = role_from_claims(claims)
    if role is None:
        audit.record(access.Viewer(user=username, role=None, ip=request.remote_addr), "sign-in failed",
                     outcome="refused", detail={"method": "oidc", "reason": "no mapped role"})
        return security._refuse(403, "your single-sign-on account has no Crime Gun Atlas role; ask an "
                                     "administrator to map your group (CGA_OIDC_ROLE_MAP)")
    try:
        acct = accounts.oidc_account(str(claims["sub"]), str(claims.get("iss")), username.lower(),
                                     claims.get("name"), role)
    except accounts.AccountError as exc:
        audit.record(viewer, "sign-in failed", outcome="refused", detail={"method": "oidc", "reason": str(exc)})
        return security._refuse(403, str(exc))
    if acct.disabled:
        audit.record(access.Viewer(user=acct.username, role=acct.role), "sign-in failed", outcome="refused",
                     detail={"method": "oidc", "reason": "account disabled"})
        return security._refuse(403, "this account is disabled here; ask an administrator")
    nxt = session.get("oidc_next", "/")
    session.clear()
    login_user(security.User(acct))
    session.update({"sid": secrets.token_hex(8), "last_seen": time.time(), "csrf": secrets.token_urlsafe(32)})
    audit.record(security.viewer_of_request(), "sign-in", detail={"method": "oidc"})
    return redirect(nxt)


def install(server: Flask) -> None:
    global _oauth
    server.register_blueprint(bp)
    if not enabled():
        return
    from authlib.integrations.flask_client import OAuth

    _oauth = OAuth(server)
    issuer = settings.get("CGA_OIDC_ISSUER").rstrip("/")
    _oauth.register("agency", client_id=settings.get("CGA_OIDC_CLIENT_ID"),
                    client_secret=settings.get("CGA_OIDC_CLIENT_SECRET"),
                    server_metadata_url=f"{issuer}/.well-known/openid-configuration",
                    client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"})
