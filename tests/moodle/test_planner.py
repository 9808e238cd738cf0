"""The pure push planner: ordering, minimal updates, rule resets, prune, links."""

from __future__ import annotations

from typing import Any

import pytest

from comp_adapters.core.framework import Framework, RuleOutcome
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError
from comp_adapters.moodle.mapping import CourseLink, points_config, scale_configuration
from comp_adapters.moodle.planner import (
    DEFAULT_SCALE_ID,
    RESET_PREFIX,
    PushOptions,
    PushTarget,
    RemoteFramework,
    ScaleBinding,
    bind_scales,
    course_links_of,
    plan_framework,
    plan_push,
    scale_candidates,
)
from comp_adapters.moodle.wire import (
    RULE_ALL,
    RULE_POINTS,
    ContextRef,
    CourseCompetency,
    WireCompetency,
    WireFramework,
)
from comp_adapters.sync.plan import Action, Plan

SCALE = {
    "levels": [
        {"key": "no", "name": "Not yet competent", "points": 1},
        {"key": "yes", "name": "Competent", "points": 2, "proficient": True},
    ],
    "default_level": "yes",
}


def framework(*competencies: dict[str, Any], **extra: Any) -> Framework:
    return framework_from_data(
        {
            "key": "FW",
            "title": "Framework",
            "scale": SCALE,
            "competencies": list(competencies),
            **extra,
        }
    )


def comp(key: str, parent: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"key": key, "title": key.upper(), "parent": parent, **extra}


FW = framework(comp("a"), comp("a1", "a"), comp("a2", "a"), comp("b"), comp("a1x", "a1"))
BINDING = ScaleBinding(2, scale_configuration(FW.scale, 2))
ALL_ON_A = framework(
    comp("a", rollup={"type": "all_children"}),
    comp("a1", "a"),
    comp("a2", "a"),
    comp("b"),
    comp("a1x", "a1"),
)


def wire_fw(**extra: Any) -> WireFramework:
    data: dict[str, Any] = {
        "id": 7,
        "shortname": "Framework",
        "idnumber": "FW",
        "description": "",
        "descriptionformat": 2,
        "scaleid": 2,
        "scaleconfiguration": BINDING.configuration,
        "taxonomies": "",
    }
    data.update(extra)
    return WireFramework.model_validate(data)


IDS = {"a": 1, "a1": 2, "a2": 3, "b": 4, "a1x": 5}


def wire(key: str, parent: str | None = None, **extra: Any) -> WireCompetency:
    data: dict[str, Any] = {
        "id": IDS.get(key, 90 + len(key)),
        "shortname": key.upper(),
        "idnumber": key,
        "description": "",
        "descriptionformat": 1,
        "parentid": IDS[parent] if parent else 0,
        "competencyframeworkid": 7,
    }
    data.update(extra)
    return WireCompetency.model_validate(data)


def full_remote(**changes: dict[str, Any]) -> tuple[WireCompetency, ...]:
    parents = {"a": None, "a1": "a", "a2": "a", "b": None, "a1x": "a1"}
    return tuple(wire(k, p, **changes.get(k, {})) for k, p in parents.items())


def plan(
    desired: Framework = FW,
    remote: RemoteFramework | None = None,
    **target: Any,
) -> Plan:
    return plan_push(
        desired,
        remote or RemoteFramework(framework=None),
        PushTarget(framework_scale=BINDING, **target),
        where="test",
    )


def writes(p: Plan) -> list[tuple[str, str]]:
    return [(c.action.value, c.id) for c in p.writes]


def test_fresh_push_creates_level_by_level_then_rules() -> None:
    desired = framework(
        comp("a", rollup={"type": "all_children"}),
        comp(
            "a1",
            "a",
            rollup={"type": "points", "base_points": 1, "children": [{"key": "a1x", "points": 1}]},
        ),
        comp("a2", "a"),
        comp("b"),
        comp("a1x", "a1"),
    )
    p = plan(desired)
    assert writes(p) == [
        ("create", "framework:FW"),
        ("create", "competency:a"),
        ("create", "competency:b"),
        ("create", "competency:a1"),
        ("create", "competency:a2"),
        ("create", "competency:a1x"),
        ("create", "rule:a"),
        ("create", "rule:a1"),
    ]
    by_id = {c.id: c for c in p.changes}
    assert by_id["competency:a1x"].depends_on == ("framework:FW", "competency:a1")
    assert by_id["rule:a1"].fields["children"] == [
        {"key": "a1x", "id": None, "points": 1, "required": False}
    ]
    assert "competency:a1x" in by_id["rule:a1"].depends_on
    assert by_id["framework:FW"].fields["contextlevel"] == "system"
    assert "description" not in by_id["competency:a"].fields  # empty: left to Moodle's default


