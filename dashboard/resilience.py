"""When the database does not answer: say so on every page, quickly, and recover by itself.

- A data request (a Dash callback) that cannot reach the database gets a 503 with a JSON message;
  assets/js/unavailable.js shows a banner, retries the request with a growing pause and, when it
  succeeds, hands the answer to the page and hides the banner.
- A page whose layout cannot read its data shows a notice instead (`notice()`, used by the page gate
  in dashboard/app.py); the same script reloads it after a pause.
- Any other request (a full page) gets a short 503 page that reloads itself.
- The sign-in page and static assets never wait for the database: if the signed-in account cannot be
  read while one of them is served, the request goes on as signed out (nothing else is public).

The waits themselves are bounded in layers/db.py (connect timeout, a watchdog on every query, and
failing fast while the database is not answering).
"""

from __future__ import annotations

import html as html_text
import logging

import flask
from dash import html

from layers.db import UNAVAILABLE_ERRORS

MESSAGE = "Data temporarily unavailable — the database is not answering; this page retries by itself"
RETRY_AFTER_S = 5

log = logging.getLogger("crimegun.resilience")


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, UNAVAILABLE_ERRORS)


def notice() -> html.Div:
    """What a page shows in place of its content when its data cannot be read."""
    return html.Div([
        html.H1("Data temporarily unavailable", className="h4 mt-3"),
        html.P(MESSAGE + ".", id="data-unavailable-message"),
    ], className="container-fluid", id="data-unavailable", role="alert",
        **{"data-retry-seconds": str(RETRY_AFTER_S * 3)})


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]


def _page() -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="{RETRY_AFTER_S * 2}">'
            f"<title>Crime Gun Atlas — data temporarily unavailable</title></head>"
            f'<body><main id="data-unavailable" role="alert"><h1>Data temporarily unavailable</h1>'
            f"<p>{html_text.escape(MESSAGE)}.</p></main></body></html>")


def respond(exc: BaseException) -> flask.Response:
    """The 503 answer for a request that could not reach the database."""
    log.warning("database unavailable for %s %s: %s", flask.request.method, flask.request.path, _reason(exc))
    if flask.request.path.startswith("/_dash-") or flask.request.is_json:
        response = flask.jsonify({"error": MESSAGE, "unavailable": True})
    else:
        response = flask.Response(_page(), mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


def _public_without_database(path: str) -> bool:
    return path == "/login" or path.startswith("/assets/") or path in ("/healthz", "/favicon.ico", "/_favicon.ico")


def _sign_in_never_waits(server: flask.Flask) -> None:
    manager = getattr(server, "login_manager", None)
    load = getattr(manager, "_user_callback", None)
    if load is None:
        return

    def load_user(user_id):
        try:
            return load(user_id)
        except UNAVAILABLE_ERRORS:
            if flask.has_request_context() and _public_without_database(flask.request.path):
                return None  # this request only: the sign-in form and assets answer at once
            raise

    manager.user_loader(load_user)


def install(app) -> None:
    """Register the 503 answers on the Dash app's Flask server (after the sign-in hooks)."""
    server: flask.Flask = app.server
    for error in UNAVAILABLE_ERRORS:
        server.register_error_handler(error, respond)
    _sign_in_never_waits(server)
