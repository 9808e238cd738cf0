"""Ingest batches: evidence, withdrawals and the source's cursor, in one transaction.

``with store.ingest(source, query_fingerprint=fp) as batch`` opens a write transaction;
:meth:`IngestBatch.add_evidence`, :meth:`~IngestBatch.withdraw` and
:meth:`~IngestBatch.set_cursor` stage their work in it, and it commits when the block ends
normally — the cursor with the evidence it covers, never one without the other. An error
in the block rolls everything back.

The ledger keeps one row per evidence id. A copy arriving again replaces the stored one only
when it was recorded later (``recorded_at``, else ``observed_at``; among copies recorded at
the same instant the one whose JSON sorts last), so the ledger holds the same copy whatever
order copies arrive in — the copy the rules engine would keep of duplicates. A void sticks:
once an id is voided, no later copy brings it back.

Withdrawals name a source record (``withdraw``: e.g. an xAPI statement id, the
``source_id`` of the evidence it produced) or evidence ids (``withdraw_evidence``). Known
targets are voided at once, without asking the source again; a withdrawal whose target has
not arrived is kept as a tombstone, so the target is voided on arrival — for the retention
window, after which tombstones are compacted (they would otherwise grow without bound).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel, JsonValue
from sqlalchemy import Connection, and_, bindparam, delete, exists, insert, or_, select, text
from sqlalchemy import update as sql_update

from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import StoreError
from comp_adapters.rules.columnar import to_micros
from comp_adapters.store.engine import Database
from comp_adapters.store.locks import INGEST_LOCK
from comp_adapters.store.schema import evidence, ingests, pair_touches, source_cursors, tombstones
from comp_adapters.store.sql import (
    CHUNK,
    among,
    chunks,
    dump_json,
    insert_ignoring,
    load_json,
    upsert,
)

RECORD = "record"
"""Tombstone kind: a source record (the ``source_id`` of the evidence it produced)."""
EVIDENCE = "evidence"
"""Tombstone kind: an evidence id."""
_BODY_EXCLUDE = {"voided"}


@dataclass(slots=True)
class IngestCounts:
    """What one ingest did to the ledger."""

    added: int = 0
    """New evidence ids (also ones that arrived already withdrawn)."""
    replaced: int = 0
    """Stored copies replaced by a copy recorded later."""
    unchanged: int = 0
    """Copies the ledger already held (or held a later copy of)."""
    voided: int = 0
    """Evidence ids withdrawn by this ingest (voided copies, withdrawals, tombstones hit)."""
    tombstoned: int = 0
    """Withdrawals whose target has not arrived: kept as tombstones."""
    compacted: int = 0
    """Tombstones older than the retention window, dropped before this ingest began."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SourceState:
    """Where an evidence source stands: its cursor and the query it belongs to."""

    source: str
    query_fingerprint: str
    cursor: JsonValue
    updated_at: datetime
    ingest_id: int


def evidence_row(item: Evidence, *, source: str, ingest_id: int) -> dict[str, Any]:
    """The ledger row of one evidence record (``body``: its JSON without ``voided``)."""
    recorded = item.recorded_at
    expires = item.expires_at
    return {
        "id": item.id,
        "source": source,
        "source_id": item.source_id,
        "learner": item.learner,
        "competency": item.competency,
        "kind": str(item.kind),
        "score": item.score,
        "level": item.level,
        "success": item.success,
        "observed_at": to_micros(item.observed_at),
        "recorded_at": None if recorded is None else to_micros(recorded),
        "expires_at": None if expires is None else to_micros(expires),
        "voided": item.voided,
        "visibility": str(item.visibility),
        "source_system": item.source_system,
        "body": item.model_dump_json(exclude=_BODY_EXCLUDE, exclude_none=True),
        "changed_in": ingest_id,
    }


_STORED = (
    evidence.c.id,
    evidence.c.learner,
    evidence.c.competency,
    evidence.c.observed_at,
    evidence.c.recorded_at,
    evidence.c.voided,
    evidence.c.body,
)
"""What deciding between a stored copy and an incoming one needs."""
_COLUMNS = tuple(column.name for column in evidence.columns)
_NAMES = ", ".join(_COLUMNS)
_COPY_EVIDENCE = f"COPY evidence ({_NAMES}) FROM STDIN"
_INSERT_EVIDENCE = f"INSERT INTO evidence ({_NAMES}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608 - our own names


