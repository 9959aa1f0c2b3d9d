"""auth.ended_session: sessions ended by sign-out or inactivity, so their cookie no longer signs anyone in

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:40:00

A session lives in its signed cookie. A page request still in flight when the sign-out answered could set
the signed-in cookie again (its response saved the session it had read), and a copied cookie kept working
after sign-out until it expired. The session's id is recorded here when it ends, and a request carrying an
ended session is treated as signed out. Rows older than the longest session (12 h) are purged as new ones
arrive.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "crimegun_web"


def upgrade() -> None:
    op.execute("CREATE TABLE auth.ended_session (sid text PRIMARY KEY, ended_at timestamptz NOT NULL DEFAULT now())")
    op.execute("CREATE INDEX ix_ended_session_ended_at ON auth.ended_session (ended_at)")
    op.execute(f"GRANT SELECT, INSERT, DELETE ON auth.ended_session TO {WEB}")


def downgrade() -> None:
    op.execute("DROP TABLE auth.ended_session")
