"""Framework versions in the store: drafts, approvals and releases, each logged in the audit
chain in the same transaction.

The rules are :mod:`comp_adapters.governance`'s (pure); this module reads a framework's
history, applies a step of the workflow to it and writes the result, holding the audit
log's lock (:func:`~comp_adapters.store.audit_log.lock_audit`) from the read to the commit,
so two people releasing at once cannot both pass :func:`check_new_version` against the same
history. Every step that changes something appends its audit entry in that transaction; a
step that changes nothing (the same content released again) writes nothing and says so
(:attr:`VersionOutcome.changed`).

Labels: the one given, else the framework's own ``version``, else the version whose
content this is when one is stored, else the next one after the latest (``1.2`` → ``1.3``,
none → ``1``). Effective date: the one given, else the framework's own, else the stored
version's for that label, else the instant of the step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pydantic
from sqlalchemy import Connection, Row, select

from comp_adapters.core.framework import Framework
from comp_adapters.core.timeutil import format_utc, to_utc
from comp_adapters.errors import GovernanceError, Problem, StoreError, ValidationError
from comp_adapters.governance.approvals import (
    ApprovalPolicy,
    approve,
    release_draft,
    version_for_target,
)
from comp_adapters.governance.audit import (
    AuditEntry,
    AuditRecord,
    approval_record,
    draft_record,
    release_record,
)
from comp_adapters.governance.canonical import canonical_json, content_hash
from comp_adapters.governance.versions import (
    FrameworkVersion,
    VersionedFramework,
    check_new_version,
    draft,
)
from comp_adapters.native import framework_from_document, framework_to_data
from comp_adapters.store.audit_log import append_in, lock_audit
from comp_adapters.store.engine import Database
from comp_adapters.store.schema import framework_versions
from comp_adapters.store.sql import upsert

if TYPE_CHECKING:
    from comp_adapters.store.store import Store


@dataclass(frozen=True, slots=True)
class VersionOutcome:
    """What a workflow step left in the store: the version's record, whether the step
    changed anything (``False``: the identical record was there already) and the audit
    entries it appended."""

    version: FrameworkVersion
    changed: bool
    entries: tuple[AuditEntry, ...] = ()


# -- reading -----------------------------------------------------------------------------


def _record(row: Row[Any] | Row[Any, Any, Any]) -> FrameworkVersion:
    data = row._mapping
    try:
        return FrameworkVersion.model_validate_json(str(data["record"]))
    except ValueError as exc:
        raise StoreError(
            f"the stored record of {data['framework_key']}@{data['version']} cannot be read "
            f"({type(exc).__name__}): it was changed in the database"
        ) from None


def history_in(connection: Connection, key: str) -> list[FrameworkVersion]:
    """The records of framework ``key``, in the order they were drafted."""
    rows = connection.execute(
        select(
            framework_versions.c.framework_key,
            framework_versions.c.version,
            framework_versions.c.record,
        )
        .where(framework_versions.c.framework_key == key)
        .order_by(framework_versions.c.created_at, framework_versions.c.version)
    ).all()
    return [_record(row) for row in rows]


def history(db: Database, key: str) -> list[FrameworkVersion]:
    with db.read("reading framework versions") as connection:
        return history_in(connection, key)


def framework_keys(db: Database) -> list[str]:
    """The frameworks the store holds versions of."""
    with db.read("listing frameworks") as connection:
        return list(
            connection.execute(
                select(framework_versions.c.framework_key)
                .distinct()
                .order_by(framework_versions.c.framework_key)
            ).scalars()
        )


def versioned(db: Database, key: str, label: str) -> VersionedFramework | None:
    """Version ``label`` of ``key`` with its document (``None`` when not stored).

    A document that no longer hashes to its record's ``content_hash`` was changed in the
    database: that is a :class:`StoreError`, never a silently different framework.
    """
    with db.read("reading a framework version") as connection:
        row = connection.execute(
            select(framework_versions).where(
                framework_versions.c.framework_key == key, framework_versions.c.version == label
            )
        ).one_or_none()
    if row is None:
        return None
    record = _record(row)
    try:
        document = framework_from_document(json.loads(row.document), source=record.ref)
        return VersionedFramework(record, document)
    except (ValueError, ValidationError) as exc:  # a changed document, or not JSON
        raise StoreError(
            f"the stored document of {record.ref} is not the one released: {exc}"
        ) from None


# -- writing -----------------------------------------------------------------------------


def _write(
    connection: Connection,
    db: Database,
    record: FrameworkVersion,
    document: Framework,
    records: Sequence[AuditRecord],
) -> tuple[AuditEntry, ...]:
    """Store ``record`` with its ``document`` (in place of a draft's row) and append the
    audit entries of the step, all in the caller's locked transaction."""
    statement = upsert(
        db.backend,
        framework_versions,
        ("framework_key", "version"),
        (
            "status",
            "content_hash",
            "effective_from",
            "created_at",
            "released_at",
            "record",
            "document",
            "updated_at",
        ),
    )
    connection.execute(
        statement,
        {
            "framework_key": record.framework,
            "version": record.version,
            "status": record.status.value,
            "content_hash": record.content_hash,
            "effective_from": record.effective_from,
            "created_at": record.created_at,
            "released_at": record.released_at,
            "record": record.model_dump_json(),
            "document": canonical_json(framework_to_data(document)),
            "updated_at": db.now(),
        },
    )
    return tuple(append_in(connection, records))


def _document_in(connection: Connection, record: FrameworkVersion) -> Framework:
    row = connection.execute(
        select(framework_versions.c.document).where(
            framework_versions.c.framework_key == record.framework,
            framework_versions.c.version == record.version,
        )
    ).one()
    try:
        document = framework_from_document(json.loads(row.document), source=record.ref)
        return VersionedFramework(record, document).framework
    except (ValueError, ValidationError) as exc:
        raise StoreError(
            f"the stored document of {record.ref} is not the one recorded: {exc}"
        ) from None


def next_label(labels: Sequence[str]) -> str:
    """The label after the latest of ``labels``: its last number plus one (``1.2`` → ``1.3``,
    ``2026-03`` → ``2026-04``), ``1`` for the first, never one already used."""
    used = set(labels)
    if not labels:
        candidate = "1"
    else:
        latest = labels[-1]
        match = re.search(r"(\d+)(?!.*\d)", latest)
        if match is None:
            candidate = f"{latest}.2"
        else:
            digits = match.group(1)
            bumped = str(int(digits) + 1).zfill(len(digits))
            candidate = latest[: match.start()] + bumped + latest[match.end() :]
    while candidate in used:
        candidate = f"{candidate}.1"
    return candidate


def _candidate(
    framework: Framework,
    versions: Sequence[FrameworkVersion],
    *,
    rationale: str,
    actor: str,
    at: datetime,
    effective_from: datetime | None,
    version: str | None,
) -> tuple[VersionedFramework, FrameworkVersion | None]:
    """The draft this step would make, and the stored record with its label if any."""
    label = version if version is not None else framework.version
    if label is None:
        label = _label_of_same_content(framework, versions, effective_from)
    if label is None:
        label = next_label([v.version for v in versions])
    existing = next((v for v in versions if v.version == label), None)
    effective = effective_from if effective_from is not None else framework.effective_from
    if effective is None:
        effective = existing.effective_from if existing is not None else at
    try:
        made = draft(
            framework,
            rationale=rationale,
            actor=actor,
            at=at,
            effective_from=effective,
            version=label,
        )
    except pydantic.ValidationError as exc:
        raise _input_error(exc) from None
    return made, existing


def _release(
    record: FrameworkVersion, *, actor: str, at: datetime, policy: ApprovalPolicy | None
) -> FrameworkVersion:
    try:
        return release_draft(record, actor=actor, at=at, policy=policy)
    except pydantic.ValidationError as exc:
        raise _input_error(exc) from None


def _input_error(exc: pydantic.ValidationError) -> ValidationError:
    """A record refused by its model (an empty rationale, a 300-character identity), as
    the library's ValidationError naming each field (never the pydantic traceback)."""
    return ValidationError(
        Problem(str(item["msg"]), field=".".join(str(p) for p in item["loc"]) or None)
        for item in exc.errors(include_url=False, include_input=False)
    )


def _label_of_same_content(
    framework: Framework, versions: Sequence[FrameworkVersion], effective_from: datetime | None
) -> str | None:
    """The label of a stored version whose document is ``framework`` (which has no label)."""
    for record in reversed(versions):
        effective = effective_from or framework.effective_from or record.effective_from
        if to_utc(effective) != record.effective_from:
            continue
        stamped = framework.model_copy(
            update={"version": record.version, "effective_from": record.effective_from}
        )
        if content_hash(stamped) == record.content_hash:
            return record.version
    return None


def _refuse_changing(existing: FrameworkVersion, new_hash: str) -> GovernanceError:
    when = format_utc(existing.released_at) if existing.released_at else "earlier"
    return GovernanceError(
        f"{existing.ref} was released on {when} with content {existing.content_hash[:12]}…; "
        f"this framework's content is {new_hash[:12]}…: a released version never changes, "
        "release it under a new label"
    )


def release_framework(
    db: Database,
    framework: Framework,
    *,
    rationale: str | None,
    actor: str,
    at: datetime | None = None,
    effective_from: datetime | None = None,
    version: str | None = None,
    policy: ApprovalPolicy | None = None,
) -> VersionOutcome:
    """Release ``framework`` (see the module docstring for its label and date).

    The same content released again changes nothing (``changed=False``). A stored draft of
    the same content is released with its approvals (``policy`` decides whether there are
    enough); other content for a released label is refused (:class:`GovernanceError`).
    ``rationale`` is needed unless a stored draft (which has one) is released.
    """
    at = to_utc(at) if at is not None else db.now()
    with db.write("releasing a framework version") as connection:
        lock_audit(connection)
        versions = history_in(connection, framework.key)
        made, existing = _candidate(
            framework,
            versions,
            rationale=rationale if rationale and rationale.strip() else "-",
            actor=actor,
            at=at,
            effective_from=effective_from,
            version=version,
        )
        if existing is not None and existing.content_hash == made.version.content_hash:
            if existing.is_released:
                return VersionOutcome(existing, changed=False)
            released = _release(existing, actor=actor, at=at, policy=policy)
            check_new_version(versions, released)
            entries = _write(connection, db, released, made.framework, [release_record(released)])
            return VersionOutcome(released, changed=True, entries=entries)
        if existing is not None and existing.is_released:
            raise _refuse_changing(existing, made.version.content_hash)
        if rationale is None or not rationale.strip():
            raise ValidationError(
                [
                    Problem(
                        "a release needs a rationale: say why this version is made",
                        field="rationale",
                    )
                ]
            )
        released = _release(made.version, actor=actor, at=at, policy=policy)
        check_new_version(versions, released)
        entries = _write(connection, db, released, made.framework, [release_record(released)])
        return VersionOutcome(released, changed=True, entries=entries)


def release_stored_draft(
    db: Database,
    key: str,
    label: str,
    *,
    actor: str,
    at: datetime | None = None,
    policy: ApprovalPolicy | None = None,
) -> VersionOutcome:
    """Release the stored draft ``key@label`` (already released: ``changed=False``)."""
    at = to_utc(at) if at is not None else db.now()
    with db.write("releasing a framework version") as connection:
        lock_audit(connection)
        versions = history_in(connection, key)
        existing = _find(versions, key, label)
        if existing.is_released:
            return VersionOutcome(existing, changed=False)
        released = _release(existing, actor=actor, at=at, policy=policy)
        check_new_version(versions, released)
        document = _document_in(connection, existing)
        entries = _write(connection, db, released, document, [release_record(released)])
        return VersionOutcome(released, changed=True, entries=entries)


def draft_framework(
    db: Database,
    framework: Framework,
    *,
    rationale: str,
    actor: str,
    at: datetime | None = None,
    effective_from: datetime | None = None,
    version: str | None = None,
) -> VersionOutcome:
    """Store a draft of ``framework``: for approval, and for staging targets.

    A draft of the same content is kept as it is (``changed=False``, approvals intact); a
    draft of other content under the same label replaces it (its approvals, which named the
    old content, go); a released label is refused.
    """
    at = to_utc(at) if at is not None else db.now()
    with db.write("drafting a framework version") as connection:
        lock_audit(connection)
        versions = history_in(connection, framework.key)
        made, existing = _candidate(
            framework,
            versions,
            rationale=rationale,
            actor=actor,
            at=at,
            effective_from=effective_from,
            version=version,
        )
        if existing is not None and existing.content_hash == made.version.content_hash:
            if existing.is_released:
                raise GovernanceError(
                    f"{existing.ref} is released already with this content: there is nothing "
                    "to draft (change the framework and give it a new label)"
                )
            return VersionOutcome(existing, changed=False)
        if existing is not None and existing.is_released:
            raise _refuse_changing(existing, made.version.content_hash)
        check_new_version(versions, made.version)
        entries = _write(connection, db, made.version, made.framework, [draft_record(made.version)])
        return VersionOutcome(made.version, changed=True, entries=entries)


def approve_stored(
    db: Database,
    key: str,
    label: str,
    *,
    actor: str,
    at: datetime | None = None,
    note: str | None = None,
) -> VersionOutcome:
    """Add ``actor``'s approval to the stored draft ``key@label`` (see
    :func:`~comp_adapters.governance.approve` for who may approve)."""
    at = to_utc(at) if at is not None else db.now()
    with db.write("approving a framework version") as connection:
        lock_audit(connection)
        versions = history_in(connection, key)
        existing = _find(versions, key, label)
        try:
            approved = approve(existing, actor=actor, at=at, note=note)
        except pydantic.ValidationError as exc:
            raise _input_error(exc) from None
        document = _document_in(connection, existing)
        entries = _write(
            connection, db, approved, document, [approval_record(approved, approved.approvals[-1])]
        )
        return VersionOutcome(approved, changed=True, entries=entries)


def _find(versions: Sequence[FrameworkVersion], key: str, label: str) -> FrameworkVersion:
    for record in versions:
        if record.version == label:
            return record
    held = ", ".join(v.version for v in versions)
    raise GovernanceError(
        f"no version {label!r} of framework {key!r} in the store"
        + (f"; it holds {held}" if held else "; it holds no version of it")
    )


def framework_for_target(
    store: Store,
    key: str,
    *,
    staging: bool,
    policy: ApprovalPolicy | None = None,
    at: datetime | None = None,
    pin: str | None = None,
) -> tuple[Framework, str]:
    """The framework a target receives from ``store``, and its version label.

    A live target gets the latest released version (with ``at``: the one in force then)
    that holds the approvals ``policy`` requires; a staging target the newest draft, else
    what a live target gets. ``pin`` fixes a label (a draft only for staging). Raises
    :class:`GovernanceError` when no version qualifies, saying what the store holds.
    """
    policy = policy or ApprovalPolicy()
    versions = store.framework_versions(key)
    eligible = [
        v for v in versions if not v.is_released or len(v.approvers()) >= policy.required_approvals
    ]
    chosen = version_for_target(eligible, staging=staging, at=at, pin=pin)
    if chosen is None:
        released = sum(1 for v in versions if v.is_released)
        needs = (
            f" with {policy.required_approvals} approval(s)" if policy.required_approvals else ""
        )
        when = f" in force at {format_utc(at)}" if at is not None else ""
        raise GovernanceError(
            f"framework {key!r} has no released version{needs}{when} for "
            f"{'a staging' if staging else 'a live'} target (the store holds {len(versions)} "
            f"version(s), {released} released): release one with comp-adapters framework "
            "release"
        )
    found = store.framework_version(key, chosen.version)
    if found is None:  # pragma: no cover - removed between the two reads
        raise StoreError(f"{chosen.ref} disappeared from the store while it was read")
    return found.framework, chosen.version


__all__ = [
    "VersionOutcome",
    "approve_stored",
    "draft_framework",
    "framework_for_target",
    "framework_keys",
    "history",
    "next_label",
    "release_framework",
    "release_stored_draft",
    "versioned",
]
