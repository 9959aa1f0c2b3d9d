"""Incidents lose the spatial index of every point: only the shootings' points are searched by place

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:10:00

The map searches incidents by place only in its shootings layer, which has its own partial index
(ix_map_incident_gun_geom); journeys, networks, search and the counts find incidents by id, case number,
address or time. The index of every incident's point served only the derive's recomputation of all
districts (`derive --full`, or a new district map), and it was the costliest index to keep up on each load.

Loading 10x Baltimore's five incident years (410,000 rows each) one after another, measured in turn on the
same machine: each later year's upsert 11.3-11.7 s with the index, 8.8-9.7 s without; the first two years'
index rebuilds 2.5 and 4.9 s, 1.9 and 3.6 s; the five files 94.0 s, 86.1 s. The price is paid by
`derive --full`, which recomputes every incident's district from a copy of the points with an index of its
own (etl/districts.py): 11.8 s through the table's index, 18.5 s so.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("idx_incident_geom", table_name="incident", postgresql_using="gist")


def downgrade() -> None:
    op.create_index("idx_incident_geom", "incident", ["geom"], postgresql_using="gist")
