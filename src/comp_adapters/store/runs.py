"""Runs: one row per sync run (who, when, how it ended, its summary), for status and audit."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import JsonValue
from sqlalchemy import Row, insert, select, update

from comp_adapters.errors import StoreError
from comp_adapters.store.engine import Database
from comp_adapters.store.schema import runs
from comp_adapters.store.sql import dump_json, load_json


class RunStatus(StrEnum):
    RUNNING = "running"
    """Started and not finished: still going, or its process died (see :attr:`RunRecord.owner`)."""
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    """Finished with some targets failed."""
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    kind: str
    status: RunStatus
    owner: str
    started_at: datetime
    finished_at: datetime | None
    summary: JsonValue
    error: str | None


def process_owner(label: str | None = None) -> str:
    """``host:pid`` of this process (and ``label``): who holds a run or a lease."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return f"{owner} ({label})" if label else owner


def begin_run(db: Database, *, kind: str, owner: str | None = None) -> int:
    with db.write("starting a run") as connection:
        row = connection.execute(
            insert(runs)
            .values(
                kind=kind,
                status=RunStatus.RUNNING.value,
                owner=owner or process_owner(),
                started_at=db.now(),
            )
            .returning(runs.c.id)
        ).one()
    return int(row.id)


def finish_run(
    db: Database,
    run_id: int,
    *,
    status: RunStatus,
    summary: JsonValue = None,
    error: str | None = None,
) -> None:
    if status is RunStatus.RUNNING:
        raise ValueError("a run finishes as succeeded, partial or failed")
    with db.write("finishing a run") as connection:
        done = connection.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status=status.value,
                finished_at=db.now(),
                summary=None if summary is None else dump_json(summary),
                error=error,
            )
        )
        if done.rowcount != 1:
            raise StoreError(f"store {db.url.redacted}: there is no run {run_id}")


def get_run(db: Database, run_id: int) -> RunRecord | None:
    with db.read("reading a run") as connection:
        row = connection.execute(select(runs).where(runs.c.id == run_id)).one_or_none()
    return None if row is None else _record(row)


def recent_runs(db: Database, *, limit: int = 20, kind: str | None = None) -> list[RunRecord]:
    """The latest runs, newest first."""
    query = select(runs).order_by(runs.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(runs.c.kind == kind)
    with db.read("listing runs") as connection:
        return [_record(row) for row in connection.execute(query)]


def _record(row: Row[tuple[object, ...]]) -> RunRecord:
    data = row._mapping
    return RunRecord(
        id=int(data["id"]),
        kind=str(data["kind"]),
        status=RunStatus(data["status"]),
        owner=str(data["owner"]),
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        summary=load_json(data["summary"]),
        error=data["error"],
    )
