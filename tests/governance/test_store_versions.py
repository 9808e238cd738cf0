"""Framework versions in the state store (SQLite and PostgreSQL): release, idempotency,
immutability, drafts and approvals, labels, and what each target receives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, update

from comp_adapters.errors import GovernanceError, StoreError, ValidationError
from comp_adapters.governance import ApprovalPolicy, VersionStatus, content_hash, verify
from comp_adapters.governance.canonical import canonical_json
from comp_adapters.native import framework_to_data
from comp_adapters.store import Store, framework_for_target
from comp_adapters.store.schema import framework_versions
from comp_adapters.store.url import parse_store_url
from comp_adapters.store.versions import next_label
from tests.governance.builders import JAN, JUNE, MARCH, v1, v2
from tests.governance.conftest import Clock

ONE = ApprovalPolicy(required_approvals=1)


def test_a_release_is_stored_with_its_document_and_logged(store: Store, clock: Clock) -> None:
    outcome = store.release_version(
        v1(version="1.0", effective_from=JAN), rationale="first", actor="alice"
    )
    assert outcome.changed
    record = outcome.version
    assert (record.ref, record.status, record.released_by) == (
        "SUPPORT@1.0",
        VersionStatus.RELEASED,
        "alice",
    )
    assert record.released_at == clock.now
    stored = store.framework_version("SUPPORT", "1.0")
    assert stored is not None
    assert stored.version == record
    assert content_hash(stored.framework) == record.content_hash
    assert store.framework_versions("SUPPORT") == [record]
    assert store.versioned_frameworks() == ["SUPPORT"]
    [entry] = store.audit_entries()
    assert entry == outcome.entries[0]
    assert (entry.seq, entry.kind, entry.actor) == (1, "release", "alice")
    assert entry.payload["content_hash"] == record.content_hash


def test_releasing_the_same_content_again_changes_nothing(store: Store, clock: Clock) -> None:
    first = store.release_version(v1(version="1.0", effective_from=JAN), rationale="a", actor="al")
    clock.advance(days=1)
    again = store.release_version(
        v1(version="1.0", effective_from=JAN), rationale="other words", actor="bo"
    )
    assert not again.changed
    assert again.version == first.version
    assert again.entries == ()
    assert store.audit_count() == 1


def test_a_released_version_never_changes(store: Store) -> None:
    store.release_version(v1(version="1.0", effective_from=JAN), rationale="a", actor="al")
    with pytest.raises(GovernanceError) as caught:
        store.release_version(
            v1(version="1.0", effective_from=JAN, title="Other"), rationale="b", actor="al"
        )
    assert "SUPPORT@1.0 was released on" in str(caught.value)
    assert "release it under a new label" in str(caught.value)
    with pytest.raises(GovernanceError):
        store.draft_version(
            v1(version="1.0", effective_from=JAN, title="Other"), rationale="b", actor="al"
        )
    [kept] = store.framework_versions("SUPPORT")
    assert kept.content_hash == content_hash(v1(version="1.0", effective_from=JAN))
    assert store.audit_count() == 1


def test_labels_and_dates_default_from_the_store(store: Store, clock: Clock) -> None:
    first = store.release_version(v1(), rationale="first", actor="al")
    assert first.version.version == "1"
    assert first.version.effective_from == clock.now  # neither given: effective at once
    # The same unlabelled content is recognised as the stored version.
    clock.advance(days=1)
    assert not store.release_version(v1(), rationale="again", actor="al").changed
    second = store.release_version(v1(title="Renamed"), rationale="second", actor="al")
    assert (second.version.version, second.version.effective_from) == ("2", clock.now)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([], "1"),
        (["1.0"], "1.1"),
        (["1.9"], "1.10"),
        (["2026-03"], "2026-04"),
        (["v7"], "v8"),
        (["first"], "first.2"),
        (["1.0", "1.1", "1.0a"], "1.1a"),
        (["1", "2"], "3"),
        (["1", "2.1", "2"], "3"),
        (["1", "3", "2"], "3.1"),
    ],
)
def test_next_label(labels: list[str], expected: str) -> None:
    assert next_label(labels) == expected


def test_a_release_without_a_rationale_is_refused(store: Store) -> None:
    with pytest.raises(ValidationError) as caught:
        store.release_version(v1(version="1.0", effective_from=JAN), rationale=" ", actor="al")
    assert caught.value.problems[0].field == "rationale"
    assert store.framework_versions("SUPPORT") == []


def test_draft_approve_release_with_a_policy(store: Store, clock: Clock) -> None:
    store.release_version(v1(version="1.0", effective_from=JAN), rationale="first", actor="al")
    framework = v2().model_copy(update={"version": "2.0", "effective_from": JUNE})
    drafted = store.draft_version(framework, rationale="split comm", actor="alice")
    assert drafted.changed
    assert drafted.version.status is VersionStatus.DRAFT
    # Drafting the same content again keeps the draft as it is.
    assert not store.draft_version(framework, rationale="again", actor="alice").changed
    with pytest.raises(GovernanceError, match="needs 1 approval"):
        store.release_version(framework, rationale=None, actor="alice", policy=ONE)
    with pytest.raises(GovernanceError, match="cannot approve it"):
        store.approve_version("SUPPORT", "2.0", actor=" ALICE ")
    clock.advance(hours=1)
    approved = store.approve_version("SUPPORT", "2.0", actor="bob", note="looks right")
    assert approved.version.approvers() == ("bob",)
    with pytest.raises(GovernanceError, match="already approved"):
        store.approve_version("SUPPORT", "2.0", actor="Bob")
    clock.advance(hours=1)
    released = store.release_version(framework, rationale=None, actor="alice", policy=ONE)
    assert released.changed
    assert released.version.status is VersionStatus.RELEASED
    assert released.version.approvers() == ("bob",)
    assert released.version.rationale == "split comm"  # the draft's
    kinds = [entry.kind for entry in store.audit_entries()]
    assert kinds == ["release", "draft", "approval", "release"]
    assert verify(store.audit_entries()).ok


def test_a_stored_draft_is_released_by_its_reference(store: Store) -> None:
    store.draft_version(v1(version="1.0", effective_from=JAN), rationale="first", actor="alice")
    store.approve_version("SUPPORT", "1.0", actor="bob")
    outcome = store.release_draft_version("SUPPORT", "1.0", actor="carol", policy=ONE)
    assert outcome.changed
    assert outcome.version.released_by == "carol"
    assert not store.release_draft_version("SUPPORT", "1.0", actor="carol").changed
    with pytest.raises(GovernanceError, match=r"no version '9' of framework 'SUPPORT'.*holds 1\.0"):
        store.release_draft_version("SUPPORT", "9", actor="carol")
    with pytest.raises(GovernanceError, match="already released"):
        store.approve_version("SUPPORT", "1.0", actor="dave")


def test_redrafting_other_content_replaces_the_draft_and_its_approvals(store: Store) -> None:
    store.draft_version(v1(version="1.0", effective_from=JAN), rationale="a", actor="alice")
    store.approve_version("SUPPORT", "1.0", actor="bob")
    changed = store.draft_version(
        v1(version="1.0", effective_from=JAN, title="Better"), rationale="b", actor="alice"
    )
    assert changed.changed
    assert changed.version.approvals == ()
    with pytest.raises(GovernanceError, match="needs 1 approval"):
        store.release_draft_version("SUPPORT", "1.0", actor="alice", policy=ONE)


def test_effective_dates_must_increase(store: Store) -> None:
    store.release_version(v1(version="1.0", effective_from=MARCH), rationale="a", actor="al")
    with pytest.raises(ValidationError, match="effective dates must increase"):
        store.release_version(v1(version="2.0", effective_from=JAN), rationale="b", actor="al")


def test_what_each_target_receives(store: Store, clock: Clock) -> None:
    with pytest.raises(GovernanceError, match="has no released version"):
        framework_for_target(store, "SUPPORT", staging=False, policy=ApprovalPolicy())
    store.release_version(v1(version="1.0", effective_from=JAN), rationale="a", actor="alice")
    two = v2().model_copy(update={"version": "2.0", "effective_from": JUNE})
    store.draft_version(two, rationale="split", actor="alice")
    live, label = framework_for_target(store, "SUPPORT", staging=False, policy=ApprovalPolicy())
    assert (label, live.version) == ("1.0", "1.0")
    staged, label = framework_for_target(store, "SUPPORT", staging=True, policy=ApprovalPolicy())
    assert label == "2.0"
    assert content_hash(staged) == store.framework_versions("SUPPORT")[1].content_hash
    # A release made without approvals does not reach live targets once the policy asks for one.
    with pytest.raises(GovernanceError, match="with 1 approval"):
        framework_for_target(store, "SUPPORT", staging=False, policy=ONE)
    store.approve_version("SUPPORT", "2.0", actor="bob")
    store.release_draft_version("SUPPORT", "2.0", actor="alice", policy=ONE)
    for staging in (False, True):
        _, label = framework_for_target(store, "SUPPORT", staging=staging, policy=ONE)
        assert label == "2.0"
    # As of a time before 2.0 takes effect, 1.0 is in force.
    _, label = framework_for_target(
        store, "SUPPORT", staging=False, at=datetime(2026, 5, 1, tzinfo=UTC)
    )
    assert label == "1.0"


def test_a_document_changed_in_the_database_is_refused(store: Store, store_url: str) -> None:
    store.release_version(v1(version="1.0", effective_from=JAN), rationale="a", actor="al")
    tampered = framework_to_data(v1(version="1.0", effective_from=JAN, title="Forged"))
    engine = create_engine(parse_store_url(store_url).url)
    with engine.begin() as connection:
        connection.execute(update(framework_versions).values(document=canonical_json(tampered)))
    engine.dispose()
    with pytest.raises(StoreError, match=r"SUPPORT@1\.0 is not the one released"):
        store.framework_version("SUPPORT", "1.0")
    with pytest.raises(StoreError):
        framework_for_target(store, "SUPPORT", staging=False)
