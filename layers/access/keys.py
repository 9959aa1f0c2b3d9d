"""The server's secret key, and sealing of secrets stored in the database with it.

One key per installation: CGA_SECRET_KEY, or a random one generated once in <data dir>/secret_key (readable
by its owner only). It signs session cookies and seals the TOTP secrets in `auth.account`, so a copy of the
database alone (a dump, a backup, the web role's reads) does not hold anyone's second factor. Every server
of a farm needs the same key; changing it signs everyone out and makes stored second factors unreadable —
each user then re-enrols after `crimegun users reset-totp NAME`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from layers import settings

SEALED = "sealed:v1:"
log = logging.getLogger(__name__)


def secret_key() -> str:
    """CGA_SECRET_KEY, else the key in <data dir>/secret_key, created on first use. Workers starting at the
    same moment agree on one key: the file is linked into place only if none exists yet."""
    configured = settings.get("CGA_SECRET_KEY")
    if configured:
        return configured
    path = settings.data_dir() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process got there first: its key is the one
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def _fernet(purpose: str) -> Fernet:
    derived = hmac.new(secret_key().encode(), f"crime-gun-atlas:{purpose}".encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(value: str, purpose: str) -> str:
    """`value` encrypted and authenticated with a key derived from the server key for `purpose`."""
    return SEALED + _fernet(purpose).encrypt(value.encode()).decode()


def is_sealed(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(SEALED)


def unseal(stored: str | None, purpose: str) -> str | None:
    """The value of `seal`; a value stored before sealing existed is returned as it is. None when it cannot
    be read with this server's key (the key changed): the caller treats it as absent."""
    if not stored:
        return None
    if not is_sealed(stored):
        return stored
    try:
        return _fernet(purpose).decrypt(stored[len(SEALED):].encode()).decode()
    except InvalidToken:
        log.warning("a sealed %s cannot be read with this server's key (was CGA_SECRET_KEY changed?)", purpose)
        return None
