"""Apply journals: what has been done of which plan, so a resumed apply never repeats it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from pydantic import JsonValue

Result = Mapping[str, JsonValue]
"""What applying one change produced (e.g. the remote id of a created object)."""


@runtime_checkable
class Journal(Protocol):
    """Records completed changes per plan fingerprint.

    ``record`` is called only after the remote confirmed the change, so a journal never
    claims more than was done. A persistent implementation must make ``record`` durable
    before returning.
    """

    def completed(self, plan_fingerprint: str) -> dict[str, Result]:
        """Change id -> result for every change of this plan recorded so far."""
        ...

    def record(self, plan_fingerprint: str, change_id: str, result: Result) -> None:
        """Remember that ``change_id`` of this plan is done, with its result."""
        ...


class MemoryJournal:
    """A journal held in memory: resumes within one process (tests, one-shot jobs)."""

    def __init__(self) -> None:
        self._done: dict[str, dict[str, Result]] = {}

    def completed(self, plan_fingerprint: str) -> dict[str, Result]:
        return dict(self._done.get(plan_fingerprint, {}))

    def record(self, plan_fingerprint: str, change_id: str, result: Result) -> None:
        self._done.setdefault(plan_fingerprint, {})[change_id] = dict(result)

    def __repr__(self) -> str:
        return f"MemoryJournal({sum(len(v) for v in self._done.values())} changes)"
