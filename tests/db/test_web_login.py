"""The dashboard's database login: the web role's own, so no statement the dashboard runs can take the
owner's rights back (with `SET ROLE` over the owner's login, `RESET ROLE` would)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from layers import cluster, db


def test_web001_the_dashboard_logs_in_as_the_web_role(database_url):
    url, own = db.web_login(database_url)
    assert own, "the embedded cluster's web login is not configured (cluster.ensure_web_login)"
    assert "crimegun_web" in url
    with db.read_engine(database_url).connect() as conn:
        assert conn.execute(text("SELECT session_user, current_user")).one() == ("crimegun_web", "crimegun_web")
    with db.web_engine(database_url).connect() as conn:
        assert conn.execute(text("SELECT session_user")).scalar() == "crimegun_web"


@pytest.mark.parametrize("statement", ["RESET ROLE", "SET ROLE crimegun", "SET SESSION AUTHORIZATION crimegun"])
def test_web002_it_cannot_become_the_owner(database_url, statement):
    with db.web_engine(database_url).connect() as conn:
        try:
            conn.execute(text(statement))
        except DBAPIError as exc:
            assert isinstance(exc.orig, psycopg.errors.InsufficientPrivilege)
            conn.rollback()
        assert conn.execute(text("SELECT current_user")).scalar() == "crimegun_web"
        with pytest.raises(DBAPIError) as refused:
            conn.execute(text("DELETE FROM audit.event"))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


def test_web003_a_configured_web_login_is_used_for_any_database(monkeypatch, database_url):
    monkeypatch.setenv("CGA_WEB_DATABASE_URL", "postgresql://crimegun_web:s3cret@db.internal:5433/other")
    url = cluster.web_url(database_url)
    assert url.startswith("postgresql+psycopg://crimegun_web:s3cret@db.internal:5433/")
    assert url.rsplit("/", 1)[1] == database_url.rsplit("/", 1)[1]


def test_web004_without_a_known_login_it_falls_back_to_set_role(monkeypatch):
    monkeypatch.delenv("CGA_WEB_DATABASE_URL", raising=False)
    assert cluster.web_url("postgresql://owner:pw@elsewhere.example:5432/x") is None
    url, own = db.web_login("postgresql://owner:pw@elsewhere.example:5432/x")
    assert not own and "owner" in url
