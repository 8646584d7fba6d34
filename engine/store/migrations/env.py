"""Alembic environment: migrate over the connection that ``Database.migrate`` opened.

There is no ``alembic.ini`` and no URL here. The caller builds the Alembic configuration in
code and passes a connection already inside its write transaction, so the whole upgrade is
one transaction (SQLite and PostgreSQL both have transactional DDL).
"""

from __future__ import annotations

from alembic import context

from engine.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the store's migrations run through engine.store.open_database(), "
        "which passes them an open connection"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    transactional_ddl=True,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
