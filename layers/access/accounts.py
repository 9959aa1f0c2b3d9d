"""Accounts in PostgreSQL (`auth.account`): argon2 password hashes, lockout, TOTP, roles, single sign-on.

CJIS-style policies live here and nowhere else: an account locks for CGA_LOCKOUT_MINUTES after
CGA_LOCKOUT_ATTEMPTS failed sign-ins in a row (5 and 10 by default); a disabled account cannot sign in;
TOTP secrets are RFC 6238 (any authenticator app), stored sealed with the server key (layers/access/keys.py). The CLI (`crimegun users`) manages accounts as the
database owner; the dashboard only verifies, counts failures and enrols second factors.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, text

from layers import settings
from layers.access import ROLES, keys

_hasher = PasswordHasher()
# A hash to verify against when the account does not exist, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,62}$")
MIN_PASSWORD = 12


class AccountError(ValueError):
    """An account operation cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str | None
    role: str
    disabled: bool
    totp_enabled: bool
    source: str
    locked_until: dt.datetime | None
    failed_logins: int
    last_login: dt.datetime | None

    @classmethod
    def of(cls, row: Any) -> Account:
        return cls(row["id"], row["username"], row["display_name"], row["role"], row["disabled"],
                   bool(row["totp_secret"]) and row["totp_confirmed"], row["source"], row["locked_until"],
                   row["failed_logins"], row["last_login"])


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password check: `account` when the password was right; `reason` otherwise."""

    ok: bool
    account: Account | None = None
    reason: str = ""
    locked_until: dt.datetime | None = None


def _web() -> Engine:
    from layers.db import web_engine

    return web_engine()


def _owner() -> Engine:
    from layers.db import engine

    return engine()


def check_username(name: str) -> str:
    name = (name or "").strip().lower()
    if not USERNAME.match(name):
        raise AccountError(f"{name!r} is not a usable account name (2-63 of a-z 0-9 . _ @ -, starting with a "
                           "letter or digit)")
    return name


def check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role; choose one of {', '.join(ROLES)}")
    return role


def _row(conn, where: str, params: dict) -> Any:
    return conn.execute(text(f"SELECT * FROM auth.account WHERE {where}"), params).mappings().first()


def get(username: str, eng: Engine | None = None) -> Account | None:
    with (eng or _web()).connect() as conn:
        row = _row(conn, "username = :u", {"u": (username or "").strip().lower()})
    return Account.of(row) if row else None


def get_by_id(account_id: int, eng: Engine | None = None) -> Account | None:
    with (eng or _web()).connect() as conn:
        row = _row(conn, "id = :i", {"i": int(account_id)})
    return Account.of(row) if row else None


def list_accounts() -> list[Account]:
    with _owner().connect() as conn:
        rows = conn.execute(text("SELECT * FROM auth.account ORDER BY username")).mappings().all()
    return [Account.of(r) for r in rows]


# --- administration (the CLI, as the database owner) -----------------------------------------------

def create(username: str, role: str, password: str | None = None, display_name: str | None = None) -> tuple[
        Account, str]:
    """A new local account; returns it and its password (generated when none is given)."""
    username, role = check_username(username), check_role(role)
    password = password or generate_password()
    check_password(password)
    with _owner().begin() as conn:
        if _row(conn, "username = :u", {"u": username}):
            raise AccountError(f"account {username!r} exists; use `crimegun users reset` or `crimegun users role`")
        conn.execute(text("""INSERT INTO auth.account (username, display_name, role, password_hash, source,
                                                       password_changed_at)
                             VALUES (:u, :d, :r, :h, 'local', now())"""),
                     {"u": username, "d": display_name, "r": role, "h": _hasher.hash(password)})
    return get(username, _owner()), password


def _update(username: str, sets: str, params: dict) -> Account:
    username = check_username(username)
    with _owner().begin() as conn:
        n = conn.execute(text(f"UPDATE auth.account SET {sets} WHERE username = :u"), {**params, "u": username}).rowcount
    if not n:
        raise AccountError(f"no account {username!r} (see `crimegun users list`)")
    return get(username, _owner())


def set_role(username: str, role: str) -> Account:
    return _update(username, "role = :r", {"r": check_role(role)})


def set_disabled(username: str, disabled: bool) -> Account:
    return _update(username, "disabled = :d", {"d": disabled})


def reset_password(username: str, password: str | None = None) -> tuple[Account, str]:
    password = password or generate_password()
    check_password(password)
    acct = _update(username, "password_hash = :h, failed_logins = 0, locked_until = NULL, "
                             "password_changed_at = now()", {"h": _hasher.hash(password)})
    return acct, password


def unlock(username: str) -> Account:
    return _update(username, "failed_logins = 0, locked_until = NULL", {})


def reset_totp(username: str) -> Account:
    return _update(username, "totp_secret = NULL, totp_confirmed = false", {})


def generate_password() -> str:
    return secrets.token_urlsafe(15)


# --- sign-in (the dashboard, as the web role) ------------------------------------------------------

def lockout_attempts() -> int:
    return int(settings.get("CGA_LOCKOUT_ATTEMPTS"))


def lockout_minutes() -> int:
    return int(settings.get("CGA_LOCKOUT_MINUTES"))


def verify_password(username: str, password: str) -> SignIn:
    """Check a password and keep the lockout count. Never says whether the account exists."""
    name = (username or "").strip().lower()
    with _web().begin() as conn:
        row = _row(conn, "username = :u FOR UPDATE", {"u": name}) if USERNAME.match(name) else None
        if row is None or not row["password_hash"]:
            try:
                _hasher.verify(_DUMMY_HASH, password or "")
            except VerificationError:
                pass
            return SignIn(False, reason="unknown account or wrong password")
        now = conn.execute(text("SELECT now()")).scalar_one()
        if row["locked_until"] and row["locked_until"] > now:
            return SignIn(False, Account.of(row), "locked", row["locked_until"])
        try:
            _hasher.verify(row["password_hash"], password or "")
            good = True
        except (VerificationError, InvalidHashError):
            good = False
        if not good:
            failed = row["failed_logins"] + 1
            locked = failed >= lockout_attempts()
            conn.execute(text("""UPDATE auth.account SET failed_logins = :f,
                                 locked_until = CASE WHEN :locked THEN now() + make_interval(mins => :m) END
                                 WHERE id = :i"""),
                         {"f": 0 if locked else failed, "locked": locked, "m": lockout_minutes(), "i": row["id"]})
            if locked:
                until = now + dt.timedelta(minutes=lockout_minutes())
                return SignIn(False, Account.of(row), "locked now", until)
            return SignIn(False, Account.of(row), "unknown account or wrong password")
        if row["disabled"]:
            return SignIn(False, Account.of(row), "disabled")
        if _hasher.check_needs_rehash(row["password_hash"]):
            conn.execute(text("UPDATE auth.account SET password_hash = :h WHERE id = :i"),
                         {"h": _hasher.hash(password), "i": row["id"]})
        return SignIn(True, Account.of(row))


def signed_in(account_id: int) -> None:
    """Reset the failure count and note the time of a completed sign-in."""
    with _web().begin() as conn:
        conn.execute(text("UPDATE auth.account SET failed_logins = 0, locked_until = NULL, last_login = now() "
                          "WHERE id = :i"), {"i": account_id})


TOTP = "totp secret"  # the sealing purpose of TOTP secrets (layers/access/keys.py)


def totp_secret(account_id: int) -> str | None:
    """The account's confirmed TOTP secret, unsealed; one stored in clear (before sealing) is sealed now."""
    with _web().connect() as conn:
        row = _row(conn, "id = :i", {"i": account_id})
    if not (row and row["totp_confirmed"] and row["totp_secret"]):
        return None
    secret = keys.unseal(row["totp_secret"], TOTP)
    if secret and not keys.is_sealed(row["totp_secret"]):
        with _web().begin() as conn:
            conn.execute(text("UPDATE auth.account SET totp_secret = :s WHERE id = :i AND totp_secret = :old"),
                         {"s": keys.seal(secret, TOTP), "i": account_id, "old": row["totp_secret"]})
    return secret


