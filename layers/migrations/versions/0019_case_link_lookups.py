"""case link lookups: the derive after a load finds the recoveries and NIBIN evidence it may have moved by index

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 17:00:00

After a load the derive ties again to their case's incident only the recoveries and NIBIN evidence the load
may have moved (etl/case_links.py): those naming a case number the load's incidents carry, and the evidence
the load itself wrote. Without an index on a recovery's case number, and on the run of each evidence row,
both were found by reading the whole table (at 100x Baltimore, 3.9 s and 3.6 s of the derive after 200 more
incidents). The run index is a block-range one, as for the other tables loads append to (migration 0016).
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_recovery_case_number", "recovery", ["case_number"])
    op.create_index("ix_ballistic_evidence_run_ranges", "ballistic_evidence", ["run_id"], postgresql_using="brin",
                    postgresql_with={"pages_per_range": 32, "autosummarize": "on"})


def downgrade() -> None:
    op.drop_index("ix_ballistic_evidence_run_ranges", table_name="ballistic_evidence")
    op.drop_index("ix_recovery_case_number", table_name="recovery")
