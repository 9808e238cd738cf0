"""Leases: one worker at a time per target, across processes and machines.

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) held on a connection kept
open for the lease; the server drops it when that session ends, also when the process is
killed. SQLite: an exclusive ``flock`` on a lock file beside the database, dropped by the
kernel when the process ends. Neither needs an expiry, so a crashed worker never blocks a
target and a slow one never loses its lease to a guess about its health.

The ``leases`` table records who holds (or last held) each lease, for the "target busy"
message and for status; the lock, not the row, decides.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.exc import SQLAlchemyError

from comp_adapters.core.timeutil import format_utc
from comp_adapters.errors import StoreError, TargetBusyError
from comp_adapters.store.engine import Database, store_errors
from comp_adapters.store.locks import lease_key
from comp_adapters.store.schema import leases
from comp_adapters.store.sql import upsert

_FIRST_DELAY_S, _MAX_DELAY_S = 0.02, 0.5
_ADVISORY_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = :high AND objid = :low AND objsubid = 1)"
)


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Who holds (or last held) a target's lease, and since when."""

    target: str
    owner: str
    acquired_at: datetime


class _Lock(Protocol):
    def try_acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class Lease:
    """A held lease; :meth:`held` checks that it still is (a PostgreSQL session can drop)."""

    def __init__(self, info: LeaseInfo, lock: _Lock) -> None:
        self.info = info
        self._lock = lock

    @property
    def target(self) -> str:
        return self.info.target

    def held(self) -> bool:
        return self._lock.held()

    def __repr__(self) -> str:
        return f"Lease({self.info.target!r}, owner={self.info.owner!r})"


class _FileLock:
    """An exclusive, non-blocking lock on a file (flock on POSIX, msvcrt on Windows)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = path.open("a+b")

    def try_acquire(self) -> bool:
        assert self._file is not None  # noqa: S101 - used once, before release
        try:
            _lock_file(self._file)
        except OSError:
            return False
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            try:
                _unlock_file(self._file)
            finally:
                self._file.close()
                self._file = None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_file(file: IO[bytes]) -> None:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(file: IO[bytes]) -> None:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(file: IO[bytes]) -> None:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(file: IO[bytes]) -> None:
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)


class _AdvisoryLock:
    """A PostgreSQL session advisory lock on a connection of its own."""

    def __init__(self, db: Database, target: str) -> None:
        self._key = lease_key(target)
        self._db = db
        self._connection: Connection | None = db.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        )

    def try_acquire(self) -> bool:
        assert self._connection is not None  # noqa: S101 - used once, before release
        got = self._connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
        ).scalar_one()
        return bool(got)

    def held(self) -> bool:
        if self._connection is None:
            return False
        key = self._key & 0xFFFFFFFFFFFFFFFF
        try:
            with store_errors(self._db.url, "checking a lease"):
                return bool(
                    self._connection.execute(
                        _ADVISORY_HELD, {"high": key >> 32, "low": key & 0xFFFFFFFF}
                    ).scalar_one()
                )
        except Exception:  # noqa: BLE001 - a broken session holds no lock
            return False

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            with suppress(SQLAlchemyError):  # a broken session holds no lock any more
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        finally:
            connection.close()  # ending the session drops the lock in any case


def _lock_for(db: Database, target: str) -> _Lock:
    if db.backend == "postgresql":
        return _AdvisoryLock(db, target)
    assert db.url.path is not None  # noqa: S101 - SQLite stores always have a file
    name = hashlib.sha256(target.encode()).hexdigest()[:32] + ".lock"
    return _FileLock(db.url.path.with_name(db.url.path.name + ".leases") / name)


def lease_holder(db: Database, target: str) -> LeaseInfo | None:
    """Who holds or last held ``target``'s lease (the row may outlive a crashed holder)."""
    with db.read("reading a lease") as connection:
        row = connection.execute(select(leases).where(leases.c.target == target)).one_or_none()
    return None if row is None else LeaseInfo(row.target, row.owner, row.acquired_at)


@contextmanager
def hold_lease(
    db: Database, target: str, *, owner: str, wait: bool, timeout: float | None
) -> Iterator[Lease]:
    """Hold ``target``'s lease for the block; :class:`TargetBusyError` when another has it."""
    doing = f"taking the lease on target {target!r}"
    try:
        with store_errors(db.url, doing):
            lock = _lock_for(db, target)
    except OSError as exc:
        raise StoreError(f"store {db.url.redacted}: {doing} failed: {exc}") from exc
    try:
        with store_errors(db.url, doing):
            _acquire(db, lock, target, wait=wait, timeout=timeout)
            info = LeaseInfo(target, owner, db.now())
            with db.write("recording a lease") as connection:
                connection.execute(
                    upsert(db.backend, leases, ("target",), ("owner", "acquired_at")),
                    {"target": target, "owner": owner, "acquired_at": info.acquired_at},
                )
        try:
            yield Lease(info, lock)
        finally:
            # The row only informs; losing it (store unreachable now) must not hide why the
            # block ended, and the lock below is released regardless.
            with suppress(StoreError), db.write("releasing a lease") as connection:
                connection.execute(
                    delete(leases).where(leases.c.target == target, leases.c.owner == owner)
                )
    finally:
        lock.release()


def _acquire(db: Database, lock: _Lock, target: str, *, wait: bool, timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = _FIRST_DELAY_S
    while not lock.try_acquire():
        left = None if deadline is None else deadline - time.monotonic()
        if not wait or (left is not None and left <= 0):
            holder = lease_holder(db, target)
            who = (
                f"held by {holder.owner} since {format_utc(holder.acquired_at)}"
                if holder is not None
                else "held by another worker"
            )
            waited = f" (waited {timeout:g} s)" if wait and timeout is not None else ""
            raise TargetBusyError(
                f"target {target!r} busy: {who}{waited}",
                target=target,
                holder=None if holder is None else holder.owner,
            )
        time.sleep(delay if left is None else max(0.0, min(delay, left)))
        delay = min(delay * 2, _MAX_DELAY_S)
