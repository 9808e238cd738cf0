"""The approvals policy: who may approve a draft, when it may be released, who receives it.

The rules, all pure (no clock: instants are passed in; no I/O):

- an approval is given by an identity other than the version's author (identities compare
  without regard to case or surrounding spaces, so ``Alice`` cannot approve ``alice``'s
  draft), once per identity, for the draft's exact content;
- a draft is released once it holds the approvals the project's :class:`ApprovalPolicy`
  requires; a released version takes no more approvals and never changes;
- a live target receives released versions only; a draft goes to targets marked staging
  (:func:`version_for_target`, which the sync engine calls for each target).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from comp_adapters.core.timeutil import format_utc, to_utc
from comp_adapters.errors import GovernanceError, Problem, ValidationError
from comp_adapters.governance.versions import (
    Approval,
    FrameworkVersion,
    VersionStatus,
    same_identity,
    version_in_force,
)


class ApprovalPolicy(BaseModel):
    """How many identities other than the author must approve a version before release.

    Configured per project (part B reads it from the project file); ``0``, the default,
    lets an author release directly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    required_approvals: int = Field(default=0, ge=0, le=100)


def approve(
    version: FrameworkVersion, *, actor: str, at: datetime, note: str | None = None
) -> FrameworkVersion:
    """The draft ``version`` with ``actor``'s approval added.

    Refused (:class:`GovernanceError`) for a released version, for the version's author
    and for an identity that has already approved it.
    """
    if version.is_released:
        raise GovernanceError(
            f"{version.ref} is already released; approvals are given to drafts, before release"
        )
    if same_identity(actor, version.author):
        raise GovernanceError(
            f"{actor.strip()!r} drafted {version.ref} and cannot approve it: "
            "approval must come from another identity"
        )
    if any(same_identity(actor, approver) for approver in version.approvers()):
        raise GovernanceError(f"{actor.strip()!r} has already approved {version.ref}")
    at = to_utc(at)
    if at < version.created_at:
        raise ValidationError(
            [
                Problem(
                    f"approval at {format_utc(at)} is before {version.ref} was drafted "
                    f"({format_utc(version.created_at)})",
                    field="at",
                )
            ]
        )
    approval = Approval(actor=actor, at=at, content_hash=version.content_hash, note=note)
    return _updated(version, approvals=(*version.approvals, approval))


def release_draft(
    version: FrameworkVersion,
    *,
    actor: str,
    at: datetime,
    policy: ApprovalPolicy | None = None,
) -> FrameworkVersion:
    """The draft ``version`` released by ``actor`` at ``at``.

    Refused (:class:`GovernanceError`) when it is released already, or when it has fewer
    approvals than ``policy`` requires (approvals by the author never count: see
    :func:`approve`).
    """
    policy = policy or ApprovalPolicy()
    if version.is_released:
        raise GovernanceError(f"{version.ref} is already released")
    approvers = version.approvers()
    needed = policy.required_approvals
    if len(approvers) < needed:
        have = f"has {len(approvers)}" + (f" ({', '.join(approvers)})" if approvers else "")
        raise GovernanceError(
            f"{version.ref} needs {needed} approval{'s' if needed != 1 else ''} by identities "
            f"other than its author {version.author!r} before release; it {have}"
        )
    at = to_utc(at)
    if at < version.created_at:
        raise ValidationError(
            [
                Problem(
                    f"release at {format_utc(at)} is before {version.ref} was drafted "
                    f"({format_utc(version.created_at)})",
                    field="released_at",
                )
            ]
        )
    return _updated(version, status=VersionStatus.RELEASED, released_by=actor, released_at=at)


def _updated(version: FrameworkVersion, **changes: object) -> FrameworkVersion:
    """A validated copy of ``version`` with ``changes`` (model_copy would not validate)."""
    return FrameworkVersion.model_validate({**dict(version), **changes})


def version_for_target(
    versions: Sequence[FrameworkVersion],
    *,
    staging: bool,
    at: datetime | None = None,
    pin: str | None = None,
) -> FrameworkVersion | None:
    """Which version of one framework a target receives, or ``None`` if none applies.

    A live target (``staging=False``) receives the version in force at ``at`` (the sync
    run's as-of time), or without ``at`` the released version with the latest effective
    date. A staging target receives the most recently drafted draft, else what a live
    target receives. ``pin`` names a version label the project file fixes for the target;
    pinning a draft on a live target is refused (:class:`GovernanceError`), as is a label
    the history does not hold.
    """
    if pin is not None:
        for record in versions:
            if record.version == pin:
                if not record.is_released and not staging:
                    raise GovernanceError(
                        f"{record.ref} is a draft: drafts go only to targets marked staging = true"
                    )
                return record
        raise GovernanceError(f"no version {pin!r} among {len(versions)} recorded versions")
    if staging:
        drafts = [record for record in versions if not record.is_released]
        if drafts:
            return max(drafts, key=lambda record: record.created_at)
    if at is not None:
        return version_in_force(versions, at)
    released = [record for record in versions if record.is_released]
    return max(released, key=lambda record: record.effective_from) if released else None


__all__ = ["ApprovalPolicy", "approve", "release_draft", "version_for_target"]
