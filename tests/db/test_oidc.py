"""Single sign-on end to end against a small OpenID Connect provider run by the test on 127.0.0.1:
discovery, authorization code with PKCE and nonce, an RS256-signed ID token checked by Authlib, roles
from the provider's groups, and refusals for users without a mapped role."""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.jose import JsonWebKey, jwt
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

pytestmark = pytest.mark.db


class Provider:
    """Just enough of an identity provider: it signs whoever `next_user` is."""

    def __init__(self):
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-key"})
        self.codes: dict[str, dict] = {}
        self.next_user = {"sub": "u-1", "preferred_username": "jane.sso", "name": "Jane SSO",
                          "groups": ["gun-unit"]}
        app = Flask("provider")
        self.app = app
        self.server = make_server("127.0.0.1", 0, app)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                            "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                            "response_types_supported": ["code"], "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"]})

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(is_private=False)]})

        @app.get("/authorize")
        def authorize():
            code = secrets.token_urlsafe(12)
            self.codes[code] = {"nonce": request.args["nonce"], "client_id": request.args["client_id"],
                                "user": dict(self.next_user)}
            return redirect(f"{request.args['redirect_uri']}?code={code}&state={request.args['state']}")

        @app.post("/token")
        def token():
            grant = self.codes.pop(request.form["code"])
            now = int(time.time())
            claims = {"iss": self.url, "aud": grant["client_id"], "iat": now, "exp": now + 300,
                      "nonce": grant["nonce"], **grant["user"]}
            id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key).decode()
            return jsonify({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


def _sign_in(client, provider) -> requests.Response:
    start = client.get("/auth/oidc/login")
    assert start.status_code == 302 and start.location.startswith(provider.url)
    query = parse_qs(urlsplit(start.location).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"]
    back = requests.get(start.location, allow_redirects=False, timeout=10)
    callback = urlsplit(back.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def test_single_sign_on_maps_groups_to_roles_and_audits(database_url, sql, monkeypatch):
    with Provider() as provider:
        monkeypatch.setenv("CGA_OIDC_ISSUER", provider.url)
        monkeypatch.setenv("CGA_OIDC_CLIENT_ID", "crime-gun-atlas")
        monkeypatch.setenv("CGA_OIDC_CLIENT_SECRET", "s3cret")
        monkeypatch.setenv("CGA_OIDC_ROLE_CLAIM", "groups")
        monkeypatch.setenv("CGA_OIDC_ROLE_MAP", "gun-unit=detective,pio=press")
        from dashboard.app import create_app

        app = create_app()
        client = app.server.test_client()
        assert b"Sign in with agency single sign-on" in client.get("/login").data
        done = _sign_in(client, provider)
        assert done.status_code == 302 and done.location.endswith("/")
        assert b"jane.sso" in client.get("/_dash-layout").data
        assert sql("SELECT role, source, password_hash FROM auth.account WHERE username = 'jane.sso'") == [
            ("detective", "oidc", None)]
        assert sql("SELECT event, detail->>'method' FROM audit.event WHERE username = 'jane.sso' "
                   "ORDER BY id DESC LIMIT 1") == [("sign-in", "oidc")]

        # The provider moves her to the press office: the role follows at the next sign-in.
        provider.next_user = {**provider.next_user, "groups": ["pio"]}
        other = app.server.test_client()
        assert _sign_in(other, provider).status_code == 302
        assert sql("SELECT role FROM auth.account WHERE username = 'jane.sso'") == [("press",)]

        # No mapped group: refused, and recorded.
        provider.next_user = {"sub": "u-2", "preferred_username": "visitor", "groups": ["facilities"]}
        refused = _sign_in(app.server.test_client(), provider)
        assert refused.status_code == 403 and b"no Crime Gun Atlas role" in refused.data
        assert sql("SELECT outcome, detail->>'reason' FROM audit.event WHERE username = 'visitor' "
                   "ORDER BY id DESC LIMIT 1") == [("refused", "no mapped role")]
        assert not sql("SELECT 1 FROM auth.account WHERE username = 'visitor'")


def test_a_forged_callback_is_refused(database_url, monkeypatch):
    with Provider() as provider:
        monkeypatch.setenv("CGA_OIDC_ISSUER", provider.url)
        monkeypatch.setenv("CGA_OIDC_CLIENT_ID", "crime-gun-atlas")
        monkeypatch.setenv("CGA_OIDC_CLIENT_SECRET", "s3cret")
        from dashboard.app import create_app

        client = create_app().server.test_client()
        client.get("/auth/oidc/login")
        forged = client.get("/auth/oidc/callback?code=made-up&state=wrong")
        assert forged.status_code == 401
        assert client.get("/_dash-layout").status_code == 401
