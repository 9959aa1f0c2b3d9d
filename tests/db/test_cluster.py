"""The embedded cluster: created once, started on a free port, stopped cleanly, reused."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from layers import cluster

pytestmark = pytest.mark.db


def test_create_start_status_stop_restart(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("CGA_DATA_DIR", str(tmp_path / "data"))
    messages: list[str] = []
    try:
        url = cluster.start(echo=messages.append)
        assert any("Creating" in m for m in messages)
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'").fetchone()
            # A working database tuned for bulk loads: index builds skip the write-ahead log, few checkpoints.
            assert conn.execute("SHOW wal_level").fetchone()[0] == "minimal"
            assert conn.execute("SHOW max_wal_size").fetchone()[0] == "8GB"
            # Text compared byte by byte, in code point order; case mapping still knows every letter.
            assert conn.execute("SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()"
                                ).fetchone() == ("C", "C.UTF-8")
            assert conn.execute("SELECT upper('émile'), 'Z' < 'a', 'z' < 'é'").fetchone() == ("ÉMILE", True, True)
        st = cluster.status()
        assert st.managed and st.running and st.port
        assert "***" in st.url  # the password is never printed
        # Starting again reuses the running cluster.
        messages.clear()
        assert cluster.start(echo=messages.append) == url
        assert any("already running" in m for m in messages)
        assert cluster.stop(echo=messages.append)
        assert not cluster.status().running
        # ... and a stopped cluster starts again with its data and password.
        assert cluster.start(echo=messages.append) == url
    finally:
        cluster.stop(echo=messages.append)
        data_dir = cluster._read_conn().get("data_dir")
        if data_dir and not str(data_dir).startswith(str(tmp_path)):
            shutil.rmtree(data_dir, ignore_errors=True)
        assert not Path(tmp_path / "data" / "pg" / "data" / "postmaster.pid").exists()


def test_unreachable_database_url_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/none")
    with pytest.raises(cluster.ClusterError, match="cannot connect to DATABASE_URL"):
        cluster.start()
