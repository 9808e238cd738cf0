"""CFPackage -> Framework: hierarchy, order, keys, titles, relations, scales, kept fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from comp_adapters.case.export import framework_to_package
from comp_adapters.case.lenient import parse_package
from comp_adapters.case.mapping import (
    DEFAULT_SCALE,
    TITLE_MAX,
    natural_order,
    natural_texts,
    package_to_framework,
    shorten,
)
from comp_adapters.case.wire import dump_package
from comp_adapters.core.framework import Competency, Framework, Relation, RelationType
from comp_adapters.errors import Problem, ValidationError

from .conftest import NOW, PACKAGES, load

DOC = "4f3c6a12-e83b-4654-b7ce-1738552191e4"


def item_id(n: int) -> str:
    return f"10000000-0000-0000-0000-0000000000{n:02d}"


def read(data: Any) -> tuple[Framework, list[Problem]]:
    package, read_warnings = parse_package(data)
    framework, warnings = package_to_framework(package)
    return framework, [*read_warnings, *warnings]


def university() -> tuple[Framework, list[Problem]]:
    return read(load("case11_university_rubrics.json"))


def test_hierarchy_and_sibling_order_follow_is_child_of_and_sequence_numbers() -> None:
    framework, _ = university()
    tree = [(framework.depth(c.key), c.key) for c in framework.walk()]
    first = item_id(23)
    assert tree == [
        (1, "CS"),
        (2, "CS-A-1"),
        (2, "CS-A-2"),
        (2, "ETH"),
        (1, "SE"),
        (2, "SE-B-1"),
        (2, first),  # sequence 2; its humanCodingScheme is not unique
        (2, item_id(22)),  # sequence 3
    ]


def test_sequence_number_sample_orders_by_number_not_by_file_order() -> None:
    framework, _ = read(load("opensalt_sequence_number.json"))
    assert [c.key for c in framework.walk()] == ["SNT.2", "SNT.1"]
    assert [c.sequence for c in framework.walk()] == [1, 2]


def test_keys_from_unique_human_coding_scheme_else_identifier() -> None:
    framework, warnings = university()
    assert "CS-A-1" in framework
    assert item_id(22) in framework
    assert item_id(23) in framework
    assert framework.get(item_id(22)).properties["case.humanCodingScheme"] == "SE-B-2"
    assert any("'SE-B-2' is used by 2 items" in p.message for p in warnings)
    keys, _ = read(load("opensalt_markdown_utf8.json"))
    assert sorted(c.key for c in keys.competencies) == [
        "00000000-0000-0000-0000-000000000001",
        "MD.Math",
        "MD.Table",
    ]


def test_several_parents_first_wins_others_become_part_of_relations() -> None:
    framework, warnings = university()
    ethics = framework.get("ETH")
    assert ethics.parent == "CS"
    assert [(r.type, r.key) for r in ethics.related] == [(RelationType.PART_OF, "SE")]
    several = [p for p in warnings if "several parents" in p.message]
    assert several
    assert several[0].field == "CFAssociations[8]"
    assert several[0].severity == "warning"


def test_orphans_go_to_the_top_level_with_a_warning() -> None:
    framework, warnings = read(load("legacy_2017.json"))
    orphan = framework.get("6.RP.A.3")
    assert orphan.parent is None
    assert any(p.field == "CFItems[3]" and "without isChildOf" in p.message for p in warnings)


def test_links_outside_the_package_are_external_relations() -> None:
    framework, _ = university()
    structure = framework.get("CS-A-1")
    by_type = {r.type: r for r in structure.related}
    translation = by_type[RelationType.EQUIVALENT]
    assert translation.uri == "https://case.example.jp/uri/90000000-0000-0000-0000-000000000011"
    assert translation.title == "コンピュータ構成の説明"
    assert by_type[RelationType.RELATED].key == "CS-A-2"  # isPeerOf
    records = structure.properties["case.associations"]
    assert [r["associationType"] for r in records] == ["isTranslationOf", "isPeerOf"]
    legacy, _ = read(load("legacy_2017.json"))
    ratio = legacy.get("6.RP.A.1")
    assert [(r.type, r.uri or r.key) for r in ratio.related] == [
        (RelationType.EQUIVALENT, "http://asn.jesandco.org/resources/S11434D8"),
        (RelationType.PRECEDES, "6.RP.A.2"),
        (RelationType.EXEMPLAR, "http://example.org/exemplars/zoo"),
    ]
    assert ratio.properties["case.associations"][2]["inbound"] is True


@pytest.mark.parametrize(
    ("association_type", "relation"),
    [
        ("isPeerOf", RelationType.RELATED),
        ("isPartOf", RelationType.PART_OF),
        ("exactMatchOf", RelationType.EQUIVALENT),
        ("precedes", RelationType.PRECEDES),
        ("isRelatedTo", RelationType.RELATED),
        ("replacedBy", RelationType.REPLACED_BY),
        ("exemplar", RelationType.EXEMPLAR),
        ("hasSkillLevel", RelationType.RELATED),
        ("isTranslationOf", RelationType.EQUIVALENT),
        ("ext:requires", RelationType.REQUIRES),
        ("ext:somethingElse", RelationType.RELATED),
        ("isFriendOf", RelationType.RELATED),
    ],
)
def test_association_types_become_typed_relations(
    association_type: str, relation: RelationType
) -> None:
    data = load("case11_university_rubrics.json")
    data["CFAssociations"][13]["associationType"] = association_type
    framework, _ = read(data)
    found = framework.get("CS-A-1").related
    assert (relation, "CS-A-2") in [(r.type, r.key) for r in found]
    package, _ = framework_to_package(framework, now=NOW)
    kinds = {a.identifier: a.association_type for a in package.associations}
    expected = association_type if association_type != "isFriendOf" else "isRelatedTo"
    assert kinds["30000000-0000-0000-0000-000000000014"] == expected


def test_titles_are_abbreviated_or_shortened_never_over_100() -> None:
    framework, _ = university()
    long_one = framework.get("CS-A-2")
    assert len(long_one.title) <= TITLE_MAX
    assert long_one.title.endswith("…")
    assert long_one.description is not None
    assert long_one.description.startswith("Understands the role of an operating system")
    assert framework.get("CS-A-1").title == "Computer structure"
    assert framework.get("CS-A-1").description == (
        "Can explain the basic structure and operating principles of a computer"
    )
    markdown, _ = read(load("opensalt_markdown_utf8.json"))
    table = markdown.get("MD.Table")
    assert "\n" not in table.title
    assert len(table.title) <= TITLE_MAX
    assert table.description is not None
    assert "| Column 1 | Column 2 |" in table.description
    assert markdown.get("00000000-0000-0000-0000-000000000001").title == "Item \U0001d451 1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("short", "short"),
        ("two\n\nlines  here", "two lines here"),
        ("word " * 40, ("word " * 19).strip() + "…"),
        ("x" * 150, "x" * 99 + "…"),
    ],
)
def test_shorten(text: str, expected: str) -> None:
    assert shorten(text) == expected
    assert len(shorten(text)) <= TITLE_MAX


@pytest.mark.parametrize(
    ("full", "abbreviated", "title", "description"),
    [
        ("Short statement", None, "Short statement", None),
        ("Short statement", "Short", "Short", "Short statement"),
        ("", None, "CODE", None),
        ("multi\nline", None, "multi line", "multi\nline"),
    ],
)
def test_natural_texts(
    full: str, abbreviated: str | None, title: str, description: str | None
) -> None:
    assert natural_texts(full, abbreviated, "CODE") == (title, description)


def test_rubric_criteria_become_scales_levels_by_score_lowest_first() -> None:
    framework, warnings = university()
    scale = framework.get("SE-B-1").scale
    assert scale is not None
    assert [(level.name, level.points) for level in scale.levels] == [
        ("Needs Improvement", 1),
        ("Adequate", 2),
        ("Good", 3),
        ("Excellent", 4),
    ]
    assert [level.proficient for level in scale.levels] == [False, False, True, True]
    assert scale.default_level == "20000000-0000-0000-0000-000000000112"
    assert scale.levels[0].description == "Does not complete"
    assert framework.get(item_id(22)).scale is not None
    assert framework.get("CS").scale is None
    assert framework.scale == DEFAULT_SCALE
    assert any("outside the package" in p.message for p in warnings)
    assert any("say nothing about proficiency" in p.message for p in warnings)


def test_rubric_levels_by_position_when_scores_are_missing() -> None:
    data = load("case11_university_rubrics.json")
    levels = data["CFRubrics"][0]["CFRubricCriteria"][0]["CFRubricCriterionLevels"]
    for position, level in zip((2, 1, 3, 4), levels, strict=True):
        level["position"] = position
        del level["score"]
    framework, warnings = read(data)
    scale = framework.get("SE-B-1").scale
    assert scale is not None
    assert [(level.name, level.points) for level in scale.levels] == [
        ("Good", 1),
        ("Excellent", 2),
        ("Adequate", 3),
        ("Needs Improvement", 4),
    ]
    assert any("without distinct scores" in p.message for p in warnings)


def test_a_criterion_without_item_is_the_framework_scale() -> None:
    data = load("case11_university_rubrics.json")
    del data["CFRubrics"][0]["CFRubricCriteria"][2]["CFItemURI"]
    framework, _ = read(data)
    assert [level.name for level in framework.scale.levels][-1] == "Excellent"
    assert framework.properties["case.CFRubricCriterion"]["identifier"] == (
        "20000000-0000-0000-0000-000000000013"
    )


def test_case_fields_are_kept_in_properties_and_external_ids() -> None:
    framework, _ = university()
    assert framework.key == DOC
    assert framework.external_ids["case"] == DOC
    assert framework.language == "en"
    assert framework.version == "2.0"
    assert framework.properties["case.adoptionStatus"] == "Adopted"
    assert framework.properties["case.creator"] == "Ikenohata University curriculum committee"
    assert framework.properties["case.licenseURI"]["title"] == "CC BY 4.0"
    assert framework.properties["case.extensions"] == {"1edtech.classification": "higher-education"}
    assert framework.effective_from is not None
    assert framework.effective_from.isoformat() == "2025-04-01T00:00:00+00:00"
    assert framework.effective_until is not None
    assert framework.effective_until.isoformat() == "2029-04-01T00:00:00+00:00"
    item = framework.get("SE")
    assert item.taxonomy == "Domain"  # CFItemType is the competency's taxonomy term
    assert "case.CFItemType" not in item.properties
    assert item.properties["case.educationLevel"] == ["13", "14", "15", "16"]
    assert item.properties["case.language"] == "en"
    assert item.properties["case.lastChangeDateTime"] == "2026-06-05T04:23:43Z"
    assert item.external_ids == {
        "case": item_id(2),
        "case.uri": f"https://case.example.edu/uri/{item_id(2)}",
    }


def test_cycle_of_is_child_of_is_a_located_error() -> None:
    data = load("case11_university_rubrics.json")
    # CS is child of the document; make it a child of its own child CS-A-1.
    data["CFAssociations"][1]["destinationNodeURI"] = copy.deepcopy(
        data["CFAssociations"][3]["originNodeURI"]
    )
    with pytest.raises(ValidationError) as raised:
        read(data)
    errors = raised.value.errors
    assert len(errors) == 1
    assert "cycle" in errors[0].message
    assert "'CS' -> 'CS-A-1' -> 'CS'" in errors[0].message
    assert errors[0].field in ("CFAssociations[1]", "CFAssociations[3]")


def test_parent_outside_the_package_is_kept_as_relation() -> None:
    data = load("opensalt_sequence_number.json")
    data["CFAssociations"][0]["destinationNodeURI"] = {
        "title": "Elsewhere",
        "identifier": "e0000000-0000-0000-0000-000000000001",
        "uri": "https://other.example/uri/e0000000-0000-0000-0000-000000000001",
    }
    framework, warnings = read(data)
    moved = framework.get("SNT.1")
    assert moved.parent is None
    assert moved.related[0].uri == "https://other.example/uri/e0000000-0000-0000-0000-000000000001"
    assert any("outside the package" in p.message for p in warnings)
    package, _ = framework_to_package(framework, now=NOW)
    back = {a.identifier: a for a in package.associations}["0434307a-c0eb-11e7-bad9-1f2b8d8c4f6f"]
    assert back.association_type == "isChildOf"
    assert back.destination_node_uri.identifier == "e0000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize("name", PACKAGES)
def test_warnings_are_located(name: str) -> None:
    _framework, warnings = read(load(name))
    for problem in warnings:
        assert problem.severity == "warning"
        assert problem.field, problem


def test_siblings_without_sequence_number_follow_case_fallback_order() -> None:
    """OpenSALT's ordering fixture: no sequenceNumbers, codes L1.1, L1.10, L1.3 in the file."""
    data = load("opensalt_ordering_excerpt.json")
    framework, warnings = read(data)
    level = framework.children_of("H.A.MATH.GM.PF.2DFP.L1")
    assert [c.key.rsplit(".", 1)[1] for c in level] == ["1", "3", "4", "10"]
    assert all(c.sequence is None for c in level)
    fallback = [p for p in warnings if "natural order" in p.message]
    assert [p.field for p in fallback] == ["CFItems[4]"]
    # listEnumeration comes before humanCodingScheme
    for item, enumeration in zip(data["CFItems"][4:], ["d", "c", "b", "a"], strict=True):
        item["listEnumeration"] = enumeration
    relisted, _ = read(data)
    assert [c.key.rsplit(".", 1)[1] for c in relisted.children_of("H.A.MATH.GM.PF.2DFP.L1")] == [
        "4",
        "3",
        "10",
        "1",
    ]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["L1.10", "L1.2", "L1.1"], ["L1.1", "L1.2", "L1.10"]),
        (["b", "A", "a2", "a10"], ["A", "a2", "a10", "b"]),
        (["2", "10", "x"], ["2", "10", "x"]),
    ],
)
def test_natural_order(texts: list[str], expected: list[str]) -> None:
    assert sorted(texts, key=natural_order) == expected


