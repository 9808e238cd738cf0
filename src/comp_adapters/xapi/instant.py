"""Exact instants of ``stored`` and ``X-Experience-API-Consistent-Through``, at any precision.

The cursor of an incremental read is a ``stored`` value, so it must be kept exactly as
precise as the LRS wrote it: the ADL LRS writes microseconds, Learning Locker milliseconds,
and nothing forbids more digits. Python's ``datetime`` stops at microseconds (and
``fromisoformat`` silently truncates what is beyond), and a cursor rounded to milliseconds
reads the last statement of each run again. An :class:`Instant` keeps the UTC second and
every fractional digit given, compares by value (``...00.5Z`` equals ``...00.500Z``, is less
than ``...00.51Z``) and subtracts a ``timedelta`` without losing a digit.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

_FRACTION: Final = re.compile(r"T?\d{2}:\d{2}:\d{2}[.,](\d+)")
_MICRO: Final = 6


@dataclass(frozen=True, slots=True, order=True)
class Instant:
    """A UTC instant: the whole second, and the fractional digits (trailing zeros removed).

    Ordering is exact: within one second, digit strings without trailing zeros compare as
    the fractions they spell.
    """

    second: datetime
    """Aware, UTC, ``microsecond == 0``."""
    fraction: str = ""
    """Decimal digits after the point, without trailing zeros (``""``: a whole second)."""

    @classmethod
    def parse(cls, text: Any) -> Instant | None:
        """An xAPI timestamp (ISO 8601; naive ones taken as UTC), else ``None``."""
        if type(text) is not str:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
        if value.tzinfo is None or not value.utcoffset():
            value = value.replace(tzinfo=UTC)
        else:
            value = value.astimezone(UTC)
        found = _FRACTION.search(text)
        fraction = found.group(1).rstrip("0") if found else ""
        return cls(value.replace(microsecond=0), fraction)

    @classmethod
    def of(cls, value: datetime) -> Instant:
        """The instant of an aware datetime (naive ones taken as UTC)."""
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return cls(value.replace(microsecond=0), f"{value.microsecond:06d}".rstrip("0"))

    def __sub__(self, delta: timedelta) -> Instant:
        """This instant moved back by ``delta`` (exact: digits beyond microseconds stay)."""
        micro = int(self.fraction[:_MICRO].ljust(_MICRO, "0"))
        moved = self.second + timedelta(microseconds=micro) - delta
        fraction = (f"{moved.microsecond:06d}" + self.fraction[_MICRO:]).rstrip("0")
        return Instant(moved.replace(microsecond=0), fraction)

    def text(self) -> str:
        """ISO 8601 in UTC with ``Z`` and every digit (at least milliseconds, which is what
        LRSs that compare ``since`` as text expect: ``2026-01-05T09:00:00.120Z``)."""
        head = self.second.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{head}.{self.fraction.ljust(3, '0')}Z"

    def to_datetime(self) -> datetime:
        """The nearest ``datetime`` at or before this instant (digits past microseconds
        dropped): for display and arithmetic only, never for the cursor."""
        micro = int(self.fraction[:_MICRO].ljust(_MICRO, "0"))
        return self.second + timedelta(microseconds=micro)

    def __str__(self) -> str:
        return self.text()
