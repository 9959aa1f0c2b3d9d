"""map read path: time indexes, partial indexes for the shootings layer, pre-aggregated density cells

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUN_INCIDENT = "is_firearm AND category IN ('shooting', 'homicide')"

# Density cells per local day, layer, district and kind, at the zoom-14 square grid of EPSG:3857
# (layers/density.py: BASE_ZOOM, BASE_SIZE). Coarser zooms roll these up (cells nest), so a year of
# data at 100x Baltimore is a few hundred thousand rows instead of millions of points. Refreshed after
# loads by layers.density.refresh_map_cells(); `map_cell_meta` records which data version it holds, and
# the map falls back to the raw points while it is stale.
BASE_SIZE = 156543.03392804097 / 2**14 * 40
_BIN = (f"floor(6378137.0 * radians(ST_X(geom)) / {BASE_SIZE})::int AS i, "
        f"floor(6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(geom)) / 2)) / {BASE_SIZE})::int AS j")
MAP_CELL_DAY = f"""
CREATE MATERIALIZED VIEW map_cell_day AS
SELECT 'alerts'::text AS layer, (alert_time AT TIME ZONE 'America/New_York')::date AS day, district,
       alert_type::text AS kind, {_BIN}, count(*)::int AS n
FROM shot_alert WHERE geom IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT 'shootings', (crime_datetime AT TIME ZONE 'America/New_York')::date, district, category::text, {_BIN},
       count(*)::int
FROM incident WHERE geom IS NOT NULL AND {GUN_INCIDENT} GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT 'recoveries', r.recovery_date, r.district, f.firearm_type::text,
       floor(6378137.0 * radians(ST_X(r.geom)) / {BASE_SIZE})::int,
       floor(6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(r.geom)) / 2)) / {BASE_SIZE})::int, count(*)::int
FROM recovery r JOIN firearm f ON f.id = r.firearm_id WHERE r.geom IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
"""
MAP_CELL_META = """
CREATE MATERIALIZED VIEW map_cell_meta AS
SELECT coalesce(max(id), 0) AS data_version, now() AS refreshed_at FROM etl_run WHERE status = 'succeeded'
"""


def upgrade() -> None:
    op.create_index("ix_map_shot_alert_time", "shot_alert", ["alert_time"], unique=False)
    op.create_index("ix_map_recovery_date", "recovery", ["recovery_date"], unique=False)
    op.execute(f"CREATE INDEX ix_map_incident_gun_time ON incident (crime_datetime) WHERE {GUN_INCIDENT}")
    op.execute(f"CREATE INDEX ix_map_incident_gun_geom ON incident USING gist (geom) WHERE {GUN_INCIDENT}")
    op.execute(MAP_CELL_DAY)
    op.execute("CREATE INDEX ix_map_cell_day_layer_day ON map_cell_day (layer, day)")
    op.execute(MAP_CELL_META)


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW IF EXISTS map_cell_meta")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS map_cell_day")
    op.drop_index("ix_map_incident_gun_geom", table_name="incident")
    op.drop_index("ix_map_incident_gun_time", table_name="incident")
    op.drop_index("ix_map_recovery_date", table_name="recovery")
    op.drop_index("ix_map_shot_alert_time", table_name="shot_alert")
