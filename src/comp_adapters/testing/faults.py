"""Fault injection: make a client "crash" at its k-th HTTP request, or an apply at its
k-th journaled change."""

from __future__ import annotations

from typing import Any

import requests

from comp_adapters.sync.journal import Journal, MemoryJournal, Result


class SimulatedCrash(BaseException):
    """The process died here. A ``BaseException`` so no ``except Exception`` swallows it."""


class CrashingSession(requests.Session):
    """A session that crashes at request number ``crash_at`` (1-based).

    With ``after_send=True`` (the default) the request reaches the server and is processed,
    and the crash happens before the client sees the answer: the nastiest case, where a
    careless client creates duplicates on the re-run. With ``after_send=False`` the request
    never leaves. ``crash_at=None`` never crashes and only counts.
    """

    def __init__(self, crash_at: int | None = None, *, after_send: bool = True) -> None:
        super().__init__()
        self.crash_at = crash_at
        self.after_send = after_send
        self.count = 0

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.count += 1
        crash_now = self.crash_at is not None and self.count == self.crash_at
        if crash_now and not self.after_send:
            raise SimulatedCrash(f"crash before request {self.count}: {method!r} {url!r}")
        response = super().request(method, url, *args, **kwargs)
        if crash_now:
            raise SimulatedCrash(f"crash after request {self.count}: {method!r} {url!r}")
        return response


class CrashingJournal:
    """A journal that "crashes" when change number ``crash_at`` (1-based) is recorded.

    The seam that makes crash tests work for every adapter, HTTP or not: the one apply
    engine records a change only after the target confirmed it, so with
    ``after_record=False`` (the default) the crash falls after the write and before the
    journal knows it, the case where a careless re-run writes twice; with
    ``after_record=True`` it falls after the record (the write is done and remembered).
    ``crash_at=None`` never crashes and only counts. Records go to ``inner`` (a fresh
    :class:`~comp_adapters.sync.journal.MemoryJournal` by default), so a re-run may resume
    from it as it would from the store.
    """

    def __init__(
        self,
        crash_at: int | None = None,
        *,
        after_record: bool = False,
        inner: Journal | None = None,
    ) -> None:
        self.crash_at = crash_at
        self.after_record = after_record
        self.inner: Journal = inner if inner is not None else MemoryJournal()
        self.count = 0

    def completed(self, plan_fingerprint: str) -> dict[str, Result]:
        return self.inner.completed(plan_fingerprint)

    def record(self, plan_fingerprint: str, change_id: str, result: Result) -> None:
        self.count += 1
        crash_now = self.crash_at is not None and self.count == self.crash_at
        if crash_now and not self.after_record:
            raise SimulatedCrash(f"crash after change {self.count} ({change_id}) was written")
        self.inner.record(plan_fingerprint, change_id, result)
        if crash_now:
            raise SimulatedCrash(f"crash after change {self.count} ({change_id}) was journaled")

    def __repr__(self) -> str:
        return f"CrashingJournal(crash_at={self.crash_at}, count={self.count})"
