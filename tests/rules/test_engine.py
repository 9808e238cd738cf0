"""The rules engine: evidence -> explained proficiency, with Moodle's rollups."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comp_adapters.core import Evidence, Framework, Proficiency, framework_from_data
from comp_adapters.rules import EvidenceTable, evaluate, evaluate_detailed
from tests.conftest import AS_OF, FOUR_LEVELS, ev, framework_data


def by_key(results: list[Proficiency], learner: str = "ann") -> dict[str, Proficiency]:
    return {p.competency: p for p in results if p.learner == learner}


def test_score_fraction_is_rescaled_to_the_scale_like_canvas(framework: Framework) -> None:
    # Canvas: 2/5 on a rubric feeding a 4-point outcome gives 1.6.
    result = by_key(evaluate(framework, [ev("e1", "a", score=0.4)], as_of=AS_OF))["a"]
    assert result.score == 1.6
    assert result.level == "beginning"
    assert not result.proficient
    assert result.evidence_ids == ("e1",)


def test_level_and_success_evidence(framework: Framework) -> None:
    results = by_key(
        evaluate(
            framework,
            [
                ev("e1", "a", level="expert"),
                ev("e2", "b", success=True),
                ev("e3", "c", success=False),
            ],
            as_of=AS_OF,
        )
    )
    assert (results["a"].score, results["a"].level) == (4.0, "expert")
    assert (results["b"].score, results["b"].level) == (3.0, "proficient")  # mastery points
    assert (results["c"].score, results["c"].level) == (1.0, "beginning")  # lowest level


def test_voided_expired_future_and_unknown_evidence_is_left_out(framework: Framework) -> None:
    evidence = [
        ev("good", "a", level="developing", day=1),
        ev("withdrawn", "a", level="expert", day=2),
        ev("withdrawn", "a", level="expert", day=2, voided=True),  # a void of the same id
        ev("lapsed", "a", level="expert", day=3, expires_at="2026-02-01T00:00:00Z"),
        ev("later", "a", level="expert", day=20, learner="ann").model_copy(
            update={"observed_at": datetime(2027, 1, 1, tzinfo=UTC)}
        ),
        ev("stranger", "zz", level="expert"),
        ev("oddlevel", "a", level="guru"),
    ]
    outcome = evaluate_detailed(framework, evidence, as_of=AS_OF)
    result = by_key(outcome.proficiencies)["a"]
    assert result.evidence_ids == ("good",)
    assert result.level == "developing"
    assert dict(outcome.skipped) == {
        "voided": 1,
        "expired": 1,
        "observed after as_of": 1,
        "unknown competency": 1,
        "unknown level": 1,
    }
    assert outcome.used == 1


def test_a_void_before_its_target_still_withdraws_it(framework: Framework) -> None:
    void = ev("x", "a", level="expert", voided=True)
    target = ev("x", "a", level="expert")
    assert evaluate(framework, [void, target], as_of=AS_OF) == []


def test_evidence_expiring_after_as_of_counts(framework: Framework) -> None:
    item = ev("e", "a", level="expert", expires_at="2026-07-01T00:00:00Z")
    assert by_key(evaluate(framework, [item], as_of=AS_OF))["a"].level == "expert"


def test_order_is_observed_at_then_id(framework: Framework) -> None:
    evidence = [ev("b", "a", level="expert", day=5), ev("a", "a", level="beginning", day=5)]
    result = by_key(evaluate(framework, evidence, as_of=AS_OF))["a"]
    assert result.evidence_ids == ("b",)  # latest: same instant, greatest id last
    assert result.level == "expert"


@pytest.mark.parametrize("columnar", [False, True])
def test_ties_follow_the_sources_own_order_before_the_id(
    framework: Framework, columnar: bool
) -> None:
    # Canvas orders results by time in whole seconds with a stable sort on the result id
    # (app/models/rollup_score.rb with app/helpers/rollup_score_aggregator_helper.rb), so
    # result 10 is later than result 9 in the same second, although "…:10" sorts before
    # "…:9" as a string.
    evidence = [
        ev("canvas:outcome_result:10", "a", level="expert", day=5, sequence=10),
        ev("canvas:outcome_result:9", "a", level="beginning", day=5, sequence=9),
    ]
    source = EvidenceTable.from_evidence(evidence) if columnar else evidence
    result = by_key(evaluate(framework, source, as_of=AS_OF))["a"]
    assert result.evidence_ids == ("canvas:outcome_result:10",)
    assert result.level == "expert"


@pytest.mark.parametrize("columnar", [False, True])
def test_evidence_without_a_sequence_comes_after_evidence_with_one(
    framework: Framework, columnar: bool
) -> None:
    evidence = [
        ev("a-first-by-id", "a", level="expert", day=5),
        ev("z-last-by-id", "a", level="beginning", day=5, sequence=1),
    ]
    source = EvidenceTable.from_evidence(evidence) if columnar else evidence
    assert by_key(evaluate(framework, source, as_of=AS_OF))["a"].evidence_ids == ("a-first-by-id",)


@pytest.mark.parametrize("columnar", [False, True])
def test_extra_credit_counts_above_the_scale_like_canvas(
    framework: Framework, columnar: bool
) -> None:
    # Canvas scales a result by its percent of the outcome's points without capping it
    # (app/helpers/rollup_score_aggregator_helper.rb): 150 % on a 4-point outcome counts 6.0.
    evidence = [ev("x", "a", score=1.5, day=5)]
    source = EvidenceTable.from_evidence(evidence) if columnar else evidence
    result = by_key(evaluate(framework, source, as_of=AS_OF))["a"]
    assert result.score == 6.0
    assert result.level == "expert"  # above the top level's points: the top level


def test_methods_come_from_the_competency_else_the_framework() -> None:
    data = framework_data(calculation_method="highest")
    data["competencies"][1].update(calculation_method="decaying_average", calculation_int=65)
    framework = framework_from_data(data)
    evidence = [ev(f"a{i}", "a", score=s / 5, day=i) for i, s in enumerate([1, 2, 3, 4, 5], 1)]
    evidence += [ev(f"b{i}", "b", score=s / 4, day=i) for i, s in enumerate([4, 1], 1)]
    results = by_key(evaluate(framework, evidence, as_of=AS_OF))
    # scores 0.8, 1.6, 2.4, 3.2, 4.0 on the 4-point scale -> legacy decaying average
    assert results["a"].score == 3.3  # 0.65*4 + 0.35*mean(0.8..3.2)=0.35*2 = 3.3
    assert results["a"].method == "decaying_average"
    assert results["b"].score == 4.0
    assert results["b"].evidence_ids == ("b1",)
    assert results["b"].method == "highest"


def test_n_mastery_without_enough_results_has_no_score() -> None:
    data = framework_data()
    data["competencies"][1].update(calculation_method="n_mastery", calculation_int=3)
    framework = framework_from_data(data)
    evidence = [ev("e1", "a", level="expert", day=1), ev("e2", "a", level="developing", day=2)]
    result = by_key(evaluate(framework, evidence, as_of=AS_OF))["a"]
    assert (result.score, result.level, result.proficient) == (None, None, False)
    assert "n_mastery needs 3 results" in result.explanation


def test_min_evidence(framework: Framework) -> None:
    results = by_key(
        evaluate(framework, [ev("e1", "a", level="expert")], as_of=AS_OF, min_evidence=2)
    )
    assert results["a"].level is None
    assert "at least 2 needed" in results["a"].explanation


def test_kind_weights_weight_the_mean_and_zero_excludes() -> None:
    data = framework_data(calculation_method="average")
    framework = framework_from_data(data)
    evidence = [
        ev("obs", "a", kind="observation", level="beginning", day=1),
        ev("exam", "a", kind="assessment", level="expert", day=2),
        ev("hearsay", "b", kind="attestation", level="expert", day=2),
    ]
    plain = by_key(evaluate(framework, evidence, as_of=AS_OF))
    assert plain["a"].score == 2.5
    weighted = evaluate_detailed(
        framework,
        evidence,
        as_of=AS_OF,
        kind_weights={"assessment": 3, "attestation": 0},
    )
    results = by_key(weighted.proficiencies)
    assert results["a"].score == 3.25  # (1*1 + 4*3) / 4
    assert "b" not in results
    assert weighted.skipped == {"kind attestation weighted 0": 1}


def test_all_children_rule_completes_the_parent_with_the_default_level(
    framework: Framework,
) -> None:
    evidence = [ev(k, k, level="proficient") for k in ("a", "b", "c")]
    parent = by_key(evaluate(framework, evidence, as_of=AS_OF))["p"]
    assert (parent.level, parent.proficient, parent.method) == (
        "proficient",
        True,
        "rule:all_children",
    )
    assert parent.children == ("a", "b", "c")
    assert "all children proficient" in parent.explanation


def test_all_children_rule_needs_every_child(framework: Framework) -> None:
    evidence = [ev(k, k, level="proficient") for k in ("a", "b")]
    assert "p" not in by_key(evaluate(framework, evidence, as_of=AS_OF))


def test_complete_with_a_non_proficient_default_level_is_not_proficient() -> None:
    # Moodle recordings: with default = "Not yet competent", a rule completion gives
    # grade 1, proficiency false on the parent, even though all children are competent.
    data = framework_data()
    data["scale"] = {**FOUR_LEVELS, "default_level": "beginning"}
    framework = framework_from_data(data)
    evidence = [ev(k, k, level="expert") for k in ("a", "b", "c")]
    parent = by_key(evaluate(framework, evidence, as_of=AS_OF))["p"]
    assert (parent.level, parent.proficient) == ("beginning", False)


def test_complete_keeps_an_existing_own_rating(framework: Framework) -> None:
    evidence = [ev(k, k, level="proficient") for k in ("a", "b", "c")]
    evidence.append(ev("own", "p", level="developing"))
    parent = by_key(evaluate(framework, evidence, as_of=AS_OF))["p"]
    assert (parent.level, parent.method) == ("developing", "latest")
    assert "already rated from its own evidence, kept" in parent.explanation


def points_framework(outcome: str = "complete") -> Framework:
    data = framework_data()
    data["competencies"][0]["rollup"] = {
        "type": "points",
        "outcome": outcome,
        "base_points": 3,
        "children": [
            {"key": "a", "points": 2, "required": True},
            {"key": "b", "points": 1},
            {"key": "c", "points": 1},
        ],
    }
    return framework_from_data(data)


def test_points_rule_needs_required_children_and_enough_points() -> None:
    framework = points_framework()

    def parent_level(proficient: tuple[str, ...]) -> str | None:
        evidence = [
            ev(k, k, level="proficient" if k in proficient else "developing")
            for k in ("a", "b", "c")
        ]
        found = by_key(evaluate(framework, evidence, as_of=AS_OF)).get("p")
        return found.level if found else None

    assert parent_level(("a", "b")) == "proficient"  # 2 + 1 >= 3
    assert parent_level(("a",)) is None  # 2 < 3
    assert parent_level(("b", "c")) is None  # required a missing
    assert by_key(
        evaluate(
            framework,
            [ev(k, k, level="expert") for k in ("a", "c")],
            as_of=AS_OF,
        )
    )["p"].children == ("a", "c")


def test_recommend_flags_for_review_and_evidence_only_notes() -> None:
    evidence = [ev(k, k, level="proficient") for k in ("a", "b", "c")]
    recommended = by_key(evaluate(points_framework("recommend"), evidence, as_of=AS_OF))["p"]
    assert recommended.review_requested
    assert (recommended.level, recommended.proficient) == (None, False)
    noted = by_key(evaluate(points_framework("evidence"), evidence, as_of=AS_OF))["p"]
    assert not noted.review_requested
    assert "noted as evidence only" in noted.explanation
    ignored = by_key(evaluate(points_framework("none"), evidence, as_of=AS_OF))
    assert "p" not in ignored


def test_rules_cascade_upwards() -> None:
    data = framework_data(
        competencies=[
            {"key": "top", "title": "Top", "rollup": {"type": "all_children"}},
            {"key": "mid", "title": "Mid", "parent": "top", "rollup": {"type": "all_children"}},
            {"key": "leaf", "title": "Leaf", "parent": "mid"},
        ]
    )
    framework = framework_from_data(data)
    results = by_key(evaluate(framework, [ev("e", "leaf", level="expert")], as_of=AS_OF))
    assert results["mid"].proficient
    assert results["top"].proficient
    assert results["top"].children == ("mid",)


def test_every_result_explains_itself(framework: Framework) -> None:
    evidence = [ev(k, k, level="proficient", learner=n) for k in "abc" for n in ("ann", "bo")]
    for result in evaluate(framework, evidence, as_of=AS_OF):
        assert result.explanation
        assert result.as_of == AS_OF


def test_duplicate_ids_keep_the_copy_recorded_last(framework: Framework) -> None:
    old = ev("dup", "a", level="beginning", recorded_at="2026-01-02T00:00:00Z")
    new = ev("dup", "a", level="expert", recorded_at="2026-01-03T00:00:00Z")
    for order in ([old, new], [new, old]):
        outcome = evaluate_detailed(framework, order, as_of=AS_OF)
        assert by_key(outcome.proficiencies)["a"].level == "expert"
        assert outcome.skipped == {"duplicate id": 1}


evidence_strategy = st.lists(
    st.builds(
        lambda i, learner, key, day, level, score, voided, kind: Evidence(
            id=f"e{i}",
            learner=learner,
            competency=key,
            kind=kind,
            observed_at=datetime(2026, 1, day, tzinfo=UTC),
            **({"level": level} if score is None else {"score": score}),
            voided=voided,
        ),
        st.integers(0, 40),
        st.sampled_from(["ann", "bo", "cy"]),
        st.sampled_from(["a", "b", "c", "solo", "p"]),
        st.integers(1, 28),
        st.sampled_from(["beginning", "developing", "proficient", "expert"]),
        st.one_of(st.none(), st.floats(0, 1)),
        st.booleans(),
        st.sampled_from(["assessment", "observation"]),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(evidence=evidence_strategy, data=st.data())
def test_result_does_not_depend_on_input_order(
    evidence: list[Evidence], data: st.DataObject
) -> None:
    framework = points_framework()
    shuffled = data.draw(st.permutations(evidence))
    weights = {"observation": 2.0}
    first = evaluate(framework, evidence, as_of=AS_OF, kind_weights=weights)
    second = evaluate(framework, shuffled, as_of=AS_OF, kind_weights=weights)
    assert first == second


@given(st.floats(0, 1))
def test_levels_follow_the_scales_bucketing(fraction: float) -> None:
    framework = framework_from_data(framework_data())
    result = by_key(evaluate(framework, [ev("e", "a", score=fraction)], as_of=AS_OF))["a"]
    assert result.score is not None
    expected = framework.scale.level_for_points(result.score)
    assert (result.level, result.proficient) == (expected.key, expected.proficient)
    assert result.explanation.endswith(
        f"-> {expected.name} ({'proficient' if expected.proficient else 'not proficient'})"
    )
