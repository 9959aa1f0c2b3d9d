"""WSGI entry point for gunicorn: `gunicorn dashboard.wsgi:server`."""

import threading

from dashboard.app import create_app, warm

app = create_app()
server = app.server

# Dash finishes setting itself up (callbacks, scripts) on its first request, and marks that done before
# it is: with threaded workers a second request could see half the callbacks. Do it now, while this
# process has one thread.
with server.test_request_context("/healthz"):
    app._setup_server()

# Warm this worker in the background (driver, a pooled connection, the outline cache): the first map
# request of a fresh worker took ~150 ms more than the next ones. Never blocks start-up.
threading.Thread(target=warm, name="warm-up", daemon=True).start()
