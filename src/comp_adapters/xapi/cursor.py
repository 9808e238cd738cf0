"""The cursor of an incremental xAPI read: where it stands, what it belongs to, and the
overlap window it skips.

A cursor (:class:`~comp_adapters.protocols.Cursor`, ``field = "stored"``) holds

- ``position``: the newest ``stored`` read, exactly as precise as the LRS gave it
  (:class:`~comp_adapters.xapi.instant.Instant` text);
- ``seen_ids``: the statements read shortly before it, which the next read (starting a
  little earlier) skips;
- ``extra.voided``: tombstones, the ids of voided statements;
- ``extra.query`` and ``extra.query_fingerprint``: the query it belongs to (endpoint,
  xAPI version, filters). A cursor made for ``--agent alice`` knows nothing about bob's
  statements; resuming another query from it would skip them silently, so it is refused.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Final

from pydantic import JsonValue

from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.protocols import Cursor
from comp_adapters.xapi.instant import Instant

NAME: Final = "xapi"
CURSOR_FIELD: Final = "stored"
TIE_GUARD: Final = timedelta(milliseconds=1)
"""A read starts this much earlier than ``position - overlap``, so statements stored at
exactly the cursor's instant (``since`` is exclusive) are never lost when a read stopped
between two of them; the window's ids skip the ones already read."""


def validate_cursor(cursor: Cursor, *, source: str | None = None) -> None:
    """Refuse a cursor this adapter cannot resume from, naming ``source`` and the field."""
    problems: list[Problem] = []
    if cursor.adapter != NAME or cursor.field != CURSOR_FIELD:
        problems.append(
            Problem(
                f"not an xAPI cursor (adapter {cursor.adapter!r}, field {cursor.field!r})",
                file=source,
                field="adapter",
            )
        )
    if cursor.position is not None and Instant.parse(cursor.position) is None:
        problems.append(
            Problem(
                f"not an ISO 8601 timestamp: {cursor.position[:60]!r}",
                file=source,
                field="position",
            )
        )
    voided = cursor.extra.get("voided", [])
    if not isinstance(voided, list) or not all(isinstance(v, str) for v in voided):
        problems.append(
            Problem("must be a list of statement ids", file=source, field="extra.voided")
        )
    query = cursor.extra.get("query")
    if query is not None and not isinstance(query, dict):
        problems.append(Problem("must be an object", file=source, field="extra.query"))
    fingerprint = cursor.extra.get("query_fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        problems.append(Problem("must be a string", file=source, field="extra.query_fingerprint"))
    if problems:
        raise ValidationError(problems)


def position_of(cursor: Cursor | None) -> Instant | None:
    """The cursor's position (validate the cursor first: garbage is an error there)."""
    if cursor is None or cursor.position is None:
        return None
    return Instant.parse(cursor.position)


def tombstones_of(cursor: Cursor | None) -> set[str]:
    """The voided statement ids the cursor carries."""
    if cursor is None:
        return set()
    voided = cursor.extra.get("voided", [])
    return {str(item) for item in voided} if isinstance(voided, list) else set()


def fingerprint_of(query: Mapping[str, JsonValue]) -> str:
    """SHA-256 of a query record's canonical JSON."""
    text = json.dumps(query, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def describe(query: Mapping[str, Any]) -> str:
    """A query record in one line, for messages."""
    filters = query.get("filters")
    shown = (
        ", ".join(f"{k}={v}" for k, v in sorted(filters.items()))
        if isinstance(filters, dict) and filters
        else "no filters"
    )
    return f"endpoint {query.get('endpoint')}, xAPI {query.get('version')}, {shown}"


def check_query(cursor: Cursor, query: Mapping[str, JsonValue], *, source: str | None) -> bool:
    """Whether ``cursor`` belongs to ``query``; :class:`ConfigurationError` when it belongs
    to another one. ``False``: the cursor records no query (made before cursors did) and
    has a position, so it cannot be checked."""
    recorded = cursor.extra.get("query_fingerprint")
    if recorded is None:
        return cursor.position is None and not cursor.seen_ids
    if recorded == fingerprint_of(query):
        return True
    made_for = cursor.extra.get("query")
    where = f"{source}: " if source else ""
    raise ConfigurationError(
        f"xapi: {where}the cursor belongs to another query "
        f"({describe(made_for) if isinstance(made_for, dict) else 'not recorded'}); this read "
        f"is {describe(query)}. Resuming from it would skip every statement the other query "
        "did not read. Keep one cursor file per query, or start this query without a cursor."
    )


class OverlapWindow:
    """Statement ids read within ``overlap`` (plus :data:`TIE_GUARD`) of the newest
    ``stored``: what the next read, which starts that much earlier, must skip. Seeded with
    the previous cursor's ids."""

    def __init__(self, overlap: timedelta) -> None:
        self.span = overlap + TIE_GUARD
        self.position: Instant | None = None
        self._recent: deque[tuple[Instant, str]] = deque()
        self._ids: set[str] = set()
        self._seed_ids: frozenset[str] = frozenset()
        self._seed_position: Instant | None = None

    def seed(self, position: Instant, ids: Iterable[str]) -> None:
        self.position = self._seed_position = position
        self._seed_ids = frozenset(ids)

    def since(self) -> Instant | None:
        """Where the next query starts (``None``: from the beginning)."""
        return self.position - self.span if self.position is not None else None

    def is_duplicate(self, stored: Instant, sid: Any) -> bool:
        """Whether ``sid`` was read already (this run, or by the read that made the cursor)."""
        if sid in self._ids:
            return True
        if sid in self._seed_ids:
            self.add(stored, sid)  # now with its time, so it leaves the window in time
            return True
        return False

    def add(self, stored: Instant, sid: Any) -> None:
        if type(sid) is not str:
            return
        if self.position is None or stored > self.position:
            self.position = stored
        self._recent.append((stored, sid))
        self._ids.add(sid)
        floor = self.position - self.span
        while self._recent and self._recent[0][0] <= floor:
            _, old = self._recent.popleft()
            self._ids.discard(old)

    def ids(self) -> tuple[str, ...]:
        """Ids stored within the span before the position (seeded ones while they may be)."""
        if self.position is None:
            return ()
        floor = self.position - self.span
        keep = {sid for stored, sid in self._recent if stored > floor}
        if self._seed_position is not None and self._seed_position > floor:
            keep.update(self._seed_ids)
        return tuple(sorted(keep))


def make_cursor(
    position: Instant | None,
    seen_ids: tuple[str, ...],
    tombstones: Iterable[str],
    query: Mapping[str, JsonValue] | None,
) -> Cursor:
    """A cursor of this adapter (``query`` ``None``: a file read, which has none)."""
    extra: dict[str, JsonValue] = {"voided": list[JsonValue](sorted(tombstones))}
    if query is not None:
        extra["query"] = dict(query)
        extra["query_fingerprint"] = fingerprint_of(query)
    return Cursor(
        adapter=NAME,
        field=CURSOR_FIELD,
        position=position.text() if position is not None else None,
        seen_ids=seen_ids,
        extra=extra,
    )
