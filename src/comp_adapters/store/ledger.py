"""Reading the evidence ledger back: streamed, as columns, and what changed since an ingest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, union

from comp_adapters.core.evidence import Evidence
from comp_adapters.rules.columnar import _NEVER as NO_EXPIRY
from comp_adapters.rules.columnar import KINDS, EvidenceTable
from comp_adapters.store.engine import Database
from comp_adapters.store.schema import evidence, ingests, pair_touches, tombstones
from comp_adapters.store.sql import chunks, pair_rows

STREAM_ROWS = 10_000
"""Rows fetched at a time when streaming (a server-side cursor on PostgreSQL)."""
_TABLE_COLUMNS = (
    evidence.c.id,
    evidence.c.learner,
    evidence.c.competency,
    evidence.c.kind,
    evidence.c.score,
    evidence.c.level,
    evidence.c.success,
    evidence.c.observed_at,
    evidence.c.recorded_at,
    evidence.c.expires_at,
)


def _filtered(
    query: Select[Any], learners: Iterable[str] | None, include_voided: bool
) -> Iterator[Select[Any]]:
    """``query`` for live (or all) evidence, once per chunk of ``learners`` when given."""
    if not include_voided:
        query = query.where(evidence.c.voided.is_(False))
    if learners is None:
        yield query
        return
    for chunk in chunks(sorted(set(learners))):
        yield query.where(evidence.c.learner.in_(chunk))


def _stream(db: Database, queries: Iterator[Select[Any]], doing: str) -> Iterator[Any]:
    with db.read(doing) as connection:
        streaming = connection.execution_options(yield_per=STREAM_ROWS)
        for query in queries:
            yield from streaming.execute(query)


def _all_rows(db: Database, queries: Iterator[Select[Any]], doing: str) -> list[Any]:
    """Every row of ``queries``, fetched a block at a time (``partitions``): for a table
    that is built whole anyway, a third of the cost of iterating row by row."""
    rows: list[Any] = []
    with db.read(doing) as connection:
        streaming = connection.execution_options(yield_per=STREAM_ROWS)
        for query in queries:
            for block in streaming.execute(query).partitions():
                rows.extend(block)
    return rows


def iter_evidence(
    db: Database, *, learners: Iterable[str] | None = None, include_voided: bool = False
) -> Iterator[Evidence]:
    """Evidence of the ledger (live only unless ``include_voided``), streamed.

    Each record is read back from its stored JSON, exactly as it was ingested (with
    ``voided`` set when it was withdrawn since).
    """
    base = select(evidence.c.body, evidence.c.voided)
    validate = Evidence.model_validate_json
    for row in _stream(db, _filtered(base, learners, include_voided), "reading evidence"):
        item = validate(row.body)
        yield item.model_copy(update={"voided": True}) if row.voided else item


def evidence_table(
    db: Database,
    *,
    learners: Iterable[str] | None = None,
    pairs: Iterable[tuple[str, str]] | None = None,
) -> EvidenceTable:
    """Live evidence as an :class:`~comp_adapters.rules.EvidenceTable` (needs NumPy).

    Built from the ledger's columns without parsing any JSON. ``pairs`` reads only the
    evidence of these (learner, competency) pairs (an incremental recompute).
    """
    base = select(*_TABLE_COLUMNS)
    if pairs is not None and learners is not None:
        raise ValueError("give learners or pairs, not both")
    if pairs is not None:
        with db.read("reading evidence columns") as connection:
            names = [column.name for column in _TABLE_COLUMNS]
            rows = pair_rows(connection, evidence, names, pairs, live_only=True)
    else:
        rows = _all_rows(db, _filtered(base, learners, False), "reading evidence columns")
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_TABLE_COLUMNS)
    ids, learner, competency, kind, score, level, success, observed, recorded, expires = columns
    learner_names, learner_codes = _encode(learner)
    competency_names, competency_codes = _encode(competency)
    level_names, level_codes = _encode(level)
    kind_code = {name: code for code, name in enumerate(KINDS)}
    return EvidenceTable.from_columns(
        ids=ids,
        learners=learner_names,
        learner=learner_codes,
        competencies=competency_names,
        competency=competency_codes,
        kind=[kind_code[name] for name in kind],
        score=[float("nan") if value is None else value for value in score],
        levels=level_names,
        level=level_codes,
        success=[-1 if value is None else int(value) for value in success],
        observed_at=observed,
        recorded_at=[o if r is None else r for o, r in zip(observed, recorded, strict=True)],
        expires_at=[NO_EXPIRY if value is None else value for value in expires],
    )


def _encode(values: Sequence[str | None]) -> tuple[list[str], list[int]]:
    """Dictionary encoding: the distinct values in order of appearance, and each value's
    code (-1 for ``None``)."""
    index: dict[str, int] = {}
    codes = [-1 if value is None else index.setdefault(value, len(index)) for value in values]
    return list(index), codes


def evidence_of_record(db: Database, source: str, record_id: str) -> list[str]:
    """The evidence ids a source record produced (voided or not), sorted."""
    query = (
        select(evidence.c.id)
        .where(evidence.c.source == source, evidence.c.source_id == record_id)
        .order_by(evidence.c.id)
    )
    with db.read("reading a record's evidence") as connection:
        return list(connection.execute(query).scalars())


def evidence_count(db: Database, *, include_voided: bool = False) -> int:
    query = select(func.count()).select_from(evidence)
    if not include_voided:
        query = query.where(evidence.c.voided.is_(False))
    with db.read("counting evidence") as connection:
        return int(connection.execute(query).scalar_one())


def touched_since(db: Database, ingest_id: int) -> set[tuple[str, str]]:
    """(learner, competency) pairs whose evidence changed in ingests after ``ingest_id``:
    added, replaced, voided, or moved away from the pair."""
    query = union(
        select(evidence.c.learner, evidence.c.competency).where(evidence.c.changed_in > ingest_id),
        select(pair_touches.c.learner, pair_touches.c.competency).where(
            pair_touches.c.ingest_id > ingest_id
        ),
    )
    with db.read("reading touched pairs") as connection:
        return {(row[0], row[1]) for row in connection.execute(query)}


def pairs_with_instants_between(db: Database, after: int, until: int) -> set[tuple[str, str]]:
    """(learner, competency) pairs with live evidence observed or expiring in the instants
    (``after``, ``until``] (microseconds): what moving ``as_of`` over that span may change."""
    query = (
        select(evidence.c.learner, evidence.c.competency)
        .where(evidence.c.voided.is_(False))
        .where(
            or_(
                and_(evidence.c.observed_at > after, evidence.c.observed_at <= until),
                and_(evidence.c.expires_at > after, evidence.c.expires_at <= until),
            )
        )
        .distinct()
    )
    with db.read("reading pairs whose evidence starts or expires") as connection:
        return {(row[0], row[1]) for row in connection.execute(query)}


def last_ingest_id(db: Database) -> int:
    """The id of the latest committed ingest (0 before the first)."""
    query = select(func.max(ingests.c.id)).where(ingests.c.committed_at.is_not(None))
    with db.read("reading the last ingest") as connection:
        return int(connection.execute(query).scalar_one() or 0)


def tombstone_count(db: Database, *, source: str | None = None) -> int:
    query = select(func.count()).select_from(tombstones)
    if source is not None:
        query = query.where(tombstones.c.source == source)
    with db.read("counting tombstones") as connection:
        return int(connection.execute(query).scalar_one())


_CHANGE_COLUMNS = (*_TABLE_COLUMNS, evidence.c.voided, evidence.c.changed_in)


def evidence_changes(db: Database, after: int) -> Iterator[Any]:
    """Every ledger row (voided ones too) last changed by an ingest after ``after``, with
    ``voided`` and ``changed_in``: what a copy of the ledger kept elsewhere (the Parquet
    dataset of ``[compute] engine = "dask"``) needs to catch up; streamed."""
    query = select(*_CHANGE_COLUMNS).where(evidence.c.changed_in > after)
    return _stream(db, iter([query]), "reading changed evidence")


def moved_since(db: Database, after: int) -> set[tuple[str, str]]:
    """The old (learner, competency) of evidence that ingests after ``after`` moved to
    another pair (``pair_touches``)."""
    query = (
        select(pair_touches.c.learner, pair_touches.c.competency)
        .where(pair_touches.c.ingest_id > after)
        .distinct()
    )
    with db.read("reading moved evidence") as connection:
        return {(row[0], row[1]) for row in connection.execute(query)}


def ingest_committed_at(db: Database, ingest_id: int) -> datetime | None:
    """When ingest ``ingest_id`` committed (``None``: no such committed ingest)."""
    query = select(ingests.c.committed_at).where(ingests.c.id == ingest_id)
    with db.read("reading an ingest") as connection:
        found = connection.execute(query).scalar_one_or_none()
    return found if isinstance(found, datetime) else None
