"""Framework versions as data: drafts and releases with effective dates, and which is in force.

A :class:`FrameworkVersion` is the record of one version of one framework: its label, the
SHA-256 of its canonical document, the instant it takes effect, why it was made and by
whom, whether it is a draft or released, and who approved it. Records are immutable; a
step of the workflow (:func:`~comp_adapters.governance.approvals.approve`,
:func:`~comp_adapters.governance.approvals.release_draft`) returns a new record for the same
label, which a store writes in place of a draft's. A released record never changes again:
:func:`check_new_version` refuses any other record for its label.

The document of a version is the framework stamped with the version's label and effective
date (:func:`draft` and :func:`release` do the stamping), so a document read back from a
store, a file or a target says itself which version it is. :class:`VersionedFramework`
pairs a record with its document and checks that they agree.

Pure: no clock (every instant is passed in), no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from comp_adapters.core.framework import Framework
from comp_adapters.core.scale import Key
from comp_adapters.core.timeutil import UtcDatetime, format_utc, to_utc
from comp_adapters.errors import GovernanceError, Problem, ValidationError
from comp_adapters.governance.canonical import content_hash

if TYPE_CHECKING:
    from comp_adapters.governance.approvals import ApprovalPolicy

Identity = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
"""Who did something: a login, an e-mail address or a service name (1-255 characters)."""

HexDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A hex SHA-256 digest."""


def same_identity(one: str, other: str) -> bool:
    """Whether two identities are the same person: equal ignoring case and outer spaces."""
    return one.strip().casefold() == other.strip().casefold()


class VersionStatus(StrEnum):
    """Where a version is in the workflow: drafts go to staging targets only."""

    DRAFT = "draft"
    RELEASED = "released"


class Approval(BaseModel):
    """One identity's approval of one version's content (``content_hash``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Identity
    at: UtcDatetime
    content_hash: HexDigest
    note: str | None = None


class FrameworkVersion(BaseModel):
    """The record of one version of one framework (see the module docstring).

    ``version`` is the label (``"2.0"``, ``"2026-03"``), unique per framework;
    ``content_hash`` the SHA-256 of the version's canonical document; ``effective_from``
    the instant from which evidence is judged by this version (and ``effective_until``,
    when set, the instant it stops applying with no successor). ``author`` drafted it at
    ``created_at``; ``released_by`` released it at ``released_at``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: Key
    version: Key
    content_hash: HexDigest
    effective_from: UtcDatetime
    effective_until: UtcDatetime | None = None
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    author: Identity
    created_at: UtcDatetime
    status: VersionStatus = VersionStatus.DRAFT
    approvals: tuple[Approval, ...] = ()
    released_by: Identity | None = None
    released_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> FrameworkVersion:
        released = self.status is VersionStatus.RELEASED
        if released != (self.released_by is not None) or released != (self.released_at is not None):
            raise ValueError(
                "a released version has released_by and released_at; a draft has neither"
            )
        if self.effective_until is not None and self.effective_until <= self.effective_from:
            raise ValueError("effective_until must be after effective_from")
        approvers = [approval.actor.casefold() for approval in self.approvals]
        if self.author.casefold() in approvers:
            raise ValueError(f"the author {self.author!r} cannot approve their own version")
        twice = sorted({a for a in approvers if approvers.count(a) > 1})
        if twice:
            raise ValueError(f"approved twice by {', '.join(twice)}")
        return self

    @property
    def ref(self) -> str:
        """``KEY@VERSION``, how commands name a stored version."""
        return f"{self.framework}@{self.version}"

    @property
    def is_released(self) -> bool:
        return self.status is VersionStatus.RELEASED

    def approvers(self) -> tuple[str, ...]:
        """Who approved this version's current content (approvals of other content do not
        count: a record's approvals always name its own content hash, see approve())."""
        return tuple(a.actor for a in self.approvals if a.content_hash == self.content_hash)

    def in_force_at(self, at: datetime) -> bool:
        """Whether ``at`` falls in [effective_from, effective_until) (ignoring successors)."""
        at = to_utc(at)
        return self.effective_from <= at and (
            self.effective_until is None or at < self.effective_until
        )