def test_nothing_differs_nothing_planned() -> None:
    p = plan(remote=RemoteFramework(framework=wire_fw(), competencies=full_remote()))
    assert p.is_empty


def test_only_differing_fields_are_updated() -> None:
    remote = RemoteFramework(
        framework=wire_fw(shortname="Old name", taxonomies="competency,competency"),
        competencies=full_remote(a={"shortname": "old", "descriptionformat": 4}),
    )
    p = plan(remote=remote)
    by_id = {c.id: c for c in p.writes}
    # Moodle resets an omitted descriptionformat to 1 (recordings 42, 43): every update
    # sends the format it keeps, here the one in Moodle (an empty description's format
    # is not compared, so it is not changed either).
    assert by_id["framework:FW"].fields == {
        "id": 7,
        "shortname": "Framework",
        "descriptionformat": 2,
    }
    assert by_id["framework:FW"].before == {"shortname": "Old name"}
    assert by_id["update:a"].fields == {"id": 1, "shortname": "A", "descriptionformat": 4}
    assert by_id["update:a"].before == {"shortname": "old"}
    assert len(p.writes) == 2


def test_scale_configuration_is_compared_by_meaning() -> None:
    sparse = '[{"scaleid":2},{"id":2,"scaledefault":1,"proficient":1}]'
    assert plan(
        remote=RemoteFramework(
            framework=wire_fw(scaleconfiguration=sparse), competencies=full_remote()
        )
    ).is_empty
    other = '[{"scaleid":"2"},{"id":1,"scaledefault":1,"proficient":1}]'
    p = plan(
        remote=RemoteFramework(
            framework=wire_fw(scaleconfiguration=other), competencies=full_remote()
        )
    )
    assert [c.fields.get("scaleconfiguration") for c in p.writes] == [BINDING.configuration]


def test_new_child_resets_the_parents_rule_so_it_is_written_again() -> None:
    desired = framework(
        comp("a", rollup={"type": "all_children"}),
        comp("a1", "a"),
        comp("a2", "a"),
        comp("b"),
        comp("a1x", "a1"),
        comp("a3", "a"),
    )
    remote = RemoteFramework(
        framework=wire_fw(), competencies=full_remote(a={"ruletype": RULE_ALL, "ruleoutcome": 2})
    )
    p = plan(desired, remote)
    assert writes(p) == [("create", "competency:a3"), ("update", "rule:a")]


def test_moves_reset_both_parents_rules() -> None:
    desired = framework(
        comp("a", rollup={"type": "all_children"}),
        comp("a1", "a"),
        comp("a2", "b"),
        comp("b", rollup={"type": "all_children", "outcome": "evidence"}),
        comp("a1x", "a1"),
    )
    remote = RemoteFramework(
        framework=wire_fw(),
        competencies=full_remote(
            a={"ruletype": RULE_ALL, "ruleoutcome": 2}, b={"ruletype": RULE_ALL, "ruleoutcome": 1}
        ),
    )
    p = plan(desired, remote)
    assert writes(p) == [("update", "parent:a2"), ("update", "rule:a"), ("update", "rule:b")]
    move = p.writes[0]
    assert move.fields == {"id": 3, "parent": "b", "parentid": 4}
    assert move.before == {"parent": "a"}


