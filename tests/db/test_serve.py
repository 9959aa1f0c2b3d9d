"""`crimegun serve` as users meet it: the real gunicorn server on the test database."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve001_a_connection_reused_after_a_pause_is_still_served(database_url):
    """A browser reuses its connection after the user pauses: the server must not have closed it after 2 s
    (gunicorn's default), which made such requests fail now and then under load."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url.replace("postgresql+psycopg://", "postgresql://", 1),
           "CGA_ALLOWED_HOSTS": "127.0.0.1,localhost"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "crimegun"), "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1", "--threads", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        conn = None
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/login")
                first = conn.getresponse()
                first.read()
                break
            except OSError:
                conn = None
                time.sleep(0.3)
        assert conn is not None, "the server did not answer within 60 s"
        assert first.status == 200
        assert first.getheader("Connection", "").lower() != "close"
        sock = conn.sock
        time.sleep(4)  # a pause longer than gunicorn's default keep-alive of 2 s
        conn.request("GET", "/login")
        again = conn.getresponse()
        again.read()
        assert again.status == 200
        assert conn.sock is sock, "the server closed the idle connection: the client had to reconnect"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
