"""The ETL's bookkeeping, read back: recent loads, rejected rows, what is already loaded."""

from __future__ import annotations

from sqlalchemy import text

from layers.db import engine


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
