"""Id mappings per target: our natural key <-> the remote id, and what we last wrote there.

The fingerprint of what we wrote is what lets the engine tell its own objects from others:
a remote object carrying our key whose fingerprint we never recorded was written by someone
else (:attr:`Ownership.UNMAPPED`, :attr:`Ownership.OTHER_OBJECT`) and is reported, not
silently taken over; one we wrote and someone edited since shows a different fingerprint
(:attr:`Ownership.CHANGED_REMOTELY`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Row, delete, select

from comp_adapters.store.engine import Database
from comp_adapters.store.schema import id_mappings
from comp_adapters.store.sql import chunks, upsert


@dataclass(frozen=True, slots=True)
class IdMapping:
    target: str
    key: str
    remote_id: str
    fingerprint: str
    """Fingerprint of what we last wrote to the remote object."""
    updated_at: datetime
    run_id: int | None = None


class Ownership(StrEnum):
    """What the store knows about a remote object found under one of our keys."""

    OURS = "ours"
    """We wrote this object, and it still holds what we wrote."""
    CHANGED_REMOTELY = "changed_remotely"
    """We wrote this object, and it was changed since (its fingerprint differs)."""
    OTHER_OBJECT = "other_object"
    """Our key is mapped to a different remote object: this one is not the one we wrote."""
    UNMAPPED = "unmapped"
    """We have no mapping for the key: as far as the store knows we did not write it (or the
    mapping was lost; rebuild it deliberately, by natural-key lookup)."""


class TargetMappings:
    """The id mappings of one target."""

    def __init__(self, db: Database, target: str) -> None:
        self._db = db
        self.target = target
        self._upsert = upsert(
            db.backend,
            id_mappings,
            ("target", "key"),
            ("remote_id", "fingerprint", "updated_at", "run_id"),
        )

    def get(self, key: str) -> IdMapping | None:
        query = select(id_mappings).where(
            id_mappings.c.target == self.target, id_mappings.c.key == key
        )
        with self._db.read("reading an id mapping") as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else _mapping(row)

    def by_remote_id(self, remote_id: str) -> IdMapping | None:
        """The mapping pointing at ``remote_id`` (reverse look-up)."""
        query = select(id_mappings).where(
            id_mappings.c.target == self.target, id_mappings.c.remote_id == remote_id
        )
        with self._db.read("reading an id mapping") as connection:
            row = connection.execute(query.limit(1)).one_or_none()
        return None if row is None else _mapping(row)

    def put(self, key: str, remote_id: str, fingerprint: str, *, run_id: int | None = None) -> None:
        """Remember that ``key`` is ``remote_id`` and that we wrote ``fingerprint`` to it."""
        self.put_many([(key, remote_id, fingerprint)], run_id=run_id)

    def put_many(self, items: Iterable[tuple[str, str, str]], *, run_id: int | None = None) -> int:
        """Upsert (key, remote id, fingerprint) triples in one transaction; returns how many."""
        now = self._db.now()
        count = 0
        with self._db.write("saving id mappings") as connection:
            for chunk in chunks(items):
                rows = [
                    {
                        "target": self.target,
                        "key": key,
                        "remote_id": remote_id,
                        "fingerprint": fingerprint,
                        "updated_at": now,
                        "run_id": run_id,
                    }
                    for key, remote_id, fingerprint in chunk
                ]
                connection.execute(self._upsert, rows)
                count += len(rows)
        return count

    def all(self) -> Iterator[IdMapping]:
        """Every mapping of the target, by key."""
        query = (
            select(id_mappings)
            .where(id_mappings.c.target == self.target)
            .order_by(id_mappings.c.key)
        )
        with self._db.read("listing id mappings") as connection:
            rows = connection.execute(query).all()
        return (_mapping(row) for row in rows)

    def delete(self, key: str) -> bool:
        """Forget ``key`` (its remote object was deleted); False when it was not mapped."""
        return self.delete_many([key]) == 1

    def delete_many(self, keys: Iterable[str]) -> int:
        count = 0
        with self._db.write("deleting id mappings") as connection:
            for chunk in chunks(keys):
                done = connection.execute(
                    delete(id_mappings).where(
                        id_mappings.c.target == self.target, id_mappings.c.key.in_(chunk)
                    )
                )
                count += int(done.rowcount)
        return count

    def ownership(self, key: str, *, remote_id: str, remote_fingerprint: str) -> Ownership:
        """Whether the remote object ``remote_id`` found under ``key`` is the one we wrote."""
        mapping = self.get(key)
        if mapping is None:
            return Ownership.UNMAPPED
        if mapping.remote_id != remote_id:
            return Ownership.OTHER_OBJECT
        if mapping.fingerprint != remote_fingerprint:
            return Ownership.CHANGED_REMOTELY
        return Ownership.OURS

    def __repr__(self) -> str:
        return f"TargetMappings({self.target!r})"


def _mapping(row: Row[tuple[object, ...]]) -> IdMapping:
    data = row._mapping
    return IdMapping(
        target=data["target"],
        key=data["key"],
        remote_id=data["remote_id"],
        fingerprint=data["fingerprint"],
        updated_at=data["updated_at"],
        run_id=data["run_id"],
    )
