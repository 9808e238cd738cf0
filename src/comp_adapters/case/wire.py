"""IMS CASE payloads (1.0 and 1.1): lenient on the way in, strict on the way out.

Inbound data goes through :mod:`comp_adapters.case.lenient` before it reaches these
models (``parse_package`` and friends live there): real providers send nulls, odd
identifiers, legacy keys and keys of their own, which it reads and reports. The models then
hold clean data only.

Outbound, :func:`dump_package` writes what the official CASE 1.1 CFPackage JSON Schema
accepts (or the 1.0 subset of it): no nulls, no back-links, no unknown keys, required
lookup fields filled, UTC timestamps with ``Z``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from comp_adapters.errors import Problem

CaseVersion = Literal["1.0", "1.1"]
CASE_VERSIONS: tuple[CaseVersion, ...] = ("1.0", "1.1")

ASSOCIATION_TYPES_1_0 = (
    "isChildOf",
    "isPeerOf",
    "isPartOf",
    "exactMatchOf",
    "precedes",
    "isRelatedTo",
    "replacedBy",
    "exemplar",
    "hasSkillLevel",
)
"""Association types of CASE 1.0 (1.1 adds ``isTranslationOf`` and ``ext:`` types)."""
ASSOCIATION_TYPES_1_1 = (*ASSOCIATION_TYPES_1_0, "isTranslationOf")
EXT_TYPE = re.compile(r"^ext:[A-Za-z0-9.\-_]+$")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def valid_association_type(kind: str, version: CaseVersion = "1.1") -> bool:
    """Whether ``kind`` is an association type of that CASE version (1.1 allows ``ext:``)."""
    if version == "1.0":
        return kind in ASSOCIATION_TYPES_1_0
    return kind in ASSOCIATION_TYPES_1_1 or bool(EXT_TYPE.match(kind))


def is_uuid(text: str) -> bool:
    """Whether ``text`` is 8-4-4-4-12 hex (any version digit, any case), as CASE data is."""
    return bool(_UUID.match(text))


# -- models ----------------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


Extensions = dict[str, JsonValue]


class LinkURI(_Wire):
    """A link to a CASE object: ``licenseURI``, ``CFItemTypeURI``, ``CFItemURI``..."""

    title: str
    identifier: str
    uri: str


class LinkGenURI(_Wire):
    """An association end; may point outside CASE (``identifier`` is any string)."""

    title: str
    identifier: str
    uri: str
    target_type: str | None = Field(default=None, alias="targetType")


class CFDocument(_Wire):
    """The framework header (``CFPackageURI`` only on the standalone resource)."""

    identifier: str
    uri: str
    creator: str
    title: str
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    cf_package_uri: LinkURI | None = Field(default=None, alias="CFPackageURI")
    framework_type: str | None = Field(default=None, alias="frameworkType")
    case_version: str | None = Field(default=None, alias="caseVersion")
    official_source_url: str | None = Field(default=None, alias="officialSourceURL")
    publisher: str | None = None
    description: str | None = None
    subject: tuple[str, ...] | None = None
    subject_uri: tuple[LinkURI, ...] | None = Field(default=None, alias="subjectURI")
    language: str | None = None
    version: str | None = None
    adoption_status: str | None = Field(default=None, alias="adoptionStatus")
    status_start_date: str | None = Field(default=None, alias="statusStartDate")
    status_end_date: str | None = Field(default=None, alias="statusEndDate")
    license_uri: LinkURI | None = Field(default=None, alias="licenseURI")
    notes: str | None = None
    extensions: Extensions | None = None


class CFItem(_Wire):
    """One node of a framework (``CFDocumentURI`` only on the standalone resource)."""

    identifier: str
    uri: str
    full_statement: str = Field(alias="fullStatement")
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    cf_document_uri: LinkURI | None = Field(default=None, alias="CFDocumentURI")
    alternative_label: str | None = Field(default=None, alias="alternativeLabel")
    cf_item_type: str | None = Field(default=None, alias="CFItemType")
    human_coding_scheme: str | None = Field(default=None, alias="humanCodingScheme")
    list_enumeration: str | None = Field(default=None, alias="listEnumeration")
    abbreviated_statement: str | None = Field(default=None, alias="abbreviatedStatement")
    concept_keywords: tuple[str, ...] | None = Field(default=None, alias="conceptKeywords")
    concept_keywords_uri: LinkURI | None = Field(default=None, alias="conceptKeywordsURI")
    notes: str | None = None
    subject: tuple[str, ...] | None = None
    subject_uri: tuple[LinkURI, ...] | None = Field(default=None, alias="subjectURI")
    language: str | None = None
    education_level: tuple[str, ...] | None = Field(default=None, alias="educationLevel")
    cf_item_type_uri: LinkURI | None = Field(default=None, alias="CFItemTypeURI")
    license_uri: LinkURI | None = Field(default=None, alias="licenseURI")
    status_start_date: str | None = Field(default=None, alias="statusStartDate")
    status_end_date: str | None = Field(default=None, alias="statusEndDate")
    extensions: Extensions | None = None


class CFAssociation(_Wire):
    """A typed edge from ``originNodeURI`` to ``destinationNodeURI``."""

    identifier: str
    uri: str
    association_type: str = Field(alias="associationType")
    origin_node_uri: LinkGenURI = Field(alias="originNodeURI")
    destination_node_uri: LinkGenURI = Field(alias="destinationNodeURI")
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    sequence_number: int | None = Field(default=None, alias="sequenceNumber")
    cf_association_grouping_uri: LinkURI | None = Field(
        default=None, alias="CFAssociationGroupingURI"
    )
    cf_document_uri: LinkURI | None = Field(default=None, alias="CFDocumentURI")
    notes: str | None = None
    extensions: Extensions | None = None


class CFItemType(_Wire):
    identifier: str
    uri: str
    title: str
    description: str | None = None
    hierarchy_code: str | None = Field(default=None, alias="hierarchyCode")
    type_code: str | None = Field(default=None, alias="typeCode")
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    extensions: Extensions | None = None


class CFSubject(_Wire):
    identifier: str
    uri: str
    title: str
    hierarchy_code: str | None = Field(default=None, alias="hierarchyCode")
    description: str | None = None
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    extensions: Extensions | None = None


class CFConcept(_Wire):
    identifier: str
    uri: str
    title: str
    keywords: str | None = None
    hierarchy_code: str | None = Field(default=None, alias="hierarchyCode")
    description: str | None = None
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    extensions: Extensions | None = None


class CFLicense(_Wire):
    identifier: str
    uri: str
    title: str
    description: str | None = None
    license_text: str | None = Field(default=None, alias="licenseText")
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    extensions: Extensions | None = None


class CFAssociationGrouping(_Wire):
    identifier: str
    uri: str
    title: str
    description: str | None = None
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    extensions: Extensions | None = None


class CFDefinitions(_Wire):
    """The lookup tables a package ships: item types, subjects, concepts, licences, groupings."""

    cf_concepts: tuple[CFConcept, ...] = Field(default=(), alias="CFConcepts")
    cf_subjects: tuple[CFSubject, ...] = Field(default=(), alias="CFSubjects")
    cf_licenses: tuple[CFLicense, ...] = Field(default=(), alias="CFLicenses")
    cf_item_types: tuple[CFItemType, ...] = Field(default=(), alias="CFItemTypes")
    cf_association_groupings: tuple[CFAssociationGrouping, ...] = Field(
        default=(), alias="CFAssociationGroupings"
    )
    extensions: Extensions | None = None


class CFRubricCriterionLevel(_Wire):
    identifier: str
    uri: str
    description: str | None = None
    quality: str | None = None
    score: float | None = None
    feedback: str | None = None
    position: int | None = None
    rubric_criterion_id: str | None = Field(default=None, alias="rubricCriterionId")
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    extensions: tuple[Extensions, ...] | None = None
    """An array of objects here (a quirk of the official schema), an object elsewhere."""


class CFRubricCriterion(_Wire):
    identifier: str
    uri: str
    category: str | None = None
    description: str | None = None
    cf_item_uri: LinkURI | None = Field(default=None, alias="CFItemURI")
    weight: float | None = None
    position: int | None = None
    rubric_id: str | None = Field(default=None, alias="rubricId")
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    levels: tuple[CFRubricCriterionLevel, ...] = Field(default=(), alias="CFRubricCriterionLevels")
    extensions: Extensions | None = None


class CFRubric(_Wire):
    identifier: str
    uri: str
    title: str | None = None
    description: str | None = None
    last_change_date_time: str | None = Field(default=None, alias="lastChangeDateTime")
    criteria: tuple[CFRubricCriterion, ...] = Field(default=(), alias="CFRubricCriteria")
    extensions: Extensions | None = None


class CFPackage(_Wire):
    """A whole framework: the document, its items, associations, definitions and rubrics."""

    document: CFDocument = Field(alias="CFDocument")
    items: tuple[CFItem, ...] = Field(default=(), alias="CFItems")
    associations: tuple[CFAssociation, ...] = Field(default=(), alias="CFAssociations")
    definitions: CFDefinitions | None = Field(default=None, alias="CFDefinitions")
    rubrics: tuple[CFRubric, ...] = Field(default=(), alias="CFRubrics")
    extensions: Extensions | None = None


class ImsxCodeMinorField(_Wire):
    name: str = Field(alias="imsx_codeMinorFieldName")
    value: str = Field(alias="imsx_codeMinorFieldValue")


class ImsxStatusInfo(BaseModel):
    """The error body of every CASE endpoint (read leniently: extra keys ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_by_name=True)

    code_major: str | None = Field(default=None, alias="imsx_codeMajor")
    severity: str | None = Field(default=None, alias="imsx_severity")
    description: str | None = Field(default=None, alias="imsx_description")
    code_minor: tuple[ImsxCodeMinorField, ...] = ()

    @classmethod
    def from_body(cls, body: object) -> ImsxStatusInfo | None:
        """Read an ``imsx_StatusInfo`` body (also wrapped as ``{"imsx_StatusInfo": ...}``)."""
        if isinstance(body, Mapping) and isinstance(body.get("imsx_StatusInfo"), Mapping):
            body = body["imsx_StatusInfo"]
        if not isinstance(body, Mapping) or "imsx_codeMajor" not in body:
            return None
        minor: list[ImsxCodeMinorField] = []
        raw_minor = body.get("imsx_codeMinor")
        fields = raw_minor.get("imsx_codeMinorField") if isinstance(raw_minor, Mapping) else None
        if isinstance(fields, Mapping):
            fields = [fields]
        for entry in fields if isinstance(fields, list) else []:
            try:
                minor.append(ImsxCodeMinorField.model_validate(entry))
            except pydantic.ValidationError:
                continue
        try:
            return cls.model_validate(
                {
                    "imsx_codeMajor": _text_or_none(body.get("imsx_codeMajor")),
                    "imsx_severity": _text_or_none(body.get("imsx_severity")),
                    "imsx_description": _text_or_none(body.get("imsx_description")),
                    "code_minor": minor,
                }
            )
        except pydantic.ValidationError:
            return None

    @property
    def minor_codes(self) -> tuple[str, ...]:
        return tuple(entry.value for entry in self.code_minor)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