def test_a_framework_order_case_would_change_is_written_as_sequence_numbers() -> None:
    framework = Framework(
        key="F",
        title="F",
        scale=DEFAULT_SCALE,
        competencies=(
            Competency(key="B.10", title="Ten"),
            Competency(key="B.9", title="Nine"),
            Competency(key="A", title="A", sequence=4),
            Competency(key="C", title="C", sequence=4),
        ),
    )
    package, _ = framework_to_package(framework, now=NOW)
    numbers = {
        a.origin_node_uri.title: a.sequence_number
        for a in package.associations
        if a.association_type == "isChildOf"
    }
    # the framework's order A, C (ties by place), B.10, B.9; CASE alone would say B.9 first
    assert numbers == {"A": 1, "C": 2, "B.10": 3, "B.9": 4}
    back, _ = package_to_framework(package)
    assert [(c.key, c.sequence) for c in back.walk()] == [
        (c.key, c.sequence) for c in framework.walk()
    ]
    plain = parse_package(dump_package(package, version="1.0"))[0]
    assert [c.key for c in package_to_framework(plain)[0].walk()] == ["A", "C", "B.10", "B.9"]


def test_keys_that_are_uuids_are_the_case_identifiers() -> None:
    """A CASE framework that went through a Moodle or Canvas CSV comes back with its ids."""
    doc, item = "11111111-2222-4333-8444-555555555555", "aaaaaaaa-2222-4333-8444-555555555555"
    framework = Framework(
        key=doc,
        title="F",
        scale=DEFAULT_SCALE,
        competencies=(
            Competency(key=item, title="A"),
            Competency(key="B", title="B", external_ids={"case": item.replace("a", "c", 8)}),
            Competency(key=item.replace("a", "c", 8), title="C"),  # another item's CASE id
        ),
    )
    package, _ = framework_to_package(framework, now=NOW)
    assert package.document.identifier == doc
    assert [i.identifier for i in package.items][:2] == [item, item.replace("a", "c", 8)]
    assert package.items[0].human_coding_scheme is None
    assert package.items[2].identifier not in (doc, item, item.replace("a", "c", 8))
    back, _ = package_to_framework(package)
    assert [c.key for c in back.competencies] == [item, "B", item.replace("a", "c", 8)]


