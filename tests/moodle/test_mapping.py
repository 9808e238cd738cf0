"""Pure conversions: formats, outcome numberings, taxonomies, scales, rules, evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from comp_adapters.core.framework import Competency, PointsChild, RollupRule, RuleOutcome
from comp_adapters.core.scale import ProficiencyScale, ScaleLevel
from comp_adapters.errors import MappingError
from comp_adapters.moodle.mapping import (
    COMPETENCY_OUTCOME,
    COURSE_OUTCOME,
    CourseLink,
    RuleSpec,
    competency_key,
    competency_outcome,
    course_links,
    course_outcome,
    evidence_from_moodle,
    format_code,
    format_from_code,
    grade_for_level,
    level_keys,
    moodle_taxonomies,
    parse_scale_configuration,
    points_config,
    rating_note,
    remote_rule_spec,
    rule_from_moodle,
    rule_spec,
    same_rule,
    same_scale_configuration,
    scale_configuration,
    scale_from_moodle,
    scale_id_hint,
    scale_matches,
    shorten,
    stored_or_computed_configuration,
    taxonomies_from_text,
    tree_order,
)
from comp_adapters.moodle.wire import RULE_ALL, RULE_POINTS, WireCompetency, WireEvidence

SCALE = ProficiencyScale(
    key="moodle-scale-7",
    levels=(
        ScaleLevel(key="no", name="Not yet", points=1),
        ScaleLevel(key="yes", name="Competent", points=2, proficient=True),
        ScaleLevel(key="star", name="Expert", points=3, proficient=True),
    ),
    default_level="yes",
)


@pytest.mark.parametrize(
    ("fmt", "props", "code"),
    [
        ("html", {}, 1),
        ("plain", {}, 2),
        ("markdown", {}, 4),
        ("plain", {"moodle.descriptionformat": 0}, 0),
    ],
)
def test_format_codes(fmt: Any, props: dict[str, Any], code: int) -> None:
    assert format_code(fmt, props) == code
    back, kept = format_from_code(code)
    assert back == fmt
    assert kept == props


def test_unknown_format_code() -> None:
    with pytest.raises(MappingError, match="3"):
        format_from_code(3)


def test_outcome_numberings_differ_between_competencies_and_courses() -> None:
    assert COMPETENCY_OUTCOME[RuleOutcome.COMPLETE] == 2
    assert COMPETENCY_OUTCOME[RuleOutcome.RECOMMEND] == 3
    assert COURSE_OUTCOME[RuleOutcome.COMPLETE] == 3
    assert COURSE_OUTCOME[RuleOutcome.RECOMMEND] == 2
    for outcome in RuleOutcome:
        assert competency_outcome(COMPETENCY_OUTCOME[outcome]) is outcome
        assert course_outcome(COURSE_OUTCOME[outcome]) is outcome
    with pytest.raises(MappingError):
        competency_outcome(4)
    with pytest.raises(MappingError):
        course_outcome(-1)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("short", "short"),
        ("x" * 100, "x" * 100),
        ("y" * 101, "y" * 97 + "..."),
        ("a " * 60, ("a " * 49)[:97].rstrip() + "..."),
    ],
)
def test_shorten(title: str, expected: str) -> None:
    assert shorten(title) == expected
    assert len(shorten(title)) <= 100


def test_taxonomies_to_moodle() -> None:
    assert moodle_taxonomies(("Domain", "skill")) == ("domain,skill", [])
    text, notes = moodle_taxonomies(("area", "skill"))
    assert text == "competency,skill"
    assert "area" in notes[0]


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("", ()),
        ("domain,competency,skill", ("domain", "competency", "skill")),
        ("domain,,skill", ("domain", "competency", "skill")),
        ('{"1": "domain", "3": "skill"}', ("domain", "competency", "skill")),
        ('["value", "indicator"]', ("value", "indicator")),
    ],
)
def test_taxonomies_from_text(text: str, levels: tuple[str, ...]) -> None:
    assert taxonomies_from_text(text) == levels


@pytest.mark.parametrize("text", ['{"a": "domain"}', "{broken", '{"0": "x"}', "[1, 2"])
def test_bad_taxonomy_text(text: str) -> None:
    with pytest.raises(MappingError):
        taxonomies_from_text(text)


def test_competency_key() -> None:
    assert competency_key(" C1 ", 4) == "C1"
    assert competency_key("", 4) == "moodle-4"


def test_scale_configuration_round_trip() -> None:
    text = scale_configuration(SCALE, 7)
    assert json.loads(text)[0] == {"scaleid": "7"}
    parsed = parse_scale_configuration(text)
    assert parsed.scale_id == 7
    assert parsed.default_item() == 2
    assert parsed.proficient == frozenset({2, 3})


def test_scale_configuration_compared_by_meaning() -> None:
    sparse = (
        '[{"scaleid": 7}, {"id": 2, "scaledefault": 1, "proficient": 1},'
        ' {"id": 3, "scaledefault": 0, "proficient": "1"}]'
    )
    assert same_scale_configuration(scale_configuration(SCALE, 7), sparse)
    assert not same_scale_configuration(scale_configuration(SCALE, 8), sparse)
    assert same_scale_configuration(None, None)
    assert not same_scale_configuration(None, sparse)


def test_stored_configuration_is_reused_only_while_it_says_the_same() -> None:
    stored = (
        '[{"scaleid":"2"},{"id":2,"scaledefault":1,"proficient":1},'
        '{"id":3,"scaledefault":0,"proficient":1}]'
    )
    assert stored_or_computed_configuration(SCALE, stored) == stored
    changed = '[{"scaleid":"2"},{"id":3,"scaledefault":1,"proficient":1}]'
    fresh = stored_or_computed_configuration(SCALE, changed)
    assert fresh == scale_configuration(SCALE, 7)  # the key names scale 7


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '[{"id": 1}]',
        '[{"scaleid": "x"}]',
        '[{"scaleid": 1}, {"scaledefault": 1}]',
    ],
)
def test_bad_scale_configuration(text: str) -> None:
    with pytest.raises(MappingError):
        parse_scale_configuration(text)


def test_scale_matching_ignores_case_and_spacing() -> None:
    assert scale_matches(SCALE, ["not  yet", "COMPETENT", "Expert"])
    assert not scale_matches(SCALE, ["Not yet", "Competent"])
    assert not scale_matches(SCALE, ["Not yet", "Expert", "Competent"])


def test_scale_from_moodle() -> None:
    config = parse_scale_configuration('[{"scaleid":"2"},{"id":2,"scaledefault":1,"proficient":1}]')
    data = scale_from_moodle(["Not yet competent", "Competent"], config)
    scale = ProficiencyScale.model_validate(data)
    assert scale.key == "moodle-scale-2"
    assert [(lv.key, lv.points, lv.proficient) for lv in scale.levels] == [
        ("Not yet competent", 1, False),
        ("Competent", 2, True),
    ]
    assert scale.default_level == "Competent"
    assert scale_id_hint(scale) == 2
    with pytest.raises(MappingError, match="items"):
        scale_from_moodle(["A"], config)
    with pytest.raises(MappingError, match="proficient"):
        scale_from_moodle(
            ["A", "B"], parse_scale_configuration('[{"scaleid":1},{"id":1,"scaledefault":1}]')
        )


def test_level_keys_are_unique() -> None:
    assert level_keys(["A", "A", " B  c "]) == ["A", "A (2)", "B c"]


def test_rule_specs() -> None:
    points = RollupRule(
        type="points",
        outcome=RuleOutcome.RECOMMEND,
        base_points=2,
        children=(PointsChild(key="a", points=1, required=True), PointsChild(key="b", points=1)),
    )
    spec = rule_spec(points)
    assert spec == RuleSpec(RULE_POINTS, 3, 2, frozenset({("a", 1, True), ("b", 1, False)}))
    config = points_config(2, [(11, 1, True), (12, 1, False)])
    remote = remote_rule_spec(RULE_POINTS, 3, config, {"11": "a", "12": "b"})
    assert same_rule(spec, remote)
    assert not same_rule(spec, remote_rule_spec(RULE_POINTS, 2, config, {"11": "a", "12": "b"}))
    assert not same_rule(spec, remote_rule_spec(RULE_POINTS, 3, config, {"11": "a"}))
    # a disabled rule (outcome 0) equals no rule
    assert same_rule(None, remote_rule_spec(RULE_ALL, 0, None, {}))
    assert not same_rule(None, remote_rule_spec(RULE_ALL, 2, None, {}))
    assert same_rule(
        rule_spec(RollupRule(type="all_children")), remote_rule_spec(RULE_ALL, 2, None, {})
    )


def test_rule_from_moodle() -> None:
    keys = {"11": "a", "12": "b"}
    assert rule_from_moodle(None, 0, None, keys) is None
    assert rule_from_moodle(RULE_ALL, 3, None, keys) == {
        "type": "all_children",
        "outcome": "recommend",
    }
    data = rule_from_moodle(RULE_POINTS, 2, points_config(1, [(12, 1, False)]), keys)
    assert data == {
        "type": "points",
        "outcome": "complete",
        "base_points": 1,
        "children": [{"key": "b", "points": 1, "required": False}],
    }
    with pytest.raises(MappingError, match="unknown competencies"):
        rule_from_moodle(RULE_POINTS, 2, points_config(1, [(99, 1, False)]), keys)
    with pytest.raises(MappingError, match="rule type"):
        rule_from_moodle("core_competency\\competency_rule_magic", 2, None, keys)


def test_course_links_from_properties() -> None:
    competency = Competency(
        key="c",
        title="C",
        properties={"moodle.courses": [{"course": 12, "outcome": "complete"}, {"course": 13}]},
    )
    assert course_links(competency) == [
        CourseLink(12, RuleOutcome.COMPLETE),
        CourseLink(13, RuleOutcome.EVIDENCE),
    ]
    for bad in (
        {"moodle.courses": {"course": 1}},
        {"moodle.courses": [{"course": "x"}]},
        {"moodle.courses": [{"course": 1, "outcome": "done"}]},
    ):
        with pytest.raises(MappingError):
            course_links(Competency(key="c", title="C", properties=bad))


def _wire(cid: int, parent: int, order: int) -> WireCompetency:
    return WireCompetency(
        id=cid,
        shortname=f"c{cid}",
        idnumber=f"c{cid}",
        parentid=parent,
        sortorder=order,
        competencyframeworkid=1,
    )


def test_tree_order_parents_first_and_siblings_by_sortorder() -> None:
    wires = [_wire(5, 1, 1), _wire(1, 0, 0), _wire(4, 1, 0), _wire(2, 0, 1), _wire(9, 77, 0)]
    assert [w.id for w in tree_order(wires)] == [1, 4, 5, 2, 9]


def test_rating_note_and_grade() -> None:
    assert (
        rating_note("<b>Latest</b> score   3.0\n(two results)") == "Latest score 3.0 (two results)"
    )
    assert len(rating_note("x" * 5000)) == 1000
    assert grade_for_level(SCALE, "star") == 3
    with pytest.raises(MappingError):
        grade_for_level(SCALE, "nope")


def test_evidence_from_moodle() -> None:
    record = WireEvidence(
        id=9,
        usercompetencyid=1,
        action=3,
        grade=2,
        note="ok",
        timecreated=1_700_000_000,
        timemodified=1_700_000_100,
    )
    item = evidence_from_moodle(
        record, learner="ann", competency="c1", scale=SCALE, site="https://m"
    )
    assert item is not None
    assert item.id == "moodle:https://m:evidence:9"
    assert item.kind.value == "lms_rating"
    assert item.level == "yes"
    assert item.observed_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert item.source_id == "override:9"
    log = record.model_copy(update={"grade": None, "action": 0})
    assert evidence_from_moodle(log, learner="ann", competency="c1", scale=SCALE, site="s") is None
    with pytest.raises(MappingError, match="outside"):
        evidence_from_moodle(
            record.model_copy(update={"grade": 4}),
            learner="a",
            competency="c",
            scale=SCALE,
            site="s",
        )
