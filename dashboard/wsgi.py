"""WSGI entry point for gunicorn: `gunicorn dashboard.wsgi:server`."""

from dashboard.app import create_app

app = create_app()
server = app.server

# Dash finishes setting itself up (callbacks, scripts) on its first request, and marks that done before
# it is: with threaded workers a second request could see half the callbacks. Do it now, while this
# process has one thread.
with server.test_request_context("/healthz"):
    app._setup_server()
