"""A plan is data: the ordered changes that make a target hold what we want.

Adapters compute a :class:`Plan` without writing anything; a person or a job reads it
(``to_table``), stores it (``to_json``), and applies it
(:func:`comp_adapters.sync.apply.apply_plan`).
Its :attr:`~Plan.fingerprint` identifies exactly these changes against exactly this target
state, so a journal can tell a resumed apply from a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from comp_adapters._http.redaction import redact_urls_in_text


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LINK = "link"
    UNLINK = "unlink"
    NOOP = "noop"


class Change(BaseModel):
    """One change to one remote object, identified by its natural key.

    ``fields`` are the values to write; for an update ``before`` holds the current values
    of the same fields, so the plan shows the difference. A no-op carries the ``reason``
    nothing is written (e.g. "already up to date", or what the target cannot hold).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    action: Action
    kind: str = Field(min_length=1)
    key: str
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    before: dict[str, JsonValue] = Field(default_factory=dict)
    reason: str | None = None
    depends_on: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return self.action is not Action.NOOP


class Plan(BaseModel):
    """Ordered changes for one target; empty when the target already holds what we want."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    adapter: str
    target: str
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()
    state_fingerprint: str | None = None

    @field_validator("target", mode="after")
    @classmethod
    def _redact_target(cls, value: str) -> str:
        """A target URL is shown, stored and fingerprinted without user info or tokens."""
        return redact_urls_in_text(value)

    @field_validator("notes", mode="after")
    @classmethod
    def _redact_notes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(redact_urls_in_text(note) for note in value)

    @model_validator(mode="after")
    def _check_ids(self) -> Plan:
        seen: set[str] = set()
        for change in self.changes:
            if change.id in seen:
                raise ValueError(f"duplicate change id {change.id!r}")
            missing = [d for d in change.depends_on if d not in seen]
            if missing:
                raise ValueError(
                    f"change {change.id!r} depends on {', '.join(missing)}, "
                    "which must come earlier in the plan"
                )
            seen.add(change.id)
        return self

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the plan's canonical JSON (target, state and changes)."""
        payload = self.model_dump(mode="json")
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def writes(self) -> tuple[Change, ...]:
        """The changes that write something (everything but no-ops)."""
        return tuple(c for c in self.changes if c.writes)

    @property
    def is_empty(self) -> bool:
        """True when applying would write nothing."""
        return not self.writes

    def counts(self) -> dict[str, int]:
        """Number of changes per action, in a stable order."""
        counted = Counter(c.action.value for c in self.changes)
        return {a.value: counted[a.value] for a in Action if counted[a.value]}

    def to_json(self) -> str:
        data: dict[str, Any] = self.model_dump(mode="json")
        data["fingerprint"] = self.fingerprint
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a plan written by :meth:`to_json`; refuses one whose fingerprint does not match."""
        data = json.loads(text)
        expected = data.pop("fingerprint", None)
        plan = cls.model_validate(data)
        if expected is not None and expected != plan.fingerprint:
            raise ValueError("plan fingerprint does not match its content: the file was edited")
        return plan

    def to_table(self, *, show_noops: bool = False) -> str:
        """A human-readable table of the changes, with a summary line."""
        rows = [c for c in self.changes if show_noops or c.writes]
        lines = [f"Plan for {self.adapter} -> {self.target}"]
        if rows:
            width_action = max(len(c.action.value) for c in rows)
            width_kind = max(len(c.kind) for c in rows)
            for change in rows:
                detail = _describe(change)
                lines.append(
                    f"  {change.action.value:<{width_action}}  {change.kind:<{width_kind}}  "
                    f"{change.key}{'  ' + detail if detail else ''}"
                )
        counts = self.counts()
        summary = ", ".join(f"{n} {action}" for action, n in counts.items()) or "no changes"
        lines.append(
            f"  {'nothing to do' if self.is_empty else 'to apply'}: {summary}"
            f" (fingerprint {self.fingerprint[:12]})"
        )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _describe(change: Change) -> str:
    if change.action is Action.UPDATE and change.before:
        # Only what changes: fields sent along unchanged (ids, values kept) are not shown.
        parts = [
            _difference(name, change.before[name], value)
            for name, value in change.fields.items()
            if name in change.before and change.before[name] != value
        ]
        text = "; ".join(parts)
    elif change.fields:
        text = ", ".join(f"{name}={_short(value)}" for name, value in change.fields.items())
    else:
        text = ""
    if change.reason:
        text = f"{text} ({change.reason})" if text else f"({change.reason})"
    return text


def _short(value: object, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _difference(name: str, before: object, after: object, limit: int = 40) -> str:
    """``name: before -> after``; of two long texts only the part that changed, with a
    little context and "..." where text was left out, so they never look the same."""
    if not (isinstance(before, str) and isinstance(after, str)) or (
        len(repr(before)) <= limit and len(repr(after)) <= limit
    ):
        return f"{name}: {_short(before)} -> {_short(after)}"
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while (
        end < min(len(before), len(after)) - start
        and before[len(before) - 1 - end] == after[len(after) - 1 - end]
    ):
        end += 1
    context = 10
    begin = max(start - context, 0)

    def part(text: str) -> str:
        stop = len(text) - end
        middle = text[begin:stop]
        if len(middle) > limit + context:
            middle = middle[: limit + context] + "..."
        else:
            middle += text[stop : stop + context]
            if stop + context < len(text):
                middle += "..."
        return ("..." if begin else "") + repr(middle)

    return f"{name}: {part(before)} -> {part(after)}"
