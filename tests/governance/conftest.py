"""Store-backed governance tests run on SQLite and on the private PostgreSQL cluster, with
the store tests' own fixtures (one definition: tests/store/conftest.py)."""

from __future__ import annotations

from tests.store.conftest import START, Clock, clock, store, store_url

__all__ = ["START", "Clock", "clock", "store", "store_url"]
