"""The audit chain, pure: entries that each hold the hash of the one before.

Every entry records one governed event — a draft, a release or an approval of a
framework version, a change applied to a target (its key and the fingerprints of the
object before and after), an ingest batch (the source, its cursor before and after, how
many records), a manual attestation — with when, who, and a JSON payload. Its ``hash`` is
the SHA-256 of the canonical JSON of everything else in it, the previous entry's hash
included, so changing, removing or moving any entry breaks every link after it.

:func:`append` seals a new entry onto the chain's head; :func:`verify` recomputes a chain
and reports the **first** entry that was edited, deleted or reordered, and — against a
head kept elsewhere (a ticket, a signed e-mail; see :mod:`~comp_adapters.governance.signing`)
— a truncated tail or a chain rewritten from some entry on. The store (part B) persists
entries; everything here is pure (times are passed in, nothing is read or written).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.timeutil import UtcDatetime, format_utc
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.governance.canonical import canonical_json, fingerprint, is_hex_digest
from comp_adapters.governance.versions import Approval, FrameworkVersion, HexDigest, Identity

CHAIN_FORMAT = "comp-adapters/audit@1"
"""Hashed into every entry, so a later chain format can never be mistaken for this one."""
GENESIS = "0" * 64
"""The previous hash of the first entry."""


class AuditKind(StrEnum):
    """What an entry records."""

    DRAFT = "draft"
    RELEASE = "release"
    APPROVAL = "approval"
    APPLIED_CHANGE = "applied_change"
    INGEST_BATCH = "ingest_batch"
    ATTESTATION = "attestation"


class AuditRecord(BaseModel):
    """An event to append: what happened, when, who did it, and its details."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AuditKind
    at: UtcDatetime
    actor: Identity
    payload: dict[str, JsonValue] = Field(default_factory=dict)


class AuditEntry(BaseModel):
    """One sealed entry of the chain.

    ``kind`` is kept as text, not checked against :class:`AuditKind`, so that an entry
    whose kind was tampered with can still be read and reported by :func:`verify`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1)
    at: UtcDatetime
    kind: str
    actor: str
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    prev_hash: str
    hash: str

    @property
    def head(self) -> ChainHead:
        return ChainHead(seq=self.seq, hash=self.hash)


class ChainHead(BaseModel):
    """The last entry's number and hash: what to keep elsewhere to detect a cut tail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1)
    hash: HexDigest

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        """Read ``SEQ:HASH`` (what ``str()`` gives), refusing anything else clearly."""
        seq, sep, digest = text.strip().partition(":")
        if not sep or not seq.isdigit() or not is_hex_digest(digest) or int(seq) < 1:
            raise ValidationError(
                [Problem(f"not a chain head {text!r}: expected SEQ:HASH (64 hex digits)")]
            )
        return cls(seq=int(seq), hash=digest)