def test_relation_titles_survive() -> None:
    framework = Framework(
        key="F",
        title="F",
        scale=DEFAULT_SCALE,
        competencies=(
            Competency(key="A", title="A"),
            Competency(
                key="B",
                title="B",
                related=(
                    Relation(key="A", title="Builds on A"),
                    Relation(uri="https://x.example/S1", title=None),
                ),
            ),
        ),
    )
    package, _ = framework_to_package(framework, now=NOW)
    back, _ = package_to_framework(package)
    assert back.get("B").related == framework.get("B").related


def test_long_document_titles_are_shortened_and_kept() -> None:
    data = load("opensalt_sequence_number.json")
    long_title = "Sequence Number Test, " + "with a very long subtitle " * 6
    data["CFDocument"]["title"] = long_title
    framework, warnings = read(data)
    assert len(framework.title) <= TITLE_MAX
    assert framework.title == shorten(long_title)
    assert framework.properties["case.title"] == long_title
    assert any(p.field == "CFDocument.title" for p in warnings)
    package, _ = framework_to_package(framework, now=NOW)
    assert package.document.title == long_title
    renamed = framework.model_copy(update={"title": "Renamed"})
    package, _ = framework_to_package(renamed, now=NOW)
    assert package.document.title == "Renamed"


def test_case_properties_that_are_no_case_field_are_reported() -> None:
    framework = Framework(
        key="F",
        title="F",
        scale=DEFAULT_SCALE,
        competencies=(
            Competency(key="A", title="A", properties={"case.CFItemType": "Skill", "case.x": 1}),
        ),
    )
    package, warnings = framework_to_package(framework, now=NOW, creator="Us")
    assert package.items[0].cf_item_type == "Skill"
    assert [(p.field, p.message) for p in warnings] == [
        ("competency A", "property case.x is not a CFItem field: not written")
    ]