def test_points_to_all_needs_a_reset_first() -> None:
    desired = ALL_ON_A
    config = points_config(1, [(2, 1, False)])
    remote = RemoteFramework(
        framework=wire_fw(),
        competencies=full_remote(
            a={"ruletype": RULE_POINTS, "ruleoutcome": 2, "ruleconfig": config}
        ),
    )
    p = plan(desired, remote)
    assert writes(p) == [("delete", "reset:a"), ("update", "rule:a")]
    assert p.writes[1].depends_on == ("reset:a",)
    assert p.writes[0].fields["frameworkid"] == 7
    # all -> points needs no reset: the config is simply written
    desired_points = framework(
        comp(
            "a",
            rollup={"type": "points", "base_points": 1, "children": [{"key": "a1", "points": 1}]},
        ),
        comp("a1", "a"),
        comp("a2", "a"),
        comp("b"),
        comp("a1x", "a1"),
    )
    remote_all = RemoteFramework(
        framework=wire_fw(), competencies=full_remote(a={"ruletype": RULE_ALL, "ruleoutcome": 2})
    )
    p2 = plan(desired_points, remote_all)
    assert writes(p2) == [("update", "rule:a")]
    assert p2.writes[0].fields["children"] == [
        {"key": "a1", "id": 2, "points": 1, "required": False}
    ]
    # the same points rule, listed in another order, is the same rule
    same = RemoteFramework(
        framework=wire_fw(),
        competencies=full_remote(
            a={
                "ruletype": RULE_POINTS,
                "ruleoutcome": 2,
                "ruleconfig": points_config(1, [(2, 1, False)]),
            }
        ),
    )
    assert plan(desired_points, same).is_empty


def test_rule_removed_means_disabled() -> None:
    remote = RemoteFramework(
        framework=wire_fw(), competencies=full_remote(a={"ruletype": RULE_ALL, "ruleoutcome": 2})
    )
    p = plan(remote=remote)
    assert [(c.id, c.fields["ruleoutcome"]) for c in p.writes] == [("rule:a", 0)]
    assert "outcome 0" in (p.writes[0].reason or "")
    disabled = RemoteFramework(
        framework=wire_fw(), competencies=full_remote(a={"ruletype": RULE_ALL, "ruleoutcome": 0})
    )
    assert plan(remote=disabled).is_empty


def test_prune_deletes_topmost_only_and_notes_otherwise() -> None:
    extra = (
        wire("x", None, id=20),
        wire("x1", None, id=21, parentid=20, path="/0/20/"),
        wire("y", "a", id=22, path="/0/1/"),
    )
    remote = RemoteFramework(framework=wire_fw(), competencies=full_remote() + extra)
    kept = plan(remote=remote)
    assert kept.is_empty
    assert any("3 competencies in Moodle are not in the framework" in n for n in kept.notes)
    pruned = plan(remote=remote, prune=True)
    assert writes(pruned) == [("delete", "delete:20"), ("delete", "delete:22")]


def test_leftover_reset_child_is_cleaned_up_and_the_rule_rewritten() -> None:
    desired = ALL_ON_A
    leftover = wire(f"{RESET_PREFIX}1", "a", id=30)
    remote = RemoteFramework(
        framework=wire_fw(),
        competencies=(*full_remote(a={"ruletype": RULE_ALL, "ruleoutcome": 2}), leftover),
    )
    p = plan(desired, remote)
    assert writes(p) == [("delete", "cleanup:30"), ("update", "rule:a")]


def test_own_scale_that_rest_cannot_clear_is_a_noop() -> None:
    remote = RemoteFramework(
        framework=wire_fw(), competencies=full_remote(b={"scaleid": 1, "scaleconfiguration": "[]"})
    )
    p = plan(remote=remote)
    assert p.is_empty
    assert [(c.id, c.reason) for c in p.changes] == [
        ("framework:FW", "already up to date"),
        ("scale:b", p.changes[1].reason),
    ]
    assert "keeps its own Moodle scale 1" in (p.changes[1].reason or "")


def test_competency_scale_binding() -> None:
    desired = framework(
        comp("a"), comp("a1", "a", scale=SCALE), comp("a2", "a"), comp("b"), comp("a1x", "a1")
    )
    own = ScaleBinding(9, scale_configuration(FW.scale, 9))
    p = plan(
        desired,
        RemoteFramework(framework=wire_fw(), competencies=full_remote()),
        competency_scales={"a1": own},
    )
    assert [(c.id, c.fields.get("scaleid")) for c in p.writes] == [("update:a1", 9)]


