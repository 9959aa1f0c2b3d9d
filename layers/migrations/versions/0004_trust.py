"""trust: accounts, an append-only audit trail, the web role, and public reasons for rejected rows

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-12-01 20:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = ("0002", "0003")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "crimegun_web"

UPGRADE = f"""
CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE auth.account (
    id serial PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (username = lower(username)),
    display_name text,
    role text NOT NULL CHECK (role IN ('admin', 'analyst', 'detective', 'commander', 'press')),
    password_hash text,
    totp_secret text,
    totp_confirmed boolean NOT NULL DEFAULT false,
    disabled boolean NOT NULL DEFAULT false,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    last_login timestamptz,
    password_changed_at timestamptz,
    source text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'oidc')),
    oidc_subject text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit.event (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    username text,
    role text,
    event text NOT NULL,
    outcome text NOT NULL DEFAULT 'ok',
    record_kind text,
    record_ids text[] NOT NULL DEFAULT '{{}}',
    record_count integer NOT NULL DEFAULT 0,
    purpose text,
    session_id text,
    client_ip text,
    detail jsonb
);
CREATE INDEX ix_audit_event_at ON audit.event (at);
CREATE INDEX ix_audit_event_username ON audit.event (username, at);
CREATE INDEX ix_audit_event_record_ids ON audit.event USING gin (record_ids);

CREATE TABLE audit.retention (days integer NOT NULL CHECK (days >= 365));
INSERT INTO audit.retention VALUES (365);

-- Append-only, enforced by the database: nobody updates an event; only events older than the
-- retention period can be deleted (and the web role cannot delete at all: it has no privilege).
CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < now() - make_interval(days => (SELECT days FROM audit.retention)) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON audit.event
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE FUNCTION audit.refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (TRUNCATE refused)' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON audit.event
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_truncate();

ALTER TABLE etl_rejected_row ADD COLUMN reason_public text;
UPDATE etl_rejected_row
   SET reason_public = regexp_replace(reason, '''[^'']*''|"[^"]*"|\\([^)]*\\)|[^\\s,;:]*[0-9][^\\s,;:]*', '…', 'g');

-- The web role: what the dashboard connects as (SET ROLE at connection start).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{WEB}') THEN
        CREATE ROLE {WEB} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END $$;
GRANT {WEB} TO CURRENT_USER;
GRANT USAGE ON SCHEMA public, pii, auth, audit TO {WEB};
GRANT SELECT ON ALL TABLES IN SCHEMA public, pii TO {WEB};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {WEB};
ALTER DEFAULT PRIVILEGES IN SCHEMA pii GRANT SELECT ON TABLES TO {WEB};
GRANT SELECT, INSERT, UPDATE ON auth.account TO {WEB};
GRANT USAGE ON SEQUENCE auth.account_id_seq TO {WEB};
REVOKE ALL ON audit.event FROM PUBLIC;
GRANT SELECT, INSERT ON audit.event TO {WEB};
GRANT USAGE ON SEQUENCE audit.event_id_seq TO {WEB};
GRANT SELECT ON audit.retention TO {WEB};
"""

DOWNGRADE = f"""
ALTER TABLE etl_rejected_row DROP COLUMN reason_public;
DROP SCHEMA audit CASCADE;
DROP SCHEMA auth CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {WEB};
REVOKE ALL ON ALL TABLES IN SCHEMA pii FROM {WEB};
REVOKE USAGE ON SCHEMA public, pii FROM {WEB};
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
