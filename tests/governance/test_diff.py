"""The semantic diff: how competencies are recognised across versions and what is reported."""

from __future__ import annotations

import copy
import json
from typing import Any

from comp_adapters.core import framework_from_data
from comp_adapters.core.framework import Framework
from comp_adapters.governance import ChangeKind, diff_frameworks, match_competencies
from comp_adapters.governance.diff import describe_rule, describe_scale
from tests.governance.builders import V1, v1, v2


def edited(**changes: dict[str, Any]) -> Framework:
    """V1 with some competencies' fields changed (``None`` removes a field)."""
    data = copy.deepcopy(V1)
    for competency in data["competencies"]:
        for field, value in changes.get(competency["key"], {}).items():
            if value is None:
                competency.pop(field, None)
            else:
                competency[field] = value
    return framework_from_data(data)


def kinds(old: Framework, new: Framework) -> list[tuple[str, str]]:
    return [(c.kind.value, c.key) for c in diff_frameworks(old, new).competencies]


def test_identical_versions_have_no_differences() -> None:
    result = diff_frameworks(v1(), v1())
    assert result.is_empty
    assert result.competencies == ()
    assert result.framework == ()
    assert result.to_table().splitlines()[1] == "  no differences"


def test_a_split_is_two_additions_and_a_replacement() -> None:
    result = diff_frameworks(v1(), v2())
    assert kinds(v1(), v2()) == [
        ("added", "comm.written"),
        ("added", "comm.verbal"),
        ("replaced", "comm"),
        ("moved", "comm"),
        ("other", "comm"),
    ]
    assert result.replacements == {"comm": ("comm.written", "comm.verbal")}
    replaced = next(c for c in result.competencies if c.kind is ChangeKind.REPLACED)
    assert replaced.detail == "replaced by comm.written, comm.verbal (split)"
    moved = next(c for c in result.competencies if c.kind is ChangeKind.MOVED)
    assert (moved.before, moved.after, moved.detail) == (
        "service",
        None,
        "under service -> top level",
    )
    # The replaced_by relations are reported once, as the replacement, not again as relations.
    assert not any(c.kind is ChangeKind.RELATIONS for c in result.competencies)
    assert result.counts() == {"added": 2, "replaced": 1, "moved": 1, "other": 1}


def test_a_dropped_competency_is_removed() -> None:
    result = diff_frameworks(v1(), v2(keep_comm=False))
    assert [(c.kind.value, c.key) for c in result.competencies] == [
        ("added", "comm.written"),
        ("added", "comm.verbal"),
        ("removed", "comm"),
    ]
    assert result.replacements == {}
    removed = result.competencies[-1]
    assert removed.before == {
        "key": "comm",
        "title": "Communication",
        "description": "Writes and speaks clearly.",
        "parent": "service",
        "sequence": 1,
    }


def test_a_shared_external_id_means_the_same_competency_renamed() -> None:
    new = edited(tools={"key": "tooling", "title": "Tools and systems"})
    result = diff_frameworks(v1(), new)
    assert [(c.kind.value, c.key, c.old_key) for c in result.competencies] == [
        ("renamed", "tooling", "tools"),
        ("retitled", "tooling", None),
    ]
    assert result.renamed == {"tools": "tooling"}
    assert (
        result.competencies[0].detail == "key 'tools' -> 'tooling' (same external id case=c-tools)"
    )


def test_same_title_and_description_under_the_same_parent_means_renamed() -> None:
    new = edited(comm={"key": "communication"})
    matching = match_competencies(v1(), new)
    assert matching.pairs["comm"] == "communication"
    assert matching.reasons == {"comm": "same title and description under the same parent"}
    assert kinds(v1(), new) == [("renamed", "communication")]


def test_a_renamed_parent_does_not_move_its_children_or_change_their_rule() -> None:
    data = copy.deepcopy(V1)
    data["competencies"][0]["rollup"] = {
        "type": "points",
        "base_points": 2,
        "children": [{"key": "comm", "points": 1}, {"key": "empathy", "points": 1}],
    }
    old = framework_from_data(data)
    renamed = copy.deepcopy(data)
    renamed["competencies"][0]["key"] = "svc"
    renamed["competencies"][1]["key"] = "comm2"  # same title and description under "svc"
    renamed["competencies"][0]["rollup"]["children"][0]["key"] = "comm2"
    for competency in renamed["competencies"][1:3]:
        competency["parent"] = "svc"
    new = framework_from_data(renamed)
    assert kinds(old, new) == [("renamed", "svc"), ("renamed", "comm2")]


