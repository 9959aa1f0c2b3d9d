"""trace signals: stolen reports, restored serials, NIBIN evidence serial, date and place

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 10:00:00

Optional columns the canonical trace and NIBIN lead files may carry (docs/formats.md §1, §5); rows
loaded before have them null ("the file did not say").
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("firearm", sa.Column("serial_restored", sa.Boolean(), nullable=True))
    op.add_column("trace", sa.Column("reported_stolen", sa.Boolean(), nullable=True))
    op.add_column("trace", sa.Column("stolen_from", sa.String(length=8), nullable=True))
    op.add_column("trace", sa.Column("stolen_report_date", sa.Date(), nullable=True))
    op.add_column("ballistic_evidence", sa.Column("test_fire_serial", sa.String(length=64), nullable=True))
    op.add_column("ballistic_evidence", sa.Column("evidence_date", sa.Date(), nullable=True))
    op.add_column("ballistic_evidence", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("ballistic_evidence", sa.Column(
        "geom", Geometry(geometry_type="POINT", srid=4326, dimension=2, spatial_index=False,
                         from_text="ST_GeomFromEWKT", name="geometry"), nullable=True))
    op.create_geospatial_index("idx_ballistic_evidence_geom", "ballistic_evidence", ["geom"], unique=False,
                               postgresql_using="gist", postgresql_ops={})


def downgrade() -> None:
    op.drop_geospatial_index("idx_ballistic_evidence_geom", table_name="ballistic_evidence",
                             postgresql_using="gist", column_name="geom")
    for column in ("geom", "address", "evidence_date", "test_fire_serial"):
        op.drop_column("ballistic_evidence", column)
    for column in ("stolen_report_date", "stolen_from", "reported_stolen"):
        op.drop_column("trace", column)
    op.drop_column("firearm", "serial_restored")
