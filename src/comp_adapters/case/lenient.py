"""Reading CASE JSON leniently: what real providers and old exports send, made clean.

Real data has ``null`` where the schema wants strings, identifiers in upper case or that
are not UUIDs at all, naive timestamps, link objects given as plain strings, back-links
inside packages, pre-1.0 keys (``educationalLevel`` as a comma string,
``CFItemAssociationURI``, ``originNodeIdentifier``) and keys of its own. Each of these is
read and reported once per kind as a located warning (``CFItems[3].educationalLevel``);
what cannot be read (a string where a list of objects must be, a missing identifier) is a
located error. The result validates against the models of :mod:`comp_adapters.case.wire`.

Split out of ``wire.py`` (which keeps the models and the strict writer) for size. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from comp_adapters.case.wire import (
    ASSOCIATION_TYPES_1_1,
    EXT_TYPE,
    CFAssociation,
    CFAssociationGrouping,
    CFConcept,
    CFDocument,
    CFItem,
    CFItemType,
    CFLicense,
    CFPackage,
    CFRubric,
    CFSubject,
    format_case_datetime,
    is_uuid,
    parse_case_datetime,
    valid_association_type,
)
from comp_adapters.errors import Problem, ValidationError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Report:
    """Problems found while reading: errors, and warnings aggregated by kind.

    A package with 5,000 items that all carry ``"notes": null`` yields one warning that
    names the first place and the count, not 5,000 lines.
    """

    errors: list[Problem] = field(default_factory=list)
    _warnings: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(message, field=path or None))

    def warn(self, path: str, message: str, *, kind: str | None = None) -> None:
        """Record a warning; warnings of one ``kind`` (default: the message) are merged."""
        group = (kind or message, _generic(path))
        self._warnings.setdefault(group, []).append(path if not kind else f"{path}|{message}")

    def warnings(self, *, skip: Collection[str] = ()) -> list[Problem]:
        """The warnings, one per kind and place pattern; kinds in ``skip`` left out."""
        found: list[Problem] = []
        for (kind, _generic_path), places in self._warnings.items():
            if kind in skip:
                continue
            first = places[0]
            path, _, message = first.partition("|")
            text = message or kind
            if len(places) > 1:
                text += f" ({len(places)} times; the first is shown)"
            found.append(Problem(text, field=path or None, severity="warning"))
        return found

    def problems(self) -> list[Problem]:
        return [*self.errors, *self.warnings()]

    def raise_if_errors(self, *, source: str | None = None) -> None:
        if self.errors:
            problems = self.problems()
            raise ValidationError([p.with_file(source) if source else p for p in problems])


def _generic(path: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", path)


NON_UUID = "identifier is not a UUID"
"""Warning kind of identifiers kept as given (the writer reports what it writes instead)."""
_Kind = Callable[[Any, str, Report], Any]
_Missing = object()


def _text(value: Any, path: str, report: Report) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        report.error(path, f"expected a string, found {_type_name(value)}")
        return _Missing
    report.warn(path, "number where a string is expected (read as text)")
    return str(value)


def _identifier(value: Any, path: str, report: Report) -> Any:
    if not isinstance(value, str):
        report.error(path, f"expected a string, found {_type_name(value)}")
        return _Missing
    text = value
    stripped = text.strip()
    if stripped.lower().startswith("urn:uuid:"):
        stripped = stripped[len("urn:uuid:") :]
    if is_uuid(stripped):
        if stripped != stripped.lower() or stripped != text:
            report.warn(path, "identifier not in lowercase UUID form (normalised)")
        return stripped.lower()
    if not stripped:
        report.error(path, "empty identifier")
        return _Missing
    report.warn(path, f"identifier {stripped[:60]!r} is not a UUID (kept as given)", kind=NON_UUID)
    return stripped


def _datetime(value: Any, path: str, report: Report) -> Any:
    text = _text(value, path, report)
    if text is _Missing:
        return _Missing
    parsed = parse_case_datetime(text)
    if parsed is None:
        report.warn(path, f"not a date-time: {text[:40]!r} (ignored)")
        return _Missing
    instant, naive = parsed
    if naive:
        report.warn(path, "date-time without a time zone (read as UTC)")
    return format_case_datetime(instant)


def _date(value: Any, path: str, report: Report) -> Any:
    text = _text(value, path, report)
    if text is _Missing:
        return _Missing
    stripped = text.strip()
    if _DATE.match(stripped):
        try:
            date.fromisoformat(stripped)
        except ValueError:
            pass
        else:
            return stripped
    parsed = parse_case_datetime(stripped)
    if parsed is None:
        report.warn(path, f"not a date: {stripped[:40]!r} (ignored)")
        return _Missing
    report.warn(path, "date-time where a date is expected (date part kept)")
    return parsed[0].date().isoformat()


def _int(value: Any, path: str, report: Report) -> Any:
    if isinstance(value, bool):
        report.error(path, "expected an integer, found a boolean")
        return _Missing
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        report.warn(path, "integer given as a string (converted)")
        return int(value)
    report.error(path, f"expected an integer, found {_type_name(value)}")
    return _Missing


def _number(value: Any, path: str, report: Report) -> Any:
    if isinstance(value, bool):
        report.error(path, "expected a number, found a boolean")
        return _Missing
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            report.warn(path, "number given as a string (converted)")
            return number
    report.error(path, f"expected a number, found {_type_name(value)}")
    return _Missing


def _string_list(value: Any, path: str, report: Report) -> Any:
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        report.warn(path, "a string where a list is expected (split on commas)")
        return parts
    if not isinstance(value, list):
        report.error(path, f"expected a list of strings, found {_type_name(value)}")
        return _Missing
    result: list[str] = []
    for index, item in enumerate(value):
        if item is None:
            continue
        text = _text(item, f"{path}[{index}]", report)
        if text is not _Missing:
            result.append(text)
    return result


def _target_type(value: Any, path: str, report: Report) -> Any:
    """A LinkGenURI ``targetType``: ``CASE`` or ``ext:<name>`` (1.1); others are dropped."""
    text = _text(value, path, report)
    if text is _Missing or text == "CASE" or EXT_TYPE.match(text):
        return text
    report.warn(path, f"targetType {text[:40]!r} is neither 'CASE' nor 'ext:...' (ignored)")
    return _Missing


def _extensions(value: Any, path: str, report: Report) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        merged: dict[str, Any] = {}
        for item in value:
            merged.update(item)
        report.warn(path, "extensions given as a list of objects (merged)")
        return merged
    report.error(path, f"expected an object, found {_type_name(value)}")
    return _Missing


def _extensions_list(value: Any, path: str, report: Report) -> Any:
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    if isinstance(value, dict):
        return [value]
    report.error(path, f"expected a list of objects, found {_type_name(value)}")
    return _Missing


def _link(*, generic: bool = False) -> _Kind:
    def read(value: Any, path: str, report: Report) -> Any:
        if isinstance(value, str):
            report.warn(path, "a link given as a plain string (read as its uri)")
            return {"title": "", "identifier": _identifier_from_uri(value), "uri": value}
        if not isinstance(value, dict):
            report.error(path, f"expected a link object, found {_type_name(value)}")
            return _Missing
        spec = _LINK_GEN_SPEC if generic else _LINK_SPEC
        link = _normalize_object(value, path, report, spec)
        if link is _Missing:
            return _Missing
        if "uri" not in link and "identifier" not in link:
            report.error(path, "a link needs an identifier or a uri")
            return _Missing
        if "identifier" not in link:
            report.warn(path, "link without identifier (taken from its uri)")
            link["identifier"] = _identifier_from_uri(link["uri"])
        if "uri" not in link:
            report.warn(path, "link without uri (left as its identifier)")
            link["uri"] = link["identifier"]
        link.setdefault("title", "")
        return link

    return read


def _identifier_from_uri(uri: str) -> str:
    """The UUID at the end of a CASE URI (``.../CFItems/<id>``, ``.../uri/<id>``), else the URI."""
    tail = uri.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
    return tail.lower() if is_uuid(tail) else uri


def _link_list(value: Any, path: str, report: Report) -> Any:
    if isinstance(value, dict | str):
        value = [value]
    if not isinstance(value, list):
        report.error(path, f"expected a list of links, found {_type_name(value)}")
        return _Missing
    reader = _link()
    links = [reader(item, f"{path}[{i}]", report) for i, item in enumerate(value) if item]
    return [link for link in links if link is not _Missing]


def _nested(spec: _Spec) -> _Kind:
    def read(value: Any, path: str, report: Report) -> Any:
        if not isinstance(value, dict):
            report.error(path, f"expected an object, found {_type_name(value)}")
            return _Missing
        return _normalize_object(value, path, report, spec)

    return read


def _nested_list(spec: _Spec) -> _Kind:
    def read(value: Any, path: str, report: Report) -> Any:
        if value == {}:
            return []
        if not isinstance(value, list):
            report.error(path, f"expected a list, found {_type_name(value)}")
            return _Missing
        result = []
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            if not isinstance(item, dict):
                report.error(where, f"expected an object, found {_type_name(item)}")
                continue
            normalized = _normalize_object(item, where, report, spec)
            if normalized is not _Missing:
                result.append(normalized)
        return result

    return read


@dataclass(frozen=True)
class _Spec:
    """How to read one CASE class: its fields, required fields, legacy and ignored keys."""

    name: str
    fields: Mapping[str, _Kind]
    required: tuple[str, ...] = ()
    renamed: Mapping[str, str] = field(default_factory=dict)
    ignored: Mapping[str, str] = field(default_factory=dict)
    """Keys dropped with a warning: key -> why."""


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _normalize_object(raw: Mapping[str, Any], path: str, report: Report, spec: _Spec) -> Any:
    result: dict[str, Any] = {}
    for given, value in raw.items():
        where = f"{path}.{given}" if path else given
        key = spec.renamed.get(given, given)
        if key != given:
            report.warn(where, f"pre-1.0 key {given!r} read as {key!r}")
            if key in raw:
                continue
        if key in spec.ignored:
            report.warn(where, f"{key!r} ignored: {spec.ignored[key]}")
            continue
        reader = spec.fields.get(key)
        if reader is None:
            report.warn(where, f"unknown key {key!r} ignored", kind=f"unknown key {key!r}")
            continue
        if value is None:
            report.warn(where, "null treated as missing", kind="null")
            continue
        if isinstance(value, str) and value == "" and key not in spec.required:
            continue
        read = reader(value, where, report)
        if read is not _Missing:
            result[key] = read
    missing = [name for name in spec.required if name not in result]
    for name in missing:
        report.error(f"{path}.{name}" if path else name, f"{spec.name} needs {name!r}")
    return _Missing if missing else result


_LINK_SPEC = _Spec("link", {"title": _text, "identifier": _identifier, "uri": _text})
_LINK_GEN_SPEC = _Spec(
    "link",
    {"title": _text, "identifier": _identifier, "uri": _text, "targetType": _target_type},
)
_BACK_LINK = "a back-link; inside a package the package says it"
_COMMON: dict[str, _Kind] = {
    "identifier": _identifier,
    "uri": _text,
    "lastChangeDateTime": _datetime,
    "extensions": _extensions,
}
_DOCUMENT = _Spec(
    "CFDocument",
    {
        **_COMMON,
        "creator": _text,
        "title": _text,
        "CFPackageURI": _link(),
        "frameworkType": _text,
        "caseVersion": _text,
        "officialSourceURL": _text,
        "publisher": _text,
        "description": _text,
        "subject": _string_list,
        "subjectURI": _link_list,
        "language": _text,
        "version": _text,
        "adoptionStatus": _text,
        "statusStartDate": _date,
        "statusEndDate": _date,
        "licenseURI": _link(),
        "notes": _text,
    },
    required=("identifier",),
)
_ITEM = _Spec(
    "CFItem",
    {
        **_COMMON,
        "fullStatement": _text,
        "CFDocumentURI": _link(),
        "alternativeLabel": _text,
        "CFItemType": _text,
        "humanCodingScheme": _text,
        "listEnumeration": _text,
        "abbreviatedStatement": _text,
        "conceptKeywords": _string_list,
        "conceptKeywordsURI": _link(),
        "notes": _text,
        "subject": _string_list,
        "subjectURI": _link_list,
        "language": _text,
        "educationLevel": _string_list,
        "CFItemTypeURI": _link(),
        "licenseURI": _link(),
        "statusStartDate": _date,
        "statusEndDate": _date,
    },
    required=("identifier",),
    renamed={"educationalLevel": "educationLevel"},
    ignored={"CFItemAssociationURI": "a link to the item's associations, read from the package"},
)
_ASSOCIATION = _Spec(
    "CFAssociation",
    {
        **_COMMON,
        "associationType": _text,
        "originNodeURI": _link(generic=True),
        "destinationNodeURI": _link(generic=True),
        "sequenceNumber": _int,
        "CFAssociationGroupingURI": _link(),
        "CFDocumentURI": _link(),
        "notes": _text,
        "originNodeIdentifier": _identifier,
        "destinationNodeIdentifier": _identifier,
    },
    required=("identifier", "associationType"),
)
_ITEM_TYPE = _Spec(
    "CFItemType",
    {
        **_COMMON,
        "title": _text,
        "description": _text,
        "hierarchyCode": _text,
        "typeCode": _text,
    },
    required=("identifier", "title"),
)
_SUBJECT = _Spec(
    "CFSubject",
    {**_COMMON, "title": _text, "hierarchyCode": _text, "description": _text},
    required=("identifier", "title"),
)
_CONCEPT = _Spec(
    "CFConcept",
    {**_COMMON, "title": _text, "keywords": _text, "hierarchyCode": _text, "description": _text},
    required=("identifier", "title"),
)
_LICENSE = _Spec(
    "CFLicense",
    {**_COMMON, "title": _text, "description": _text, "licenseText": _text},
    required=("identifier", "title"),
)
_GROUPING = _Spec(
    "CFAssociationGrouping",
    {**_COMMON, "title": _text, "description": _text},
    required=("identifier", "title"),
)
_DEFINITIONS = _Spec(
    "CFDefinitions",
    {
        "CFConcepts": _nested_list(_CONCEPT),
        "CFSubjects": _nested_list(_SUBJECT),
        "CFLicenses": _nested_list(_LICENSE),
        "CFItemTypes": _nested_list(_ITEM_TYPE),
        "CFAssociationGroupings": _nested_list(_GROUPING),
        "extensions": _extensions,
    },
)
_LEVEL = _Spec(
    "CFRubricCriterionLevel",
    {
        **_COMMON,
        "extensions": _extensions_list,
        "description": _text,
        "quality": _text,
        "score": _number,
        "feedback": _text,
        "position": _int,
        "rubricCriterionId": _identifier,
    },
    required=("identifier",),
)
_CRITERION = _Spec(
    "CFRubricCriterion",
    {
        **_COMMON,
        "category": _text,
        "description": _text,
        "CFItemURI": _link(),
        "weight": _number,
        "position": _int,
        "rubricId": _identifier,
        "CFRubricCriterionLevels": _nested_list(_LEVEL),
    },
    required=("identifier",),
)
_RUBRIC = _Spec(
    "CFRubric",
    {
        **_COMMON,
        "title": _text,
        "description": _text,
        "CFRubricCriteria": _nested_list(_CRITERION),
    },
    required=("identifier",),
)
_PACKAGE = _Spec(
    "CFPackage",
    {
        "CFDocument": _nested(_DOCUMENT),
        "CFItems": _nested_list(_ITEM),
        "CFAssociations": _nested_list(_ASSOCIATION),
        "CFDefinitions": _nested(_DEFINITIONS),
        "CFRubrics": _nested_list(_RUBRIC),
        "extensions": _extensions,
    },
    required=("CFDocument",),
    ignored={"CFPackageURI": "a link to the package itself"},
)


def _fill_item(item: dict[str, Any], path: str, report: Report) -> None:
    if "fullStatement" not in item:
        fallback = item.get("abbreviatedStatement") or item.get("alternativeLabel")
        report.warn(f"{path}.fullStatement", "CFItem without fullStatement")
        item["fullStatement"] = fallback or item.get("humanCodingScheme") or ""


def _fill_uri(obj: dict[str, Any], path: str, report: Report, name: str) -> None:
    if "uri" not in obj:
        report.warn(f"{path}.uri", f"{name} without uri (a urn:uuid is used)")
        obj["uri"] = f"urn:uuid:{obj['identifier']}" if is_uuid(obj["identifier"]) else ""


_TYPE_SPELLINGS = {t.lower(): t for t in ASSOCIATION_TYPES_1_1} | {"relatedto": "isRelatedTo"}


def _fill_association(assoc: dict[str, Any], path: str, report: Report) -> bool:
    """Complete the ends of an association from legacy keys; False when it has no ends.

    Also repairs the spelling of its type (``RelatedTo``, ``ischildof``), with a warning.
    """
    kind = assoc.get("associationType")
    if isinstance(kind, str) and not valid_association_type(kind):
        fixed = _TYPE_SPELLINGS.get(kind.strip().lower())
        where = f"{path}.associationType"
        if fixed is not None:
            report.warn(where, f"association type {kind!r} read as {fixed!r}")
            assoc["associationType"] = fixed
        else:
            report.warn(where, f"unknown association type {kind!r} (read as a relation)")
    for end in ("origin", "destination"):
        legacy = assoc.pop(f"{end}NodeIdentifier", None)
        key = f"{end}NodeURI"
        if legacy is not None:
            report.warn(f"{path}.{end}NodeIdentifier", f"pre-1.0 key {end}NodeIdentifier")
            if key not in assoc:
                assoc[key] = {"title": "", "identifier": legacy, "uri": legacy}
            elif assoc[key]["identifier"] == assoc[key]["uri"] and is_uuid(legacy):
                assoc[key]["identifier"] = legacy
        if key not in assoc:
            report.error(f"{path}.{key}", f"CFAssociation needs {key!r}")
            return False
    return True


def normalize(data: Any, *, report: Report) -> dict[str, Any] | None:
    """A CFPackage's raw JSON made clean for :class:`CFPackage`; problems go to ``report``.

    Accepts a package wrapped as ``{"CFPackage": {...}}``. Returns ``None`` when the input is
    not a package at all (then ``report`` holds the error).
    """
    if (
        isinstance(data, dict)
        and set(data) == {"CFPackage"}
        and isinstance(data["CFPackage"], dict)
    ):
        report.warn("CFPackage", "package wrapped in a CFPackage object (unwrapped)")
        data = data["CFPackage"]
    if not isinstance(data, dict):
        report.error("", f"expected a CFPackage JSON object, found {_type_name(data)}")
        return None
    if "CFDocument" not in data:
        hint = " (a pre-CASE lsDoc export?)" if "lsDoc" in data or "lsItems" in data else ""
        report.error("CFDocument", f"not a CASE package: no CFDocument{hint}")
        return None
    if data.get("CFDefinitions") == []:
        data = {**data, "CFDefinitions": {}}
    normalized = _normalize_object(data, "", report, _PACKAGE)
    if normalized is _Missing:
        return None
    package: dict[str, Any] = normalized
    document = package["CFDocument"]
    for name in ("creator", "title"):
        if name not in document:
            report.warn(f"CFDocument.{name}", f"CFDocument without {name}")
            document[name] = ""
    _fill_uri(document, "CFDocument", report, "CFDocument")
    for index, item in enumerate(package.get("CFItems", [])):
        _fill_item(item, f"CFItems[{index}]", report)
        _fill_uri(item, f"CFItems[{index}]", report, "CFItem")
    associations = []
    for index, assoc in enumerate(package.get("CFAssociations", [])):
        where = f"CFAssociations[{index}]"
        if _fill_association(assoc, where, report):
            _fill_uri(assoc, where, report, "CFAssociation")
            associations.append(assoc)
    if "CFAssociations" in package:
        package["CFAssociations"] = associations
    for name in ("CFItems", "CFAssociations"):
        for index, obj in enumerate(package.get(name, [])):
            if "CFDocumentURI" in obj:
                report.warn(
                    f"{name}[{index}].CFDocumentURI",
                    "CFDocumentURI back-link inside a package (ignored)",
                )
                del obj["CFDocumentURI"]
    if "CFPackageURI" in document:
        report.warn("CFDocument.CFPackageURI", "CFPackageURI back-link inside a package (ignored)")
        del document["CFPackageURI"]
    for r_index, rubric in enumerate(package.get("CFRubrics", [])):
        _fill_uri(rubric, f"CFRubrics[{r_index}]", report, "CFRubric")
        for c_index, criterion in enumerate(rubric.get("CFRubricCriteria", [])):
            where = f"CFRubrics[{r_index}].CFRubricCriteria[{c_index}]"
            _fill_uri(criterion, where, report, "CFRubricCriterion")
            for l_index, level in enumerate(criterion.get("CFRubricCriterionLevels", [])):
                _fill_uri(level, f"{where}.CFRubricCriterionLevels[{l_index}]", report, "level")
    definitions = package.get("CFDefinitions", {})
    for name, objects in definitions.items():
        if isinstance(objects, list):
            for index, obj in enumerate(objects):
                _fill_uri(obj, f"CFDefinitions.{name}[{index}]", report, name)
    return package


_SPECS: Mapping[str, _Spec] = {
    spec.name: spec
    for spec in (_DOCUMENT, _ITEM, _ASSOCIATION, _DEFINITIONS, _RUBRIC, _CRITERION, _LEVEL)
}


def clean_fields(
    class_name: str, values: Mapping[str, Any], *, path: str, report: Report
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check loose field values (e.g. kept in a competency's properties) as a CASE class's.

    Returns ``(known, unknown)``: the fields the class has, read leniently (a value that
    cannot be read is dropped with a warning), and the names it does not have.
    """
    spec = _SPECS[class_name]
    known: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for name, value in values.items():
        reader = spec.fields.get(name)
        if reader is None:
            unknown[name] = value
            continue
        if value is None:
            continue
        local = Report()
        read = reader(value, f"{path}.{name}", local)
        for problem in [*local.errors, *local.warnings(skip=(NON_UUID,))]:
            suffix = " (left out)" if problem.severity == "error" else ""
            report.warn(problem.field or path, problem.message + suffix)
        if read is not _Missing and not local.errors:
            known[name] = read
    return known, unknown


