"""The audit log in the store: the hash-chained entries of :mod:`comp_adapters.governance.audit`,
one row each in ``audit_log``.

Appends are serialised so the chain never forks: every append runs in a write transaction
that first takes the log's lock (SQLite: the database write lock, which ``BEGIN IMMEDIATE``
takes at once; PostgreSQL: an advisory transaction lock), then reads the head, seals the
new entries onto it and inserts them. The primary key on ``seq`` and the unique
``prev_hash`` make a fork impossible even for a writer that skipped the lock.

Rows hold exactly what was hashed (the instant to the microsecond, the payload as canonical
JSON), so an entry reads back byte for byte and :func:`~comp_adapters.governance.verify`
recomputes the same hash, unless someone changed the row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, text

from comp_adapters.errors import StoreError
from comp_adapters.governance.audit import (
    AuditEntry,
    AuditRecord,
    ChainHead,
    VerifyResult,
    append_all,
    verify,
)
from comp_adapters.governance.canonical import canonical_json
from comp_adapters.store.engine import Database
from comp_adapters.store.locks import lock_key
from comp_adapters.store.schema import audit_log

AUDIT_LOCK = lock_key("audit")
"""Held (PostgreSQL) by every transaction that appends to the audit log or changes a
framework version: one writer at a time, so the chain has one head."""
PAGE = 5000
"""Rows read per query when listing the log."""


def lock_audit(connection: Connection) -> None:
    """Take the audit log's write lock for the rest of the transaction on ``connection``.

    On SQLite the store's write transactions already hold the database's write lock
    (``BEGIN IMMEDIATE``); PostgreSQL needs the advisory lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK})


def head_in(connection: Connection) -> ChainHead | None:
    """The last entry's number and hash as the table holds them (``None``: empty log)."""
    row = connection.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).one_or_none()
    if row is None:
        return None
    try:
        return ChainHead(seq=int(row.seq), hash=str(row.hash))
    except ValueError as exc:  # a hash that is not one: the row was tampered with
        raise StoreError(
            f"the audit log's last entry (number {row.seq}) does not hold a valid hash; run "
            "comp-adapters audit verify"
        ) from exc


def append_in(connection: Connection, records: Iterable[AuditRecord]) -> list[AuditEntry]:
    """Seal ``records`` onto the chain inside the caller's write transaction (locked here).

    Use it to log an event in the same transaction as the change it records, so that
    either both are stored or neither is.
    """
    items = list(records)
    if not items:
        return []
    lock_audit(connection)
    entries = append_all(head_in(connection), items)
    connection.execute(insert(audit_log), [entry_row(entry) for entry in entries])
    return entries


def append_records(db: Database, records: Iterable[AuditRecord]) -> list[AuditEntry]:
    """Append ``records`` in one transaction of their own; returns the sealed entries."""
    with db.write("appending to the audit log") as connection:
        return append_in(connection, records)


def entry_row(entry: AuditEntry) -> dict[str, Any]:
    """The row that holds ``entry`` (the payload as canonical JSON)."""
    return {
        "seq": entry.seq,
        "at": entry.at,
        "kind": entry.kind,
        "actor": entry.actor,
        "payload": canonical_json(entry.payload),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _entry(row: Row[Any]) -> AuditEntry:
    data = row._mapping
    try:
        payload = json.loads(data["payload"])
        return AuditEntry(
            seq=int(data["seq"]),
            at=data["at"],
            kind=data["kind"],
            actor=data["actor"],
            payload=payload if isinstance(payload, dict) else {"": payload},
            prev_hash=data["prev_hash"],
            hash=data["hash"],
        )
    except ValueError as exc:
        # Not readable as an entry at all (payload that is not JSON, a number below 1):
        # verify cannot say more than this, so say where.
        raise StoreError(
            f"the audit log's entry number {data['seq']} cannot be read as an entry "
            f"({type(exc).__name__}): it was changed in the database"
        ) from None


def iter_entries(db: Database, *, after: int = 0) -> Iterator[AuditEntry]:
    """Entries with a number above ``after``, in chain order (by number), page by page."""
    last = after
    while True:
        with db.read("reading the audit log") as connection:
            rows = connection.execute(
                select(audit_log)
                .where(audit_log.c.seq > last)
                .order_by(audit_log.c.seq)
                .limit(PAGE)
            ).all()
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        last = int(rows[-1].seq)


def entries(db: Database, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
    """Entries after number ``after`` (at most ``limit``), in chain order."""
    query = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq)
    if limit is not None:
        query = query.limit(limit)
    with db.read("reading the audit log") as connection:
        return [_entry(row) for row in connection.execute(query)]


def head(db: Database) -> ChainHead | None:
    with db.read("reading the audit log's head") as connection:
        return head_in(connection)


def count(db: Database) -> int:
    with db.read("counting the audit log") as connection:
        return int(connection.execute(select(func.count()).select_from(audit_log)).scalar_one())


def verify_log(db: Database, *, head: ChainHead | str | None = None) -> VerifyResult:
    """Recompute the whole chain as stored (see :func:`~comp_adapters.governance.verify`)."""
    return verify(list(iter_entries(db)), head=head)


__all__ = [
    "AUDIT_LOCK",
    "append_in",
    "append_records",
    "count",
    "entries",
    "entry_row",
    "head",
    "head_in",
    "iter_entries",
    "lock_audit",
    "verify_log",
]
