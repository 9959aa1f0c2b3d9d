"""Block-range indexes on run_id: the derive after a load finds that load's rows without reading the table

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 15:10:00

The derive after a load looks up the rows of its runs in incident, shot_alert, trace and firearm (the days
they touched, the times of their firearm incidents, the recoveries whose case they load). Without an index
on run_id each lookup read the whole table. A load appends its rows (new versions of updated ones go where
there is room), so each run's rows lie in few block ranges, and a BRIN index of run_id finds them: 64 kB
for 820,000 incidents, built in 0.5 s. At 10x Baltimore (two years), with it: the first and last time of a
run's firearm incidents 190 ms -> 0.5 ms; the days a run touched 165 ms -> 0.5 ms; the recoveries whose
incident a run may have moved 354 ms -> 28 ms.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("incident", "shot_alert", "trace", "firearm")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_run_ranges", table, ["run_id"], postgresql_using="brin",
                        postgresql_with={"pages_per_range": 32, "autosummarize": "on"})


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_run_ranges", table_name=table)
