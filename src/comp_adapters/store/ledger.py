"""Reading the evidence ledger back: streamed, as columns, and what changed since an ingest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Select, func, select, union

from comp_adapters.core.evidence import Evidence
from comp_adapters.rules.columnar import _NEVER as NO_EXPIRY
from comp_adapters.rules.columnar import KINDS, EvidenceTable
from comp_adapters.store.engine import Database
from comp_adapters.store.schema import evidence, ingests, pair_touches, tombstones
from comp_adapters.store.sql import chunks

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


def evidence_table(db: Database, *, learners: Iterable[str] | None = None) -> EvidenceTable:
    """Live evidence as an :class:`~comp_adapters.rules.EvidenceTable` (needs NumPy).

    Built from the ledger's columns without parsing any JSON.
    """
    codes: dict[str, dict[str, int]] = {"learner": {}, "competency": {}, "level": {}}
    learner_code, competency_code, level_code = (
        codes["learner"],
        codes["competency"],
        codes["level"],
    )
    kind_code = {kind: code for code, kind in enumerate(KINDS)}
    ids: list[str] = []
    cols: dict[str, list[Any]] = {
        name: []
        for name in (
            "learner",
            "competency",
            "kind",
            "score",
            "level",
            "success",
            "observed_at",
            "recorded_at",
            "expires_at",
        )
    }
    learner, competency, kind, score = (
        cols["learner"],
        cols["competency"],
        cols["kind"],
        cols["score"],
    )
    level, success, observed, recorded, expires = (
        cols["level"],
        cols["success"],
        cols["observed_at"],
        cols["recorded_at"],
        cols["expires_at"],
    )
    nan = float("nan")
    base = select(*_TABLE_COLUMNS)
    for row in _stream(db, _filtered(base, learners, False), "reading evidence columns"):
        ids.append(row[0])
        learner.append(learner_code.setdefault(row[1], len(learner_code)))
        competency.append(competency_code.setdefault(row[2], len(competency_code)))
        kind.append(kind_code[row[3]])
        score.append(nan if row[4] is None else row[4])
        level.append(-1 if row[5] is None else level_code.setdefault(row[5], len(level_code)))
        success.append(-1 if row[6] is None else int(row[6]))
        observed.append(row[7])
        recorded.append(row[7] if row[8] is None else row[8])
        expires.append(NO_EXPIRY if row[9] is None else row[9])
    return EvidenceTable.from_columns(
        ids=ids,
        learners=list(learner_code),
        competencies=list(competency_code),
        levels=list(level_code),
        **cols,
    )


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
