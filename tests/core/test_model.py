from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest

from comp_adapters.core import (
    CalculationMethod,
    Competency,
    Evidence,
    Framework,
    ProficiencyScale,
    Relation,
    RollupRule,
    framework_from_data,
)
from tests.conftest import FOUR_LEVELS, framework_data


def test_scale_orders_levels_and_finds_levels_for_points() -> None:
    scale = ProficiencyScale.model_validate(FOUR_LEVELS)
    assert scale.max_points == 4
    assert scale.effective_mastery_points == 3
    assert scale.level_for_points(2.99).key == "developing"
    assert scale.level_for_points(3).key == "proficient"
    assert scale.level_for_points(0.5).key == "beginning"
    assert scale.level_for_points(9).key == "expert"
    assert scale.index_of("proficient") == 3
    assert scale.default.key == "proficient"


def test_mastery_points_default_to_the_lowest_proficient_level() -> None:
    data = {**FOUR_LEVELS, "mastery_points": None}
    assert ProficiencyScale.model_validate(data).effective_mastery_points == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"default_level": "missing"}, "default_level 'missing' is not one of the levels"),
        (
            {"levels": [{"key": "x", "name": "X", "points": 1}], "default_level": "x"},
            "no proficient level",
        ),
        (
            {
                "levels": [
                    {"key": "a", "name": "A", "points": 2},
                    {"key": "b", "name": "B", "points": 1, "proficient": True},
                ],
                "default_level": "a",
            },
            "strictly increasing",
        ),
        ({"mastery_points": 7}, "outside the scale"),
    ],
)
def test_scale_rejects_inconsistent_definitions(change: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        ProficiencyScale.model_validate({**FOUR_LEVELS, **change})


def test_scale_warns_when_flags_and_mastery_disagree() -> None:
    data = {**FOUR_LEVELS, "mastery_points": 4}
    warnings = ProficiencyScale.model_validate(data).consistency_warnings()
    assert warnings == ["level 'proficient' is proficient but below mastery_points 4"]


def test_calculation_int_ranges_follow_canvas() -> None:
    Competency(
        key="k", title="t", calculation_method=CalculationMethod.N_MASTERY, calculation_int=10
    )
    with pytest.raises(pydantic.ValidationError, match="must be 50-99"):
        Competency(
            key="k",
            title="t",
            calculation_method=CalculationMethod.STANDARD_DECAYING_AVERAGE,
            calculation_int=49,
        )
    with pytest.raises(pydantic.ValidationError, match="takes no calculation_int"):
        Competency(
            key="k", title="t", calculation_method=CalculationMethod.LATEST, calculation_int=3
        )


def test_points_rule_must_be_reachable() -> None:
    with pytest.raises(pydantic.ValidationError, match="cannot reach base_points"):
        RollupRule.model_validate(
            {"type": "points", "base_points": 5, "children": [{"key": "a", "points": 2}]}
        )


def test_relation_names_exactly_one_target() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        Relation(key="a", uri="https://example.org/x")
    assert Relation(uri="https://example.org/x").key is None


def test_framework_navigation(framework: Framework) -> None:
    assert [c.key for c in framework.walk()] == ["p", "a", "b", "c", "solo"]
    assert [c.key for c in framework.children_of("p")] == ["a", "b", "c"]
    assert [c.key for c in framework.ancestors("b")] == ["p"]
    assert framework.depth("b") == 2
    assert "a" in framework
    assert "zz" not in framework
    with pytest.raises(KeyError, match="no competency 'zz'"):
        framework.get("zz")
    assert framework.method_for("a") == (CalculationMethod.LATEST, None)


def test_siblings_follow_sequence_then_input_order() -> None:
    data = framework_data(
        competencies=[
            {"key": "z", "title": "Z"},
            {"key": "y", "title": "Y", "sequence": 2},
            {"key": "x", "title": "X", "sequence": 1},
        ]
    )
    assert [c.key for c in framework_from_data(data).competencies] == ["x", "y", "z"]


def test_taxonomy_by_depth_unless_overridden() -> None:
    data = framework_data(taxonomy_levels=["domain", "skill"])
    data["competencies"][1]["taxonomy"] = "behaviour"
    framework = framework_from_data(data)
    assert framework.taxonomy_for("p") == "domain"
    assert framework.taxonomy_for("a") == "behaviour"
    assert framework.taxonomy_for("b") == "skill"


def test_framework_is_immutable(framework: Framework) -> None:
    with pytest.raises(pydantic.ValidationError):
        framework.title = "changed"  # type: ignore[misc]


def test_evidence_times_are_aware_and_utc() -> None:
    paris = timezone(timedelta(hours=2))
    item = Evidence(
        id="e",
        learner="ann",
        competency="a",
        success=True,
        observed_at=datetime(2026, 5, 1, 12, tzinfo=paris),
    )
    assert item.observed_at == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert item.observed_at.tzinfo is UTC
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        Evidence(
            id="e",
            learner="ann",
            competency="a",
            success=True,
            observed_at=datetime(2026, 5, 1, 12),
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "needs a result"),
        ({"score": -0.5}, "greater than or equal to 0"),
        ({"score": 0.5, "sequence": 2**63 - 1}, "less than 9223372036854775807"),
        ({"score": 0.5, "expires_at": "2025-01-01T00:00:00Z"}, "expires_at must be after"),
        ({"score": 0.5, "kind": "rumour"}, "Input should be"),
    ],
)
def test_evidence_validation(fields: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        Evidence.model_validate(
            {
                "id": "e",
                "learner": "ann",
                "competency": "a",
                "observed_at": "2026-01-01T00:00:00Z",
                **fields,
            }
        )
