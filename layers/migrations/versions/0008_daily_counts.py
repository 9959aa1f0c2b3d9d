"""daily counts: the map's layers pre-counted by local day, district (and boundary) and what the filters use

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:00:00

Whole-city counts, choropleths, the district table and panel and the public charts' series sum these
rows instead of scanning the incident, alert and recovery tables (layers/daily.py). etl/derive.py keeps
them current, recomputing only the days the latest runs touched; `derive_state` records which data
version they (and the other derivations) hold, so the map can fall back to the scans while they are stale
and a derive with nothing new to do returns at once.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The dimensions every filter of the map and charts narrows by. kind: alert type (alerts), category
# (shootings: shooting | homicide), firearm type (recoveries). The recovery-only columns are null for the
# other layers. `ghost` is the public charts' privately made gun test (layers/public_stats.GHOST_SQL).
DIMS = """
    layer text NOT NULL,
    day date NOT NULL,
    district text,
    kind text,
    ttc_band text,
    source_state text,
    source_in_state boolean,
    ghost boolean,
    n integer NOT NULL"""


WEB = "crimegun_web"


def upgrade() -> None:
    # Its own schema: derived data, rebuilt by derive, not part of the loaded model (layers/schema.py).
    op.execute("CREATE SCHEMA IF NOT EXISTS derived")
    op.execute(f"CREATE TABLE derived.daily_count ({DIMS})")
    op.execute("CREATE INDEX ix_daily_count_layer_day ON derived.daily_count (layer, day)")
    # The same counts by boundary (post, neighborhood, CSA): each point in the first polygon of the kind
    # (by name) that contains it, as the choropleth's spatial join counts it.
    op.execute(f"CREATE TABLE derived.daily_area_count (area_kind text NOT NULL, area text NOT NULL, {DIMS})")
    op.execute("CREATE INDEX ix_daily_area_count_kind_layer_day ON derived.daily_area_count (area_kind, layer, day)")
    # Shootings by day, district and location: the district panel's top locations.
    op.execute("CREATE TABLE IF NOT EXISTS derived.daily_place (day date NOT NULL, district text, location text NOT NULL, "
               "n integer NOT NULL)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_daily_place_day ON derived.daily_place (day)")
    # Recoveries by day, the recovery filters, dealer and time-to-crime in days: the source ranking's counts
    # and medians.
    op.execute("CREATE TABLE IF NOT EXISTS derived.daily_source (day date NOT NULL, district text, kind text, "
               "ttc_band text, source_state text, source_in_state boolean, dealer_id integer, ttc_days integer, "
               "n integer NOT NULL)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_daily_source_day ON derived.daily_source (day)")
    op.execute("""
        CREATE TABLE derived.derive_state (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            last_run_id integer NOT NULL DEFAULT 0,
            run_token text,
            derived_at timestamptz)""")
    # No token: the first derive after the upgrade recomputes everything.
    op.execute("INSERT INTO derived.derive_state (id, last_run_id, run_token) VALUES (true, 0, NULL)")
    op.execute(f"GRANT USAGE ON SCHEMA derived TO {WEB}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA derived TO {WEB}")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS derived CASCADE")
