"""Evidence judged by the version in force, and proficiency carried across a split."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from comp_adapters.core import EvidenceKind, framework_from_data
from comp_adapters.core.framework import Framework
from comp_adapters.errors import GovernanceError, ValidationError
from comp_adapters.governance import (
    CarryOver,
    VersionedEvaluation,
    VersionedFramework,
    carry_over_pairs,
    draft,
    evaluate_in_force,
    release,
)
from comp_adapters.governance.evaluation import CARRY_OVER_SOURCE
from comp_adapters.rules import evaluate
from tests.governance.builders import JAN, JUNE, MARCH, V1, ev, v1, v2, v2_data

FEB = datetime(2026, 2, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
CARRY = CarryOver()


def released(framework: Framework, label: str, effective: datetime) -> VersionedFramework:
    return release(
        framework,
        version=label,
        effective_from=effective,
        rationale=f"release {label}",
        actor="alice",
        at=effective - timedelta(days=10),
    )


def history(*, keep_comm: bool = True) -> list[VersionedFramework]:
    return [released(v1(), "1.0", JAN), released(v2(keep_comm=keep_comm), "2.0", MARCH)]


EVIDENCE = [
    ev("a1", "amara", "comm", FEB),
    ev("a2", "amara", "empathy", FEB),
    ev("b1", "ben", "comm", FEB, level="developing"),
    ev("c1", "chloe", "comm", JAN + timedelta(days=9)),
    ev("c2", "chloe", "comm.written", APRIL, level="beginning"),
    ev("d1", "dan", "comm", MARCH),  # observed at the change instant: judged by 2.0
]


def results(evaluation: VersionedEvaluation) -> dict[tuple[str, str], tuple[str | None, bool]]:
    return {(p.learner, p.competency): (p.level, p.proficient) for p in evaluation.proficiencies}


def test_before_the_change_the_old_version_applies() -> None:
    found = evaluate_in_force(history(), EVIDENCE, as_of=FEB + timedelta(days=14), carry_over=CARRY)
    assert found.version.version == "1.0"
    assert found.carried == ()
    assert results(found) == {
        ("amara", "service"): ("proficient", True),
        ("amara", "comm"): ("proficient", True),
        ("amara", "empathy"): ("proficient", True),
        ("ben", "comm"): ("developing", False),
        ("chloe", "comm"): ("proficient", True),
    }
    # Exactly what the rules engine gives with 1.0 alone: releasing 2.0 changed nothing here.
    alone = evaluate(history()[0].framework, EVIDENCE, as_of=FEB + timedelta(days=14))
    assert found.proficiencies == alone


def test_a_split_carries_proficiency_to_both_new_competencies() -> None:
    found = evaluate_in_force(history(), EVIDENCE, as_of=APRIL, carry_over=CARRY)
    assert found.version.version == "2.0"
    got = results(found)
    # Amara was proficient in comm before the split: proficient in both halves, and the
    # service rule (empathy + both halves) completes again under 2.0.
    assert got["amara", "comm.written"] == ("proficient", True)
    assert got["amara", "comm.verbal"] == ("proficient", True)
    assert got["amara", "service"] == ("proficient", True)
    # Ben was not proficient: nothing is carried.
    assert ("ben", "comm.written") not in got
    assert ("ben", "comm.verbal") not in got
    # Chloe's own later evidence on one half counts after the carried result (latest).
    assert got["chloe", "comm.written"] == ("beginning", False)
    assert got["chloe", "comm.verbal"] == ("proficient", True)
    # Dan's evidence at the change instant belongs to 2.0: on "comm", nothing carried.
    assert got["dan", "comm"] == ("proficient", True)
    assert ("dan", "comm.written") not in got
    assert sorted((e.learner, e.competency) for e in found.carried) == [
        ("amara", "comm.verbal"),
        ("amara", "comm.written"),
        ("chloe", "comm.verbal"),
        ("chloe", "comm.written"),
    ]


def test_carried_evidence_says_where_it_comes_from() -> None:
    found = evaluate_in_force(history(), EVIDENCE, as_of=APRIL, carry_over=CARRY)
    carried = next(
        e for e in found.carried if (e.learner, e.competency) == ("amara", "comm.verbal")
    )
    assert carried.kind is EvidenceKind.ATTESTATION
    assert carried.level == "proficient"
    assert carried.success is None
    assert carried.observed_at == MARCH == carried.recorded_at
    assert carried.source_system == CARRY_OVER_SOURCE == "carry-over"
    assert carried.source_id == "SUPPORT@1.0/comm"
    assert carried.expires_at is None
    assert carried.note == (
        "carried over from 'comm' in SUPPORT@1.0 (Proficient, proficient) as level proficient: "
        "SUPPORT@2.0, effective 2026-03-01T00:00:00Z, replaces it by 'comm.verbal'"
    )
    assert carried.id.startswith("carry-over:")
    assert len(carried.id) == len("carry-over:") + 32
    again = evaluate_in_force(history(), reversed(EVIDENCE), as_of=APRIL, carry_over=CARRY)
    assert again.carried == found.carried  # stable ids, any input order
    result = next(
        p for p in found.proficiencies if (p.learner, p.competency) == ("amara", "comm.verbal")
    )
    assert result.evidence_ids == (carried.id,)
    assert "1 attestation" in result.explanation


def test_without_a_policy_nothing_is_carried() -> None:
    found = evaluate_in_force(history(), EVIDENCE, as_of=APRIL)
    got = results(found)
    assert ("amara", "comm.written") not in got
    assert ("amara", "service") not in got  # the new halves are not proficient
    assert found.carried == ()


def test_a_result_earned_under_old_rules_is_judged_by_them_until_the_change() -> None:
    changed = v2_data()
    for competency in changed["competencies"]:
        if competency["key"] == "empathy":
            competency["calculation_method"] = "highest"
    versions = [released(v1(), "1.0", JAN), released(framework_from_data(changed), "2.0", MARCH)]
    evidence = [
        ev("e1", "amara", "empathy", JAN + timedelta(days=5), level="expert"),
        ev("e2", "amara", "empathy", FEB, level="beginning"),
    ]
    before = evaluate_in_force(versions, evidence, as_of=FEB + timedelta(days=1))
    after = evaluate_in_force(versions, evidence, as_of=APRIL)
    assert results(before)["amara", "empathy"] == ("beginning", False)  # 1.0: latest
    assert results(after)["amara", "empathy"] == ("expert", True)  # 2.0: highest


def test_a_replacement_on_another_scale_carries_proficiency_only() -> None:
    data = v2_data()
    three = {
        "levels": [
            {"key": "no", "name": "Not yet", "points": 0},
            {"key": "yes", "name": "Yes", "points": 5, "proficient": True},
            {"key": "star", "name": "Star", "points": 10, "proficient": True},
        ],
        "default_level": "yes",
    }
    for competency in data["competencies"]:
        if competency["key"] == "comm.verbal":
            competency["scale"] = three
    versions = [released(v1(), "1.0", JAN), released(framework_from_data(data), "2.0", MARCH)]
    evidence = [ev("a1", "amara", "comm", FEB, level="expert")]
    found = evaluate_in_force(versions, evidence, as_of=APRIL, carry_over=CARRY)
    verbal = next(e for e in found.carried if e.competency == "comm.verbal")
    written = next(e for e in found.carried if e.competency == "comm.written")
    assert (verbal.level, verbal.success) == (None, True)
    assert "as proficient (the scale changed)" in (verbal.note or "")
    assert (written.level, written.success) == ("expert", None)
    got = results(found)
    assert got["amara", "comm.verbal"] == ("yes", True)  # mastery points of the new scale
    assert got["amara", "comm.written"] == ("expert", True)


def test_not_proficient_results_carry_when_configured() -> None:
    found = evaluate_in_force(
        history(), EVIDENCE, as_of=APRIL, carry_over=CarryOver(include_not_proficient=True)
    )
    assert results(found)["ben", "comm.written"] == ("developing", False)


def test_a_configured_replacement_carries_a_dropped_competency() -> None:
    versions = history(keep_comm=False)
    assert carry_over_pairs(versions[0], versions[1], CARRY) == {}
    policy = CarryOver(replacements={"2.0": {"comm": ("comm.written", "comm.verbal")}})
    assert carry_over_pairs(versions[0], versions[1], policy) == {
        "comm": ("comm.written", "comm.verbal")
    }
    found = evaluate_in_force(versions, EVIDENCE, as_of=APRIL, carry_over=policy)
    got = results(found)
    assert got["amara", "comm.written"] == ("proficient", True)
    assert got["amara", "comm.verbal"] == ("proficient", True)
    # The evidence on "comm" itself has no competency to count for under 2.0.
    assert found.evaluation.skipped["unknown competency"] == 4


def test_configured_replacements_are_checked() -> None:
    policy = CarryOver(
        replacements={
            "2.0": {"nope": ("comm.written",), "comm": ("gone",)},
            "1.0": {"comm": ("comm",)},
            "7.0": {"comm": ("comm",)},
        }
    )
    with pytest.raises(ValidationError) as caught:
        evaluate_in_force(history(keep_comm=False), EVIDENCE, as_of=APRIL, carry_over=policy)
    assert [(p.field, p.message) for p in caught.value.problems] == [
        (
            "carry_over.replacements.1.0",
            "SUPPORT@1.0 is the first release: nothing to carry over from",
        ),
        ("carry_over.replacements.2.0.comm", "'gone' is not a competency of SUPPORT@2.0"),
        ("carry_over.replacements.2.0.nope", "'nope' is not a competency of SUPPORT@1.0"),
        ("carry_over.replacements.7.0", "no version '7.0' is recorded"),
    ]


def test_a_replacement_configured_for_a_draft_waits_for_its_release() -> None:
    pending = draft(v2(), version="3.0", effective_from=JUNE, rationale="r", actor="a", at=MARCH)
    policy = CarryOver(replacements={"3.0": {"comm": ("comm.written",)}})
    found = evaluate_in_force([*history(), pending], EVIDENCE, as_of=APRIL, carry_over=policy)
    assert found.version.version == "2.0"


def test_a_renamed_competency_carries_to_its_new_key() -> None:
    data = copy.deepcopy(V1)
    data["competencies"][3]["key"] = "tooling"  # the same CASE identifier: a rename
    versions = [released(v1(), "1.0", JAN), released(framework_from_data(data), "2.0", MARCH)]
    evidence = [ev("t1", "amara", "tools", FEB)]
    assert results(evaluate_in_force(versions, evidence, as_of=APRIL, carry_over=CARRY)) == {
        ("amara", "tooling"): ("proficient", True)
    }
    off = CarryOver(include_renamed=False)
    assert results(evaluate_in_force(versions, evidence, as_of=APRIL, carry_over=off)) == {}


def test_carry_over_chains_across_several_changes() -> None:
    data: dict[str, Any] = v2_data()
    for competency in data["competencies"]:
        if competency["key"] == "comm.written":
            competency["related"] = [{"type": "replaced_by", "key": "writing"}]
    data["competencies"].append({"key": "writing", "title": "Writing", "parent": "service"})
    versions = [*history(), released(framework_from_data(data), "3.0", JUNE)]
    found = evaluate_in_force(versions, EVIDENCE, as_of=JUNE + timedelta(days=1), carry_over=CARRY)
    assert found.version.version == "3.0"
    got = results(found)
    assert got["amara", "writing"] == ("proficient", True)  # comm -> comm.written -> writing
    # Chloe's own "beginning" on comm.written (April) is what 2.0 knew at 3.0's start.
    assert ("chloe", "writing") not in got
    assert [e.source_id for e in found.carried if e.competency == "writing"] == [
        "SUPPORT@2.0/comm.written"
    ]


def test_carrying_over_never_extends_an_expiry() -> None:
    expiring = datetime(2026, 5, 1, tzinfo=UTC)
    evidence = [
        ev("a1", "amara", "comm", FEB, kind="certification", expires_at=expiring),
        ev("b1", "ben", "comm", FEB, kind="certification", expires_at=MARCH),
    ]
    found = evaluate_in_force(history(), evidence, as_of=APRIL, carry_over=CARRY)
    assert {e.expires_at for e in found.carried if e.learner == "amara"} == {expiring}
    assert not [e for e in found.carried if e.learner == "ben"]  # expired at the change
    assert results(found)["amara", "comm.written"] == ("proficient", True)
    later = evaluate_in_force(history(), evidence, as_of=expiring, carry_over=CARRY)
    assert ("amara", "comm.written") not in results(later)


def test_a_result_with_unexpiring_evidence_carries_no_expiry() -> None:
    evidence = [
        ev("a0", "amara", "comm", JAN + timedelta(days=1), kind="certification", expires_at=APRIL),
        ev("a1", "amara", "comm", FEB),
    ]
    with_average = v1(calculation_method="average")
    versions = [released(with_average, "1.0", JAN), released(v2(), "2.0", MARCH)]
    found = evaluate_in_force(versions, evidence, as_of=APRIL, carry_over=CARRY)
    assert {e.expires_at for e in found.carried} == {None}


def test_nothing_in_force_is_refused_clearly() -> None:
    with pytest.raises(
        GovernanceError,
        match=r"no version of 'SUPPORT' is in force at 2025-12-31T00:00:00Z: the first, '1.0', "
        r"takes effect 2026-01-01T00:00:00Z",
    ):
        evaluate_in_force(history(), EVIDENCE, as_of=JAN - timedelta(days=1))
    with pytest.raises(GovernanceError, match=r"no released version to evaluate with"):
        evaluate_in_force([], EVIDENCE, as_of=APRIL)
    retired = [released(v1(effective_until="2026-02-01T00:00:00Z"), "1.0", JAN)]
    with pytest.raises(GovernanceError, match=r"was retired before 2026-04-01T00:00:00Z"):
        evaluate_in_force(retired, EVIDENCE, as_of=APRIL)


def test_drafts_are_not_evaluated() -> None:
    pending = draft(v2(), version="2.0", effective_from=MARCH, rationale="r", actor="a", at=FEB)
    found = evaluate_in_force([history()[0], pending], EVIDENCE, as_of=APRIL, carry_over=CARRY)
    assert found.version.version == "1.0"
    assert found.carried == ()


def test_evidence_is_read_once() -> None:
    stream = iter(EVIDENCE)
    found = evaluate_in_force(history(), stream, as_of=APRIL, carry_over=CARRY)
    # Used once per evaluation all the same: the 6 pieces given and the 4 carried.
    assert found.evaluation.used == 10
    assert len(found.carried) == 4
    assert results(found)["amara", "comm.written"] == ("proficient", True)