@dataclass(frozen=True, slots=True)
class VersionedFramework:
    """A version's record with its document; refuses a document that is not the record's
    (another framework, or content whose hash differs, e.g. a tampered stored copy)."""

    version: FrameworkVersion
    framework: Framework

    def __post_init__(self) -> None:
        if self.framework.key != self.version.framework:
            raise ValidationError(
                [
                    Problem(
                        f"the document is framework {self.framework.key!r}, "
                        f"the version record is for {self.version.framework!r}",
                        field="key",
                    )
                ]
            )
        actual = content_hash(self.framework)
        if actual != self.version.content_hash:
            raise ValidationError(
                [
                    Problem(
                        f"the document of {self.version.ref} hashes to {actual[:12]}…, the "
                        f"version record says {self.version.content_hash[:12]}…: the document "
                        "was changed after it was recorded",
                        field="content_hash",
                    )
                ]
            )


def draft(
    framework: Framework,
    *,
    rationale: str,
    actor: str,
    at: datetime,
    effective_from: datetime | None = None,
    version: str | None = None,
) -> VersionedFramework:
    """A draft version of ``framework``, for approval and for staging targets.

    The label is ``version`` or the framework's own ``version``; the effective date
    ``effective_from`` or the framework's own. When both are given they must agree (the
    document would otherwise say one thing and the record another); the document is
    stamped with the label and date. ``at`` is when the draft is made (no clock is read).
    """
    label, effective = _label_and_date(framework, version, effective_from)
    document = framework.model_copy(update={"version": label, "effective_from": effective})
    record = FrameworkVersion(
        framework=document.key,
        version=label,
        content_hash=content_hash(document),
        effective_from=effective,
        effective_until=document.effective_until,
        rationale=rationale,
        author=actor,
        created_at=to_utc(at),
    )
    return VersionedFramework(record, document)


def release(
    framework: Framework,
    *,
    rationale: str,
    actor: str,
    at: datetime,
    effective_from: datetime | None = None,
    version: str | None = None,
    policy: ApprovalPolicy | None = None,
) -> VersionedFramework:
    """Draft and release ``framework`` in one step (see :func:`draft` for the arguments).

    Refused with :class:`GovernanceError` when ``policy`` requires approvals: then draft
    it, have it approved (:func:`~comp_adapters.governance.approvals.approve`) and release
    the draft (:func:`~comp_adapters.governance.approvals.release_draft`).
    """
    from comp_adapters.governance.approvals import release_draft  # noqa: PLC0415 - cycle

    drafted = draft(
        framework,
        rationale=rationale,
        actor=actor,
        at=at,
        effective_from=effective_from,
        version=version,
    )
    released = release_draft(drafted.version, actor=actor, at=at, policy=policy)
    return VersionedFramework(released, drafted.framework)


def _label_and_date(
    framework: Framework, version: str | None, effective_from: datetime | None
) -> tuple[str, datetime]:
    problems: list[Problem] = []
    label = version if version is not None else framework.version
    if label is None:
        problems.append(
            Problem("no version label: give one, or set the framework's version", field="version")
        )
    elif framework.version is not None and framework.version != label:
        problems.append(
            Problem(
                f"the framework says version {framework.version!r}, the release says "
                f"{label!r}: change one so they agree",
                field="version",
            )
        )
    effective = to_utc(effective_from) if effective_from is not None else None
    if effective is None:
        effective = framework.effective_from
    if effective is None:
        problems.append(
            Problem(
                "no effective date: give effective_from, or set the framework's",
                field="effective_from",
            )
        )
    elif framework.effective_from is not None and framework.effective_from != effective:
        problems.append(
            Problem(
                f"the framework says effective_from {format_utc(framework.effective_from)}, "
                f"the release says {format_utc(effective)}: change one so they agree",
                field="effective_from",
            )
        )
    if problems or label is None or effective is None:
        raise ValidationError(problems)
    return label, effective