def test_related_links() -> None:
    desired = framework(
        comp("a", related=[{"key": "b"}, {"key": "a2", "type": "requires"}]),
        comp("a1", "a"),
        comp("a2", "a", related=[{"uri": "https://x"}]),
        comp("b", related=[{"key": "a"}]),
        comp("a1x", "a1", related=[{"key": "a2"}]),
    )
    remote = RemoteFramework(
        framework=wire_fw(),
        competencies=full_remote(),
        related={1: frozenset({4}), 4: frozenset({1}), 2: frozenset({3})},
    )
    p = plan(desired, remote)
    assert writes(p) == [("link", "related:a1x|a2")]
    assert p.writes[0].fields == {"a": "a1x", "a_id": 5, "b": "a2", "b_id": 3}
    assert any("type requires" in n for n in p.notes)
    assert any("uri" in n for n in p.notes)
    pruned = plan(desired, remote, prune=True)
    assert writes(pruned) == [("link", "related:a1x|a2"), ("unlink", "unrelated:a1|a2")]


def test_course_links_use_course_numbering() -> None:
    remote = RemoteFramework(
        framework=wire_fw(),
        competencies=full_remote(),
        course_links={12: (CourseCompetency(id=40, courseid=12, competencyid=4, ruleoutcome=1),)},
    )
    links = {
        "a": [CourseLink(12, RuleOutcome.COMPLETE)],
        "b": [CourseLink(12, RuleOutcome.RECOMMEND)],
    }
    p = plan(remote=remote, course_links=links)
    assert writes(p) == [
        ("link", "course:12:a"),
        ("update", "outcome:12:a"),
        ("update", "outcome:12:b"),
    ]
    outcomes = {
        c.id: (c.fields["linkid"], c.fields["ruleoutcome"])
        for c in p.writes
        if c.kind == "course outcome"
    }
    assert outcomes == {"outcome:12:a": (None, 3), "outcome:12:b": (40, 2)}
    pruned = plan(remote=remote, course_links={"a": [CourseLink(12)]}, prune=True)
    assert writes(pruned) == [("link", "course:12:a"), ("unlink", "uncourse:12:b")]


def test_course_links_of_a_hidden_framework_are_refused() -> None:
    hidden = framework(comp("a"), properties={"moodle.visible": False})
    with pytest.raises(MappingError, match="hidden"):
        plan(hidden, course_links={"a": [CourseLink(3)]})
    with pytest.raises(MappingError, match="not in the framework"):
        course_links_of(FW, {"zz": [CourseLink(3)]})
    from_properties = framework(
        comp("a", properties={"moodle.courses": [{"course": 5, "outcome": "none"}]})
    )
    assert course_links_of(from_properties) == {"a": [CourseLink(5, RuleOutcome.NONE)]}


def test_long_titles_and_unknown_taxonomy_terms_are_noted() -> None:
    desired = framework(comp("a", title="t" * 120), taxonomy_levels=["area"])
    p = plan(desired)
    create = next(c for c in p.writes if c.id == "competency:a")
    assert len(str(create.fields["shortname"])) == 100
    assert any("cut to Moodle's 100" in n for n in p.notes)
    assert any("'area'" in n for n in p.notes)
    assert p.writes[0].fields["taxonomies"] == "competency"


def test_update_action_for_existing_framework_keeps_context() -> None:
    keyed = scale_configuration(FW.scale, 2, with_keys=True)  # pushed by us, then emptied
    p = plan(remote=RemoteFramework(framework=wire_fw(description="x", scaleconfiguration=keyed)))
    fw_change = p.writes[0]
    assert fw_change.action is Action.UPDATE
    assert "contextlevel" not in fw_change.fields


def test_rule_writes_send_the_description_format_to_keep() -> None:
    """Moodle resets an omitted format to HTML (recordings 42, 43): a rule write carries
    the format the competency holds after the plan."""
    desired = framework(
        comp("a", rollup={"type": "all_children"}, description="Plain", description_format="plain"),
        comp("a1", "a"),
        comp("a2", "a"),
        comp("b", rollup={"type": "all_children"}),
        comp("b1", "b"),
        comp("a1x", "a1"),
    )
    fresh = {c.id: c for c in plan(desired).writes}
    assert fresh["competency:a"].fields["descriptionformat"] == 2
    assert fresh["rule:a"].fields["descriptionformat"] == 2
    remote = RemoteFramework(
        framework=wire_fw(),
        competencies=(*full_remote(a={"description": "Plain", "descriptionformat": 2}),),
    )
    existing = {c.id: c for c in plan(desired, remote).writes}
    assert existing["rule:a"].fields["descriptionformat"] == 2
    assert existing["rule:b"].fields["descriptionformat"] == 1  # empty: Moodle's value kept


