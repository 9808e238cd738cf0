"""Alembic migrations of the store, run by :func:`comp_adapters.store.migrate.upgrade`."""
