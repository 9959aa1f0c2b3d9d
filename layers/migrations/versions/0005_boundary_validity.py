"""boundary validity: maps in force from valid_from to valid_to (the 2023 police districts beside 1959-2022)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("boundary", sa.Column("valid_from", sa.Date(), nullable=True))
    op.add_column("boundary", sa.Column("valid_to", sa.Date(), nullable=True))
    op.drop_constraint("uq_boundary_kind_name", "boundary", type_="unique")
    op.create_unique_constraint("uq_boundary_kind_name_valid_from", "boundary", ["kind", "name", "valid_from"],
                                postgresql_nulls_not_distinct=True)


def downgrade() -> None:
    # Only the latest map of each kind and name survives a downgrade.
    op.execute("""DELETE FROM boundary b WHERE EXISTS (
        SELECT 1 FROM boundary o WHERE o.kind = b.kind AND o.name = b.name
          AND coalesce(o.valid_from, '-infinity') > coalesce(b.valid_from, '-infinity'))""")
    op.drop_constraint("uq_boundary_kind_name_valid_from", "boundary", type_="unique")
    op.create_unique_constraint("uq_boundary_kind_name", "boundary", ["kind", "name"])
    op.drop_column("boundary", "valid_to")
    op.drop_column("boundary", "valid_from")