# -- keys that are identifiers (Common Core items without a code carry ASN URLs) ------------

ASN = "http://asn.jesandco.org/resources/"


def written(framework: Framework) -> dict[str, Any]:
    package, _ = framework_to_package(framework, now=NOW)
    return dump_package(package)


def test_items_without_a_code_are_not_given_one() -> None:
    """An item without humanCodingScheme whose key is its ASN URL identifier is written
    without a code and its key goes into our extension; the codes it had stay as they were
    and no association is titled with an ASN URL."""
    source = load("common_core_asn_excerpt.json")
    framework, _ = read(source)
    data = written(framework)
    codes = {i["fullStatement"]: i.get("humanCodingScheme") for i in source["CFItems"]}
    assert {i["fullStatement"]: i.get("humanCodingScheme") for i in data["CFItems"]} == codes
    assert sum(code is None for code in codes.values()) == 3
    uncoded = [i for i in data["CFItems"] if "humanCodingScheme" not in i]
    assert [i["extensions"]["comp_adapters"]["key"] for i in uncoded] == [
        ASN + "S2366905",
        ASN + "S2366906",
        ASN + "S2366911",
    ]
    titles = [
        end["title"]
        for association in data["CFAssociations"]
        for end in (association["originNodeURI"], association["destinationNodeURI"])
        if end["identifier"] != ASN + "S114340D"  # the external exactMatchOf end: its URL
    ]
    assert not [title for title in titles if ASN in title]
    back, _ = read(data)
    assert [(c.key, c.parent) for c in back.walk()] == [(c.key, c.parent) for c in framework.walk()]


