"""The audit trail (CJIS 5.4): who did what, when, to which records, with what outcome and purpose.

Rows go to `audit.event` through the web role (`crimegun_web`), which may INSERT and SELECT there and
nothing else: the database refuses UPDATE, DELETE and TRUNCATE from it, and a trigger refuses UPDATE
from anyone and DELETE of rows younger than the retention period (`audit.retention`, one year by
default, CGA_AUDIT_RETENTION_DAYS). `purge_expired()` (run by `crimegun audit purge`, as the owner)
removes what is older.

Writing the trail is part of handing out personal data: if the row cannot be written, the caller's
request fails rather than returning records unaudited.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text

from layers import settings

MAX_IDS = 1000  # record ids kept per event; record_count keeps the full number



def record(viewer: Any, event: str, *, kind: str | None = None, ids: Iterable[Any] = (), outcome: str = "ok",
           detail: dict[str, Any] | None = None, user: str | None = None, role: str | None = None) -> None:
    """Append one event. `viewer` is a layers.access.Viewer (or None for events before sign-in)."""
    from layers.db import web_engine

    ids = [str(i) for i in ids]
    row = {
        "user": user if user is not None else getattr(viewer, "user", None) or None,
        "role": role if role is not None else getattr(viewer, "role", None),
        "event": event[:64], "outcome": outcome[:32], "kind": kind, "ids": ids[:MAX_IDS], "n": len(ids),
        "purpose": getattr(viewer, "purpose", None), "session": getattr(viewer, "session", None),
        "ip": getattr(viewer, "ip", None),
        "detail": json.dumps(detail, default=str) if detail else None,
    }
    with web_engine().begin() as conn:
        conn.execute(text("""
            INSERT INTO audit.event (username, role, event, outcome, record_kind, record_ids, record_count,
                                     purpose, session_id, client_ip, detail)
            VALUES (:user, :role, :event, :outcome, :kind, :ids, :n, :purpose, :session, :ip,
                    CAST(:detail AS jsonb))"""), row)


def events(*, user: str | None = None, event: str | None = None, start: dt.date | None = None,
           end: dt.date | None = None, record: str | None = None, limit: int = 500,
           viewer_check: bool = True) -> list[dict[str, Any]]:
    """Events newest first, filtered (the admin page and its export; the CLI passes viewer_check=False)."""
    from layers import access
    from layers.db import read_engine

    if viewer_check:
        access.require("audit")
    sql = """
        SELECT id, to_char(at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI:SS') AS at, username, role,
               event, outcome, record_kind, record_ids, record_count, purpose, client_ip, detail
        FROM audit.event
        WHERE (CAST(:user AS text) IS NULL OR username ILIKE :user)
          AND (CAST(:event AS text) IS NULL OR event = :event)
          AND (CAST(:start AS date) IS NULL OR at >= CAST(:start AS date))
          AND (CAST(:end AS date) IS NULL OR at < CAST(:end AS date) + 1)
          AND (CAST(:rid AS text) IS NULL OR :rid = ANY(record_ids))
          AND (CAST(:rkind AS text) IS NULL OR record_kind = :rkind)
        ORDER BY id DESC LIMIT :limit"""
    rkind, _, rid = (record or "").strip().rpartition(":")
    with read_engine().connect() as conn:
        rows = conn.execute(text(sql), {"user": f"%{user.strip()}%" if user and user.strip() else None,
                                        "event": event or None, "start": start, "end": end,
                                        "rid": rid or None, "rkind": rkind or None, "limit": limit}).mappings().all()
    return [dict(r) for r in rows]


def event_names() -> list[str]:
    from layers import access
    from layers.db import read_engine

    access.require("audit")
    with read_engine().connect() as conn:
        return list(conn.execute(text("SELECT DISTINCT event FROM audit.event ORDER BY 1")).scalars())


def retention_days() -> int:
    return int(settings.get("CGA_AUDIT_RETENTION_DAYS"))


def apply_retention(conn) -> None:
    """Store the configured retention in the database (owner connection), where the trigger reads it."""
    conn.execute(text("UPDATE audit.retention SET days = :d"), {"d": retention_days()})


def purge_expired() -> int:
    """Delete events older than the retention period (as the owner); returns how many."""
    from layers.db import engine

    with engine().begin() as conn:
        apply_retention(conn)
        return conn.execute(text(
            "DELETE FROM audit.event WHERE at < now() - make_interval(days => (SELECT days FROM audit.retention))"
        )).rowcount
