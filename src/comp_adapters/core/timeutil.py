"""UTC time helpers: every instant in the core model is timezone-aware and in UTC.

The core never reads a clock; callers pass ``as_of`` and other instants in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def to_utc(value: datetime) -> datetime:
    """Return ``value`` converted to UTC; naive datetimes are refused (their zone is unknown)."""
    if value.tzinfo is UTC:
        return value  # already UTC (the usual case, and a hot path: every stored instant)
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("datetime must carry a timezone (e.g. 2026-01-31T09:00:00Z)")
    return value.astimezone(UTC)


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 instant with an offset (``Z`` accepted) into an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}") from exc
    return to_utc(value)


def parse_user_instant(text: str) -> datetime:
    """An instant a person typed (a CLI flag): ISO 8601 with an offset, or a bare date.

    A bare date (``2026-11-01``) means that day at 00:00 UTC. A date-time without an
    offset is refused: its zone is unknown (add ``Z`` or ``+02:00``).
    """
    stripped = text.strip()
    try:
        day = date.fromisoformat(stripped)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(), UTC)
    try:
        value = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"not an ISO 8601 date or date-time: {text!r} (e.g. 2026-11-01 or 2026-11-01T09:00:00Z)"
        ) from None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{text!r} has no time zone: add one (e.g. {stripped}Z or {stripped}+02:00), "
            "or give a bare date for 00:00 UTC"
        )
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """Canonical text of an instant: ISO 8601 in UTC with a ``Z`` suffix."""
    text = to_utc(value).isoformat()
    return text.removesuffix("+00:00") + "Z"


UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""A pydantic field type: an aware datetime, normalised to UTC on validation."""
