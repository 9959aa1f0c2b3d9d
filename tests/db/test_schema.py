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


def test_maintenance_with_only_pg_catalog_on_the_search_path_can_analyze_every_table(empty_db):
    """Autovacuum runs with the search path reduced to pg_catalog: the functions behind expression indexes
    (point_square) must name PostGIS's schema, or every automatic ANALYZE of their tables fails."""
    import psycopg

    from layers import db

    with psycopg.connect(db.dsn(empty_db), autocommit=True) as conn:
        run = conn.execute("INSERT INTO etl_run (status, kind, layout, file_path, rows_read, rows_loaded, "
                           "rows_updated, rows_duplicate, rows_rejected) VALUES ('succeeded', 'shots', 't', 't', "
                           "1, 1, 0, 0, 0) RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO shot_alert (agency, source_key, source_id, alert_time, alert_type, rounds, "
                     "source_layout, run_id, geom) VALUES ('MDBPD0000', 'zzsearchpath', 'zz1', now(), "
                     "'SINGLE_GUNSHOT', 1, 't', %s, ST_SetSRID(ST_MakePoint(-76.6, 39.3), 4326))", (run,))
        conn.execute("SET search_path = pg_catalog")
        for table in ("public.incident", "public.shot_alert", "public.recovery"):
            conn.execute(f"ANALYZE {table}")
