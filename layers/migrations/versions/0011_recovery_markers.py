"""recovery markers: what a recovery's map marker and the map's recovery filters read, kept on the recovery

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:30:00

A recovery's marker shows its firearm type, time-to-crime band and whether the gun was sourced in state, and
the map's recovery filters test those and the source state. They live on the gun and the trace: every
zoomed-in view joined each of its 3,000 newest recoveries to both (20-30 ms of a ~100 ms answer at 100 times
Baltimore). Kept on the recovery, the view reads one table, like the other layers. `derive` keeps them
current ("recovery markers", etl/derive.py); this migration fills them once.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As layers/map_filters.TTC_BAND_SQL, written out: a migration stays what it was when the code moves on.
FILL = """
UPDATE recovery p SET firearm_type = f.firearm_type, source_state = t.source_state,
    source_in_state = t.source_in_state,
    ttc_band = CASE WHEN t.ttc_days IS NULL THEN 'unknown' WHEN t.ttc_days < 365 THEN 'under 1 year'
                    WHEN t.ttc_days < 1095 THEN '1–3 years' ELSE 'over 3 years' END
FROM trace t, firearm f WHERE t.id = p.trace_id AND f.id = p.firearm_id
"""


def upgrade() -> None:
    op.add_column("recovery", sa.Column("firearm_type", sa.String(16)))
    op.add_column("recovery", sa.Column("ttc_band", sa.String(16)))
    op.add_column("recovery", sa.Column("source_state", sa.String(2)))
    op.add_column("recovery", sa.Column("source_in_state", sa.Boolean()))
    op.execute(FILL)


def downgrade() -> None:
    for column in ("source_in_state", "source_state", "ttc_band", "firearm_type"):
        op.drop_column("recovery", column)
