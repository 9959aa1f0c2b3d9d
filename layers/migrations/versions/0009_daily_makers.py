"""daily makers: recoveries pre-counted by local day, the recovery filters and manufacturer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:00:00

The public charts' top makers sum these rows instead of scanning every recovery with its trace and
firearm (layers/daily.py, `ranked_makers`). etl/derive.py keeps them current with the other daily
tables, for the days its runs touched.

The upgrade fills the table from the rows already loaded (one grouped pass over the recoveries, seconds
even at 100 times Baltimore), so a database whose daily tables are current stays current and no derive
has to recount every day. A database not yet derived is recounted in full by its next derive anyway.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "crimegun_web"

# What layers/daily.py's MAKERS counts, as of this revision (a db test compares the two).
FILL_SQL = """
    INSERT INTO derived.daily_maker (day, district, kind, ttc_band, source_state, source_in_state, manufacturer, n)
    SELECT p.recovery_date, p.district::text, f.firearm_type::text,
           CASE WHEN t.ttc_days IS NULL THEN 'unknown' WHEN t.ttc_days < 365 THEN 'under 1 year'
                WHEN t.ttc_days < 1095 THEN '1–3 years' ELSE 'over 3 years' END,
           t.source_state::text, t.source_in_state, coalesce(nullif(trim(f.manufacturer), ''), 'UNKNOWN'),
           count(*)::int
    FROM recovery p JOIN trace t ON t.id = p.trace_id JOIN firearm f ON f.id = p.firearm_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7"""


def upgrade() -> None:
    # Per day, the values the recovery filters narrow by (as derived.daily_count holds them) and the maker as
    # the chart names it (blank: UNKNOWN).
    op.execute("""
        CREATE TABLE derived.daily_maker (
            day date NOT NULL,
            district text,
            kind text,
            ttc_band text,
            source_state text,
            source_in_state boolean,
            manufacturer text NOT NULL,
            n integer NOT NULL)""")
    op.execute("CREATE INDEX ix_daily_maker_day ON derived.daily_maker (day)")
    op.execute(FILL_SQL)
    op.execute("ANALYZE derived.daily_maker")
    op.execute(f"GRANT SELECT ON derived.daily_maker TO {WEB}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS derived.daily_maker")
