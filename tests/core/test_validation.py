"""Loading reports every problem, each located by competency key and field."""

from __future__ import annotations

from typing import Any

import pytest

from comp_adapters.core import check_framework, framework_from_data
from comp_adapters.errors import Problem, ValidationError
from tests.conftest import framework_data


def problems_of(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ValidationError) as caught:
        framework_from_data(data, source="fw.json")
    return list(caught.value.problems)


def located(problems: list[Problem]) -> set[tuple[str | None, str | None, str]]:
    return {(p.key, p.field, p.severity) for p in problems}


def test_every_kind_of_problem_is_reported_at_once() -> None:
    data = framework_data(
        competencies=[
            {"key": "p", "title": "P", "rollup": {"type": "all_children"}},
            {
                "key": "a",
                "title": "A",
                "parent": "p",
                "calculation_method": "n_mastery",
                "calculation_int": 11,
            },
            {"key": "a", "title": "A again", "parent": "p"},
            {"key": "orphan", "title": "O", "parent": "nowhere"},
            {"key": "x", "title": "X", "parent": "y"},
            {"key": "y", "title": "Y", "parent": "x"},
            {"key": "r", "title": "R", "related": [{"key": "ghost"}]},
            {
                "key": "q",
                "title": "Q",
                "rollup": {
                    "type": "points",
                    "base_points": 1,
                    "children": [{"key": "a", "points": 1}],
                },
            },
            {"key": "t", "title": "T", "surprise": True},
        ]
    )
    problems = problems_of(data)
    assert all(p.file == "fw.json" for p in problems)
    assert located(problems) >= {
        ("a", None, "error"),  # calculation_int out of range
        ("a", "key", "error"),  # duplicate
        ("orphan", "parent", "error"),
        ("x", "parent", "error"),  # cycle x -> y -> x
        ("r", "related[0].key", "error"),
        ("q", "rollup.children[0].key", "error"),  # names a non-child
        ("t", "surprise", "error"),
        ("q", "rollup", "warning"),  # rule on a leaf never matches
    }
    messages = " | ".join(p.message for p in problems)
    assert "out of range for n_mastery: must be 1-10" in messages
    assert "parent cycle: x -> y -> x" in messages
    assert "unknown parent 'nowhere'" in messages
    assert "unknown related competency 'ghost'" in messages


def test_scale_without_proficient_level_is_located_at_the_scale() -> None:
    data = framework_data(
        scale={"levels": [{"key": "x", "name": "X", "points": 1}], "default_level": "x"}
    )
    problems = problems_of(data)
    assert [(p.field, p.message) for p in problems] == [
        ("scale", "the scale has no proficient level")
    ]


def test_competency_scale_override_is_located_at_the_competency() -> None:
    data = framework_data()
    data["competencies"][1]["scale"] = {
        "levels": [{"key": "x", "name": "X", "points": 1}],
        "default_level": "x",
    }
    assert [(p.key, p.field) for p in problems_of(data)] == [("a", "scale")]


def test_a_non_object_document_is_a_located_error() -> None:
    with pytest.raises(ValidationError, match=r"fw\.json: expected a JSON object, found list"):
        framework_from_data([], source="fw.json")


def test_complete_rule_with_non_proficient_default_level_only_warns() -> None:
    data = framework_data()
    data["scale"] = {**data["scale"], "default_level": "beginning"}
    framework = framework_from_data(data)  # no error
    warnings = check_framework(framework)
    assert [(w.key, w.field, w.severity) for w in warnings] == [("p", "rollup.outcome", "warning")]
    assert "not proficient" in warnings[0].message


def test_error_text_lists_every_problem_with_its_location() -> None:
    data = framework_data(competencies=[{"key": "a", "title": "A", "parent": "b"}])
    with pytest.raises(ValidationError) as caught:
        framework_from_data(data, source="fw.json")
    assert (
        str(caught.value)
        == "1 error\n  fw.json, competency 'a', field 'parent': unknown parent 'b'"
    )
