"""Alembic environment: the control plane hands over an open connection (``database.upgrade``)."""

from alembic import context

from modelop_spark.controlplane.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
