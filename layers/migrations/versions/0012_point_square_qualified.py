"""point_square names PostGIS's functions with their schema, so maintenance can evaluate it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 08:20:00

Autovacuum (and pg_dump's restore, and any session with another search_path) runs with the search path
reduced to pg_catalog. Migration 0010's point_square called ST_X and ST_Y unqualified, so every automatic
ANALYZE of the three tables whose square index uses it failed ("function st_x(geometry) does not exist")
and their statistics were refreshed only by `derive`. The body now names the schema PostGIS is installed
in; it stays a plain SQL expression the planner inlines, and its values do not change (the indexes stand).
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _square(qualifier: str) -> str:
    """point_square calling PostGIS's functions as `qualifier`ST_X: 'public.' (quoted as needed), or '' as
    migration 0010 had it."""
    return f"""CREATE OR REPLACE FUNCTION point_square(g geometry) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT (floor({qualifier}ST_X(g) * 100)::integer + 18000) * 20000 + floor({qualifier}ST_Y(g) * 100)::integer + 9000 $$"""


def upgrade() -> None:
    schema = op.get_bind().exec_driver_sql(
        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'postgis'").scalar_one()
    op.execute(_square(schema + "."))


def downgrade() -> None:
    op.execute(_square(""))
