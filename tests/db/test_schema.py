"""The migrations build exactly the schema the models declare, with spatial indexes and the pii schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers

from layers.db import engine
from layers.schema import Base

pytestmark = pytest.mark.db


def test_migrations_match_models(database_url):
    with engine().connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_schemas": True, "compare_type": True,
            "include_name": lambda name, type_, parent: type_ != "schema" or name in (None, "public", "pii"),
            "include_object": lambda obj, name, type_, reflected, compare_to: (
                name != "spatial_ref_sys" and alembic_helpers.include_object(obj, name, type_, reflected, compare_to)),
        })
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_people_live_in_pii_schema_and_points_have_gist_indexes(sql):
    assert sql("SELECT table_schema FROM information_schema.tables WHERE table_name = 'person'") == [("pii",)]
    indexed = {r[0] for r in sql("SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist (geom)%'")}
    assert {"incident", "shot_alert", "recovery", "dealer", "boundary"} <= indexed


def test_every_fact_table_has_an_agency(sql):
    for table in ("trace", "firearm", "recovery", "incident", "shot_alert", "ballistic_evidence", "nibin_lead"):
        assert sql("SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'agency'",
                   (table,)), table
