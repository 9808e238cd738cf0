"""Shared helpers of the CASE tests: fixtures, the official schema, a fixed clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import responses

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PACKAGES = sorted(p.name for p in FIXTURES.glob("*.json"))

_SCHEMA = json.loads((FIXTURES / "schema" / "case-v1p1-cfpackage-jsonschema.json").read_text())
_VALIDATOR = jsonschema.Draft201909Validator(
    _SCHEMA, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def schema_errors(data: Any) -> list[str]:
    """Every violation of the official CASE 1.1 CFPackage schema (formats checked too)."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in _VALIDATOR.iter_errors(data)
    ]


def assert_valid_case(data: Any) -> None:
    errors = schema_errors(data)
    assert not errors, "\n".join(errors[:20])


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """``responses`` intercepting every request (a fake provider installs itself on it)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


# CASE 1.0 classes and their fields (reference section 2; 1.1 added frameworkType,
# caseVersion, item subject/subjectURI, association notes, targetType and extensions).
_LINK = {"title", "identifier", "uri"}
_TIMED = {"identifier", "uri", "lastChangeDateTime"}
CASE_1_0_FIELDS: dict[str, set[str]] = {
    "CFPackage": {"CFDocument", "CFItems", "CFAssociations", "CFDefinitions", "CFRubrics"},
    "CFDocument": _TIMED
    | {"creator", "title", "officialSourceURL", "publisher", "description", "subject"}
    | {"subjectURI", "language", "version", "adoptionStatus", "statusStartDate"}
    | {"statusEndDate", "licenseURI", "notes"},
    "CFItem": _TIMED
    | {"fullStatement", "alternativeLabel", "CFItemType", "humanCodingScheme"}
    | {"listEnumeration", "abbreviatedStatement", "conceptKeywords", "conceptKeywordsURI"}
    | {"notes", "language", "educationLevel", "CFItemTypeURI", "licenseURI"}
    | {"statusStartDate", "statusEndDate"},
    "CFAssociation": _TIMED
    | {"associationType", "sequenceNumber", "originNodeURI", "destinationNodeURI"}
    | {"CFAssociationGroupingURI"},
    "CFDefinitions": {"CFConcepts", "CFSubjects", "CFLicenses", "CFItemTypes"}
    | {"CFAssociationGroupings"},
    "CFConcepts": _TIMED | {"title", "keywords", "hierarchyCode", "description"},
    "CFSubjects": _TIMED | {"title", "hierarchyCode", "description"},
    "CFLicenses": _TIMED | {"title", "description", "licenseText"},
    "CFItemTypes": _TIMED | {"title", "description", "hierarchyCode", "typeCode"},
    "CFAssociationGroupings": _TIMED | {"title", "description"},
    "CFRubric": _TIMED | {"title", "description", "CFRubricCriteria"},
    "CFRubricCriterion": _TIMED
    | {"category", "description", "CFItemURI", "weight", "position", "rubricId"}
    | {"CFRubricCriterionLevels"},
    "CFRubricCriterionLevel": _TIMED
    | {"description", "quality", "score", "feedback", "position", "rubricCriterionId"},
}
CASE_1_0_TYPES = {
    "isChildOf",
    "isPeerOf",
    "isPartOf",
    "exactMatchOf",
    "precedes",
    "isRelatedTo",
    "replacedBy",
    "exemplar",
    "hasSkillLevel",
}
UUID_1_0 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
"""The CASE 1.0 OpenAPI pattern of identifiers (version 1-5, RFC variant, lowercase)."""


def case_1_0_problems(data: dict[str, Any]) -> list[str]:
    """What a strict CASE 1.0 consumer would refuse: 1.1-only fields or association types.
    (Use together with the 1.1 schema, which checks types and required fields.)"""
    found: list[str] = []

    def check(obj: dict[str, Any], kind: str, where: str) -> None:
        extra = set(obj) - CASE_1_0_FIELDS[kind]
        found.extend(f"{where}.{name}: not a CASE 1.0 field" for name in sorted(extra))
        for name, value in obj.items():
            if name.endswith("URI") and name != "subjectURI":
                if set(value) - _LINK:
                    found.append(f"{where}.{name}: link with {sorted(set(value) - _LINK)}")
            elif name == "subjectURI":
                found.extend(f"{where}.subjectURI" for link in value if set(link) - _LINK)

    check(data, "CFPackage", "")
    check(data["CFDocument"], "CFDocument", "CFDocument")
    for index, item in enumerate(data.get("CFItems", [])):
        check(item, "CFItem", f"CFItems[{index}]")
    for index, association in enumerate(data.get("CFAssociations", [])):
        check(association, "CFAssociation", f"CFAssociations[{index}]")
        if association["associationType"] not in CASE_1_0_TYPES:
            found.append(f"CFAssociations[{index}]: type {association['associationType']!r}")
    definitions = data.get("CFDefinitions", {})
    if definitions:
        check(definitions, "CFDefinitions", "CFDefinitions")
    for name, objects in definitions.items():
        for index, obj in enumerate(objects):
            check(obj, name, f"CFDefinitions.{name}[{index}]")
    for r_index, rubric in enumerate(data.get("CFRubrics", [])):
        check(rubric, "CFRubric", f"CFRubrics[{r_index}]")
        for c_index, criterion in enumerate(rubric.get("CFRubricCriteria", [])):
            check(criterion, "CFRubricCriterion", f"CFRubrics[{r_index}][{c_index}]")
            for level in criterion.get("CFRubricCriterionLevels", []):
                check(level, "CFRubricCriterionLevel", f"CFRubrics[{r_index}][{c_index}]")
    return found


def assert_valid_case_1_0(data: dict[str, Any]) -> None:
    """Valid for the 1.1 schema and made only of CASE 1.0 fields and association types."""
    assert_valid_case(data)
    problems = case_1_0_problems(data)
    assert not problems, "\n".join(problems[:20])
