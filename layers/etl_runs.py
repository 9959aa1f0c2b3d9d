"""The ETL's bookkeeping, read back: recent loads, rejected rows, what is already loaded."""

from __future__ import annotations

from sqlalchemy import text

from layers import access
from layers.db import engine, read_engine


def recent_runs(limit: int = 20) -> list[dict]:
    with engine().connect() as conn:
        rows = conn.execute(text("SELECT * FROM etl_run ORDER BY id DESC LIMIT :n"), {"n": limit})
        return [dict(r._mapping) for r in rows]


def rejected_rows(run_id: int | None = None, limit: int = 50) -> list[dict]:
    with engine().connect() as conn:
        rows = conn.execute(text(
            "SELECT * FROM etl_rejected_row WHERE (CAST(:run AS int) IS NULL OR run_id = :run) "
            "ORDER BY run_id DESC, line_number LIMIT :n"), {"run": run_id, "n": limit})
        return [dict(r._mapping) for r in rows]


def loaded_hashes() -> set[str]:
    """SHA-256 of every file loaded successfully (a file loaded again would change nothing)."""
    with engine().connect() as conn:
        return {r[0] for r in conn.execute(text(
            "SELECT DISTINCT file_sha256 FROM etl_run WHERE status = 'succeeded' AND file_sha256 IS NOT NULL"))}


def load_history(limit: int = 50) -> list[dict]:
    """Recent loads with their row accounting, for the dashboard (under the statement timeout)."""
    access.require("data")
    with read_engine().connect() as conn:
        rows = conn.execute(text("""
            SELECT id, status, kind, layout, regexp_replace(file_path, '^.*/', '') AS file,
                   to_char(finished_at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS finished,
                   rows_read, rows_loaded, rows_updated, rows_duplicate, rows_rejected, message
            FROM etl_run ORDER BY id DESC LIMIT :n"""), {"n": limit})
        return [dict(r._mapping) for r in rows]


def data_status() -> dict:
    """What every page shows as "data as of": the latest day any record reaches and when the last load
    finished (local time), with the data version open pages compare against."""
    access.require("data")
    with read_engine().connect() as conn:
        row = conn.execute(text("""
            SELECT (SELECT coalesce(max(id), 0) FROM etl_run WHERE status = 'succeeded') AS version,
                   (SELECT to_char(max(finished_at) AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI')
                    FROM etl_run WHERE status = 'succeeded') AS last_load,
                   greatest((SELECT max(recovery_date) FROM recovery),
                            (SELECT (max(crime_datetime) AT TIME ZONE 'America/New_York')::date FROM incident),
                            (SELECT (max(alert_time) AT TIME ZONE 'America/New_York')::date FROM shot_alert))
                   AS latest""")).mappings().one()
    return dict(row)


def freshness() -> list[dict]:
    """Per source, how many records there are and the latest date they reach (local time)."""
    access.require("data")
    with read_engine().connect() as conn:
        rows = conn.execute(text("""
            SELECT 'Crime incidents' AS source, count(*) AS records,
                   max(crime_datetime AT TIME ZONE 'America/New_York')::date AS latest FROM incident
            UNION ALL SELECT 'ShotSpotter alerts', count(*), max(alert_time AT TIME ZONE 'America/New_York')::date
                      FROM shot_alert
            UNION ALL SELECT 'Gun recoveries (traces)', count(*), max(recovery_date) FROM recovery
            UNION ALL SELECT 'NIBIN leads', count(*), max(lead_date) FROM nibin_lead
            UNION ALL SELECT 'Dealers (FFL)', count(*), NULL FROM dealer"""))
        return [dict(r._mapping) for r in rows]


def rejected_for_run(run_id: int, viewer=None, limit: int = 200) -> list[dict]:
    """Rejected rows of one load. Raw text and the full reason can quote names, dates of birth, serials
    and addresses: only personal-data roles get them (and the read is audited); everyone else gets the
    reason with its values taken out (`reason_public`) and no raw text."""
    viewer = access.require("data", viewer)
    personal = viewer.personal_data
    columns = "line_number, reason, raw" if personal else \
        "line_number, coalesce(reason_public, 'rejected (reason withheld)') AS reason"
    with read_engine().connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(
            f"SELECT {columns} FROM etl_rejected_row WHERE run_id = :run "
            "ORDER BY line_number LIMIT :n"), {"run": run_id, "n": limit})]
    if personal:
        access.record_access(viewer, "view", "rejected_row", [f"{run_id}:{r['line_number']}" for r in rows])
        return rows
    return [{**r, "raw": access.RESTRICTED} for r in rows]
