"""view squares: the map's point layers indexed by the 0.01-degree square a point lies in, newest first

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 05:00:00

A zoomed-in map view asks each point layer for its newest points inside the view. With only a time index
and a spatial index, PostgreSQL either walks the time index backwards and throws away every point outside
the view (tens of thousands in a busy year at 100 times Baltimore) or collects every point in the view and
sorts them (hundreds of milliseconds). Indexed by (square, time, id), each square of the view is a list
already in time order: the view's points are the few squares' lists merged, and the merge stops at the cap
(layers/viewport.py, `_square_rows`). `point_square` must stay what `viewport.squares_in` computes.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUN_INCIDENT = "is_firearm AND category IN ('shooting', 'homicide')"
# A plain SQL expression (inlined by the planner, so an index on it is built and matched at full speed):
# column and row of the 0.01-degree square, offset so that both are positive, in one integer.
SQUARE = """
CREATE OR REPLACE FUNCTION point_square(g geometry) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT (floor(ST_X(g) * 100)::integer + 18000) * 20000 + floor(ST_Y(g) * 100)::integer + 9000 $$
"""


def upgrade() -> None:
    op.execute(SQUARE)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute("CREATE INDEX ix_view_shot_alert_square ON shot_alert (point_square(geom), alert_time DESC, id DESC)")
    op.execute("CREATE INDEX ix_view_incident_gun_square ON incident (point_square(geom), crime_datetime DESC, "
               f"id DESC) WHERE {GUN_INCIDENT}")
    op.execute("CREATE INDEX ix_view_recovery_square ON recovery (point_square(geom), recovery_date DESC, id DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_view_recovery_square")
    op.execute("DROP INDEX IF EXISTS ix_view_incident_gun_square")
    op.execute("DROP INDEX IF EXISTS ix_view_shot_alert_square")
    op.execute("DROP FUNCTION IF EXISTS point_square(geometry)")
