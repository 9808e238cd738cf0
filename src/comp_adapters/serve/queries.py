"""Read-only queries of the proficiency API over the store's tables, for paging.

The store's own API gives the current results of some learners
(:meth:`~comp_adapters.store.Store.latest_proficiency`) and a learner's results as of a
time (:meth:`~comp_adapters.store.Store.proficiency_as_of`); paging through 100,000
learners needs the next learners after a cursor, found by the index on
``proficiency_current``'s key (framework, learner, competency), and the visibility of the
evidence a page of results names.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from comp_adapters.core.evidence import Visibility
from comp_adapters.rules.columnar import to_micros
from comp_adapters.store import Store
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