def verify_totp(account_id: int, code: str) -> bool:
    """A code from the account's authenticator (one step of clock drift either way)."""
    secret = totp_secret(account_id)
    code = re.sub(r"\s", "", code or "")
    return bool(secret and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1))


def count_failed_totp(account_id: int) -> SignIn:
    """A wrong second-factor code counts towards the lockout like a wrong password."""
    with _web().begin() as conn:
        row = _row(conn, "id = :i FOR UPDATE", {"i": account_id})
        failed = row["failed_logins"] + 1
        locked = failed >= lockout_attempts()
        conn.execute(text("""UPDATE auth.account SET failed_logins = :f,
                             locked_until = CASE WHEN :locked THEN now() + make_interval(mins => :m) END
                             WHERE id = :i"""),
                     {"f": 0 if locked else failed, "locked": locked, "m": lockout_minutes(), "i": account_id})
    return SignIn(False, Account.of(row), "locked now" if locked else "wrong code")


def enrol_totp(account_id: int, secret: str, code: str) -> bool:
    """Confirm a new TOTP secret with a code from the app; stores it only when the code is right."""
    code = re.sub(r"\s", "", code or "")
    if not (code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)):
        return False
    with _web().begin() as conn:
        conn.execute(text("UPDATE auth.account SET totp_secret = :s, totp_confirmed = true WHERE id = :i"),
                     {"s": keys.seal(secret, TOTP), "i": account_id})
    return True


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=settings.get("CGA_TOTP_ISSUER"))


