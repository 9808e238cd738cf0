"""The persistent apply journal: every change applied, committed before ``record`` returns.

:class:`StoreJournal` implements :class:`comp_adapters.sync.journal.Journal`, so
``apply_plan(plan, execute, journal=store.journal())`` resumes in a new process where a
killed one stopped: each ``record`` is its own committed transaction (SQLite in WAL mode
with ``synchronous=FULL``, PostgreSQL with its default synchronous commit).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import delete, select

from comp_adapters.store.engine import Database
from comp_adapters.store.schema import journal
from comp_adapters.store.sql import dump_json, load_json, upsert
from comp_adapters.sync.journal import Result


class StoreJournal:
    """A :class:`~comp_adapters.sync.journal.Journal` kept in the store."""

    def __init__(self, db: Database, *, run_id: int | None = None) -> None:
        self._db = db
        self._run_id = run_id
        self._upsert = upsert(
            db.backend, journal, ("plan_fingerprint", "change_id"), ("result", "recorded_at")
        )

    def completed(self, plan_fingerprint: str) -> dict[str, Result]:
        query = select(journal.c.change_id, journal.c.result).where(
            journal.c.plan_fingerprint == plan_fingerprint
        )
        with self._db.read("reading the journal") as connection:
            rows = connection.execute(query).all()
        return {row.change_id: cast(Result, load_json(row.result)) for row in rows}

    def record(self, plan_fingerprint: str, change_id: str, result: Result) -> None:
        values = {
            "plan_fingerprint": plan_fingerprint,
            "change_id": change_id,
            "result": dump_json(dict(result)),
            "recorded_at": self._db.now(),
            "run_id": self._run_id,
        }
        with self._db.write("recording a change in the journal") as connection:
            connection.execute(self._upsert, values)

    def forget(self, plan_fingerprint: str) -> int:
        """Drop the entries of a plan that is fully applied and will not be resumed."""
        with self._db.write("pruning the journal") as connection:
            done = connection.execute(
                delete(journal).where(journal.c.plan_fingerprint == plan_fingerprint)
            )
        return int(done.rowcount)

    def __repr__(self) -> str:
        return f"StoreJournal({self._db.url.redacted!r})"
