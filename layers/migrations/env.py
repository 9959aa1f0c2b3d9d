"""Alembic environment: migrations run against the configured database (layers.cluster.url)."""

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from layers import cluster
from layers.schema import PII_SCHEMA, Base

config = context.config


def _include_object(obj, name, type_, reflected, compare_to):
    # PostGIS owns these; they are not part of the project's schema.
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations_online() -> None:
    url = config.attributes.get("url") or cluster.url()
    connectable = config.attributes.get("connection") or create_engine(url)
    def configure(connection):
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name in (None, "public", PII_SCHEMA),
            include_object=_include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            configure(connection)
    else:
        configure(connectable)


run_migrations_online()