def mfa_required(role: str) -> bool:
    """CGA_MFA_REQUIRED: 'all', 'personal' (roles that see personal data) or 'none'."""
    from layers.access import CAPABILITIES

    policy = str(settings.get("CGA_MFA_REQUIRED")).lower()
    if policy == "all":
        return True
    if policy == "personal":
        return "personal" in CAPABILITIES.get(role, frozenset())
    return False


def oidc_account(subject: str, issuer: str, username: str, display_name: str | None, role: str) -> Account:
    """The account of a single-sign-on user, created or updated from the identity provider's claims.
    Its role comes from the provider on every sign-in; it has no password here."""
    role = check_role(role)
    username = check_username(username)
    key = f"{issuer}|{subject}"
    with _web().begin() as conn:
        row = _row(conn, "oidc_subject = :k", {"k": key})
        if row is None:
            if _row(conn, "username = :u", {"u": username}):
                raise AccountError(f"a local account named {username!r} exists; an administrator must rename it "
                                   "before this single-sign-on user can sign in")
            conn.execute(text("""INSERT INTO auth.account (username, display_name, role, source, oidc_subject)
                                 VALUES (:u, :d, :r, 'oidc', :k)"""),
                         {"u": username, "d": display_name, "r": role, "k": key})
        else:
            conn.execute(text("UPDATE auth.account SET role = :r, display_name = :d WHERE id = :i"),
                         {"r": role, "d": display_name, "i": row["id"]})
        row = _row(conn, "oidc_subject = :k", {"k": key})
    return Account.of(row)


SESSION_HOURS = 12  # the longest a session lasts (its cookie's lifetime, dashboard/security.py)


def end_session(sid: str) -> None:
    """Record a session as ended (migration 0014): its cookie signs no one in again, even if a response
    still in flight sets it back in the browser, or someone kept a copy."""
    with _web().begin() as conn:
        conn.execute(text("DELETE FROM auth.ended_session WHERE ended_at < now() - make_interval(hours => :h)"),
                     {"h": SESSION_HOURS})
        conn.execute(text("INSERT INTO auth.ended_session (sid) VALUES (:s) ON CONFLICT DO NOTHING"), {"s": sid})


def current(account_id: int, sid: str) -> Account | None:
    """The account of a signed-in request: None when there is no such account or its session `sid` has
    ended (signed out, timed out). One query per request."""
    with _web().connect() as conn:
        row = _row(conn, "id = :i AND NOT EXISTS (SELECT 1 FROM auth.ended_session e WHERE e.sid = :s)",
                   {"i": int(account_id), "s": sid})
    return Account.of(row) if row else None