def check_new_version(history: Sequence[FrameworkVersion], candidate: FrameworkVersion) -> None:
    """Refuse ``candidate`` unless it may join (or, for a draft's label, replace a record in)
    ``history``, the records a store holds for the framework.

    A released version is immutable: any other record for its label is refused
    (:class:`GovernanceError`); the identical record is accepted (a repeated write). A
    draft's record may be replaced (approved, released, drafted anew). The resulting
    history must pass :func:`history_problems` (:class:`ValidationError` otherwise).
    """
    same_framework = [v for v in history if v.framework == candidate.framework]
    kept: list[FrameworkVersion] = []
    for existing in same_framework:
        if existing.version != candidate.version:
            kept.append(existing)
            continue
        if existing.is_released and existing != candidate:
            when = f" on {format_utc(existing.released_at)}" if existing.released_at else ""
            raise GovernanceError(
                f"{existing.ref} was released{when} and cannot change: "
                "release a new version instead"
            )
    problems = history_problems([*kept, candidate])
    if problems:
        raise ValidationError(problems)


def history_problems(versions: Iterable[FrameworkVersion]) -> list[Problem]:
    """Everything wrong with a framework's version history, each problem naming the version.

    Per framework: a label names one version; released versions take effect in the order
    they were released (each ``effective_from`` later than every earlier release's); a
    draft takes effect after every released version (else it could never be released).
    """
    problems: list[Problem] = []
    by_framework: dict[str, list[FrameworkVersion]] = {}
    for record in versions:
        by_framework.setdefault(record.framework, []).append(record)
    for records in by_framework.values():
        problems.extend(_one_history(records))
    return problems


def _one_history(records: list[FrameworkVersion]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for record in records:
        if record.version in seen:
            problems.append(
                Problem(
                    f"{record.ref}: the label {record.version!r} is used twice",
                    field="version",
                )
            )
        seen.add(record.version)
    released = sorted(
        (r for r in records if r.is_released),
        key=lambda r: r.released_at or r.created_at,
    )
    latest: FrameworkVersion | None = None
    for record in released:
        if latest is not None and record.effective_from <= latest.effective_from:
            problems.append(_not_later(record, latest))
        if latest is None or record.effective_from > latest.effective_from:
            latest = record
    if latest is not None:
        problems.extend(
            _not_later(record, latest)
            for record in records
            if not record.is_released and record.effective_from <= latest.effective_from
        )
    return problems


def _not_later(record: FrameworkVersion, latest: FrameworkVersion) -> Problem:
    return Problem(
        f"{record.ref} takes effect {format_utc(record.effective_from)}, not after "
        f"{latest.ref} (released, effective {format_utc(latest.effective_from)}): effective "
        "dates must increase from one release to the next",
        field="effective_from",
    )


def version_in_force(versions: Iterable[FrameworkVersion], at: datetime) -> FrameworkVersion | None:
    """The released version of one framework that applies at ``at``, or ``None``.

    That is the released version with the latest ``effective_from`` at or before ``at``,
    unless its ``effective_until`` has passed (the framework was retired). Drafts never
    are in force. Raises ``ValueError`` if the records are of more than one framework.
    """
    at = to_utc(at)
    chosen: FrameworkVersion | None = None
    keys: set[str] = set()
    for record in versions:
        keys.add(record.framework)
        if not record.is_released or record.effective_from > at:
            continue
        if chosen is None or record.effective_from > chosen.effective_from:
            chosen = record
    if len(keys) > 1:
        raise ValueError(f"versions of several frameworks: {', '.join(sorted(keys))}")
    if chosen is not None and not chosen.in_force_at(at):
        return None
    return chosen


__all__ = [
    "Approval",
    "FrameworkVersion",
    "Identity",
    "VersionStatus",
    "VersionedFramework",
    "check_new_version",
    "draft",
    "history_problems",
    "release",
    "same_identity",
    "version_in_force",
]
