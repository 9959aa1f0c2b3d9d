"""A database that hangs or refuses must never hang the dashboard, and it recovers without a restart.

The project talks to the real test database through a small TCP forwarder on 127.0.0.1 that the
tests can pause (it accepts connections but never answers: a hung server) and stop (connections are
refused: a stopped server). The app is the real one, driven through Flask's test client.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import TEST_PASSWORD, ensure_account

MESSAGE = "Data temporarily unavailable — the database is not answering; this page retries by itself"


class StallingProxy:
    """Forwards 127.0.0.1:<port> to the database; `pause()` stalls it, `stop()` makes it refuse."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = 0
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self) -> StallingProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def pause(self) -> None:
        self.paused.set()

    def resume(self) -> None:
        self.paused.clear()

    def stop(self) -> None:
        """Close the listener and every connection: new connections are refused."""
        self._stop.set()
        if self._listener:
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in self._socks:
                try:
                    s.close()
                except OSError:
                    pass
            self._socks.clear()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                if self.paused.is_set():  # accept, read nothing, answer nothing
                    time.sleep(0.02)
                    continue
                ready, _, _ = select.select([src], [], [], 0.05)
                if not ready or self.paused.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):  # closed by stop()
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


@pytest.fixture
def proxy(database_url):
    p = StallingProxy(urlsplit(database_url.replace("postgresql+psycopg", "postgresql")).port).start()
    yield p
    p.stop()


@pytest.fixture
def sick_app(proxy, database_url, monkeypatch):
    """The app with DATABASE_URL pointing at the proxy; returns (app, proxy)."""
    from dashboard.app import create_app
    from layers import db

    parts = urlsplit(database_url.replace("postgresql+psycopg", "postgresql"))
    through = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}").geturl()
    monkeypatch.setenv("DATABASE_URL", through)
    monkeypatch.setenv("CGA_MFA_REQUIRED", "none")
    db.reset_engines()
    app = create_app()
    yield app
    db.reset_engines()


def signed_in_client(app, role: str = "analyst"):
    client = app.server.test_client()
    user = ensure_account(role)
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post("/login", data={"username": user, "password": TEST_PASSWORD, "csrf_token": token})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:500]
    client.get("/")  # sets the CSRF cookie Dash sends back as a header
    if role in ("detective", "analyst", "admin"):
        r = client.post("/purpose", data={"purpose": "sick database test", "csrf_token": _csrf(client)})
        assert r.status_code in (200, 302, 303)
    return client


def _csrf(client) -> str:
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, "no CSRF cookie after signing in"
    return cookie.value


def page_callback(client, path: str = "/data"):
    """The Dash pages callback that renders `path` (as the browser asks for it)."""
    if not hasattr(client, "pages_spec"):  # asked once, while the database answers
        deps = json.loads(client.get("/_dash-dependencies").get_data(as_text=True))
        client.pages_spec = next(d for d in deps if "_pages_content.children" in d["output"])
    spec = client.pages_spec
    values = {"pathname": path, "search": "", "hash": "", "href": f"http://localhost{path}"}
    body = {
        "output": spec["output"], "outputs": _outputs(spec["output"]),
        "inputs": [{"id": i["id"], "property": i["property"], "value": values.get(i["property"])}
                   for i in spec["inputs"]],
        "state": [{"id": s["id"], "property": s["property"], "value": values.get(s["property"])}
                  for s in spec["state"]],
        "changedPropIds": ["_pages_location.pathname"],
    }
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": _csrf(client)})


