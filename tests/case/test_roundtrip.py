"""Round trips: CFPackage -> Framework -> CFPackage keeps identifiers, hierarchy, order,
association types and texts; Framework -> CFPackage -> Framework loses nothing; every
package written validates against the official CASE 1.1 schema."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comp_adapters.case.export import framework_to_package
from comp_adapters.case.lenient import parse_package
from comp_adapters.case.mapping import PREFIX, package_to_framework, shorten
from comp_adapters.case.package_format import case_json, read_case_data
from comp_adapters.case.wire import ASSOCIATION_TYPES_1_0, ASSOCIATION_TYPES_1_1, dump_package
from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.framework import Competency, Framework, Relation, RelationType, RollupRule
from comp_adapters.core.scale import ProficiencyScale, ScaleLevel
from comp_adapters.errors import ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.native import load_framework

from .conftest import NOW, PACKAGES, UUID_1_0, assert_valid_case, assert_valid_case_1_0, load
from .fake_provider import without_extensions

ITEM_TEXTS = ("fullStatement", "abbreviatedStatement", "humanCodingScheme", "notes")


def case_round_trip(data: Any, *, version: str = "1.1") -> dict[str, Any]:
    framework, _ = read_case_data(data)
    text, _ = case_json(framework, now=NOW, version=version)  # type: ignore[arg-type]
    written: dict[str, Any] = json.loads(text)
    return written


def natural(text: str | None) -> list[tuple[int, Any]]:
    """ "L1.2" < "L1.10": digit runs compare as numbers (OpenSALT's ordering)."""
    parts = re.split(r"(\d+)", text or "")
    return [(0, int(p)) if p.isdigit() else (1, p.lower()) for p in parts if p]


def children(data: dict[str, Any]) -> dict[str, list[str]]:
    """Parent id -> child ids in CASE's sibling order (reference, section 3.1):
    sequenceNumber (else an integer listEnumeration); then listEnumeration, then
    humanCodingScheme in natural order, then the items' order in the file."""
    position = {item["identifier"]: index for index, item in enumerate(data["CFItems"])}
    items = {item["identifier"]: item for item in data["CFItems"]}
    edges = [a for a in data["CFAssociations"] if a["associationType"] == "isChildOf"]
    by_parent: dict[str, list[tuple[Any, ...]]] = {}
    for edge in edges:
        child = edge["originNodeURI"]["identifier"].lower()
        item = items.get(child, {})
        enumeration = item.get("listEnumeration")
        code = item.get("humanCodingScheme")
        number = edge.get("sequenceNumber")
        if number is None and str(enumeration or "").isdigit():
            number = int(enumeration)
        key = (
            number is None,
            number or 0,
            enumeration is None,
            natural(enumeration),
            code is None,
            natural(code),
            position.get(child, len(position)),
            child,
        )
        by_parent.setdefault(edge["destinationNodeURI"]["identifier"].lower(), []).append(key)
    return {parent: [k[-1] for k in sorted(kids)] for parent, kids in by_parent.items()}


@pytest.mark.parametrize("name", PACKAGES)
@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_case_round_trip_keeps_what_matters(name: str, version: str) -> None:
    original = load(name)
    clean, _ = parse_package(original)
    written = case_round_trip(original, version=version)
    (assert_valid_case if version == "1.1" else assert_valid_case_1_0)(written)
    source = dump_package(clean)
    # identifiers and texts of every item
    before = {item["identifier"]: item for item in source["CFItems"]}
    after = {item["identifier"]: item for item in written["CFItems"]}
    assert before.keys() == after.keys()
    for identifier, item in before.items():
        for field in ITEM_TEXTS:
            assert after[identifier].get(field) == item.get(field), (identifier, field)
    assert written["CFDocument"]["identifier"] == source["CFDocument"]["identifier"]
    for field in ("title", "description", "creator", "version", "language"):
        assert written["CFDocument"].get(field) == source["CFDocument"].get(field)
    # hierarchy and order (orphans gain an isChildOf to the document)
    tree_before, tree_after = children(source), children(written)
    for parent, kids in tree_before.items():
        assert [k for k in tree_after[parent] if k in kids] == kids
    # association identifiers and types
    kinds_before = {a["identifier"]: a["associationType"] for a in source["CFAssociations"]}
    kinds_after = {a["identifier"]: a["associationType"] for a in written["CFAssociations"]}
    for identifier, kind in kinds_before.items():
        expected = kind if version == "1.1" or kind in ASSOCIATION_TYPES_1_0 else "isRelatedTo"
        assert kinds_after[identifier] == expected
    # rubric, criterion and level identifiers
    assert _rubric_ids(source) == _rubric_ids(written)


def _rubric_ids(data: dict[str, Any]) -> set[str]:
    found = set()
    for rubric in data.get("CFRubrics", []):
        found.add(rubric["identifier"])
        for criterion in rubric.get("CFRubricCriteria", []):
            found.add(criterion["identifier"])
            found.update(
                level["identifier"] for level in criterion.get("CFRubricCriterionLevels", [])
            )
    return found


@pytest.mark.parametrize("name", PACKAGES)
def test_reading_our_own_output_is_a_fixpoint(name: str) -> None:
    first, _ = read_case_data(case_round_trip(load(name)))
    text, _ = case_json(first, now=NOW + timedelta(days=3))
    second, warnings = read_case_data(json.loads(text))
    assert second == first
    assert not [p for p in warnings if "guess" in p.message or "proficiency" in p.message]


def strip_case(framework: Framework) -> Framework:
    """The framework without what reading CASE adds (CASE ids and ``case.*`` records)."""

    def clean(ids: dict[str, str], props: dict[str, Any]) -> dict[str, Any]:
        return {
            "external_ids": {k: v for k, v in ids.items() if k not in ("case", "case.uri")},
            "properties": {k: v for k, v in props.items() if not k.startswith(PREFIX)},
        }

    return framework.model_copy(
        update={
            **clean(framework.external_ids, framework.properties),
            "competencies": tuple(
                c.model_copy(update=clean(c.external_ids, c.properties))
                for c in framework.competencies
            ),
        }
    )


def framework_round_trip(framework: Framework, *, now: datetime = NOW) -> Framework:
    package, _ = framework_to_package(framework, now=now)
    data = dump_package(package)
    assert_valid_case(data)
    back, _ = package_to_framework(parse_package(json.loads(json.dumps(data)))[0])
    return back


def test_example_framework_round_trip_loses_nothing() -> None:
    framework = load_framework(example_dir() / "framework.json")
    back = framework_round_trip(framework)
    assert strip_case(back) == framework
    assert framework_round_trip(back, now=NOW + timedelta(hours=1)) == back


def test_exporting_twice_gives_the_same_ids() -> None:
    framework = load_framework(example_dir() / "framework.json")
    first, _ = framework_to_package(framework, now=NOW)
    second, _ = framework_to_package(framework, now=NOW + timedelta(days=30))
    assert first.document.identifier == second.document.identifier
    assert [i.identifier for i in first.items] == [i.identifier for i in second.items]
    assert [a.identifier for a in first.associations] == [a.identifier for a in second.associations]
    assert first.document.identifier.split("-")[2].startswith("5")  # UUIDv5
    renamed = framework.model_copy(update={"key": "OTHER"})
    third, _ = framework_to_package(renamed, now=NOW)
    assert third.document.identifier != first.document.identifier


# -- property tests ------------------------------------------------------------------------

_KEY = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_",
    min_size=1,
    max_size=12,
)
# keys that are CASE identifiers (as Moodle idnumbers and Canvas vendor_guids hold them)
_ANY_KEY = _KEY | st.uuids().map(str)
_TEXT = st.text(alphabet=st.sampled_from("abc XYZ éß𝑑\n\t.,-|$*_#1"), min_size=1, max_size=140)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def scales(draw: st.DrawFn) -> ProficiencyScale:
    count = draw(st.integers(1, 5))
    keys = draw(st.lists(_KEY, min_size=count, max_size=count, unique=True))
    start = draw(st.integers(0, 3))
    steps = draw(st.lists(st.integers(1, 4), min_size=count, max_size=count))
    points = [float(start + sum(steps[: i + 1])) for i in range(count)]
    flags = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    if not any(flags):
        flags[-1] = True
    levels = tuple(
        ScaleLevel(
            key=key,
            name=draw(_TEXT),
            points=point,
            proficient=flag,
            description=draw(st.none() | _TEXT),
        )
        for key, point, flag in zip(keys, points, flags, strict=True)
    )
    return ProficiencyScale(
        key=draw(st.none() | _KEY),
        name=draw(st.none() | _TEXT),
        levels=levels,
        default_level=draw(st.sampled_from(keys)),
        mastery_points=draw(st.none() | st.sampled_from(points)),
    )


