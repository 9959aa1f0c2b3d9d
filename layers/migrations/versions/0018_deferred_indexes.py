"""deferred indexes: a batch of big loads into one table builds its secondary indexes once, after the last file

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 18:20:00

`etl_deferred_index` records each secondary index (and run foreign key) a batch of loads set aside
(etl/deferred.py), with the statement that builds it again, in the transaction that drops it: if the batch stops before building them,
the next load or derive finds them here and builds them.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""CREATE TABLE etl_deferred_index (
        name text NOT NULL CONSTRAINT pk_etl_deferred_index PRIMARY KEY,
        table_name text NOT NULL,
        statement text NOT NULL,
        deferred_at timestamptz NOT NULL DEFAULT now())""")


def downgrade() -> None:
    # Indexes still set aside are built again first: dropping their record would lose them.
    op.execute("""DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT name, table_name, statement FROM etl_deferred_index
                 ORDER BY starts_with(statement, 'ALTER TABLE') LOOP
            IF starts_with(r.statement, 'ALTER TABLE') THEN
                IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = r.table_name::regclass
                               AND conname = r.name) THEN
                    EXECUTE 'UPDATE ' || r.table_name || ' t SET run_id = NULL WHERE run_id IS NOT NULL '
                            'AND NOT EXISTS (SELECT 1 FROM etl_run e WHERE e.id = t.run_id)';
                    EXECUTE r.statement;
                END IF;
            ELSIF to_regclass(r.name) IS NULL THEN EXECUTE r.statement;
            END IF;
        END LOOP; END $$""")
    op.execute("DROP TABLE etl_deferred_index")
