"""Accounts and the audit trail on the real database: lockout, second factor, and an audit table the
application's role can only append to."""

from __future__ import annotations

import datetime as dt

import psycopg
import pyotp
import pytest

from layers import access
from layers.access import accounts, audit

pytestmark = pytest.mark.db


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def web_conn(database_url):
    """A connection acting as the dashboard does: the web role."""
    with psycopg.connect(_dsn(database_url), options="-c role=crimegun_web", autocommit=True) as conn:
        yield conn


def test_audit_rows_are_written_with_who_what_and_purpose(database_url, sql):
    viewer = access.Viewer("det-a", "detective", purpose="case 24-100", session="s1", ip="10.0.0.9")
    audit.record(viewer, "view", kind="person", ids=[5, 6], detail={"page": "person"})
    row = sql("SELECT username, role, event, record_kind, record_ids, record_count, purpose, session_id, client_ip, "
              "detail->>'page' FROM audit.event ORDER BY id DESC LIMIT 1")[0]
    assert row == ("det-a", "detective", "view", "person", ["5", "6"], 2, "case 24-100", "s1", "10.0.0.9", "person")


@pytest.mark.parametrize("statement", ["UPDATE audit.event SET username = 'someone-else'",
                                       "DELETE FROM audit.event", "TRUNCATE audit.event"])
def test_the_web_role_cannot_change_or_remove_audit_events(web_conn, statement):
    web_conn.execute("INSERT INTO audit.event (username, event) VALUES ('x', 'view')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        web_conn.execute(statement)


def test_not_even_the_owner_can_rewrite_history(database_url):
    with psycopg.connect(_dsn(database_url), autocommit=True) as conn:
        new = conn.execute("INSERT INTO audit.event (username, event) VALUES ('x', 'view') RETURNING id").fetchone()[0]
        old = conn.execute("INSERT INTO audit.event (at, username, event) VALUES (now() - interval '400 days', "
                           "'x', 'view') RETURNING id").fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE audit.event SET username = 'y' WHERE id = %s", (new,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit.event WHERE id = %s", (new,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE audit.event")
        assert audit.purge_expired() >= 1  # past the retention period: removable, and only that
        ids = {r[0] for r in conn.execute("SELECT id FROM audit.event WHERE id IN (%s, %s)", (new, old))}
        assert ids == {new}


def test_the_web_role_reads_data_but_cannot_write_it(web_conn):
    web_conn.execute("SELECT count(*) FROM incident").fetchone()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        web_conn.execute("DELETE FROM incident")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        web_conn.execute("DELETE FROM auth.account")


def _fresh(name: str, role: str = "detective") -> str:
    from layers.db import engine

    with engine().begin() as conn:
        from sqlalchemy import text
        conn.execute(text("DELETE FROM auth.account WHERE username = :u"), {"u": name})
    accounts.create(name, role, "a-long-enough-password")
    return name


def test_five_failures_lock_the_account_for_ten_minutes(database_url, sql):
    name = _fresh("lock-me")
    for _ in range(4):
        assert accounts.verify_password(name, "wrong-password!").reason == "unknown account or wrong password"
    fifth = accounts.verify_password(name, "wrong-password!")
    assert fifth.reason == "locked now"
    right = accounts.verify_password(name, "a-long-enough-password")
    assert not right.ok and right.reason == "locked"
    minutes = sql("SELECT extract(epoch FROM locked_until - now()) / 60 FROM auth.account WHERE username = %s",
                  (name,))[0][0]
    assert 9 < float(minutes) <= 10
    accounts.unlock(name)
    assert accounts.verify_password(name, "a-long-enough-password").ok


def test_unknown_and_disabled_accounts_say_nothing_useful(database_url):
    assert accounts.verify_password("no-such-person", "whatever-password").reason == \
        "unknown account or wrong password"
    name = _fresh("gone-away")
    accounts.set_disabled(name, True)
    assert accounts.verify_password(name, "a-long-enough-password").reason == "disabled"


def test_passwords_are_argon2_hashes(database_url, sql):
    name = _fresh("hashed")
    stored = sql("SELECT password_hash FROM auth.account WHERE username = %s", (name,))[0][0]
    assert stored.startswith("$argon2id$") and "a-long-enough-password" not in stored


def test_totp_enrolment_and_codes(database_url):
    name = _fresh("two-factor")
    acct = accounts.get(name)
    secret = accounts.new_totp_secret()
    assert not accounts.enrol_totp(acct.id, secret, "000000") or pyotp.TOTP(secret).now() == "000000"
    assert accounts.enrol_totp(acct.id, secret, pyotp.TOTP(secret).now())
    assert accounts.get(name).totp_enabled
    assert accounts.verify_totp(acct.id, pyotp.TOTP(secret).now())
    past = pyotp.TOTP(secret).at(dt.datetime.now() - dt.timedelta(minutes=5))
    assert not accounts.verify_totp(acct.id, past)


def test_totp_secrets_are_sealed_with_the_server_key(database_url, sql, monkeypatch):
    """A copy of the database holds no usable second factor: secrets are sealed with the server key; one
    stored in clear before sealing existed still works and is sealed at its first use; another server key
    cannot read it (the user re-enrols)."""
    monkeypatch.setenv("CGA_SECRET_KEY", "key-of-this-installation-" + "x" * 20)
    name = _fresh("sealed-factor")
    acct = accounts.get(name)
    secret = accounts.new_totp_secret()
    assert accounts.enrol_totp(acct.id, secret, pyotp.TOTP(secret).now())
    stored = sql("SELECT totp_secret FROM auth.account WHERE id = %s", (acct.id,))[0][0]
    assert stored.startswith("sealed:v1:") and secret not in stored
    assert accounts.verify_totp(acct.id, pyotp.TOTP(secret).now())

    legacy = accounts.new_totp_secret()
    sql("UPDATE auth.account SET totp_secret = %s WHERE id = %s RETURNING id", (legacy, acct.id))
    assert accounts.verify_totp(acct.id, pyotp.TOTP(legacy).now())
    resealed = sql("SELECT totp_secret FROM auth.account WHERE id = %s", (acct.id,))[0][0]
    assert resealed.startswith("sealed:v1:") and legacy not in resealed

    monkeypatch.setenv("CGA_SECRET_KEY", "another-installation-key-" + "y" * 20)
    assert not accounts.verify_totp(acct.id, pyotp.TOTP(legacy).now())
    assert accounts.get(name).totp_enabled  # still enrolled: an administrator resets it


@pytest.mark.parametrize(("policy", "role", "required"), [("personal", "detective", True),
                                                          ("personal", "press", False), ("all", "press", True),
                                                          ("none", "admin", False)])
def test_who_needs_a_second_factor(monkeypatch, policy, role, required):
    monkeypatch.setenv("CGA_MFA_REQUIRED", policy)
    assert accounts.mfa_required(role) is required


def test_account_names_and_passwords_are_checked(database_url):
    with pytest.raises(accounts.AccountError, match="12 characters"):
        accounts.create("short-pass", "press", "abc")
    with pytest.raises(accounts.AccountError, match="not a role"):
        accounts.create("bad-role", "sheriff", "a-long-enough-password")
    with pytest.raises(accounts.AccountError, match="usable account name"):
        accounts.create("Robert'); DROP TABLE", "press", "a-long-enough-password")