# -- times -----------------------------------------------------------------------------------

_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_case_datetime(text: str) -> tuple[datetime, bool] | None:
    """An instant from CASE data, and whether it was naive (then read as UTC)."""
    match = _DATETIME.match(text.strip())
    if match is None:
        return None
    day, clock, zone = match.groups()
    iso = f"{day}T{clock or '00:00'}"
    if zone:
        zone = "+00:00" if zone in ("Z", "z") else zone
        if ":" not in zone:
            zone = f"{zone[:3]}:{zone[3:]}"
        iso += zone
    try:
        value = datetime.fromisoformat(iso)
    except ValueError:
        return None
    naive = value.tzinfo is None
    if naive:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC), naive and clock is not None


def format_case_datetime(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: UTC, whole seconds, as producers should emit."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- strict outbound -------------------------------------------------------------------------

_ONLY_1_1_DOCUMENT = ("frameworkType", "caseVersion")
_ONLY_1_1_ITEM = ("subject", "subjectURI")
_ONLY_1_1_ASSOCIATION = ("notes",)


def dump_package(
    package: CFPackage, *, version: CaseVersion = "1.1", now: datetime | None = None
) -> dict[str, Any]:
    """The package as strict CASE JSON (see :func:`dump_package_reporting`)."""
    return dump_package_reporting(package, version=version, now=now)[0]


def dump_package_reporting(
    package: CFPackage, *, version: CaseVersion = "1.1", now: datetime | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """The package as strict CASE JSON, and located warnings about what had to be invented.

    No nulls, no back-links; every identifier the schema types as a UUID is one
    (lower-cased, or a UUIDv5 of what was read, the same everywhere it occurs, links
    included); an empty ``uri`` becomes ``urn:uuid:<identifier>``; with ``now``, objects
    without ``lastChangeDateTime`` get it. Lookup fields CASE requires and real data lacks
    are filled (a CFItemType's ``description`` from its title, ``hierarchyCode`` ``"1"``, a
    licence's ``licenseText`` from its description or title), each reported with its place.
    For ``version="1.0"`` the 1.1-only fields are left out (``extensions``,
    ``frameworkType``, ``caseVersion``, item subjects, association notes, ``targetType``).
    An association type the version does not have is written as ``isRelatedTo`` (the
    mapping does the same first, and reports it).
    """
    data = package.model_dump(mode="json", exclude_none=True)
    changed = _strict_identifiers(data, now=format_case_datetime(now) if now else None)
    problems: list[Problem] = []
    if changed:
        problems.append(
            _located(
                "identifier kept from CASE data is not a UUID (CASE 1.1 requires one): "
                "written as a UUIDv5 of it",
                changed,
            )
        )
    for association in data.get("CFAssociations", []):
        if not valid_association_type(association["associationType"], version):
            association["associationType"] = "isRelatedTo"
    document = data["CFDocument"]
    document.pop("CFPackageURI", None)
    for name in ("CFItems", "CFAssociations"):
        for obj in data.get(name, []):
            obj.pop("CFDocumentURI", None)
    definitions = data.get("CFDefinitions")
    if definitions is not None:
        problems.extend(_fill_lookups(definitions))
        if not any(definitions.values()):
            del data["CFDefinitions"]
    for key in ("CFRubrics",):
        if not data.get(key):
            data.pop(key, None)
    if version == "1.1":
        document["caseVersion"] = "1.1"
        return data, problems
    _strip_1_1(data)
    return data, problems


def _fill_lookups(definitions: dict[str, Any]) -> list[Problem]:
    """Fill (in place) the fields CASE requires of lookups and real data lacks; one located
    warning per kind of fill."""
    places: dict[str, list[str]] = {}
    for name, objects in definitions.items():
        for index, obj in enumerate(objects if isinstance(objects, list) else []):
            for field, value, source in _missing_lookup_fields(name, obj):
                obj[field] = value
                message = f"{name[:-1]} without {field} (CASE requires one): {source} is written"
                places.setdefault(message, []).append(f"CFDefinitions.{name}[{index}].{field}")
    return [_located(message, where) for message, where in places.items()]


def _missing_lookup_fields(name: str, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, value to write, where the value comes from) for each required field of a
    ``name`` lookup (``CFItemTypes``...) that ``obj`` lacks."""
    wanted: list[tuple[str, str, str]] = []
    if name == "CFItemTypes":
        wanted.append(("description", obj["title"], "its title"))
    if name in ("CFItemTypes", "CFSubjects", "CFConcepts"):
        wanted.append(("hierarchyCode", "1", "'1'"))
    if name == "CFLicenses":
        text = obj.get("description") or obj["title"]
        wanted.append(("licenseText", text, "its description (else its title)"))
    return [entry for entry in wanted if entry[0] not in obj]


def _located(message: str, places: list[str]) -> Problem:
    """One warning at the first of ``places``, saying how many there are."""
    times = f" ({len(places)} times; the first is shown)" if len(places) > 1 else ""
    return Problem(message + times, field=places[0], severity="warning")


def strict_identifier(text: str) -> str:
    """``text`` as a CASE 1.1 identifier: lower-cased if it is a UUID, else its UUIDv5 (URL
    namespace), so the same text always gives the same identifier and links stay whole."""
    return text.lower() if is_uuid(text) else str(uuid.uuid5(uuid.NAMESPACE_URL, text))


_ID_FIELDS = ("identifier", "rubricId", "rubricCriterionId")
_NODE_LINKS = ("originNodeURI", "destinationNodeURI")
"""LinkGenURIs: their identifier may be anything (an ASN URL), unless it names a node of
the package whose identifier was changed."""


def _strict_identifiers(data: dict[str, Any], *, now: str | None) -> list[str]:
    """Make the identifiers of dumped package ``data`` what the 1.1 schema wants (in place);
    fill empty ``uri``s and, given ``now``, missing ``lastChangeDateTime``s. Returns the
    places of the identifiers changed (not mere lower-casing)."""
    renamed: dict[str, str] = {}
    changed: list[str] = []
    node_links: list[dict[str, Any]] = []

    def visit(node: Any, path: str, *, in_object: bool) -> None:
        if isinstance(node, list):
            for index, entry in enumerate(node):
                visit(entry, f"{path}[{index}]", in_object=in_object)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            if key in _NODE_LINKS and isinstance(value, dict):
                node_links.append(value)
            elif key in _ID_FIELDS and isinstance(value, str):
                fixed = strict_identifier(value)
                if fixed != value:
                    renamed[value] = fixed
                    node[key] = fixed
                    if fixed != value.lower():
                        changed.append(where)
            elif key != "extensions":
                visit(value, where, in_object=key not in _LINK_FIELDS)
        if "identifier" in node and node.get("uri") == "":
            node["uri"] = f"urn:uuid:{node['identifier']}"
        if now and in_object and "identifier" in node and "lastChangeDateTime" not in node:
            node["lastChangeDateTime"] = now

    visit(data, "", in_object=True)
    for link in node_links:
        link["identifier"] = renamed.get(link["identifier"], link["identifier"])
        if link.get("uri") == "":
            link["uri"] = f"urn:uuid:{link['identifier']}"
    return changed


_LINK_FIELDS = frozenset(
    {
        "licenseURI",
        "subjectURI",
        "CFItemTypeURI",
        "conceptKeywordsURI",
        "CFAssociationGroupingURI",
        "CFItemURI",
        "CFDocumentURI",
        "CFPackageURI",
    }
)
"""LinkURI fields: their identifier is a UUID, but they carry no ``lastChangeDateTime``."""


def _strip_1_1(data: Any) -> None:
    """Remove the 1.1-only fields from a dumped package (in place)."""
    data.pop("extensions", None)
    document = data["CFDocument"]
    for name in _ONLY_1_1_DOCUMENT:
        document.pop(name, None)
    for item in data.get("CFItems", []):
        for name in _ONLY_1_1_ITEM:
            item.pop(name, None)
    for assoc in data.get("CFAssociations", []):
        for name in _ONLY_1_1_ASSOCIATION:
            assoc.pop(name, None)
        for end in ("originNodeURI", "destinationNodeURI"):
            assoc[end].pop("targetType", None)
    _drop_key(data, "extensions")


def _drop_key(value: Any, key: str) -> None:
    if isinstance(value, dict):
        value.pop(key, None)
        for item in value.values():
            _drop_key(item, key)
    elif isinstance(value, list):
        for item in value:
            _drop_key(item, key)


__all__ = [
    "ASSOCIATION_TYPES_1_0",
    "ASSOCIATION_TYPES_1_1",
    "CASE_VERSIONS",
    "EXT_TYPE",
    "CFAssociation",
    "CFAssociationGrouping",
    "CFConcept",
    "CFDefinitions",
    "CFDocument",
    "CFItem",
    "CFItemType",
    "CFLicense",
    "CFPackage",
    "CFRubric",
    "CFRubricCriterion",
    "CFRubricCriterionLevel",
    "CFSubject",
    "CaseVersion",
    "ImsxStatusInfo",
    "LinkGenURI",
    "LinkURI",
    "dump_package",
    "dump_package_reporting",
    "format_case_datetime",
    "is_uuid",
    "parse_case_datetime",
    "strict_identifier",
    "valid_association_type",
]
