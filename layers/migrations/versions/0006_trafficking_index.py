"""trafficking index: scores of firearms, purchasers, dealers and source states, and analysts' reviews

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00

The `index` schema is derived data (layers/index/compute.py fills it after every load) plus the
analysts' reviews, which are kept across recomputation. The web role reads everything and may append
reviews (never change or delete them).
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "crimegun_web"

UPGRADE = f"""
CREATE SCHEMA IF NOT EXISTS index;

CREATE TABLE index.purchaser_score (
    person_id integer PRIMARY KEY,
    score double precision NOT NULL,
    rank integer NOT NULL,
    guns integer NOT NULL,
    dealers integer NOT NULL,
    fast_guns integer NOT NULL,
    short_other integer NOT NULL,
    multiple integer NOT NULL,
    first_purchase date,
    last_purchase date,
    min_ttc integer,
    firearm_ids integer[],
    contributions jsonb NOT NULL,
    config_version text NOT NULL,
    computed_at timestamptz NOT NULL
);
CREATE INDEX ix_index_purchaser_score_rank ON index.purchaser_score (rank);

CREATE TABLE index.dealer_score (
    dealer_id integer PRIMARY KEY,
    score double precision NOT NULL,
    rank integer NOT NULL,
    peer_group text NOT NULL,
    traces integer NOT NULL,
    short_n integer NOT NULL,
    short_share double precision,
    peer_share double precision,
    repeat_n integer NOT NULL,
    multiple_n integer NOT NULL,
    purchasers integer NOT NULL,
    z_short double precision,
    z_repeat double precision,
    z_multiple double precision,
    contributions jsonb NOT NULL,
    config_version text NOT NULL,
    computed_at timestamptz NOT NULL
);
CREATE INDEX ix_index_dealer_score_rank ON index.dealer_score (rank);

CREATE TABLE index.firearm_score (
    firearm_id integer PRIMARY KEY,
    score double precision NOT NULL,
    rank integer NOT NULL,
    min_ttc integer,
    source_state text,
    purchaser_id integer,
    dealer_id integer,
    recoveries integer NOT NULL,
    nibin_incidents integer NOT NULL,
    last_trace date,
    contributions jsonb NOT NULL,
    config_version text NOT NULL,
    computed_at timestamptz NOT NULL
);
CREATE INDEX ix_index_firearm_score_rank ON index.firearm_score (rank);
CREATE INDEX ix_index_firearm_score_purchaser ON index.firearm_score (purchaser_id);
CREATE INDEX ix_index_firearm_score_dealer ON index.firearm_score (dealer_id);

CREATE TABLE index.state_score (
    state text PRIMARY KEY,
    score double precision NOT NULL,
    rank integer NOT NULL,
    traces integer NOT NULL,
    short_n integer NOT NULL,
    short_share double precision,
    repeat_n integer NOT NULL,
    dealers integer NOT NULL,
    corridor boolean NOT NULL,
    home boolean NOT NULL,
    z_short double precision,
    contributions jsonb NOT NULL,
    config_version text NOT NULL,
    computed_at timestamptz NOT NULL
);

CREATE TABLE index.state_year (
    state text NOT NULL,
    year integer NOT NULL,
    traces integer NOT NULL,
    short_n integer NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (state, year)
);

CREATE TABLE index.unrecovered (
    gun_group integer PRIMARY KEY,
    incidents integer NOT NULL,
    shootings integer NOT NULL,
    caliber text,
    first_date date,
    last_date date,
    latest_incident integer,
    incident_ids integer[],
    districts text[],
    computed_at timestamptz NOT NULL
);
CREATE INDEX ix_index_unrecovered_rank ON index.unrecovered (incidents DESC, last_date DESC);

CREATE TABLE index.computation (
    id serial PRIMARY KEY,
    config_version text NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    seconds double precision,
    baselines jsonb NOT NULL,
    counts jsonb NOT NULL
);

-- An analyst's verdict on a flagged purchaser, dealer or gun. Append-only: the latest row per record
-- is the current verdict; earlier ones stay as its history. Kept across recomputation of the scores.
CREATE TABLE index.review (
    id serial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('purchaser', 'dealer', 'firearm')),
    entity_id integer NOT NULL,
    verdict text NOT NULL CHECK (verdict IN ('confirmed', 'rejected')),
    note text NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    username text NOT NULL,
    role text,
    at timestamptz NOT NULL DEFAULT now(),
    score double precision,
    rank integer,
    config_version text
);
CREATE INDEX ix_index_review_entity ON index.review (kind, entity_id, at DESC);

GRANT USAGE ON SCHEMA index TO {WEB};
GRANT SELECT ON ALL TABLES IN SCHEMA index TO {WEB};
GRANT INSERT ON index.review TO {WEB};
GRANT USAGE ON SEQUENCE index.review_id_seq TO {WEB};
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP SCHEMA index CASCADE")