@st.composite
def frameworks(draw: st.DrawFn) -> Framework:
    keys = draw(st.lists(_ANY_KEY, min_size=0, max_size=8, unique=True))
    competencies = []
    for index, key in enumerate(keys):
        parent = draw(st.none() | st.sampled_from(keys[:index])) if index else None
        targets = [k for k in keys if k != key]
        to_key = (
            st.builds(
                Relation,
                type=st.sampled_from(list(RelationType)),
                key=st.sampled_from(targets),
                title=st.none() | _TEXT,
            )
            if targets
            else st.nothing()
        )
        to_uri = st.builds(
            Relation,
            type=st.sampled_from(list(RelationType)),
            uri=st.sampled_from(
                [
                    "https://other.example/uri/e0000000-0000-0000-0000-000000000001",
                    "http://asn.example/S1",
                ]
            ),
            title=st.none() | _TEXT,
        )
        relations = tuple(draw(st.lists(to_key | to_uri, max_size=2)))
        method = draw(
            st.none() | st.sampled_from([CalculationMethod.LATEST, CalculationMethod.HIGHEST])
        )
        competencies.append(
            Competency(
                key=key,
                title=draw(_TEXT),
                description=draw(st.none() | st.just("") | _TEXT),
                description_format=draw(st.sampled_from(["plain", "markdown", "html"])),
                parent=parent,
                sequence=draw(st.none() | st.integers(0, 3)),  # ties happen
                taxonomy=draw(st.none() | st.sampled_from(["domain", "skill"])),
                scale=draw(st.none() | scales()),
                calculation_method=method,
                related=relations,
                tags=tuple(draw(st.lists(_KEY, max_size=2))),
                properties=draw(
                    st.dictionaries(st.sampled_from(["moodle.x", "note"]), _JSON, max_size=2)
                )
                | draw(  # a CASE listEnumeration takes part in CASE's sibling order
                    st.dictionaries(
                        st.just("case.listEnumeration"),
                        st.sampled_from(["1", "2", "10", "b"]),
                        max_size=1,
                    )
                ),
                external_ids=draw(
                    st.dictionaries(st.sampled_from(["moodle", "canvas"]), _KEY, max_size=1)
                ),
            )
        )
    # an all_children rule on some parent
    with_children = {c.parent for c in competencies if c.parent}
    if with_children and draw(st.booleans()):
        target = sorted(with_children)[0]
        competencies = [
            c.model_copy(update={"rollup": RollupRule(type="all_children")})
            if c.key == target
            else c
            for c in competencies
        ]
    start = draw(
        st.none()
        | st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
        )
    )
    until = None
    if start is not None and draw(st.booleans()):
        until = start + timedelta(
            days=draw(st.integers(1, 900)), seconds=draw(st.sampled_from([0, 7]))
        )
    return Framework(
        key=draw(_ANY_KEY),
        title=draw(_TEXT),
        description=draw(st.none() | _TEXT),
        version=draw(st.none() | st.just("2.1")),
        language=draw(st.none() | st.just("en")),
        effective_from=start,
        effective_until=until,
        scale=draw(scales()),
        calculation_method=draw(st.sampled_from(list(CalculationMethod)[:3])),
        taxonomy_levels=tuple(draw(st.lists(_KEY, max_size=2))),
        competencies=tuple(competencies),
        tags=tuple(draw(st.lists(_KEY, max_size=2))),
        properties=draw(
            st.dictionaries(st.sampled_from(["origin", "canvas.id"]), _JSON, max_size=2)
        ),
    ).canonical()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frameworks())
