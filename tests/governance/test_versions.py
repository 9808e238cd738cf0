"""Framework versions: drafting, releasing, the rules of a history, the version in force."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from comp_adapters.errors import GovernanceError, ValidationError
from comp_adapters.governance import (
    FrameworkVersion,
    VersionedFramework,
    VersionStatus,
    check_new_version,
    content_hash,
    draft,
    history_problems,
    release,
    version_in_force,
)
from comp_adapters.native import dumps_framework
from tests.governance.builders import JAN, JUNE, MARCH, v1, v2

NOON = datetime(2025, 12, 15, 12, tzinfo=UTC)


def released(
    framework_version: str, effective: datetime, *, at: datetime = NOON
) -> FrameworkVersion:
    return release(
        v1(),
        version=framework_version,
        rationale="review",
        actor="alice",
        at=at,
        effective_from=effective,
    ).version


def test_release_records_hash_label_date_rationale_and_author() -> None:
    made = release(
        v1(), version="1.0", rationale="first cut", actor=" alice ", at=NOON, effective_from=JAN
    )
    record = made.version
    assert record.status is VersionStatus.RELEASED
    assert (record.framework, record.version, record.ref) == ("SUPPORT", "1.0", "SUPPORT@1.0")
    assert record.effective_from == JAN
    assert record.rationale == "first cut"
    assert record.author == "alice"  # identities are trimmed
    assert (record.released_by, record.released_at, record.created_at) == ("alice", NOON, NOON)
    # The document is stamped with the label and date, and the hash is the stamped document's.
    assert made.framework.version == "1.0"
    assert made.framework.effective_from == JAN
    assert record.content_hash == content_hash(made.framework)
    assert record.content_hash != content_hash(v1())


def test_content_hash_is_of_the_canonical_document() -> None:
    framework = v1()
    service, comm, empathy, tools = framework.competencies
    # Children listed before their parent: the canonical (depth-first) document is the same.
    shuffled = framework.model_copy(update={"competencies": (empathy, comm, service, tools)})
    assert content_hash(shuffled) == content_hash(framework)
    # Sibling order is meaningful: swapping the two unsequenced top-level ones is a change.
    swapped = framework.model_copy(update={"competencies": (tools, service, comm, empathy)})
    assert content_hash(swapped) != content_hash(framework)
    retitled = framework.model_copy(update={"title": "Support skills!"})
    assert content_hash(retitled) != content_hash(framework)
    # The same document as the native file holds it.
    text = json.dumps(
        json.loads(dumps_framework(framework)),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert content_hash(framework) == hashlib.sha256(text.encode()).hexdigest()


def test_label_and_date_come_from_the_framework_when_not_given() -> None:
    framework = v1(version="1.1", effective_from="2026-02-01T00:00:00Z")
    record = draft(framework, rationale="r", actor="alice", at=NOON).version
    assert (record.version, record.effective_from) == ("1.1", datetime(2026, 2, 1, tzinfo=UTC))
    assert record.status is VersionStatus.DRAFT
    assert record.released_at is None


def test_missing_label_and_date_are_reported_together() -> None:
    with pytest.raises(ValidationError) as caught:
        draft(v1(), rationale="r", actor="alice", at=NOON)
    fields = [p.field for p in caught.value.problems]
    assert fields == ["version", "effective_from"]


def test_a_release_that_contradicts_its_document_is_refused() -> None:
    framework = v1(version="1.0", effective_from="2026-01-01T00:00:00Z")
    with pytest.raises(
        ValidationError, match=r"framework says version '1.0', the release says '2.0'"
    ):
        release(framework, version="2.0", rationale="r", actor="a", at=NOON)
    with pytest.raises(
        ValidationError, match=r"effective_from 2026-01-01T00:00:00Z, the release says"
    ):
        release(framework, effective_from=MARCH, rationale="r", actor="a", at=NOON)


def test_rationale_and_actor_are_required() -> None:
    with pytest.raises(ValueError, match=r"rationale"):
        release(v1(), version="1", effective_from=JAN, rationale="  ", actor="a", at=NOON)
    with pytest.raises(ValueError, match=r"author"):
        release(v1(), version="1", effective_from=JAN, rationale="r", actor="", at=NOON)


def test_records_are_immutable() -> None:
    record = released("1.0", JAN)
    with pytest.raises(ValueError, match=r"frozen"):
        record.rationale = "rewritten"  # type: ignore[misc]


def test_a_released_version_cannot_change() -> None:
    history = [released("1.0", JAN)]
    changed = history[0].model_copy(update={"rationale": "rewritten history"})
    with pytest.raises(
        GovernanceError, match=r"SUPPORT@1.0 was released on 2025-12-15T12:00:00Z and cannot change"
    ):
        check_new_version(history, changed)
    check_new_version(history, history[0])  # writing the same record again is fine


def test_a_draft_can_be_replaced_by_its_next_step() -> None:
    drafted = draft(
        v1(), version="1.0", effective_from=JAN, rationale="r", actor="a", at=NOON
    ).version
    check_new_version([drafted], drafted.model_copy(update={"rationale": "better words"}))


def test_labels_are_unique_per_framework() -> None:
    history = [released("1.0", JAN)]
    other = draft(
        v2(), version="1.1", effective_from=MARCH, rationale="r", actor="a", at=NOON
    ).version
    check_new_version(history, other)
    again = history[0].model_copy(update={"effective_from": JUNE})
    problems = history_problems([*history, again])
    assert [p.message for p in problems] == ["SUPPORT@1.0: the label '1.0' is used twice"]
    # Another framework may use the same label.
    elsewhere = history[0].model_copy(update={"framework": "OTHER"})
    assert history_problems([*history, elsewhere]) == []


def test_effective_dates_increase_from_release_to_release() -> None:
    history = [released("1.0", MARCH)]
    earlier = released("1.1", JAN, at=NOON + timedelta(days=1))
    with pytest.raises(ValidationError) as caught:
        check_new_version(history, earlier)
    (problem,) = caught.value.problems
    assert problem.field == "effective_from"
    assert "SUPPORT@1.1 takes effect 2026-01-01T00:00:00Z, not after SUPPORT@1.0" in problem.message
    same_day = released("1.1", MARCH, at=NOON + timedelta(days=1))
    with pytest.raises(ValidationError):
        check_new_version(history, same_day)
    check_new_version(history, released("1.1", JUNE, at=NOON + timedelta(days=1)))


def test_a_draft_effective_before_the_last_release_is_refused() -> None:
    history = [released("1.0", MARCH)]
    stale = draft(
        v1(), version="0.9", effective_from=JAN, rationale="r", actor="a", at=NOON
    ).version
    with pytest.raises(ValidationError, match=r"SUPPORT@0.9 takes effect"):
        check_new_version(history, stale)


def test_released_fields_go_together() -> None:
    record = released("1.0", JAN)
    with pytest.raises(ValueError, match=r"released_by and released_at"):
        FrameworkVersion.model_validate({**dict(record), "released_by": None})
    with pytest.raises(ValueError, match=r"released_by and released_at"):
        FrameworkVersion.model_validate({**dict(record), "status": "draft"})


def test_version_in_force() -> None:
    one, two = released("1.0", JAN), released("2.0", MARCH)
    pending = draft(
        v1(), version="3.0", effective_from=JUNE, rationale="r", actor="a", at=NOON
    ).version
    history = [two, pending, one]  # any order
    assert version_in_force(history, JAN - timedelta(microseconds=1)) is None
    assert version_in_force(history, JAN) == one
    assert version_in_force(history, MARCH - timedelta(microseconds=1)) == one
    assert version_in_force(history, MARCH) == two
    assert version_in_force(history, JUNE + timedelta(days=30)) == two  # drafts are never in force


def test_a_retired_framework_is_in_force_until_its_end() -> None:
    retiring = release(
        v1(effective_until="2026-04-01T00:00:00Z"),
        version="1.0",
        rationale="last one",
        actor="a",
        at=NOON,
        effective_from=JAN,
    ).version
    assert retiring.effective_until == datetime(2026, 4, 1, tzinfo=UTC)
    assert version_in_force([retiring], MARCH) == retiring
    assert version_in_force([retiring], datetime(2026, 4, 1, tzinfo=UTC)) is None


def test_version_in_force_refuses_mixed_frameworks() -> None:
    one = released("1.0", JAN)
    with pytest.raises(ValueError, match=r"several frameworks"):
        version_in_force([one, one.model_copy(update={"framework": "OTHER"})], MARCH)


def test_a_versioned_framework_refuses_a_document_that_is_not_its_own() -> None:
    made = release(v1(), version="1.0", effective_from=JAN, rationale="r", actor="a", at=NOON)
    tampered = made.framework.model_copy(update={"title": "Tampered"})
    with pytest.raises(
        ValidationError, match=r"the document of SUPPORT@1.0 hashes to .* the document was changed"
    ):
        VersionedFramework(made.version, tampered)
    with pytest.raises(ValidationError, match=r"the version record is for 'SUPPORT'"):
        VersionedFramework(made.version, made.framework.model_copy(update={"key": "OTHER"}))
