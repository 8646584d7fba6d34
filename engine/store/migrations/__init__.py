"""Alembic migrations of the store, run by :meth:`engine.store.database.Database.migrate`."""
