"""Lenient reading of CASE JSON (warnings, located errors) and the strict writer."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from comp_adapters.case.lenient import (
    parse_document_list,
    parse_object,
    parse_package,
    parse_set,
)
from comp_adapters.case.package_format import case_json, read_case_data
from comp_adapters.case.wire import (
    CFItem,
    CFItemType,
    CFPackage,
    ImsxStatusInfo,
    dump_package,
    dump_package_reporting,
    parse_case_datetime,
)
from comp_adapters.errors import ValidationError

from .conftest import (
    NOW,
    PACKAGES,
    assert_valid_case,
    assert_valid_case_1_0,
    case_1_0_problems,
    load,
    schema_errors,
)

DOC = "d0000000-0000-0000-0000-000000000000"


def minimal(**item: Any) -> dict[str, Any]:
    base = {
        "identifier": "00000000-0000-0000-0000-000000000001",
        "uri": "https://x.example/uri/1",
        "fullStatement": "Item 1",
        "lastChangeDateTime": "2017-09-22T23:15:13+00:00",
    }
    base.update(item)
    return {
        "CFDocument": {
            "identifier": DOC,
            "uri": "https://x.example/doc",
            "creator": "Tests",
            "title": "T",
            "lastChangeDateTime": "2017-09-22T23:13:54+00:00",
        },
        "CFItems": [base],
        "CFAssociations": [],
    }


def messages(problems: Any) -> list[str]:
    return [f"{p.field}: {p.message}" for p in problems]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_fixture_reads(name: str) -> None:
    package, _warnings = parse_package(load(name), source=name)
    assert package.items


@pytest.mark.parametrize(
    ("item", "field", "expected_value", "warning"),
    [
        ({"notes": None}, "notes", None, "CFItems[0].notes: null treated as missing"),
        (
            {"identifier": "00000000-0000-0000-0000-00000000000A"},
            "identifier",
            "00000000-0000-0000-0000-00000000000a",
            "CFItems[0].identifier: identifier not in lowercase UUID form (normalised)",
        ),
        (
            {"educationalLevel": "09, 10"},
            "education_level",
            ("09", "10"),
            "CFItems[0].educationalLevel: pre-1.0 key 'educationalLevel' read as 'educationLevel'",
        ),
        (
            {"lastChangeDateTime": "2017-05-25T18:05:33"},
            "last_change_date_time",
            "2017-05-25T18:05:33Z",
            "CFItems[0].lastChangeDateTime: date-time without a time zone (read as UTC)",
        ),
        (
            {"CFItemTypeURI": "https://x.example/uri/3f1fdfbc-cc0c-4c08-8add-31e9479033a0"},
            "cf_item_type_uri",
            "3f1fdfbc-cc0c-4c08-8add-31e9479033a0",
            "CFItems[0].CFItemTypeURI: a link given as a plain string (read as its uri)",
        ),
        (
            {"CFItemAssociationURI": "https://x.example/assoc"},
            "notes",
            None,
            (
                "CFItems[0].CFItemAssociationURI: 'CFItemAssociationURI' ignored: a link to the "
                "item's associations, read from the package"
            ),
        ),
        (
            {"updatedAt": "2017"},
            "notes",
            None,
            "CFItems[0].updatedAt: unknown key 'updatedAt' ignored",
        ),
        (
            {"identifier": "http://asn.jesandco.org/resources/S1143462"},
            "identifier",
            "http://asn.jesandco.org/resources/S1143462",
            (
                "CFItems[0].identifier: identifier 'http://asn.jesandco.org/resources/S1143462' is "
                "not a UUID (kept as given)"
            ),
        ),
        (
            {"humanCodingScheme": 6.1},
            "human_coding_scheme",
            "6.1",
            "CFItems[0].humanCodingScheme: number where a string is expected (read as text)",
        ),
        (
            {"statusStartDate": "2017-05-01T00:00:00"},
            "status_start_date",
            "2017-05-01",
            "CFItems[0].statusStartDate: date-time where a date is expected (date part kept)",
        ),
    ],
)
def test_lenient_item_fields(
    item: dict[str, Any], field: str, expected_value: Any, warning: str
) -> None:
    package, warnings = parse_package(minimal(**item))
    value = getattr(package.items[0], field)
    if field == "cf_item_type_uri":
        value = value.identifier
    assert value == expected_value
    assert warning in messages(warnings)


def test_warnings_of_one_kind_are_merged_with_a_count() -> None:
    data = load("opensalt_ordering_excerpt.json")
    _package, warnings = parse_package(data)
    back_links = [p for p in warnings if "CFDocumentURI back-link" in p.message]
    assert len(back_links) == 2  # one for items, one for associations
    assert back_links[0].field == "CFItems[0].CFDocumentURI"
    assert "(8 times; the first is shown)" in back_links[0].message
    assert all(p.severity == "warning" for p in warnings)


def test_legacy_package_reads_with_warnings() -> None:
    package, warnings = parse_package(load("legacy_2017.json"), source="legacy.json")
    text = messages(warnings)
    assert package.document.identifier == "20c5134f-423d-4097-a971-3dd5152bf507"
    assert package.items[0].education_level == ("06", "07")
    assert package.items[1].concept_keywords == ("ratio", "rate")
    second = package.associations[1]
    assert second.origin_node_uri.identifier == "c1a0c8da-4e0a-11e7-9b2e-0242ac120002"
    assert second.sequence_number is None
    assert package.associations[2].sequence_number == 2
    assert package.items[3].last_change_date_time == "2017-05-25T18:05:33Z"
    assert "CFDocument.subject: a string where a list is expected (split on commas)" in text
    assert "_opensalt: unknown key '_opensalt' ignored" in text
    assert any(p.file == "legacy.json" for p in warnings)


def test_pre_1_0_associations_read_with_warnings() -> None:
    data = minimal()
    item = data["CFItems"][0]["identifier"]
    node = {"title": "", "identifier": DOC, "uri": "https://x.example/doc"}
    data["CFAssociations"] = [
        {
            "identifier": "a0000000-0000-0000-0000-000000000001",
            "uri": "https://x.example/a1",
            "associationType": "isChildOf",
            "originNodeIdentifier": item.upper(),
            "destinationNodeURI": node,
        },
        {
            "identifier": "a0000000-0000-0000-0000-000000000002",
            "uri": "https://x.example/a2",
            "associationType": "RelatedTo",
            "originNodeURI": {"title": "", "identifier": item, "uri": "https://x.example/i"},
            "destinationNodeURI": node,
        },
    ]
    package, warnings = parse_package(data)
    assert package.associations[0].origin_node_uri.identifier == item
    assert package.associations[1].association_type == "isRelatedTo"
    assert {
        "CFAssociations[0].originNodeIdentifier: pre-1.0 key originNodeIdentifier",
        "CFAssociations[1].associationType: association type 'RelatedTo' read as 'isRelatedTo'",
    } <= set(messages(warnings))


def test_wrapped_package_is_unwrapped() -> None:
    package, warnings = parse_package({"CFPackage": minimal()})
    assert len(package.items) == 1
    assert "CFPackage: package wrapped in a CFPackage object (unwrapped)" in messages(warnings)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(CFItems="oops"), "CFItems: expected a list, found a string"),
        (
            lambda d: d["CFItems"][0].update(identifier=42),
            "CFItems[0].identifier: expected a string, found a number",
        ),
        (lambda d: d["CFItems"][0].pop("identifier"), "CFItems[0].identifier: CFItem needs"),
        (
            lambda d: d["CFItems"][0].update(conceptKeywords={"a": 1}),
            "CFItems[0].conceptKeywords: expected a list of strings, found an object",
        ),
        (
            lambda d: d["CFAssociations"].append(
                {"identifier": "a0000000-0000-0000-0000-000000000001", "associationType": "x"}
            ),
            "CFAssociations[0].originNodeURI: CFAssociation needs 'originNodeURI'",
        ),
        (lambda d: d.pop("CFDocument"), "CFDocument: not a CASE package: no CFDocument"),
        (
            lambda d: d["CFItems"][0].update(subjectURI=[3]),
            "CFItems[0].subjectURI[0]: expected a link object, found a number",
        ),
    ],
)
def test_wrong_types_are_located_errors(change: Any, expected: str) -> None:
    data = minimal()
    change(data)
    with pytest.raises(ValidationError) as raised:
        parse_package(data, source="bad.json")
    found = messages(raised.value.errors)
    assert any(text.startswith(expected) for text in found), found
    assert all(p.file == "bad.json" for p in raised.value.problems)


def test_pre_case_lsdoc_export_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match="pre-CASE lsDoc"):
        parse_package({"lsDoc": {}, "lsItems": []})


def test_document_list_shapes() -> None:
    doc = minimal()["CFDocument"]
    wrapped, warnings = parse_document_list({"CFDocuments": [doc]})
    assert [d.identifier for d in wrapped] == [DOC]
    assert warnings == []
    bare, warnings = parse_document_list([doc])
    assert [d.identifier for d in bare] == [DOC]
    assert "bare JSON array" in warnings[0].message
    single, _ = parse_document_list({"CFDocument": doc})
    assert [d.identifier for d in single] == [DOC]
    with pytest.raises(ValidationError):
        parse_document_list({"something": []})


def test_standalone_item_keeps_its_back_link_and_unwraps() -> None:
    raw = minimal()["CFItems"][0] | {
        "CFDocumentURI": {"title": "D", "identifier": DOC, "uri": "https://x.example/doc"}
    }
    item, warnings = parse_object(CFItem, {"CFItem": raw})
    assert item.cf_document_uri is not None
    assert item.cf_document_uri.identifier == DOC
    assert any("wrapped" in p.message for p in warnings)


@pytest.mark.parametrize(
    ("text", "expected", "naive"),
    [
        ("2017-09-22T23:13:54+00:00", "2017-09-22T23:13:54+00:00", False),
        ("2026-06-05T04:23:43.000Z", "2026-06-05T04:23:43+00:00", False),
        ("2017-05-25T18:05:33", "2017-05-25T18:05:33+00:00", True),
        ("2017-05-25 18:05:33", "2017-05-25T18:05:33+00:00", True),
        ("2017-05-25T20:05:33+0200", "2017-05-25T18:05:33+00:00", False),
    ],
)
def test_case_datetimes(text: str, expected: str, naive: bool) -> None:
    parsed = parse_case_datetime(text)
    assert parsed is not None
    assert parsed[0].isoformat() == expected
    assert parsed[1] is naive


def test_bad_datetime_is_a_warning_and_dropped() -> None:
    package, warnings = parse_package(minimal(lastChangeDateTime="yesterday"))
    assert package.items[0].last_change_date_time is None
    assert "not a date-time" in messages(warnings)[0]


def _package(name: str) -> CFPackage:
    return parse_package(load(name))[0]


@pytest.mark.parametrize("name", PACKAGES)
def test_dump_is_schema_valid_for_both_versions(name: str) -> None:
    package = _package(name)
    assert_valid_case(dump_package(package))
    assert_valid_case_1_0(dump_package(package, version="1.0"))


def test_dump_strips_back_links_and_fills_required_lookups() -> None:
    data = dump_package(_package("case11_university_rubrics.json"))
    assert "CFPackageURI" not in data["CFDocument"]
    assert all("CFDocumentURI" not in item for item in data["CFItems"])
    item_type = data["CFDefinitions"]["CFItemTypes"][0]
    assert item_type["description"] == item_type["title"]
    assert item_type["hierarchyCode"] == "1"
    assert data["CFDocument"]["caseVersion"] == "1.1"


def test_every_required_lookup_field_filled_is_a_located_warning() -> None:
    package = _package("case11_university_rubrics.json")
    assert package.definitions is not None
    named = package.definitions.cf_item_types[1].model_copy(update={"description": "Knows"})
    types = (package.definitions.cf_item_types[0], named, *package.definitions.cf_item_types[2:])
    definitions = package.definitions.model_copy(update={"cf_item_types": types})
    data, problems = dump_package_reporting(package.model_copy(update={"definitions": definitions}))
    assert data["CFDefinitions"]["CFItemTypes"][1]["description"] == "Knows"
    assert [(p.field, p.message, p.severity) for p in problems] == [
        (
            "CFDefinitions.CFSubjects[0].hierarchyCode",
            "CFSubject without hierarchyCode (CASE requires one): '1' is written",
            "warning",
        ),
        (
            "CFDefinitions.CFItemTypes[0].description",
            (
                "CFItemType without description (CASE requires one): its title is written "
                "(2 times; the first is shown)"
            ),
            "warning",
        ),
        (
            "CFDefinitions.CFItemTypes[0].hierarchyCode",
            (
                "CFItemType without hierarchyCode (CASE requires one): '1' is written "
                "(3 times; the first is shown)"
            ),
            "warning",
        ),
    ]
    complete = dump_package(_package("case11_university_rubrics.json"))
    assert dump_package_reporting(parse_package(complete)[0])[1] == []


_TYPE = {
    "identifier": "3f1fdfbc-cc0c-4c08-8add-31e9479033a0",
    "uri": "https://x.example/uri/3f1fdfbc",
    "title": "Domain",
    "hierarchyCode": "1",
}
_CHILD = {**_TYPE, "identifier": "3f1fdfbc-cc0c-4c08-8add-31e9479033a1", "hierarchyCode": "1.1"}


@pytest.mark.parametrize(
    ("data", "titles", "warning"),
    [
        ({"CFItemTypes": [_TYPE, _CHILD]}, ["Domain", "Domain"], None),
        (_TYPE, ["Domain"], 'one bare CFItemType instead of {"CFItemTypes": [...]}'),
        ({"CFItemType": _TYPE}, ["Domain"], "CFItemType wrapped in an object (unwrapped)"),
        ([_TYPE], ["Domain"], 'bare JSON array instead of {"CFItemTypes": [...]}'),
        ({"CFItemTypes": _TYPE}, ["Domain"], "one CFItemType object where a list is expected"),
        ({"CFItemTypes": None}, [], "null treated as an empty list"),
    ],
)
def test_set_answers_in_every_shape_providers_send(
    data: Any, titles: list[str], warning: str | None
) -> None:
    found, problems = parse_set(CFItemType, data, name="CFItemTypes", source="CFItemTypes/x")
    assert [t.title for t in found] == titles
    if warning is None:
        assert problems == []
    else:
        assert any(p.message.startswith(warning) for p in problems), messages(problems)
        assert all(p.file == "CFItemTypes/x" for p in problems)


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        ({"CFItemTypes": "Domain"}, "CFItemTypes", "expected a list, found a string"),
        ({"CFItemTypes": [{"title": "x"}]}, "CFItemTypes[0].identifier", "needs 'identifier'"),
        ({"title": "x", "uri": "u"}, "identifier", "needs 'identifier'"),
        (5, None, "expected a CFItemType set"),
    ],
)
def test_set_answers_that_cannot_be_read_are_located_errors(
    data: Any, where: str | None, message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_set(CFItemType, data, name="CFItemTypes", source="CFItemTypes/x")
    [error] = raised.value.errors
    assert (error.field, error.file) == (where, "CFItemTypes/x")
    assert message in error.message


def test_dump_1_0_leaves_out_1_1_fields() -> None:
    data = dump_package(_package("case11_university_rubrics.json"), version="1.0")
    text = str(data)
    assert "caseVersion" not in data["CFDocument"]
    assert "extensions" not in text
    assert "targetType" not in text
    assert all("subjectURI" not in item for item in data["CFItems"])
    assert all("notes" not in assoc for assoc in data["CFAssociations"])


def test_case_1_0_check_is_not_blind() -> None:
    """1.1 output is refused by the 1.0 check: caseVersion, extensions, 1.1 types."""
    data = dump_package(_package("case11_university_rubrics.json"))
    problems = case_1_0_problems(data)
    assert "CFDocument.caseVersion: not a CASE 1.0 field" in problems
    assert "CFDocument.extensions: not a CASE 1.0 field" in problems
    assert any("type 'isTranslationOf'" in p for p in problems)
    assert any(p.endswith(".subjectURI: not a CASE 1.0 field") for p in problems)


def test_schema_check_is_not_blind() -> None:
    """The validator used by these tests rejects what the schema forbids (formats too)."""
    good = dump_package(_package("opensalt_sequence_number.json"))
    assert schema_errors(good) == []
    for breakage in (
        lambda d: d["CFDocument"].update(lastChangeDateTime="yesterday"),
        lambda d: d["CFItems"][0].update(identifier="not-a-uuid"),
        lambda d: d["CFItems"][0].update(notes=None),
        lambda d: d["CFItems"][0].update(CFDocumentURI={"title": "", "identifier": DOC, "uri": ""}),
        lambda d: d["CFAssociations"][0].update(associationType="isFriendOf"),
        lambda d: d["CFDocument"].update(statusStartDate="2017-13-45"),
    ):
        bad = copy.deepcopy(good)
        breakage(bad)
        assert schema_errors(bad), bad


@pytest.mark.parametrize(
    ("body", "codes", "description"),
    [
        (
            {
                "imsx_codeMajor": "failure",
                "imsx_severity": "error",
                "imsx_description": "Not Found",
                "imsx_codeMinor": {
                    "imsx_codeMinorField": [
                        {
                            "imsx_codeMinorFieldName": "sourcedId",
                            "imsx_codeMinorFieldValue": "unknownobject",
                        }
                    ]
                },
            },
            ("unknownobject",),
            "Not Found",
        ),
        (
            {"imsx_StatusInfo": {"imsx_codeMajor": "failure", "imsx_severity": "error"}},
            (),
            None,
        ),
    ],
)
def test_imsx_status_info(body: Any, codes: tuple[str, ...], description: str | None) -> None:
    info = ImsxStatusInfo.from_body(body)
    assert info is not None
    assert info.minor_codes == codes
    assert info.description == description


def test_imsx_of_other_bodies_is_none() -> None:
    assert ImsxStatusInfo.from_body({"error": "x"}) is None
    assert ImsxStatusInfo.from_body("text") is None


def test_identifiers_read_leniently_are_written_as_uuids_consistently() -> None:
    """A link given as a URL and the definition it names get the same UUIDv5; a definition
    without lastChangeDateTime gets the time of writing."""
    url = "http://x.example/itemtypes/Standard"
    data = minimal(CFItemTypeURI=url)
    data["CFDefinitions"] = {"CFItemTypes": [{"identifier": url, "uri": url, "title": "Std"}]}
    framework, _ = read_case_data(data)
    text, warnings = case_json(framework, now=NOW)
    written = json.loads(text)
    assert_valid_case(written)
    item_type = written["CFDefinitions"]["CFItemTypes"][0]
    assert written["CFItems"][0]["CFItemTypeURI"]["identifier"] == item_type["identifier"]
    assert item_type["lastChangeDateTime"] == "2026-03-01T12:00:00Z"
    changed = [w for w in warnings if "is not a UUID" in w.message]
    assert [w.field for w in changed] == ["CFItems[0].CFItemTypeURI.identifier"]
    assert "(2 times" in changed[0].message