def test_associations_to_items_with_non_uuid_identifiers_keep_their_identifiers() -> None:
    """An isChildOf whose parent was read with an ASN URL identifier (now written as its
    UUIDv5) is written back with the identifier it had, not a new one."""
    source = load("common_core_asn_excerpt.json")
    data = written(read(source)[0])
    before = {a["identifier"] for a in source["CFAssociations"]}
    assert before <= {a["identifier"] for a in data["CFAssociations"]}


def test_a_key_that_is_an_identifier_is_written_as_case_would_name_it() -> None:
    """Keys that are UUIDs, URNs or URLs are never written as codes; a URL key without a
    CASE id of its own (it went through an LMS) gets the UUIDv5 CASE 1.1 gives that URL,
    the same identifier a direct export writes."""
    framework = Framework(
        key="F",
        title="F",
        scale=DEFAULT_SCALE,
        competencies=(
            Competency(key=ASN + "S2366905", title="Ratios"),
            Competency(key="urn:example:competency:7", title="Seven"),
            Competency(key="AAAAAAAA-2222-4333-8444-555555555555", title="Upper-case UUID"),
            Competency(key="6.RP.A.1", title="A code", parent=ASN + "S2366905"),
        ),
    )
    data = written(framework)
    items = {i["fullStatement"]: i for i in data["CFItems"]}
    assert {title: i.get("humanCodingScheme") for title, i in items.items()} == {
        "Ratios": None,
        "Seven": None,
        "Upper-case UUID": None,
        "A code": "6.RP.A.1",
    }
    direct = written(read(load("common_core_asn_excerpt.json"))[0])
    ratios = next(i for i in direct["CFItems"] if i["fullStatement"].startswith("Ratios"))
    assert items["Ratios"]["identifier"] == ratios["identifier"]
    back, _ = read(data)
    assert {c.key for c in back.competencies} == {c.key for c in framework.competencies}


def test_rubrics_with_identifiers_that_are_no_uuids_keep_their_scales() -> None:
    """Criterion and level identifiers that are not UUIDs are written as UUIDv5s; what our
    extension says about them (the framework scale's criterion, the keys) names them so."""
    data = load("opensalt_sequence_number.json")
    data["CFRubrics"] = [
        {
            "identifier": "Rubric-1",
            "uri": "https://p.example/r",
            "CFRubricCriteria": [
                {
                    "identifier": "Criterion-1",
                    "uri": "https://p.example/c",
                    "CFRubricCriterionLevels": [
                        {"identifier": "Level-1", "uri": "l1", "quality": "Low", "score": 0},
                        {"identifier": "Level-2", "uri": "l2", "quality": "High", "score": 1},
                    ],
                }
            ],
        }
    ]
    framework, _ = read(data)
    assert (framework.scale.key, [level.key for level in framework.scale.levels]) == (
        "Criterion-1",
        ["Level-1", "Level-2"],
    )
    back, _ = read(written(framework))
    assert back.scale == framework.scale
