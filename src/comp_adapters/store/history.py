"""Proficiency history: each computed result kept when it changes, the latest per pair, and
what was known as of any time.

A result "changes" when its level, score, proficient flag, evidence used or framework
version differ from the result in force for its (framework, learner, competency) at its
``as_of``; the explanation and ``as_of`` alone do not count. :func:`record_results` returns
the changed results, the ones worth writing to targets: an unchanged result is not written
again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select

from comp_adapters.core.proficiency import Proficiency
from comp_adapters.rules.columnar import to_micros
from comp_adapters.store.engine import Database
from comp_adapters.store.schema import proficiency_current, proficiency_history
from comp_adapters.store.sql import CHUNK, chunks, dump_json, pair_rows, upsert

_FEW = 10_000
"""Below this many results, current rows are looked up by pair, not all read."""
_SHARE = 4
"""From :data:`_FEW` results on, every current row is read when the results are at least
a 1/_SHARE of them (a full recompute); else they are looked up by pair (an incremental one)."""

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ProficiencyRecord:
    """One stored result, with the framework it was computed for and when it was stored."""

    result: Proficiency
    framework_key: str
    framework_version: str | None
    recorded_at: datetime
    run_id: int | None
    history_id: int


@dataclass(slots=True)
class HistoryUpdate:
    """What :func:`record_results` did: the results that changed (and were stored)."""

    changed: list[Proficiency] = field(default_factory=list)
    unchanged: int = 0
    cleared: int = 0
    """Pairs that had a current result and were given none: ``clear`` made one for each."""


Clear = Callable[[str, str], Proficiency | None]
"""Makes the result of a (learner, competency) pair that had one and is given none
(``None``: leave the pair as it is)."""


def result_digest(result: Proficiency, framework_version: str | None) -> str:
    """What decides whether a result differs from an earlier one, hashed."""
    decided = [
        result.level,
        result.score,
        result.proficient,
        list(result.evidence_ids),
        framework_version,
    ]
    return hashlib.sha256(dump_json(decided).encode()).hexdigest()


def record_results(
    db: Database,
    results: Iterable[Proficiency],
    *,
    framework_key: str,
    framework_version: str | None = None,
    run_id: int | None = None,
    clear: Clear | None = None,
    scope: Collection[Pair] | None = None,
) -> HistoryUpdate:
    """Store each result that differs from the one in force at its ``as_of``.

    With ``clear``, the results given are every result of ``scope`` (of every pair when
    ``scope`` is ``None``): a pair of the scope that has a current result and is given none
    gets the result ``clear`` makes for it (a recompute whose evidence all went away). The
    current rows are read once, in the same transaction as the writes.
    """
    latest: dict[Pair, Proficiency] = {}
    for result in results:
        latest[(result.learner, result.competency)] = result  # one per pair: the last given
    update = HistoryUpdate()
    with db.write("recording proficiency") as connection:
        wanted: Collection[Pair] | None = latest
        if clear is not None:
            wanted = None if scope is None else set(latest).union(scope)
        current = _current(connection, framework_key, wanted)
        if clear is not None:
            for pair in sorted(pair for pair in current if pair not in latest):
                made = clear(*pair)
                if made is not None:
                    latest[pair] = made
                    update.cleared += 1
        backfills: list[tuple[Proficiency, str]] = []
        changed: list[tuple[Proficiency, str]] = []
        for pair, result in latest.items():
            digest = result_digest(result, framework_version)
            known = current.get(pair)
            if known is not None and to_micros(result.as_of) < known[0]:
                backfills.append((result, digest))
            elif known is not None and known[1] == digest:
                update.unchanged += 1
            else:
                changed.append((result, digest))
        for result, digest in backfills:
            if _digest_in_force(connection, framework_key, result) == digest:
                update.unchanged += 1
            else:
                _insert(
                    db, connection, [(result, digest)], framework_key, framework_version, run_id
                )
                update.changed.append(result)
        ids = _insert(db, connection, changed, framework_key, framework_version, run_id)
        upsert_current = upsert(
            db.backend,
            proficiency_current,
            ("framework_key", "learner", "competency"),
            ("history_id", "as_of", "digest"),
        )
        rows = [
            {
                "framework_key": framework_key,
                "learner": result.learner,
                "competency": result.competency,
                "history_id": history_id,
                "as_of": to_micros(result.as_of),
                "digest": digest,
            }
            for (result, digest), history_id in zip(changed, ids, strict=True)
        ]
        for chunk in chunks(rows):
            connection.execute(upsert_current, chunk)
        update.changed.extend(result for result, _ in changed)
    return update


def current_pairs(
    db: Database, framework_key: str, pairs: Collection[Pair] | None = None
) -> set[Pair]:
    """The pairs (all, or of ``pairs``) that have a current result of ``framework_key``."""
    with db.read("reading which pairs have a result") as connection:
        if pairs is None:
            table = proficiency_current
            query = select(table.c.learner, table.c.competency).where(
                table.c.framework_key == framework_key
            )
            return {(row[0], row[1]) for row in connection.execute(query)}
        return set(_current(connection, framework_key, pairs))


def _current(
    connection: Connection, framework_key: str, results: Collection[Pair] | None
) -> dict[Pair, tuple[int, str]]:
    """(as_of, digest) of the current row of each pair (all pairs when ``None``, or just
    these).

    Pairs are looked up by the (framework, learner, competency) key, per competency the
    learners asking for it, unless the results are many and a good share of all rows.
    Rows are fetched a query at a time (``all()``, :func:`~.sql.pair_rows`): row by row
    costs twice as much.
    """
    table = proficiency_current
    read_all = results is None
    if results is not None and len(results) >= _FEW:
        count = select(func.count()).where(table.c.framework_key == framework_key)
        read_all = len(results) * _SHARE >= int(connection.execute(count).scalar_one())
    columns = ("learner", "competency", "as_of", "digest")
    if read_all:
        query = select(*(table.c[name] for name in columns)).where(
            table.c.framework_key == framework_key
        )
        rows = connection.execute(query).all()
    else:
        assert results is not None  # noqa: S101 - read_all when there are none
        key = (("framework_key", framework_key),)
        rows = pair_rows(connection, table, columns, results, equal=key)
    return {
        (learner, competency): (int(as_of), digest) for learner, competency, as_of, digest in rows
    }


def _digest_in_force(connection: Connection, framework_key: str, result: Proficiency) -> str:
    """The digest of the row in force at ``result.as_of`` ("" when there is none)."""
    table = proficiency_history
    row = connection.execute(
        select(table.c.body, table.c.framework_version)
        .where(
            table.c.framework_key == framework_key,
            table.c.learner == result.learner,
            table.c.competency == result.competency,
            table.c.as_of <= to_micros(result.as_of),
        )
        .order_by(table.c.as_of.desc(), table.c.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return ""
    return result_digest(Proficiency.model_validate_json(row.body), row.framework_version)


def _insert(
    db: Database,
    connection: Connection,
    results: list[tuple[Proficiency, str]],
    framework_key: str,
    framework_version: str | None,
    run_id: int | None,
) -> list[int]:
    """Insert history rows; their ids, in the order given."""
    now = db.now()
    statement = proficiency_history.insert().returning(
        proficiency_history.c.id, sort_by_parameter_order=True
    )
    ids: list[int] = []
    for chunk in chunks(results, CHUNK):
        rows = [
            {
                "framework_key": framework_key,
                "framework_version": framework_version,
                "learner": result.learner,
                "competency": result.competency,
                "level": result.level,
                "score": result.score,
                "proficient": result.proficient,
                "as_of": to_micros(result.as_of),
                "evidence_ids": dump_json(list(result.evidence_ids)),
                "body": result.model_dump_json(),
                "recorded_at": now,
                "run_id": run_id,
            }
            for result, _ in chunk
        ]
        ids.extend(int(row.id) for row in connection.execute(statement, rows))
    return ids


def latest_results(
    db: Database, framework_key: str, *, learners: Iterable[str] | None = None
) -> Iterator[ProficiencyRecord]:
    """The current result of each pair of the framework (of ``learners`` when given)."""
    history, current = proficiency_history, proficiency_current
    query = (
        select(history)
        .join(current, current.c.history_id == history.c.id)
        .where(current.c.framework_key == framework_key)
        .order_by(history.c.learner, history.c.competency)
    )
    queries = [query]
    if learners is not None:
        # Filter on proficiency_current's own key (framework, learner, ...): the index finds
        # the learners' rows; a filter on the history's learner column walks every current
        # row of the framework first.
        queries = [query.where(current.c.learner.in_(c)) for c in chunks(sorted(set(learners)))]
    with db.read("reading current proficiency") as connection:
        for each in queries:
            yield from (_record(row) for row in connection.execute(each))


def results_as_of(
    db: Database,
    framework_key: str,
    at: datetime,
    *,
    learner: str | None = None,
    competency: str | None = None,
) -> list[ProficiencyRecord]:
    """Per pair, the result in force at ``at``: the latest stored with ``as_of <= at``."""
    history = proficiency_history
    rank = (
        func.row_number()
        .over(
            partition_by=(history.c.learner, history.c.competency),
            order_by=(history.c.as_of.desc(), history.c.id.desc()),
        )
        .label("rank")
    )
    inner = select(history, rank).where(
        history.c.framework_key == framework_key, history.c.as_of <= to_micros(at)
    )
    if learner is not None:
        inner = inner.where(history.c.learner == learner)
    if competency is not None:
        inner = inner.where(history.c.competency == competency)
    ranked = inner.subquery()
    query = (
        select(*(ranked.c[c.name] for c in history.columns))
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.learner, ranked.c.competency)
    )
    with db.read("reading proficiency as of a time") as connection:
        return [_record(row) for row in connection.execute(query)]


def pair_history(
    db: Database, framework_key: str, learner: str, competency: str
) -> list[ProficiencyRecord]:
    """Every stored result of one pair, oldest first (e.g. for time-to-competence)."""
    history = proficiency_history
    query = (
        select(history)
        .where(
            history.c.framework_key == framework_key,
            history.c.learner == learner,
            history.c.competency == competency,
        )
        .order_by(history.c.as_of, history.c.id)
    )
    with db.read("reading proficiency history") as connection:
        return [_record(row) for row in connection.execute(query)]


def _record(row: Row[Any]) -> ProficiencyRecord:
    data = row._mapping
    return ProficiencyRecord(
        result=Proficiency.model_validate_json(data["body"]),
        framework_key=data["framework_key"],
        framework_version=data["framework_version"],
        recorded_at=data["recorded_at"],
        run_id=data["run_id"],
        history_id=int(data["id"]),
    )


def last_recording_run(db: Database, framework_key: str) -> int:
    """The run that recorded the latest result of ``framework_key`` (0: none).

    Read from the newest history row, not as a ``max(run_id)``, which would scan the whole
    history: first the newest row of all (the primary key's last entry), which is the
    framework's in a store of one framework; else the framework's newest, through its
    index.
    """
    table = proficiency_history
    newest = select(table.c.framework_key, table.c.run_id).order_by(table.c.id.desc()).limit(1)
    query = (
        select(table.c.run_id)
        .where(table.c.framework_key == framework_key)
        .order_by(table.c.id.desc())
        .limit(1)
    )
    with db.read("reading the last run that recorded results") as connection:
        row = connection.execute(newest).first()
        if row is None:
            return 0
        if row.framework_key == framework_key:
            return int(row.run_id or 0)
        return int(connection.execute(query).scalar() or 0)
