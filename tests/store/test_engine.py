"""SQLite connections: WAL mode even when another process holds the file for a moment."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from comp_adapters.store import engine


class _Cursor:
    """Answers ``PRAGMA journal_mode=WAL`` with the scripted outcomes, in turn."""

    def __init__(self, *outcomes: str | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def execute(self, _sql: str) -> _Cursor:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        self.answer = outcome
        return self

    def fetchone(self) -> tuple[Any, ...]:
        return (self.answer,)


def test_a_locked_file_is_tried_again_until_wal_is_on() -> None:
    locked = sqlite3.OperationalError("database is locked")
    cursor = _Cursor(locked, "delete", locked, "wal")
    engine._use_wal(cursor)
    assert cursor.calls == 4


def test_other_errors_and_a_lasting_lock_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        engine._use_wal(_Cursor(sqlite3.OperationalError("disk I/O error")))
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_S", 0.0)
    with pytest.raises(sqlite3.OperationalError, match=r"cannot switch to WAL mode: .*locked"):
        engine._use_wal(_Cursor(sqlite3.OperationalError("database is locked")))