def test_ambiguous_look_alikes_are_removed_and_added() -> None:
    data = copy.deepcopy(V1)
    data["competencies"].append({"key": "twin-a", "title": "Twin", "parent": "service"})
    data["competencies"].append({"key": "twin-b", "title": "Twin", "parent": "service"})
    old = framework_from_data(data)
    for competency in data["competencies"]:
        if competency["key"].startswith("twin"):
            competency["key"] = competency["key"].replace("twin", "pair")
    new = framework_from_data(data)
    assert sorted(kinds(old, new)) == [
        ("added", "pair-a"),
        ("added", "pair-b"),
        ("removed", "twin-a"),
        ("removed", "twin-b"),
    ]


def test_each_field_change_is_reported_with_before_and_after() -> None:
    new = edited(
        comm={
            "title": "Communication skills",
            "description": "Writes, speaks and listens.",
            "calculation_method": "highest",
        },
        empathy={"scale": {**V1["scale"], "mastery_points": 4}, "tags": ["soft"]},
        service={"rollup": {"type": "all_children", "outcome": "recommend"}},
        tools={"related": [{"type": "related", "key": "empathy"}]},
    )
    result = diff_frameworks(v1(), new)
    found = {(c.kind.value, c.key): c for c in result.competencies}
    assert list(found) == [
        ("rule", "service"),
        ("retitled", "comm"),
        ("redescribed", "comm"),
        ("calculation", "comm"),
        ("scale", "empathy"),
        ("other", "empathy"),
        ("relations", "tools"),
    ]
    assert found["rule", "service"].detail == "all_children -> all_children, outcome recommend"
    assert found["retitled", "comm"].before == "Communication"
    assert found["retitled", "comm"].after == "Communication skills"
    assert found["redescribed", "comm"].detail == "description changed (26 -> 27 characters)"
    assert found["calculation", "comm"].detail == "framework method -> highest"
    assert found["scale", "empathy"].detail.startswith("framework scale -> [beginning(1)")
    assert found["other", "empathy"].detail == 'tags [] -> ["soft"]'
    assert found["relations", "tools"].detail == "+ related empathy"


def test_framework_level_changes() -> None:
    old = v1(version="1.0")
    scale = copy.deepcopy(V1["scale"])
    scale["levels"][1]["proficient"] = True
    scale["mastery_points"] = 2
    new = v1(version="2.0", title="Support skills 2026", scale=scale, calculation_method="average")
    result = diff_frameworks(old, new)
    fields = {item.field: item for item in result.framework}
    assert list(fields) == ["title", "version", "scale", "calculation_method"]
    assert fields["version"].detail == '"1.0" -> "2.0"'
    assert fields["calculation_method"].detail == "latest -> average"
    assert fields["scale"].detail == (
        "[beginning(1) developing(2) proficient(3)* expert(4)*; default proficient, mastery 3]"
        " -> [beginning(1) developing(2)* proficient(3)* expert(4)*; default proficient, mastery 2]"
    )
    assert result.competencies == ()


def test_table_and_json() -> None:
    new = v2().model_copy(update={"version": "2.0"})
    result = diff_frameworks(v1(version="1.0"), new)
    table = result.to_table().splitlines()
    assert table[0].startswith("Framework SUPPORT: 1.0 [")
    assert " -> 2.0 [" in table[0]
    assert table[1:] == [
        '  framework     version              "1.0" -> "2.0"',
        "competencies: 2 added, 1 replaced, 1 moved, 1 other",
        "  added         comm.written  'Written communication' under service",
        "  added         comm.verbal   'Verbal communication' under service",
        "  replaced      comm          replaced by comm.written, comm.verbal (split)",
        "  moved         comm          under service -> top level",
        "  other         comm          sequence 1 -> null",
    ]
    data = json.loads(result.to_json())
    assert data["counts"] == {"added": 2, "replaced": 1, "moved": 1, "other": 1}
    assert data["replacements"] == {"comm": ["comm.written", "comm.verbal"]}
    assert data["old"]["version"] == "1.0"
    assert len(data["old"]["content_hash"]) == 64
    assert data["competencies"][0] == {
        "kind": "added",
        "key": "comm.written",
        "old_key": None,
        "field": None,
        "before": None,
        "after": {"key": "comm.written", "title": "Written communication", "parent": "service"},
        "detail": "'Written communication' under service",
    }


def test_describe_rule_and_scale() -> None:
    assert describe_rule(None) == "no rule"
    data = copy.deepcopy(V1)
    data["competencies"][0]["rollup"] = {
        "type": "points",
        "base_points": 2,
        "children": [
            {"key": "comm", "points": 2, "required": True},
            {"key": "empathy", "points": 1},
        ],
    }
    rule = framework_from_data(data).get("service").rollup
    assert describe_rule(rule) == "points (base 2: comm 2 required, empathy 1)"
    assert describe_scale(None) == "framework scale"
