"""The approvals policy: four eyes before release, drafts only to staging targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from comp_adapters.errors import GovernanceError, ValidationError
from comp_adapters.governance import (
    ApprovalPolicy,
    FrameworkVersion,
    approve,
    draft,
    release,
    release_draft,
    version_for_target,
)
from tests.governance.builders import JAN, JUNE, MARCH, v1, v2

DAY = datetime(2026, 2, 1, tzinfo=UTC)
TWO = ApprovalPolicy(required_approvals=2)


def drafted(
    label: str = "2.0", *, at: datetime = DAY, effective: datetime = MARCH
) -> FrameworkVersion:
    return draft(
        v2(), version=label, effective_from=effective, rationale="split comm", actor="alice", at=at
    ).version


def test_the_author_cannot_approve_their_own_draft() -> None:
    with pytest.raises(GovernanceError, match=r"'alice' drafted SUPPORT@2.0 and cannot approve it"):
        approve(drafted(), actor="alice", at=DAY)
    # Neither in another spelling of the same identity.
    with pytest.raises(GovernanceError, match=r"cannot approve it"):
        approve(drafted(), actor="  ALICE ", at=DAY)


def test_an_approval_names_who_when_and_which_content() -> None:
    version = approve(drafted(), actor="bob", at=DAY + timedelta(hours=1), note="looks right")
    (approval,) = version.approvals
    assert (approval.actor, approval.at, approval.note) == (
        "bob",
        DAY + timedelta(hours=1),
        "looks right",
    )
    assert approval.content_hash == version.content_hash
    assert version.approvers() == ("bob",)


def test_one_identity_approves_once() -> None:
    version = approve(drafted(), actor="bob", at=DAY)
    with pytest.raises(GovernanceError, match=r"'Bob' has already approved SUPPORT@2.0"):
        approve(version, actor="Bob", at=DAY)


def test_approvals_come_before_release() -> None:
    version = release_draft(drafted(), actor="alice", at=DAY)
    with pytest.raises(GovernanceError, match=r"already released; approvals are given to drafts"):
        approve(version, actor="bob", at=DAY)
    with pytest.raises(GovernanceError, match=r"SUPPORT@2.0 is already released"):
        release_draft(version, actor="alice", at=DAY)


def test_an_approval_cannot_predate_the_draft() -> None:
    with pytest.raises(ValidationError, match=r"before SUPPORT@2.0 was drafted"):
        approve(drafted(), actor="bob", at=DAY - timedelta(seconds=1))
    with pytest.raises(ValidationError, match=r"before SUPPORT@2.0 was drafted"):
        release_draft(drafted(), actor="alice", at=DAY - timedelta(seconds=1))


def test_release_needs_the_configured_number_of_approvals() -> None:
    version = drafted()
    with pytest.raises(
        GovernanceError,
        match=r"needs 2 approvals by identities other than its author 'alice' before release; "
        r"it has 0$",
    ):
        release_draft(version, actor="alice", at=DAY, policy=TWO)
    version = approve(version, actor="bob", at=DAY)
    with pytest.raises(GovernanceError, match=r"it has 1 \(bob\)$"):
        release_draft(version, actor="alice", at=DAY, policy=TWO)
    version = approve(version, actor="carol", at=DAY)
    done = release_draft(version, actor="alice", at=DAY + timedelta(days=1), policy=TWO)
    assert done.is_released
    assert (done.released_by, done.released_at) == ("alice", DAY + timedelta(days=1))
    assert done.approvers() == ("bob", "carol")


def test_approvals_of_other_content_do_not_count() -> None:
    version = approve(drafted(), actor="bob", at=DAY)
    # A record whose content changed after the approval (e.g. rebuilt by hand).
    changed = FrameworkVersion.model_validate({**dict(version), "content_hash": "f" * 64})
    assert changed.approvers() == ()
    with pytest.raises(GovernanceError, match=r"it has 0"):
        release_draft(changed, actor="alice", at=DAY, policy=ApprovalPolicy(required_approvals=1))


def test_direct_release_is_refused_when_approvals_are_required() -> None:
    with pytest.raises(GovernanceError, match=r"needs 1 approval by identities other"):
        release(
            v1(),
            version="1.0",
            effective_from=JAN,
            rationale="r",
            actor="alice",
            at=DAY,
            policy=ApprovalPolicy(required_approvals=1),
        )
    assert release(
        v1(), version="1.0", effective_from=JAN, rationale="r", actor="alice", at=DAY
    ).version.is_released


def test_a_record_with_the_authors_approval_is_invalid() -> None:
    version = approve(drafted(), actor="bob", at=DAY)
    with pytest.raises(ValueError, match=r"cannot approve their own version"):
        FrameworkVersion.model_validate({**dict(version), "author": "BOB"})


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match=r"greater than or equal to 0"):
        ApprovalPolicy(required_approvals=-1)


# -- which version a target receives ---------------------------------------------------------


def _history() -> list[FrameworkVersion]:
    one = release(
        v1(), version="1.0", effective_from=JAN, rationale="r", actor="alice", at=JAN
    ).version
    two = release(
        v2(), version="2.0", effective_from=JUNE, rationale="r", actor="alice", at=MARCH
    ).version
    pending = drafted("3.0", at=MARCH + timedelta(days=1), effective=JUNE + timedelta(days=90))
    older_draft = drafted("2.5", at=MARCH, effective=JUNE + timedelta(days=60))
    return [one, pending, two, older_draft]


def test_live_targets_get_released_versions_only() -> None:
    history = _history()
    assert version_for_target(history, staging=False).version == "2.0"  # latest effective
    assert version_for_target(history, staging=False, at=MARCH).version == "1.0"  # in force
    assert version_for_target(history, staging=False, at=JUNE).version == "2.0"
    assert version_for_target(history, staging=False, at=JAN - timedelta(days=1)) is None


def test_staging_targets_get_the_newest_draft() -> None:
    history = _history()
    assert version_for_target(history, staging=True).version == "3.0"
    assert version_for_target(history, staging=True, at=MARCH).version == "3.0"
    released_only = [v for v in history if v.is_released]
    assert version_for_target(released_only, staging=True, at=MARCH).version == "1.0"
    assert version_for_target([], staging=True) is None


def test_a_pinned_draft_goes_to_staging_only() -> None:
    history = _history()
    assert version_for_target(history, staging=True, pin="2.5").version == "2.5"
    assert version_for_target(history, staging=False, pin="1.0").version == "1.0"
    with pytest.raises(
        GovernanceError,
        match=r"SUPPORT@2.5 is a draft: drafts go only to targets marked staging = true",
    ):
        version_for_target(history, staging=False, pin="2.5")
    with pytest.raises(GovernanceError, match=r"no version '9.9' among 4 recorded versions"):
        version_for_target(history, staging=True, pin="9.9")
