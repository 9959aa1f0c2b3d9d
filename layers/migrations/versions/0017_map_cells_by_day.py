"""map cells by day: the map's density cells become a table the derive keeps by day, not a view recounted whole

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 15:40:00

`map_cell_day` (migration 0002) was a materialized view: every derive that loaded points refreshed it,
recounting every point of the city however few the load brought (at 100x Baltimore, 14.9 s of the 175 s
derive after 200 more incidents). `derived.map_cell_day` holds the same counts, and etl/derive.py (through
layers/daily.py) recounts only the days its runs touched, from the points it already sets down for the
daily counts. The upgrade copies what the view held, so a database whose cells were current stays current;
`map_cell_meta` still records the data version they hold, and the map still falls back to the points while
they are stale.
"""
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "crimegun_web"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE derived.map_cell_day (
            layer text NOT NULL,
            day date,
            district text,
            kind text,
            i integer NOT NULL,
            j integer NOT NULL,
            n integer NOT NULL)""")
    op.execute("INSERT INTO derived.map_cell_day (layer, day, district, kind, i, j, n) "
               "SELECT layer, day, district::text, kind, i, j, n FROM public.map_cell_day")
    op.execute("CREATE INDEX ix_map_cell_day_layer_day ON derived.map_cell_day (layer, day)")
    op.execute("ANALYZE derived.map_cell_day")
    op.execute(f"GRANT SELECT ON derived.map_cell_day TO {WEB}")
    op.execute("DROP MATERIALIZED VIEW public.map_cell_day")


def downgrade() -> None:
    spec = importlib.util.spec_from_file_location("map_0002", Path(__file__).with_name("0002_map.py"))
    map_0002 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(map_0002)
    op.execute("DROP TABLE IF EXISTS derived.map_cell_day")
    op.execute(map_0002.MAP_CELL_DAY)
    op.execute("CREATE INDEX ix_map_cell_day_layer_day ON map_cell_day (layer, day)")
    op.execute(f"GRANT SELECT ON map_cell_day TO {WEB}")