def _insert_new(connection: Connection, backend: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows of ids the ledger does not hold, straight through the driver (the hot
    path of an ingest): COPY on PostgreSQL, executemany on SQLite."""
    raw: Any = connection.connection.dbapi_connection
    values = ([row[name] for name in _COLUMNS] for row in rows)
    if backend == "postgresql":
        with raw.cursor() as cursor, cursor.copy(_COPY_EVIDENCE) as copy:
            write = copy.write_row
            for value in values:
                write(value)
        return
    cursor = raw.cursor()
    try:
        cursor.executemany(_INSERT_EVIDENCE, values)
    finally:
        cursor.close()


@dataclass(frozen=True, slots=True)
class IngestRecord:
    """One committed ingest: its source, the cursor before and after, what it did."""

    id: int
    source: str
    run_id: int | None
    started_at: datetime
    committed_at: datetime
    cursor_before: JsonValue
    cursor_after: JsonValue
    counts: dict[str, int]


class _Copy:
    """One incoming copy of an evidence id: its row, its rank and whether it is a void."""

    __slots__ = ("rank", "row")

    def __init__(self, row: dict[str, Any], rank: tuple[int, str]) -> None:
        self.row = row
        self.rank = rank

    def merge(self, other: _Copy) -> _Copy:
        """The copy the ledger keeps of the two (later recorded wins, a void sticks)."""
        keep = other if other.rank > self.rank else self
        if (self.row["voided"] or other.row["voided"]) and not keep.row["voided"]:
            keep = _Copy({**keep.row, "voided": True}, keep.rank)
        return keep


class IngestBatch:
    """Work staged in one ingest transaction (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        connection: Connection,
        *,
        source: str,
        ingest_id: int,
        cursor: JsonValue,
        tombstones_possible: bool,
    ) -> None:
        self.source = source
        self.ingest_id = ingest_id
        self.cursor: JsonValue = cursor
        """The cursor stored when the batch began (``None`` for a new or reset source)."""
        self.counts = IngestCounts()
        self._db = db
        self._connection = connection
        self._next_cursor: JsonValue = cursor
        self._pending: dict[str, _Copy] = {}
        self._withdrawn_records: set[str] = set()
        self._withdrawn_ids: set[str] = set()
        self._tombstones_possible = tombstones_possible
        backend = db.backend
        self._tombstone = insert_ignoring(backend, tombstones)
        self._touch = insert_ignoring(backend, pair_touches)
        self._replace = sql_update(evidence).where(evidence.c.id == bindparam("b_id"))
        self._void = (
            sql_update(evidence)
            .where(evidence.c.id == bindparam("b_id"))
            .values(voided=True, changed_in=ingest_id)
        )

    # -- staging -------------------------------------------------------------------------

    def add_evidence(self, items: Iterable[Evidence]) -> None:
        """Stage evidence; copies with ``voided=True`` withdraw their id."""
        pending = self._pending
        for item in items:
            copy = self._copy(item)
            known = pending.get(item.id)
            pending[item.id] = copy if known is None else known.merge(copy)
            if len(pending) >= CHUNK:
                self._flush()
                pending = self._pending

    def withdraw(self, record_ids: Iterable[str]) -> None:
        """Withdraw the evidence each source record produced (tombstone if not seen yet)."""
        self._withdraw(RECORD, record_ids, evidence.c.source_id, self._withdrawn_records)

    def withdraw_evidence(self, evidence_ids: Iterable[str]) -> None:
        """Withdraw evidence by id (tombstone for ids not seen yet)."""
        self._withdraw(EVIDENCE, evidence_ids, evidence.c.id, self._withdrawn_ids)

    def set_cursor(self, cursor: JsonValue | BaseModel) -> None:
        """The cursor to store with this batch's evidence when the batch commits."""
        self._next_cursor = (
            cursor.model_dump(mode="json") if isinstance(cursor, BaseModel) else cursor
        )

    # -- writing ---------------------------------------------------------------------------

    def _copy(self, item: Evidence) -> _Copy:
        row = evidence_row(item, source=self.source, ingest_id=self.ingest_id)
        recorded = row["recorded_at"]
        return _Copy(row, (row["observed_at"] if recorded is None else recorded, row["body"]))

    def _flush(self) -> None:
        if not self._pending:
            return
        copies, self._pending = self._pending, {}
        if self._tombstones_possible or self._withdrawn_records or self._withdrawn_ids:
            self._apply_tombstones(copies)
        backend = self._db.backend
        stored = self._connection.execute(
            select(*_STORED).where(among(backend, evidence.c.id, list(copies)))
        ).all()
        known = {row.id for row in stored}
        # Ingests hold the database's write lock (SQLite) or the ingest lock (PostgreSQL)
        # from start to commit, so no other writer can add one of these ids meanwhile.
        new = [copy.row for key, copy in copies.items() if key not in known]
        if new:
            _insert_new(self._connection, backend, new)
        counts = self.counts
        counts.added += len(new)
        counts.voided += sum(1 for row in new if row["voided"])
        if stored:
            self._merge_existing(copies, stored)

    def _apply_tombstones(self, copies: dict[str, _Copy]) -> None:
        """Void incoming copies a withdrawal is waiting for, and drop the tombstones hit."""
        records = {c.row["source_id"] for c in copies.values() if c.row["source_id"] is not None}
        hit_records = records & self._withdrawn_records
        hit_ids = copies.keys() & self._withdrawn_ids
        if self._tombstones_possible:
            found = self._connection.execute(
                select(tombstones.c.kind, tombstones.c.ref).where(
                    or_(
                        and_(tombstones.c.kind == EVIDENCE, tombstones.c.ref.in_(list(copies))),
                        and_(
                            tombstones.c.kind == RECORD,
                            tombstones.c.source == self.source,
                            tombstones.c.ref.in_(list(records)),
                        ),
                    )
                )
            ).all()
            stored_records = {row.ref for row in found if row.kind == RECORD}
            stored_ids = {row.ref for row in found if row.kind == EVIDENCE}
            if stored_records:
                self._connection.execute(
                    delete(tombstones).where(
                        tombstones.c.kind == RECORD,
                        tombstones.c.source == self.source,
                        tombstones.c.ref.in_(list(stored_records)),
                    )
                )
            if stored_ids:
                self._connection.execute(
                    delete(tombstones).where(
                        tombstones.c.kind == EVIDENCE, tombstones.c.ref.in_(list(stored_ids))
                    )
                )
            self._withdrawn_records |= stored_records  # more of the record may follow
            hit_records |= stored_records
            hit_ids |= stored_ids
        if not (hit_records or hit_ids):
            return
        for key, copy in copies.items():
            if key in hit_ids or copy.row["source_id"] in hit_records:
                copy.row["voided"] = True

    def _merge_existing(self, copies: dict[str, _Copy], stored: Sequence[Any]) -> None:
        """Incoming copies of ids the ledger holds: replace, void, or leave as they are."""
        connection = self._connection
        replace: list[dict[str, Any]] = []
        void: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        counts = self.counts
        for old in stored:
            copy = copies[old.id]
            row = copy.row
            old_rank = (old.observed_at if old.recorded_at is None else old.recorded_at, old.body)
            voided = bool(old.voided) or row["voided"]
            if copy.rank > old_rank:
                replace.append({**row, "b_id": row["id"], "voided": voided})
                counts.replaced += 1
                if (old.learner, old.competency) != (row["learner"], row["competency"]):
                    moved.append(
                        {
                            "ingest_id": self.ingest_id,
                            "learner": old.learner,
                            "competency": old.competency,
                        }
                    )
            elif voided and not old.voided:
                void.append({"b_id": old.id})
            else:
                counts.unchanged += 1
            if voided and not old.voided:
                counts.voided += 1
        if replace:
            for row in replace:
                del row["id"]
            connection.execute(self._replace, replace)
        if void:
            connection.execute(self._void, void)
        if moved:
            connection.execute(self._touch, moved)

    def _withdraw(self, kind: str, refs: Iterable[str], column: Any, withdrawn: set[str]) -> None:
        self._flush()  # evidence added earlier in the batch must be in the ledger first
        connection = self._connection
        wanted = set(refs)
        withdrawn |= wanted
        for chunk in chunks(sorted(wanted)):
            query = select(evidence.c.id, column.label("ref"), evidence.c.voided).where(
                column.in_(chunk)
            )
            if kind == RECORD:
                query = query.where(evidence.c.source == self.source)
            found = connection.execute(query).all()
            live = [{"b_id": row.id} for row in found if not row.voided]
            if live:
                connection.execute(self._void, live)
                self.counts.voided += len(live)
            missing = set(chunk) - {row.ref for row in found}
            if missing:
                now = self._db.now()
                connection.execute(
                    self._tombstone,
                    [
                        {
                            "kind": kind,
                            "source": self.source,
                            "ref": ref,
                            "created_at": now,
                            "ingest_id": self.ingest_id,
                        }
                        for ref in sorted(missing)
                    ],
                )
                self.counts.tombstoned += len(missing)
                self._tombstones_possible = True

    def _commit(self, query_fingerprint: str) -> None:
        """Write what is still staged, the cursor and the ingest's record (the caller
        commits the transaction)."""
        self._flush()
        now = self._db.now()
        connection = self._connection
        cursor_text = None if self._next_cursor is None else dump_json(self._next_cursor)
        connection.execute(
            upsert(
                self._db.backend,
                source_cursors,
                ("source",),
                ("query_fingerprint", "cursor", "updated_at", "ingest_id"),
            ),
            {
                "source": self.source,
                "query_fingerprint": query_fingerprint,
                "cursor": cursor_text,
                "updated_at": now,
                "ingest_id": self.ingest_id,
            },
        )
        connection.execute(
            sql_update(ingests)
            .where(ingests.c.id == self.ingest_id)
            .values(
                committed_at=now, cursor_after=cursor_text, counts=dump_json(self.counts.as_dict())
            )
        )


def open_batch(
    db: Database,
    connection: Connection,
    *,
    source: str,
    query_fingerprint: str,
    reset: bool,
    run_id: int | None,
    retention: timedelta,
) -> IngestBatch:
    """Start an ingest in ``connection``'s transaction: lock, check the query, record it."""
    if not source:
        raise ValueError("an evidence source needs a name")
    if db.backend == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INGEST_LOCK})
    state = connection.execute(
        select(source_cursors).where(source_cursors.c.source == source)
    ).one_or_none()
    cursor: JsonValue = None
    if state is not None and reset:
        connection.execute(delete(source_cursors).where(source_cursors.c.source == source))
    elif state is not None:
        if state.query_fingerprint != query_fingerprint:
            raise StoreError(
                f"evidence source {source!r} was read with another query (fingerprint "
                f"{state.query_fingerprint[:12]}…, now {query_fingerprint[:12]}…): its cursor "
                "does not fit the new query. Reset the source to read it again from the "
                "start (store.ingest(..., reset=True))."
            )
        cursor = load_json(state.cursor)
    ingest_id = connection.execute(
        insert(ingests)
        .values(
            source=source,
            run_id=run_id,
            started_at=db.now(),
            cursor_before=None if cursor is None else dump_json(cursor),
        )
        .returning(ingests.c.id)
    ).scalar_one()
    compacted = compact_tombstones(connection, before=db.now() - retention)
    possible = connection.execute(
        select(
            exists().where(
                or_(
                    tombstones.c.kind == EVIDENCE,
                    and_(tombstones.c.kind == RECORD, tombstones.c.source == source),
                )
            )
        )
    ).scalar_one()
    batch = IngestBatch(
        db,
        connection,
        source=source,
        ingest_id=int(ingest_id),
        cursor=cursor,
        tombstones_possible=bool(possible),
    )
    batch.counts.compacted = compacted
    return batch


