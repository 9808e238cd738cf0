"""PostgreSQL advisory lock keys: one 64-bit number per purpose, derived from its name."""

from __future__ import annotations

import hashlib


def lock_key(name: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, stable across processes and versions."""
    digest = hashlib.sha256(b"comp_adapters\0" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


MIGRATION_LOCK = lock_key("migrate")
"""Held while the schema is migrated."""
INGEST_LOCK = lock_key("ingest")
"""Held by each ingest transaction: ingests commit one at a time, in id order, so "touched
since ingest N" never misses one that committed late."""


def lease_key(target: str) -> int:
    """The key of ``target``'s lease."""
    return lock_key("lease\0" + target)
