"""Read-only queries of the proficiency API over the store's tables, for paging.

The store's own API gives a learner's results as of a time
(:meth:`~comp_adapters.store.Store.proficiency_as_of`). A server answering one learner at a
time in a store of 100,000 needs more: the current results of a few learners found through
``proficiency_current``'s key (framework, learner, competency) — ``latest_proficiency``
filters on the history's learner, and SQLite then walks every current row of the
framework — the next learners after a cursor, by the same key, and the visibility of the
evidence a page of results names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import RowMapping, select

from comp_adapters.core.evidence import Visibility
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.rules.columnar import to_micros
from comp_adapters.store import ProficiencyRecord, Store
from comp_adapters.store.schema import evidence, proficiency_current, proficiency_history
from comp_adapters.store.sql import chunks


def learners_after(
    store: Store,
    framework_key: str,
    *,
    after: str | None,
    limit: int,
    as_of: datetime | None = None,
) -> list[str]:
    """Up to ``limit`` learners with results for the framework (stored by ``as_of``, when
    given), in key order, after ``after``."""
    table = proficiency_current if as_of is None else proficiency_history
    query = select(table.c.learner).where(table.c.framework_key == framework_key)
    if as_of is not None:
        query = query.where(table.c.as_of <= to_micros(as_of))
    if after is not None:
        query = query.where(table.c.learner > after)
    query = query.group_by(table.c.learner).order_by(table.c.learner).limit(limit)
    with store._db.read("listing learners") as connection:
        return [row.learner for row in connection.execute(query)]


def current_records(
    store: Store, framework_key: str, learners: Sequence[str]
) -> list[ProficiencyRecord]:
    """The current results of ``learners``, found through ``proficiency_current``'s key
    (framework, learner, ...) so a page costs what it holds, whatever the store's size."""
    history, current = proficiency_history, proficiency_current
    found: list[ProficiencyRecord] = []
    with store._db.read("reading current proficiency") as connection:
        for chunk in chunks(sorted(set(learners))):
            query = (
                select(history)
                .join(current, current.c.history_id == history.c.id)
                .where(current.c.framework_key == framework_key, current.c.learner.in_(chunk))
                .order_by(current.c.learner, current.c.competency)
            )
            found.extend(_record(row._mapping) for row in connection.execute(query))
    return found


def _record(data: RowMapping) -> ProficiencyRecord:
    return ProficiencyRecord(
        result=Proficiency.model_validate_json(data["body"]),
        framework_key=data["framework_key"],
        framework_version=data["framework_version"],
        recorded_at=data["recorded_at"],
        run_id=data["run_id"],
        history_id=int(data["id"]),
    )


def evidence_visibility(store: Store, ids: Iterable[str]) -> dict[str, Visibility]:
    """The visibility of each live (not voided) evidence id found in the ledger."""
    wanted = sorted(set(ids))
    found: dict[str, Visibility] = {}
    if not wanted:
        return found
    with store._db.read("reading evidence visibility") as connection:
        for chunk in chunks(wanted):
            query = select(evidence.c.id, evidence.c.visibility).where(
                evidence.c.id.in_(chunk), evidence.c.voided.is_(False)
            )
            for row in connection.execute(query):
                found[row.id] = Visibility(row.visibility)
    return found
