"""investigate: indexes for search (pg_trgm), journeys and the link network

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25 20:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain indexes: also declared in layers/schema_indexes.py.
PLAIN = (
    ("ix_recovery_possessor_id", "recovery", ["possessor_id"]),
    ("ix_recovery_incident_id", "recovery", ["incident_id"]),
    ("ix_recovery_street", "recovery", ["street"]),
    ("ix_trace_associate_id", "trace", ["associate_id"]),
    ("ix_incident_location", "incident", ["location"]),
    ("ix_nibin_lead_lead_date", "nibin_lead", ["lead_date"]),
)

# Trigram (expression) indexes for partial, case- and dash-insensitive search. Like the plain ones they are
# also declared in layers/schema_indexes.py; the expressions must match layers/search.py.
TRGM = (
    ("ix_firearm_serial_trgm", "firearm", "upper(regexp_replace(serial_number, '[^A-Za-z0-9]', '', 'g'))"),
    ("ix_trace_number_trgm", "trace", "upper(trace_number)"),
    ("ix_incident_cc_number_trgm", "incident", "upper(cc_number)"),
    ("ix_dealer_ffl_trgm", "dealer", "replace(ffl_key, '-', '')"),
    ("ix_dealer_business_name_trgm", "dealer", "upper(business_name)"),
    ("ix_dealer_license_name_trgm", "dealer", "upper(license_name)"),
    ("ix_person_last_name_trgm", "pii.person", "upper(last_name)"),
    ("ix_person_first_name_trgm", "pii.person", "upper(first_name)"),
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, columns in PLAIN:
        op.create_index(name, table, columns)
    for name, table, expr in TRGM:
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (({expr}) gin_trgm_ops)")


def downgrade() -> None:
    for name, table, _ in TRGM:
        schema = table.split(".")[0] + "." if "." in table else ""
        op.execute(f"DROP INDEX IF EXISTS {schema}{name}")
    for name, table, _ in PLAIN:
        op.drop_index(name, table_name=table)