def test_framework_round_trip_loses_nothing(framework: Framework) -> None:
    back = framework_round_trip(framework)
    assert strip_case(back) == strip_case(framework)
    for competency in framework.competencies:  # CASE fields it had are kept too
        kept = back.get(competency.key).properties
        assert competency.properties.items() <= kept.items()
    again = framework_round_trip(back, now=NOW + timedelta(days=1))
    assert again == back


def read_without_extensions(framework: Framework, *, now: datetime = NOW) -> Framework:
    """Our CASE file of ``framework`` read back as a provider that drops every
    ``extensions`` member (OpenCASE) serves it."""
    package, _ = framework_to_package(framework, now=now)
    data = without_extensions(dump_package(package))
    assert_valid_case(data)
    return package_to_framework(parse_package(data)[0])[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frameworks())
def test_without_extensions_what_standard_fields_hold_comes_back(framework: Framework) -> None:
    """Keys, hierarchy, order, texts, tags, taxonomy, scale levels and relations live in
    standard CASE fields; the framework read back is valid and reading it again, after
    publishing it again, gives the same framework (stable keys and identifiers)."""
    back = read_without_extensions(framework)
    assert [(c.key, c.parent) for c in back.walk()] == [(c.key, c.parent) for c in framework.walk()]
    for before, after in zip(framework.walk(), back.walk(), strict=True):
        if before.title.strip():
            assert after.title == shorten(before.title)
        if before.description and before.description != before.title and before.title.strip():
            assert after.description == before.description
        assert after.tags == before.tags
        assert after.taxonomy == framework.taxonomy_for(before.key)
        assert [(r.type, r.key, r.uri) for r in after.related] == [
            (r.type, r.key, r.uri) for r in before.related
        ]
        assert [r.title for r in after.related if r.uri] == [
            r.title for r in before.related if r.uri
        ]
        for ours, read in ((before.scale, after.scale), (framework.scale, back.scale)):
            if ours is not None:
                assert read is not None
                assert [(lv.name, lv.points, lv.description) for lv in read.levels] == [
                    (lv.name, lv.points, lv.description) for lv in ours.levels
                ]
    assert (back.version, back.language) == (framework.version, framework.language)
    if framework.effective_from is not None:
        assert back.effective_from is not None
        assert back.effective_from.date() == framework.effective_from.astimezone(UTC).date()
    assert read_without_extensions(back, now=NOW + timedelta(days=2)) == back


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frameworks())
def test_case_1_0_output_is_schema_valid_and_keeps_the_tree(framework: Framework) -> None:
    package, _ = framework_to_package(framework, now=NOW, version="1.0")
    data = dump_package(package, version="1.0")
    assert_valid_case_1_0(data)
    # the identifiers we derive (UUIDv5) also match the 1.0 OpenAPI pattern; UUID keys are
    # written as they are, like identifiers read from CASE
    keys = {framework.key, *(c.key for c in framework.competencies)}
    for obj in [data["CFDocument"], *data.get("CFItems", []), *data.get("CFAssociations", [])]:
        assert obj["identifier"] in keys or UUID_1_0.match(obj["identifier"]), obj["identifier"]
    back, _ = package_to_framework(parse_package(data)[0])
    # 1.0 has no extensions: titles come back as CASE reads them (blank ones are not kept)
    titles = [(c.title, shorten(c.title)) for c in framework.walk()]
    assert [
        b.title for b, (title, _) in zip(back.walk(), titles, strict=True) if title.strip()
    ] == [short for title, short in titles if title.strip()]
    assert [c.key for c in back.walk()] == [c.key for c in framework.walk()]
    assert [back.depth(c.key) for c in back.walk()] == [
        framework.depth(c.key) for c in framework.walk()
    ]
    assert len(back.competencies) == len(framework.competencies)