Model = TypeVar("Model", bound=BaseModel)


def _validate(model: type[Model], data: Any, report: Report, *, path: str = "") -> Model | None:
    """``data`` as ``model``; validation errors go to ``report``, located under ``path``."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        for item in exc.errors(include_url=False):
            where = path
            for part in item["loc"]:
                where += (
                    f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
                )
            report.error(where, item["msg"])
        return None


def parse_package(data: Any, *, source: str | None = None) -> tuple[CFPackage, list[Problem]]:
    """Read a CFPackage (1.0, 1.1 or older) from parsed JSON, leniently.

    Returns the package and the warnings; raises :class:`ValidationError` listing every
    error (and the warnings) when it cannot be read.
    """
    report = Report()
    clean = normalize(data, report=report)
    report.raise_if_errors(source=source)
    package = _validate(CFPackage, clean, report)
    report.raise_if_errors(source=source)
    assert package is not None  # noqa: S101 - _validate reported an error otherwise
    return package, [p.with_file(source) if source else p for p in report.warnings()]


_STANDALONE: Mapping[type[BaseModel], _Spec] = {
    CFDocument: _DOCUMENT,
    CFItem: _ITEM,
    CFAssociation: _ASSOCIATION,
    CFRubric: _RUBRIC,
    CFItemType: _ITEM_TYPE,
    CFSubject: _SUBJECT,
    CFConcept: _CONCEPT,
    CFLicense: _LICENSE,
    CFAssociationGrouping: _GROUPING,
}


def _standalone(model: type[Model], data: Any, path: str, report: Report) -> Model | None:
    """One standalone object read leniently; ``None`` when it cannot be (errors reported).

    Unwraps ``{"CFItem": {...}}``-style wrappers that some providers send.
    """
    spec = _STANDALONE[model]
    if isinstance(data, dict) and set(data) == {spec.name} and isinstance(data[spec.name], dict):
        report.warn(path or spec.name, f"{spec.name} wrapped in an object (unwrapped)")
        data = data[spec.name]
    if not isinstance(data, dict):
        report.error(path, f"expected a {spec.name} JSON object, found {_type_name(data)}")
        return None
    clean = _normalize_object(data, path, report, spec)
    if clean is _Missing:
        return None
    if model is CFItem:
        _fill_item(clean, path, report)
    if model is CFAssociation and not _fill_association(clean, path, report):
        return None
    if model is CFDocument:
        for name in ("creator", "title"):
            clean.setdefault(name, "")
    _fill_uri(clean, path, report, spec.name)
    return _validate(model, clean, report, path=path)


def parse_object(
    model: type[Model], data: Any, *, source: str | None = None
) -> tuple[Model, list[Problem]]:
    """Read one standalone CASE object (a CFDocument, CFItem, CFAssociation, CFRubric...).

    Unwraps ``{"CFItem": {...}}``-style wrappers that some providers send.
    """
    report = Report()
    parsed = _standalone(model, data, "", report)
    report.raise_if_errors(source=source)
    assert parsed is not None  # noqa: S101 - an error was reported otherwise
    return parsed, [p.with_file(source) if source else p for p in report.warnings()]


def parse_set(
    model: type[Model], data: Any, *, name: str, source: str | None = None
) -> tuple[list[Model], list[Problem]]:
    """The objects of a set answer (``/CFItemTypes/{id}``, ``/CFSubjects/{id}``,
    ``/CFConcepts/{id}``): ``{name: [the object, its children...]}`` as the binding says.

    OpenCASE answers with the object alone; that, a bare array and ``{name: {...}}`` are
    read too, with a warning. Anything else is a located error, never an empty list.
    """
    spec = _STANDALONE[model]
    report = Report()
    shape = f'{{"{name}": [...]}}'
    entries: list[tuple[str, Any]] = []  # (place in the answer, object)
    if isinstance(data, dict) and name in data:
        raw = data[name]
        if isinstance(raw, list):
            entries = [(f"{name}[{index}]", entry) for index, entry in enumerate(raw)]
        elif isinstance(raw, dict):
            report.warn(name, f"one {spec.name} object where a list is expected (read as a list)")
            entries = [(name, raw)]
        elif raw is None:
            report.warn(name, "null treated as an empty list", kind="null")
        else:
            report.error(name, f"expected a list, found {_type_name(raw)}")
    elif isinstance(data, list):
        report.warn("", f"bare JSON array instead of {shape}")
        entries = [(f"[{index}]", entry) for index, entry in enumerate(data)]
    elif isinstance(data, dict):
        report.warn("", f"one bare {spec.name} instead of {shape} (read as a set of one)")
        entries = [("", data)]
    else:
        report.error("", f"expected a {spec.name} set ({shape}), found {_type_name(data)}")
    found: list[Model] = []
    for path, entry in entries:
        parsed = _standalone(model, entry, path, report)
        if parsed is not None:
            found.append(parsed)
    report.raise_if_errors(source=source)
    return found, [p.with_file(source) if source else p for p in report.warnings()]


def parse_document_list(
    data: Any, *, source: str | None = None
) -> tuple[list[CFDocument], list[Problem]]:
    """The documents of a ``/CFDocuments`` answer: ``{"CFDocuments": [...]}``, a bare array
    (the Texas TEKS API did that) or a single wrapped document."""
    report = Report()
    if isinstance(data, dict) and "CFDocuments" in data:
        raw = data["CFDocuments"]
    elif isinstance(data, list):
        report.warn("", 'bare JSON array instead of {"CFDocuments": [...]}')
        raw = data
    elif isinstance(data, dict) and "CFDocument" in data:
        raw = [data["CFDocument"]]
    else:
        raw = _Missing
        report.error("CFDocuments", 'expected a CFDocumentSet ({"CFDocuments": [...]})')
    documents: list[CFDocument] = []
    if raw is None:
        raw = []
    if raw is not _Missing and not isinstance(raw, list):
        report.error("CFDocuments", f"expected a list, found {_type_name(raw)}")
        raw = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        where = f"CFDocuments[{index}]"
        if not isinstance(item, dict):
            report.error(where, f"expected an object, found {_type_name(item)}")
            continue
        clean = _normalize_object(item, where, report, _DOCUMENT)
        if clean is _Missing:
            continue
        for name in ("creator", "title"):
            clean.setdefault(name, "")
        _fill_uri(clean, where, report, "CFDocument")
        document = _validate(CFDocument, clean, report)
        if document is not None:
            documents.append(document)
    report.raise_if_errors(source=source)
    return documents, [p.with_file(source) if source else p for p in report.warnings()]