def entry_hash(
    *,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    payload: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 of the canonical JSON of an entry's fields (all but its own hash)."""
    return fingerprint(
        {
            "chain": CHAIN_FORMAT,
            "seq": seq,
            "at": format_utc(at),
            "kind": kind,
            "actor": actor,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )


def _recomputed(entry: AuditEntry, *, seq: int | None = None) -> str:
    return entry_hash(
        seq=entry.seq if seq is None else seq,
        at=entry.at,
        kind=entry.kind,
        actor=entry.actor,
        payload=entry.payload,
        prev_hash=entry.prev_hash,
    )


def append(head: AuditEntry | ChainHead | None, record: AuditRecord) -> AuditEntry:
    """The entry that follows ``head`` (``None``: the first of a new chain) for ``record``."""
    seq = 1 if head is None else head.seq + 1
    try:  # a copy, exactly as canonical JSON reads back (what verify will hash)
        payload: dict[str, JsonValue] = json.loads(canonical_json(record.payload))
    except ValueError as exc:
        raise ValidationError([Problem(f"not JSON: {exc}", field="payload")]) from None
    fields: dict[str, Any] = {
        "seq": seq,
        "at": record.at,
        "kind": record.kind.value,
        "actor": record.actor,
        "payload": payload,
        "prev_hash": GENESIS if head is None else head.hash,
    }
    return AuditEntry(**fields, hash=entry_hash(**fields))


def append_all(
    head: AuditEntry | ChainHead | None, records: Iterable[AuditRecord]
) -> list[AuditEntry]:
    """Entries for several records, in order, following ``head``."""
    entries: list[AuditEntry] = []
    current = head
    for record in records:
        entry = append(current, record)
        entries.append(entry)
        current = entry
    return entries


# -- records of governed events --------------------------------------------------------------


def _version_payload(version: FrameworkVersion) -> dict[str, JsonValue]:
    data: dict[str, JsonValue] = version.model_dump(mode="json", exclude_none=True)
    return data


def draft_record(version: FrameworkVersion) -> AuditRecord:
    """The drafting of ``version`` by its author."""
    return AuditRecord(
        kind=AuditKind.DRAFT,
        at=version.created_at,
        actor=version.author,
        payload=_version_payload(version),
    )


def release_record(version: FrameworkVersion) -> AuditRecord:
    """The release of ``version``: the whole record (hash, dates, rationale, approvals)."""
    if not version.is_released or version.released_at is None or version.released_by is None:
        raise ValueError(f"{version.ref} is not released")
    return AuditRecord(
        kind=AuditKind.RELEASE,
        at=version.released_at,
        actor=version.released_by,
        payload=_version_payload(version),
    )


def approval_record(version: FrameworkVersion, approval: Approval) -> AuditRecord:
    """One approval of ``version``'s content."""
    payload: dict[str, JsonValue] = {
        "framework": version.framework,
        "version": version.version,
        "content_hash": approval.content_hash,
    }
    if approval.note is not None:
        payload["note"] = approval.note
    return AuditRecord(
        kind=AuditKind.APPROVAL, at=approval.at, actor=approval.actor, payload=payload
    )


def applied_change_record(
    *,
    target: str,
    key: str,
    action: str,
    before: str | None,
    after: str | None,
    actor: str,
    at: datetime,
    plan: str | None = None,
    change_id: str | None = None,
    version: str | None = None,
) -> AuditRecord:
    """A change applied to ``target``: the object's natural ``key``, the ``action``, and
    fingerprints of the object ``before`` and ``after`` (``None`` where it did not exist),
    with the plan's fingerprint, the change id and the framework version it brings."""
    payload: dict[str, JsonValue] = {
        "target": target,
        "key": key,
        "action": action,
        "before": before,
        "after": after,
    }
    optional = {"plan": plan, "change_id": change_id, "version": version}
    payload.update({name: value for name, value in optional.items() if value is not None})
    return AuditRecord(kind=AuditKind.APPLIED_CHANGE, at=at, actor=actor, payload=payload)


def ingest_batch_record(
    *,
    source: str,
    cursor_before: JsonValue,
    cursor_after: JsonValue,
    counts: Mapping[str, int],
    actor: str,
    at: datetime,
) -> AuditRecord:
    """An ingest batch from ``source``: its cursor before and after, and how many records
    of each sort (new, duplicate, voided, rejected…) it held."""
    return AuditRecord(
        kind=AuditKind.INGEST_BATCH,
        at=at,
        actor=actor,
        payload={
            "source": source,
            "cursor_before": cursor_before,
            "cursor_after": cursor_after,
            "counts": dict(sorted(counts.items())),
        },
    )


def attestation_record(evidence: Evidence, *, actor: str, at: datetime) -> AuditRecord:
    """A manual attestation, recorded whole (the evidence as its JSON)."""
    payload: dict[str, JsonValue] = evidence.model_dump(mode="json", exclude_defaults=True)
    return AuditRecord(kind=AuditKind.ATTESTATION, at=at, actor=actor, payload=payload)


# -- verification ----------------------------------------------------------------------------


class Tampering(StrEnum):
    """What :func:`verify` found wrong."""

    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    REWRITTEN = "rewritten"
    BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first thing wrong with a chain: what, where, and in words.

    ``position`` is the 0-based index in the entries given (``len(entries)`` for a cut
    tail: where the first missing entry would be); ``seq`` the entry number concerned.
    """

    kind: Tampering
    position: int
    seq: int
    message: str

    def __str__(self) -> str:
        return f"entry {self.seq} (position {self.position}): {self.kind.value}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of :func:`verify`: ``ok``, how many entries were checked before the
    first problem (all of them when ok), the head recomputed and the problem found."""

    checked: int
    head: ChainHead | None
    problem: ChainProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(
    entries: Sequence[AuditEntry],
    *,
    head: ChainHead | str | None = None,
    start: ChainHead | None = None,
) -> VerifyResult:
    """Recompute the chain and report the first entry that is not as it was appended.

    ``entries`` are in chain order (as the store lists them, by ``seq``). ``head`` is a
    head kept elsewhere (``ChainHead`` or only its hash): the chain must still contain it,
    so a cut tail or a chain re-hashed from some entry on is detected. ``start`` is the
    head just before the first entry when verifying a segment (default: the genesis).
    """
    expected_seq = 1 if start is None else start.seq + 1
    expected_prev = GENESIS if start is None else start.hash
    before_last: str | None = None  # what the last verified entry links to
    for position, entry in enumerate(entries):
        intact = _recomputed(entry) == entry.hash
        if intact and entry.seq == expected_seq and entry.prev_hash == expected_prev:
            before_last = expected_prev
            expected_seq, expected_prev = entry.seq + 1, entry.hash
            continue
        problem = _diagnose(
            entries, position, expected_seq, expected_prev, before_last, intact=intact
        )
        return VerifyResult(
            checked=position, head=_head_before(entries, position, start), problem=problem
        )
    computed = entries[-1].head if entries else start
    if head is not None:
        cut = _check_head(entries, head)
        if cut is not None:
            return VerifyResult(checked=len(entries), head=computed, problem=cut)
    return VerifyResult(checked=len(entries), head=computed)


def _head_before(
    entries: Sequence[AuditEntry], position: int, start: ChainHead | None
) -> ChainHead | None:
    return entries[position - 1].head if position > 0 else start


def _diagnose(
    entries: Sequence[AuditEntry],
    position: int,
    expected_seq: int,
    expected_prev: str,
    before_last: str | None,
    *,
    intact: bool,
) -> ChainProblem:
    """Why the entry at ``position`` does not follow the verified entries before it."""
    entry = entries[position]
    after_previous = f"after entry {expected_seq - 1}" if expected_seq > 1 else "first"
    # Where is the entry that rightfully comes next? One that links to the last verified
    # entry and hashes correctly as entry number expected_seq.
    for later in range(position + 1, len(entries)):
        other = entries[later]
        if other.prev_hash == expected_prev and _recomputed(other, seq=expected_seq) == other.hash:
            return ChainProblem(
                Tampering.REORDERED,
                position,
                expected_seq,
                f"entry {expected_seq} ({_what(other)}) appears at position {later}; position "
                f"{position} holds {_what(entry)} instead",
            )
    if before_last is not None and entry.prev_hash == before_last:
        # It links past the entry before it: that one was slipped in between.
        inserted = entries[position - 1]
        return ChainProblem(
            Tampering.INSERTED,
            position - 1,
            inserted.seq,
            f"{_what(inserted)} was inserted: {_what(entry)} links to the entry before it",
        )
    if intact and entry.seq > expected_seq:
        missing = (
            f"entry {expected_seq}"
            if entry.seq == expected_seq + 1
            else f"entries {expected_seq}-{entry.seq - 1}"
        )
        return ChainProblem(
            Tampering.DELETED,
            position,
            expected_seq,
            f"{missing} {'is' if entry.seq == expected_seq + 1 else 'are'} missing: the chain "
            f"goes from entry {expected_seq - 1} to entry {entry.seq}",
        )
    if intact and entry.seq < expected_seq:
        return ChainProblem(
            Tampering.REORDERED,
            position,
            entry.seq,
            f"entry {entry.seq} ({_what(entry)}) appears again {after_previous}",
        )
    if intact:  # the right number, sealed correctly, but not linked to what precedes it
        if position == 0:
            return ChainProblem(
                Tampering.DELETED,
                position,
                expected_seq,
                f"entry {entry.seq} does not follow "
                f"{'the start of the chain' if expected_seq == 1 else 'the given start'}: "
                "the entries before it were removed",
            )
        previous = entries[position - 1]
        return ChainProblem(
            Tampering.EDITED,
            position - 1,
            previous.seq,
            f"entry {previous.seq} was changed and re-hashed: entry {entry.seq} recorded its "
            f"hash as {entry.prev_hash[:12]}…, it is now {previous.hash[:12]}…",
        )
    # The entry's content no longer matches its hash: edited, unless it is intact under
    # another number (renumbered after a deletion, or moved).
    if entry.prev_hash == expected_prev:
        return _edited(entry, position)
    original = _sealed_as(entry)
    if original is None:
        return _edited(entry, position)
    if original > entry.seq and not _known_hash(entries, entry.prev_hash):
        removed = original - entry.seq
        return ChainProblem(
            Tampering.DELETED,
            position,
            expected_seq,
            f"{removed} entr{'y' if removed == 1 else 'ies'} before {_what(entry)} "
            f"{'was' if removed == 1 else 'were'} removed and the rest renumbered: it was "
            f"sealed as entry {original}, it is now entry {entry.seq}",
        )
    return ChainProblem(
        Tampering.REORDERED,
        position,
        entry.seq,
        f"{_what(entry)} was sealed as entry {original} and now stands {after_previous} "
        f"as entry {entry.seq}",
    )


_RENUMBER_SEARCH = 4096
"""How far from its current number :func:`_sealed_as` looks for the one an entry was
sealed with (bounded, so that reporting one edit in a long chain stays quick; a larger
shift is reported as an edit, at the same position)."""


def _sealed_as(entry: AuditEntry) -> int | None:
    """The number the entry hashes correctly with, if it is not its current one."""
    for distance in range(1, _RENUMBER_SEARCH + 1):
        for seq in (entry.seq + distance, entry.seq - distance):
            if seq >= 1 and _recomputed(entry, seq=seq) == entry.hash:
                return seq
    return None


def _edited(entry: AuditEntry, position: int) -> ChainProblem:
    return ChainProblem(
        Tampering.EDITED,
        position,
        entry.seq,
        f"{_what(entry)} was changed: its content hashes to {_recomputed(entry)[:12]}…, "
        f"it was sealed as {entry.hash[:12]}…",
    )


def _known_hash(entries: Sequence[AuditEntry], digest: str) -> bool:
    return any(entry.hash == digest for entry in entries)


def _what(entry: AuditEntry) -> str:
    return f"the {entry.kind} of {format_utc(entry.at)} by {entry.actor!r}"


def _check_head(entries: Sequence[AuditEntry], head: ChainHead | str) -> ChainProblem | None:
    """The kept head must be in the chain, as the entry with its number."""
    digest = head.hash if isinstance(head, ChainHead) else head.strip()
    last = entries[-1] if entries else None
    last_text = f"entry {last.seq}" if last else "no entries"
    for entry in entries:
        if entry.hash == digest and (not isinstance(head, ChainHead) or entry.seq == head.seq):
            return None
    if isinstance(head, ChainHead):
        for position, entry in enumerate(entries):
            if entry.seq == head.seq:
                return ChainProblem(
                    Tampering.REWRITTEN,
                    position,
                    entry.seq,
                    f"the kept head says entry {head.seq} is {head.hash[:12]}…, the chain's is "
                    f"{entry.hash[:12]}…: the chain was rewritten at or before entry {entry.seq}",
                )
        if last is None or last.seq < head.seq:
            first_missing = 1 if last is None else last.seq + 1
            return ChainProblem(
                Tampering.TRUNCATED,
                len(entries),
                first_missing,
                f"the chain ends at {last_text}, the kept head is entry {head.seq}: "
                + (
                    f"entry {head.seq} was"
                    if first_missing == head.seq
                    else f"entries {first_missing}-{head.seq} were"
                )
                + " removed from the end",
            )
    return ChainProblem(
        Tampering.TRUNCATED,
        len(entries),
        (last.seq + 1) if last else 1,
        f"the kept head {digest[:12]}… is not in the chain, which ends at {last_text}: "
        "entries were removed from the end, or the chain was rewritten",
    )


def chain_head(entries: Sequence[AuditEntry]) -> ChainHead | None:
    """The head of a chain (its last entry), ``None`` when it is empty."""
    return entries[-1].head if entries else None


# -- JSON lines ------------------------------------------------------------------------------


def entry_to_json(entry: AuditEntry) -> str:
    """One entry as one line of JSON (what ``audit export`` writes)."""
    return json.dumps(entry.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)


def parse_entry_lines(lines: Iterable[str], *, source: str) -> list[AuditEntry]:
    """Entries from JSON lines (an export), errors naming ``source`` and the line."""
    entries: list[AuditEntry] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(AuditEntry.model_validate_json(line))
        except pydantic.ValidationError as exc:
            problems.extend(
                Problem(
                    str(item["msg"]),
                    file=source,
                    line=number,
                    field=".".join(str(p) for p in item["loc"]) or None,
                )
                for item in exc.errors(include_url=False)
            )
    if problems:
        raise ValidationError(problems)
    return entries


__all__ = [
    "CHAIN_FORMAT",
    "GENESIS",
    "AuditEntry",
    "AuditKind",
    "AuditRecord",
    "ChainHead",
    "ChainProblem",
    "Tampering",
    "VerifyResult",
    "append",
    "append_all",
    "applied_change_record",
    "approval_record",
    "attestation_record",
    "chain_head",
    "draft_record",
    "entry_hash",
    "entry_to_json",
    "ingest_batch_record",
    "parse_entry_lines",
    "release_record",
    "verify",
]