# -- CFPackage -> Framework -> CFPackage, on generated packages ------------------------------

_STAMP = "2024-05-01T10:00:00+00:00"
_CODES = st.sampled_from(["A", "A.1", "A.2", "A.10", "b.3", "B.20", "C"])  # clashes happen
# (an empty fullStatement is read as missing: a fallback text is written, with a warning)
_STATEMENT = st.text(alphabet=st.sampled_from("ab XY é𝑑\n.,-|$1"), min_size=1, max_size=130)
_RELATIONS = [t for t in ASSOCIATION_TYPES_1_1 if t != "isChildOf"] + ["ext:dependsOn"]


def _node(identifier: str, *, title: str = "") -> dict[str, str]:
    return {"title": title, "identifier": identifier, "uri": f"https://p.example/uri/{identifier}"}


@st.composite
def packages(draw: st.DrawFn) -> dict[str, Any]:
    """CFPackages as providers send them: a DAG of isChildOf (several parents, orphans,
    equal or missing sequenceNumbers), typed associations inside and out of the package,
    duplicate codes, long and multi-line statements, items in any order."""
    ids = iter(draw(st.lists(st.uuids().map(str), min_size=40, max_size=40, unique=True)))
    doc = next(ids)
    count = draw(st.integers(0, 9))
    items, associations = [], []
    for index in range(count):
        item: dict[str, Any] = {
            "identifier": next(ids),
            "uri": f"https://p.example/uri/{index}",
            "fullStatement": draw(_STATEMENT),
            "lastChangeDateTime": _STAMP,
        }
        for name, values in (
            ("humanCodingScheme", _CODES),
            ("abbreviatedStatement", _TEXT),
            ("listEnumeration", st.sampled_from(["1", "2", "10", "a", "B"])),
            ("notes", _TEXT),
        ):
            if draw(st.booleans()):
                item[name] = draw(values)
        items.append(item)
    for index, item in enumerate(items):
        parents = draw(
            st.lists(
                st.sampled_from([doc, *[i["identifier"] for i in items[:index]]]),
                max_size=2,
                unique=True,
            )
        )
        for parent in parents:  # none: an orphan; two: a second parent
            edge: dict[str, Any] = {
                "identifier": next(ids),
                "uri": "https://p.example/a",
                "associationType": "isChildOf",
                "originNodeURI": _node(item["identifier"]),
                "destinationNodeURI": _node(parent),
                "lastChangeDateTime": _STAMP,
            }
            number = draw(st.none() | st.integers(0, 3))
            if number is not None:
                edge["sequenceNumber"] = number
            associations.append(edge)
    if items:
        for _ in range(draw(st.integers(0, 4))):
            origin = draw(st.sampled_from(items))["identifier"]
            outside = next(ids)
            target = draw(st.sampled_from([i["identifier"] for i in items] + [outside]))
            if target == origin:
                continue
            associations.append(
                {
                    "identifier": next(ids),
                    "uri": "https://p.example/a",
                    "associationType": draw(st.sampled_from(_RELATIONS)),
                    "originNodeURI": _node(origin),
                    "destinationNodeURI": _node(target, title=draw(st.sampled_from(["", "X"]))),
                    "lastChangeDateTime": _STAMP,
                }
            )
    return {
        "CFDocument": {
            "identifier": doc,
            "uri": f"https://p.example/uri/{doc}",
            "creator": "Provider",
            "title": draw(_TEXT),
            "lastChangeDateTime": _STAMP,
        },
        "CFItems": draw(st.permutations(items)),
        "CFAssociations": draw(st.permutations(associations)),
    }