def test_texts_are_mapped_noted_and_compared_after_mapping() -> None:
    desired = framework(
        comp("a", title="x<sup>2</sup> & y", description="R&D < 3", description_format="plain"),
        comp("b", title="plain"),
    )
    p = plan(desired)
    create = {c.id: c for c in p.writes}["competency:a"]
    assert (create.fields["shortname"], create.fields["description"]) == (
        "x² & y",
        "R&amp;D &lt; 3",
    )
    assert create.fields["descriptionformat"] == 1
    assert any(note.startswith("1 title(s) hold HTML tags") for note in p.notes)
    assert any(note.startswith("1 plain-text description(s)") for note in p.notes)
    remote = RemoteFramework(
        framework=wire_fw(),
        competencies=(
            wire("a", shortname="x² & y", description="R&amp;D &lt; 3", descriptionformat=1),
            wire("b", shortname="plain"),
        ),
    )
    assert plan(desired, remote).is_empty


def test_text_moodle_would_change_fails_the_plan_naming_each() -> None:
    desired = framework(
        comp("a", description="<script>x</script>", description_format="html"),
        comp("b", description="> quote & more", description_format="markdown"),
    )
    with pytest.raises(MappingError) as caught:
        plan(desired)
    message = str(caught.value)
    assert "2 text(s) of framework 'FW'" in message
    assert "competency 'a', description: <script> is removed" in message
    assert "competency 'b', description:" in message


# -- the entry: desired + snapshot + options, scales bound against the snapshot ---------

ITEMS = ("Not yet competent", "Competent")


def test_plan_framework_binds_the_scale_from_the_snapshot() -> None:
    options = PushOptions(target="test")
    empty = RemoteFramework(framework=None)
    assert scale_candidates(FW, empty, options) == [DEFAULT_SCALE_ID]
    snapshot = RemoteFramework(framework=None, scale_items={DEFAULT_SCALE_ID: ITEMS})
    created = plan_framework(FW, snapshot, options)
    assert created.changes[0].fields["scaleid"] == DEFAULT_SCALE_ID
    assert created == plan_framework(FW, snapshot, options)  # pure: same in, same out
    # the scale in use wins over others that fit; a configured one over the one in use
    in_use = RemoteFramework(
        framework=wire_fw(scaleid=8),
        competencies=full_remote(),
        scale_items={8: ITEMS, DEFAULT_SCALE_ID: ITEMS, 6: ITEMS},
    )
    assert scale_candidates(FW, in_use, PushOptions(target="t", scale_id=6))[:2] == [6, 8]
    assert bind_scales(FW, in_use, options)[0].scale_id == 8
    assert bind_scales(FW, in_use, PushOptions(target="t", scale_id=6))[0].scale_id == 6


def test_plan_framework_says_what_scale_is_missing() -> None:
    wrong = RemoteFramework(framework=None, scale_items={DEFAULT_SCALE_ID: ("A", "B", "C")})
    with pytest.raises(MappingError, match="no scale on the site fits the framework scale"):
        plan_framework(FW, wrong, PushOptions(target="t"))
    with pytest.raises(MappingError, match=r"scale 6 \(scale_id\) cannot be read"):
        plan_framework(FW, wrong, PushOptions(target="t", scale_id=6))
    with pytest.raises(MappingError, match="scale 2 does not fit"):
        plan_framework(FW, wrong, PushOptions(target="t", scale_id=DEFAULT_SCALE_ID))


def test_plan_framework_notes_that_an_existing_context_stays() -> None:
    snapshot = RemoteFramework(
        framework=wire_fw(), competencies=full_remote(), scale_items={2: ITEMS}
    )
    category = ContextRef(contextlevel="coursecat", instanceid=4)
    p = plan_framework(FW, snapshot, PushOptions(target="t", context=category))
    assert "the framework exists; its context never changes" in p.notes
    assert "the framework exists; its context never changes" not in (
        plan_framework(FW, snapshot, PushOptions(target="t")).notes
    )