def _outputs(output: str) -> list[dict] | dict:
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    outs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts if p]
    return outs if output.startswith("..") else outs[0]


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def test_hung_database_answers_503_quickly_and_recovers(sick_app, proxy, capsys):
    from layers import db, settings

    client = signed_in_client(sick_app)
    ok, took = timed(page_callback, client)
    assert ok.status_code == 200, ok.get_data(as_text=True)[:300]
    assert "data-unavailable" not in ok.get_data(as_text=True)

    proxy.pause()
    limit = db.CONNECT_TIMEOUT_S + settings.get("CGA_STATEMENT_TIMEOUT_MS") / 1000 + db.QUERY_GRACE_S + 3
    r, first = timed(page_callback, client)
    assert r.status_code == 503, r.get_data(as_text=True)[:300]
    assert r.get_json() == {"error": MESSAGE, "unavailable": True}
    assert first < limit, f"503 after {first:.1f} s while stalled"
    r, again = timed(page_callback, client)
    assert r.status_code == 503 and again < 1.0, f"second request while stalled took {again:.1f} s"

    login, login_s = timed(client.get, "/login")
    assert login.status_code == 200 and 'name="csrf_token"' in login.get_data(as_text=True)
    assert login_s < 2.0, f"/login took {login_s:.1f} s while the database hangs"
    asset, asset_s = timed(client.get, "/assets/js/unavailable.js")
    assert asset.status_code == 200 and asset_s < 2.0
    page, page_s = timed(client.get, "/data")
    assert page.status_code == 503 and MESSAGE in page.get_data(as_text=True) and page_s < 2.0
    with capsys.disabled():
        print(f"\n  stalled: first 503 after {first:.2f} s, then {again * 1000:.0f} ms; /login {login_s * 1000:.0f} ms; "
              f"asset {asset_s * 1000:.0f} ms; full page 503 {page_s * 1000:.0f} ms")

    proxy.resume()
    deadline = time.monotonic() + db.RETRY_AFTER_S + db.CONNECT_TIMEOUT_S + 5
    time.sleep(db.RETRY_AFTER_S)
    r, back_s = timed(page_callback, client)
    while r.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        r, back_s = timed(page_callback, client)
    assert r.status_code == 200, f"still {r.status_code} after the database answers again"
    assert "data-unavailable" not in r.get_data(as_text=True)
    with capsys.disabled():
        print(f"  after the stall: the next request answered in {back_s * 1000:.0f} ms")


def test_stopped_database_answers_503_not_500(sick_app, proxy):
    from layers import db

    client = signed_in_client(sick_app)
    assert page_callback(client).status_code == 200
    proxy.stop()
    r, took = timed(page_callback, client)
    assert r.status_code == 503 and r.get_json()["error"] == MESSAGE
    assert took < db.CONNECT_TIMEOUT_S + 2
    assert client.get("/login").status_code == 200
    proxy.start()  # the same port again
    time.sleep(db.RETRY_AFTER_S)
    deadline = time.monotonic() + 10
    r = page_callback(client)
    while r.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        r = page_callback(client)
    assert r.status_code == 200


def test_query_that_hangs_mid_request_is_cut(sick_app, proxy, monkeypatch):
    """A connection that stops answering in the middle of a query is cut by the watchdog after the
    statement timeout and its grace period, not left waiting."""
    from layers import db

    monkeypatch.setattr(db, "QUERY_GRACE_S", 0.5)
    monkeypatch.setenv("CGA_STATEMENT_TIMEOUT_MS", "1000")
    db.reset_engines()
    eng = db.read_engine()
    with eng.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        proxy.pause()
        started = time.perf_counter()
        with pytest.raises(db.UNAVAILABLE_ERRORS):
            conn.exec_driver_sql("SELECT 2").scalar()
        took = time.perf_counter() - started
    assert 1.0 < took < 3.0, took
    assert db.database_unavailable(eng)
    proxy.resume()
    time.sleep(db.RETRY_AFTER_S)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("SELECT 3").scalar() == 3
    assert not db.database_unavailable(eng)


def test_page_layout_shows_the_notice_when_its_data_cannot_be_read():
    from sqlalchemy.exc import OperationalError

    from dashboard.app import gated
    from layers import access

    def layout(**_):
        raise OperationalError("SELECT 1", {}, Exception("connection timeout expired"))

    with access.use_viewer(access.Viewer("t", "analyst", purpose="test")):
        page = gated(layout, "data")()
    assert page.id == "data-unavailable"
    assert MESSAGE in str(page.children[1].children)