def primary_children(data: dict[str, Any]) -> dict[str, list[str]]:
    """children() over each item's first isChildOf in the package: its parent (the
    others are relations; their place under a second parent is CASE's, not the model's)."""
    first: dict[str, dict[str, Any]] = {}
    for association in data["CFAssociations"]:
        if association["associationType"] == "isChildOf":
            first.setdefault(association["originNodeURI"]["identifier"], association)
    return children({**data, "CFAssociations": list(first.values())})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packages())
def test_package_round_trip_keeps_ids_hierarchy_order_types_and_texts(
    source: dict[str, Any],
) -> None:
    written = case_round_trip(source)
    assert_valid_case(written)
    assert written["CFDocument"]["identifier"] == source["CFDocument"]["identifier"]
    assert written["CFDocument"]["title"] == source["CFDocument"]["title"]
    before = {item["identifier"]: item for item in source["CFItems"]}
    after = {item["identifier"]: item for item in written["CFItems"]}
    assert before.keys() == after.keys()
    for identifier, item in before.items():
        for field in (*ITEM_TEXTS, "listEnumeration"):
            assert after[identifier].get(field) == item.get(field), (identifier, field)
    ends = ("associationType", "originNodeURI", "destinationNodeURI", "sequenceNumber")
    kept = {a["identifier"]: a for a in written["CFAssociations"]}
    for association in source["CFAssociations"]:
        copy = kept[association["identifier"]]
        for field in ends:
            if field.endswith("URI"):
                assert copy[field]["identifier"] == association[field]["identifier"]
            else:
                assert copy.get(field) == association.get(field), field
    tree_before, tree_after = primary_children(source), primary_children(written)
    for parent, kids in tree_before.items():  # orphans gain an isChildOf to the document
        assert [k for k in tree_after[parent] if k in kids] == kids


