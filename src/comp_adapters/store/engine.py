"""Database engines for the store: SQLite tuned for durability, PostgreSQL through psycopg 3.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns, so a
journal entry survives the process being killed right after. Transactions that write start
with ``BEGIN IMMEDIATE`` (the write lock is taken at once, so two writers queue instead of
failing half-way); read-only ones (``readonly=True``) with a plain ``BEGIN``.

Every database error leaving the store is a :class:`~comp_adapters.errors.StoreError` that
names the store by its redacted URL.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from comp_adapters.errors import StoreError
from comp_adapters.store.url import StoreUrl

BUSY_TIMEOUT_S = 60.0
"""How long a SQLite writer waits for another one to commit before giving up."""
READONLY = "comp_adapters_readonly"
"""Execution option marking a connection whose transactions only read."""
_MAX_DETAIL = 400


def create_store_engine(store_url: StoreUrl) -> Engine:
    """An engine for ``store_url``; SQLite's parent folder must exist (the caller makes it)."""
    if store_url.backend == "sqlite":
        engine = create_engine(store_url.url, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        store_url.url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": "comp-adapters"},
    )


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by _sqlite_begin, not by the sqlite3 module's implicit BEGIN
    # (which it skips before DDL and cannot make IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the database file to WAL mode (once per file; it stays so).

    The switch needs the file to itself, and SQLite does not always wait for that: when
    processes open a new store together, one may be told "database is locked", or keep the
    old mode (the pragma answers with the mode in force). Try again until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            problem: str = str(exc)
        else:
            if str(mode).lower() == "wal":
                return
            problem = f"the database stays in journal mode {mode!r}"
        if time.monotonic() >= deadline:
            raise sqlite3.OperationalError(f"cannot switch to WAL mode: {problem}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _sqlite_begin(connection: Connection) -> None:
    readonly = connection.get_execution_options().get(READONLY, False)
    connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def describe_error(exc: BaseException) -> str:
    """One line saying what the database said, without SQL text or bound parameters."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = re.sub(r"\s+", " ", str(inner)).strip()
    if isinstance(exc, SQLAlchemyError) and inner is exc:
        text = text.split(" [SQL:", 1)[0].split(" (Background on this error", 1)[0]
    return text[:_MAX_DETAIL] or type(inner).__name__


@contextmanager
def store_errors(store_url: StoreUrl, doing: str) -> Iterator[None]:
    """Turn database errors raised inside into a StoreError saying what was being done."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(
            f"store {store_url.redacted}: {doing} failed: {describe_error(exc)}"
        ) from exc


@dataclass(frozen=True, slots=True)
class Database:
    """An engine with what every part of the store needs: the URL to name it by, the clock.

    :meth:`write` and :meth:`read` hand out a connection inside one transaction (committed
    on a normal exit, rolled back on an error), with database errors made StoreErrors.
    """

    engine: Engine
    url: StoreUrl
    clock: Callable[[], datetime]

    @property
    def backend(self) -> str:
        return self.url.backend

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def write(self, doing: str) -> Iterator[Connection]:
        with store_errors(self.url, doing), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self, doing: str) -> Iterator[Connection]:
        with (
            store_errors(self.url, doing),
            self.engine.connect().execution_options(**{READONLY: True}) as connection,
            connection.begin(),
        ):
            yield connection
