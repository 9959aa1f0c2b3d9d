"""Schema migrations: `crimegun db upgrade` brings any database to the current schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(eng: Engine, revision: str = "heads") -> None:
    with eng.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        cfg = alembic_config(str(eng.url))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(eng: Engine) -> str | None:
    with eng.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar()
        if not exists:
            return None
        heads = conn.execute(text("SELECT version_num FROM alembic_version ORDER BY 1")).scalars().all()
        return ", ".join(heads) or None