# -- whatever reads, writes valid CASE ---------------------------------------------------------

_MUTATIONS = (
    "null",
    "drop",
    "empty",
    "upper",
    "not_uuid",
    "link_as_string",
    "bad_datetime",
    "naive_datetime",
    "number_as_string",
    "unknown_key",
)


def _objects(value: Any) -> list[dict[str, Any]]:
    """Every JSON object of a package (not inside ``extensions``)."""
    if isinstance(value, list):
        return [found for entry in value for found in _objects(entry)]
    if not isinstance(value, dict):
        return []
    inner = [found for key, v in value.items() if key != "extensions" for found in _objects(v)]
    return [value, *inner]


@st.composite
def damaged_packages(draw: st.DrawFn) -> dict[str, Any]:
    """A fixture with what real exports get wrong, anywhere: nulls, missing or empty
    fields, upper-case or non-UUID identifiers, links as strings, odd timestamps..."""
    data: dict[str, Any] = load(draw(st.sampled_from(PACKAGES)))
    for _ in range(draw(st.integers(1, 8))):
        objects = [o for o in _objects(data) if o]
        target = draw(st.sampled_from(objects))
        key = draw(st.sampled_from(sorted(target)))
        value = target[key]
        kind = draw(st.sampled_from(_MUTATIONS))
        if kind == "null":
            target[key] = None
        elif kind == "drop":
            del target[key]
        elif kind == "empty" and isinstance(value, str):
            target[key] = ""
        elif kind == "upper" and isinstance(value, str):
            target[key] = value.upper()
        elif kind == "not_uuid" and isinstance(value, str):
            target[key] = f"http://asn.example.org/resources/{value[:8]}"
        elif kind == "link_as_string" and isinstance(value, dict) and "uri" in value:
            target[key] = value["uri"]
        elif kind == "bad_datetime":
            target[key] = "yesterday"
        elif kind == "naive_datetime" and isinstance(value, str) and len(value) > 19:
            target[key] = value[:19]
        elif kind == "number_as_string" and isinstance(value, int | float):
            target[key] = str(value)
        elif kind == "unknown_key":
            target[f"x{key}"] = value
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_packages())
def test_whatever_reads_is_written_as_valid_case(data: dict[str, Any]) -> None:
    refused: ValidationError | None = None
    try:
        framework, _ = read_case_data(data)
    except ValidationError as error:
        refused = error
    if refused is not None:  # refused with located errors, never a crash
        assert refused.errors
        return
    for version in ("1.1", "1.0"):
        text, _ = case_json(framework, now=NOW, version=version)  # type: ignore[arg-type]
        written = json.loads(text)
        (assert_valid_case if version == "1.1" else assert_valid_case_1_0)(written)