def commit_batch(batch: IngestBatch, query_fingerprint: str) -> None:
    batch._commit(query_fingerprint)


def compact_tombstones(connection: Connection, *, before: datetime) -> int:
    """Drop tombstones created before ``before``; returns how many."""
    done = connection.execute(delete(tombstones).where(tombstones.c.created_at < before))
    return int(done.rowcount)


def read_source_state(connection: Connection, source: str | None = None) -> list[SourceState]:
    query = select(source_cursors).order_by(source_cursors.c.source)
    if source is not None:
        query = query.where(source_cursors.c.source == source)
    return [
        SourceState(
            source=row.source,
            query_fingerprint=row.query_fingerprint,
            cursor=load_json(row.cursor),
            updated_at=row.updated_at,
            ingest_id=int(row.ingest_id),
        )
        for row in connection.execute(query)
    ]


def read_ingests(
    connection: Connection, *, source: str | None = None, limit: int = 20
) -> list[IngestRecord]:
    """The latest committed ingests (of ``source``), newest first."""
    query = select(ingests).order_by(ingests.c.id.desc()).limit(limit)
    if source is not None:
        query = query.where(ingests.c.source == source)
    return [
        IngestRecord(
            id=int(row.id),
            source=row.source,
            run_id=row.run_id,
            started_at=row.started_at,
            committed_at=row.committed_at,
            cursor_before=load_json(row.cursor_before),
            cursor_after=load_json(row.cursor_after),
            counts=cast(dict[str, int], load_json(row.counts)),
        )
        for row in connection.execute(query)
    ]
