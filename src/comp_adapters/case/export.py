"""Framework -> CFPackage: the writing half of the CASE mapping (pure; ``now`` passed in).

A framework read from CASE gets its identifiers, URIs and fields back; one without CASE
identifiers gets UUIDv5 identifiers derived from the framework key and each competency
key, so exporting twice gives the same ids (a key that is itself a lowercase UUID, as
CASE identifiers kept in Moodle idnumbers or Canvas vendor_guids are, is the identifier).
Whatever has a standard CASE field goes there, since providers may drop extensions
(OpenCASE does): keys as ``humanCodingScheme`` (unless they are identifiers), taxonomy as
``CFItemType``, tags as ``conceptKeywords``, scales as rubrics. What the core model holds and
CASE has no field for (rules, calculation methods, framework tags, keys and texts that CASE's
natural reading would not reproduce, proficiency flags) is written under the
``comp_adapters`` extension (CASE 1.1), so reading the package back gives the same framework.
The rules that decide how CASE data reads (keys, titles, sibling order, proficient levels)
are shared with :mod:`comp_adapters.case.mapping`, which checks every written value against
them.

Split out of ``mapping.py`` for size.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic

from comp_adapters.case.lenient import Report, clean_fields
from comp_adapters.case.mapping import (
    DEFAULT_SCALE,
    EXTENSION,
    NAMESPACE,
    PREFIX,
    derived_key,
    end_to_instant,
    instant_to_end,
    instant_to_start,
    is_identifier_key,
    natural_keys,
    natural_relation,
    natural_sequence,
    natural_texts,
    natural_title,
    our_extension,
    shorten,
    sibling_key,
    start_to_instant,
)
from comp_adapters.case.wire import (
    CaseVersion,
    CFAssociation,
    CFDefinitions,
    CFDocument,
    CFItem,
    CFPackage,
    CFRubric,
    CFRubricCriterion,
    CFRubricCriterionLevel,
    LinkGenURI,
    LinkURI,
    format_case_datetime,
    is_uuid,
    strict_identifier,
    valid_association_type,
)
from comp_adapters.core.framework import Competency, Framework, RelationType
from comp_adapters.core.scale import ProficiencyScale
from comp_adapters.errors import Problem

_NATURAL_TYPES: Mapping[RelationType, str] = {
    RelationType.RELATED: "isRelatedTo",
    RelationType.REQUIRES: "ext:requires",
    RelationType.EQUIVALENT: "exactMatchOf",
    RelationType.REPLACED_BY: "replacedBy",
    RelationType.PRECEDES: "precedes",
    RelationType.PART_OF: "isPartOf",
    RelationType.EXEMPLAR: "exemplar",
}


@dataclass(frozen=True)
class WriteOptions:
    """How to write a package: version, the creator to name, and where URIs point."""

    version: CaseVersion = "1.1"
    creator: str | None = None
    base_uri: str | None = None


def framework_to_package(
    framework: Framework,
    *,
    now: datetime,
    version: CaseVersion = "1.1",
    creator: str | None = None,
    base_uri: str | None = None,
) -> tuple[CFPackage, list[Problem]]:
    """The CFPackage of a framework, and warnings about what CASE (1.0) could not hold.

    ``now`` is the ``lastChangeDateTime`` of objects that carry none; ``base_uri`` makes
    URIs ``{base_uri}/uri/{identifier}`` for objects without a URI (else ``urn:uuid:``);
    ``creator`` names the publisher of a framework that does not say (CASE requires one).
    """
    writer = _Writer(
        framework.canonical(),
        now=format_case_datetime(now),
        options=WriteOptions(version=version, creator=creator, base_uri=base_uri),
    )
    package = writer.run()
    return package, writer.report.problems()


class _Writer:
    def __init__(self, framework: Framework, *, now: str, options: WriteOptions) -> None:
        self.framework = framework
        self.now = now
        self.options = options
        self.report = Report()
        self.namespace = uuid.uuid5(NAMESPACE, framework.key)
        self.ids: dict[str, str] = {}
        self.uris: dict[str, str] = {}
        self.items: dict[str, CFItem] = {}

    def _id(self, external_ids: Mapping[str, str], key: str, name: str, where: str) -> str:
        """The CASE id kept in ``external_ids``; else the key if it is a lowercase UUID, the
        UUIDv5 CASE 1.1 gives a key that is another identifier (an ASN URL: the id it has
        when read from CASE directly); else a UUIDv5 of ``name`` in the framework's namespace."""
        given = external_ids.get("case")
        if given is None:
            if is_uuid(key):
                return key if key == key.lower() else self._derived(name)
            return strict_identifier(key) if is_identifier_key(key) else self._derived(name)
        if is_uuid(given):
            return given.lower()
        self.report.warn(
            where, "CASE identifier is not a UUID: a UUIDv5 of it is written", kind="non-uuid"
        )
        return strict_identifier(given)

    def _derived(self, name: str) -> str:
        return str(uuid.uuid5(self.namespace, name))

    def _uri(self, external_ids: Mapping[str, str], identifier: str) -> str:
        given = external_ids.get("case.uri")
        if given:
            return given
        if self.options.base_uri:
            return f"{self.options.base_uri.rstrip('/')}/uri/{identifier}"
        return f"urn:uuid:{identifier}"

    def run(self) -> CFPackage:
        framework = self.framework
        doc_id = self._id(framework.external_ids, framework.key, "CFDocument", "CFDocument")
        self.doc_id = doc_id
        self.doc_uri = self._uri(framework.external_ids, doc_id)
        used: set[str] = {doc_id}
        # Kept CASE ids first: a key that looks like another item's CASE id must not take it.
        for kept in (True, False):
            for competency in framework.competencies:
                if ("case" in competency.external_ids) is not kept:
                    continue
                where = f"competency {competency.key}"
                name = f"CFItem:{competency.key}"
                identifier = self._id(competency.external_ids, competency.key, name, where)
                if identifier in used:
                    if kept:
                        self.report.warn(where, "CASE identifier used twice: a new one is derived")
                    identifier = self._derived(name)
                self.ids[competency.key] = identifier
                used.add(identifier)
                self.uris[competency.key] = self._uri(competency.external_ids, identifier)
        items = [self._item(c) for c in framework.competencies]
        keys = natural_keys(items)
        for item, competency, key in zip(items, framework.competencies, keys, strict=True):
            extra = {"key": competency.key} if key != competency.key else {}
            self.items[competency.key] = _with_extension(item, extra) if extra else item
        self.explicit = self._explicit_sequences()
        associations = self._associations()
        fixed_items = [self.items[c.key] for c in framework.competencies]
        rubrics, scale_criterion = self._rubrics()
        document = self._document(scale_criterion)
        definitions = self._definitions()
        package_ext = framework.properties.get(PREFIX + "packageExtensions")
        return CFPackage(
            document=document,
            items=tuple(fixed_items),
            associations=tuple(associations),
            definitions=definitions,
            rubrics=tuple(rubrics),
            extensions=dict(package_ext) if isinstance(package_ext, Mapping) else None,
        )

    # -- pieces --------------------------------------------------------------------------

    def _case_fields(
        self, owner: Competency | Framework, class_name: str, where: str, skip: Sequence[str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(CASE fields kept in ``case.*`` properties, the other properties)."""
        case_values: dict[str, Any] = {}
        others: dict[str, Any] = {}
        for name, value in owner.properties.items():
            if name.startswith(PREFIX):
                case_values[name[len(PREFIX) :]] = value
            else:
                others[name] = value
        wanted = {k: v for k, v in case_values.items() if k not in skip}
        known, unknown = clean_fields(class_name, wanted, path=where, report=self.report)
        for name in sorted(set(unknown) - _RECORDS):
            self.report.warn(
                where,
                f"property {PREFIX}{name} is not a {class_name} field: not written",
                kind="unknown case property",
            )
        for name in ("identifier", "uri", "CFDocumentURI", "CFPackageURI"):
            known.pop(name, None)
        return known, others

    def _key_is_an_identifier(self, competency: Competency) -> bool:
        """Whether the competency's key is an identifier, not a code: derived from the CASE
        identifier it was read with (an ASN URL of an item without code), from the one
        written (a UUIDv5 of it), or any UUID, URN or URL. Such a key is no
        humanCodingScheme; where CASE's reading does not give it back, the extension does."""
        key = competency.key
        read_with = competency.external_ids.get("case")
        if key == derived_key(self.ids[key]) or (read_with and key == derived_key(read_with)):
            return True
        return is_identifier_key(key)

    def _item(self, competency: Competency) -> CFItem:
        where = f"competency {competency.key}"
        skip = ("extensions", "humanCodingScheme", "abbreviatedStatement", "fullStatement")
        fields, other_properties = self._case_fields(competency, "CFItem", where, skip)
        props = competency.properties
        identifier = self.ids[competency.key]
        full = competency.description if competency.description else competency.title
        code = props.get(PREFIX + "humanCodingScheme")
        if not isinstance(code, str):
            code = None if self._key_is_an_identifier(competency) else competency.key
        abbreviated = props.get(PREFIX + "abbreviatedStatement")
        if not isinstance(abbreviated, str):
            natural_title, _ = natural_texts(full, None, code or identifier)
            abbreviated = (
                competency.title
                if competency.description and competency.title != natural_title
                else None
            )
        ext: dict[str, Any] = {}
        title, description = natural_texts(full, abbreviated, code or identifier)
        if title != competency.title:
            ext["title"] = competency.title
        if description != competency.description:
            ext["description"] = competency.description
        kept = self._standard_fields(competency, fields, ext)
        ext.update(_core_only(competency, _COMPETENCY_ONLY, {**other_properties, **kept}))
        extensions = _mapping(props.get(PREFIX + "extensions"))
        if ext:
            extensions[EXTENSION] = ext
        fields.setdefault("lastChangeDateTime", self.now)
        return CFItem.model_validate(
            {
                **fields,
                "identifier": identifier,
                "uri": self.uris[competency.key],
                "fullStatement": full,
                "abbreviatedStatement": abbreviated,
                "humanCodingScheme": code,
                "extensions": extensions or None,
            }
        )

    def _standard_fields(
        self, competency: Competency, fields: dict[str, Any], ext: dict[str, Any]
    ) -> dict[str, Any]:
        """Taxonomy as ``CFItemType`` and tags as ``conceptKeywords`` (fields every provider
        keeps, unlike extensions); ``ext`` gets what a reader of them would get wrong.

        The term is the competency's own, else its level's; a ``case.CFItemType`` or
        ``case.conceptKeywords`` property (what CASE said, read by an older version) is
        written as it is. Returns those properties: reading gives them back as taxonomy and
        tags, so only the extension can restore them as properties.
        """
        props = competency.properties
        restore: dict[str, Any] = {}
        item_type = fields.get("CFItemType")
        if item_type is None:
            item_type = self.framework.taxonomy_for(competency.key) or None
        else:
            restore[PREFIX + "CFItemType"] = props[PREFIX + "CFItemType"]
        fields["CFItemType"] = item_type
        if item_type != competency.taxonomy:
            ext["taxonomy"] = competency.taxonomy
        keywords = fields.get("conceptKeywords")
        if keywords is None:
            keywords = list(competency.tags) or None
        else:
            restore[PREFIX + "conceptKeywords"] = props[PREFIX + "conceptKeywords"]
        fields["conceptKeywords"] = keywords
        if tuple(keywords or ()) != competency.tags:
            ext["tags"] = list(competency.tags)
        return restore

    def _link(self, key: str) -> LinkGenURI:
        item = self.items.get(key)
        title = (item.human_coding_scheme or shorten(item.full_statement)) if item else key
        return LinkGenURI(title=title, identifier=self.ids[key], uri=self.uris[key])

    def _doc_link(self) -> LinkGenURI:
        return LinkGenURI(title=self.framework.title, identifier=self.doc_id, uri=self.doc_uri)

    def _association(
        self,
        *,
        kind: str,
        origin: LinkGenURI,
        destination: LinkGenURI,
        record: Mapping[str, Any] | None,
        sequence: int | None = None,
        ext: Mapping[str, Any] | None = None,
        where: str,
    ) -> CFAssociation:
        """An association; ``record`` is what was read from CASE (identifier, notes...)
        and ``ext`` what only our extension can say about it."""
        kind = self._downgrade(kind, where)
        base: dict[str, Any] = {}
        if record:
            base, _ = clean_fields(
                "CFAssociation",
                {k: v for k, v in record.items() if k not in ("target", "inbound", "destination")},
                path=where,
                report=self.report,
            )
        if "identifier" not in base:
            base["identifier"] = str(
                uuid.uuid5(
                    self.namespace,
                    f"CFAssociation:{origin.identifier}:{kind}:{destination.identifier}",
                )
            )
        base.setdefault("uri", self._uri({}, base["identifier"]))
        base.setdefault("lastChangeDateTime", self.now)
        base.pop("CFDocumentURI", None)
        extensions = {k: v for k, v in _mapping(base.get("extensions")).items() if k != EXTENSION}
        if ext:
            extensions[EXTENSION] = dict(ext)
        base["extensions"] = extensions or None
        base.update(
            {
                "associationType": kind,
                "originNodeURI": origin,
                "destinationNodeURI": destination,
                "sequenceNumber": sequence,
            }
        )
        return CFAssociation.model_validate(base)

    def _downgrade(self, kind: str, where: str) -> str:
        version = self.options.version
        if valid_association_type(kind, version):
            return kind
        self.report.warn(
            where,
            f"association type {kind!r} does not exist in CASE {version}: written as 'isRelatedTo'",
            kind=f"{version} association type",
        )
        return "isRelatedTo"

    def _explicit_sequences(self) -> dict[str, int]:
        """sequenceNumbers (1..n) for sibling groups that CASE's order would change.

        A reader orders siblings by sequenceNumber, then by CASE's fallback
        (:func:`~comp_adapters.case.mapping.sibling_key`), where the framework orders
        unnumbered and equally numbered siblings by their place. Where the two disagree the
        group is numbered in the framework's order (readers without our extension, CASE 1.0
        ones, keep the order too) and the extension gives back the real ``sequence``.
        """
        framework = self.framework
        position = {c.key: index for index, c in enumerate(framework.competencies)}
        explicit: dict[str, int] = {}
        for parent in (None, *position):
            siblings = framework.children_of(parent)
            keys = []
            for competency in siblings:
                item = self.items[competency.key]
                sequence = competency.sequence
                if sequence is None:
                    sequence = natural_sequence(None, item)
                keys.append(sibling_key(sequence, item, position[competency.key]))
            if keys != sorted(keys):
                explicit.update({c.key: n for n, c in enumerate(siblings, start=1)})
        return explicit

    def _associations(self) -> list[CFAssociation]:
        framework = self.framework
        result: list[CFAssociation] = []
        for competency in framework.walk():
            where = f"competency {competency.key}"
            parent_id = self.ids[competency.parent] if competency.parent else self.doc_id
            record = competency.properties.get(PREFIX + "parentAssociation")
            usable = (
                record
                if isinstance(record, Mapping) and _same_node(record.get("destination"), parent_id)
                else None
            )
            item = self.items[competency.key]
            sequence = self.explicit.get(competency.key, competency.sequence)
            enumerated = natural_sequence(None, item)
            if usable and "sequenceNumber" not in usable and sequence == enumerated:
                sequence = None  # it was read from listEnumeration: leave it there
            read_back = enumerated if sequence is None else sequence
            if read_back != competency.sequence:
                extra = {"sequence": competency.sequence}
                self.items[competency.key] = _with_extension(item, extra)
            destination = self._link(competency.parent) if competency.parent else self._doc_link()
            result.append(
                self._association(
                    kind="isChildOf",
                    origin=self._link(competency.key),
                    destination=destination,
                    record=usable,
                    sequence=sequence,
                    where=where,
                )
            )
            result.extend(self._relations(competency))
        raw = framework.properties.get(PREFIX + "CFAssociations")
        for index, entry in enumerate(raw if isinstance(raw, list) else []):
            try:
                association = CFAssociation.model_validate(entry)
            except pydantic.ValidationError:
                self.report.warn(
                    f"properties.case.CFAssociations[{index}]",
                    "kept CASE association is not valid: left out",
                )
                continue
            kind = self._downgrade(association.association_type, "framework")
            result.append(association.model_copy(update={"association_type": kind}))
        return result

    def _relations(self, competency: Competency) -> list[CFAssociation]:
        records = competency.properties.get(PREFIX + "associations")
        records = records if isinstance(records, list) else []
        result = []
        here = self._link(competency.key)
        for index, relation in enumerate(competency.related):
            record = records[index] if index < len(records) else None
            record = record if isinstance(record, Mapping) else None
            target: LinkGenURI
            if relation.key is not None:
                target = self._link(relation.key)
                if record is not None and not _same_node(
                    record.get("target"), self.ids[relation.key]
                ):
                    record = None
            else:
                uri = relation.uri or ""
                kept = record.get("target") if record is not None else None
                if isinstance(kept, Mapping) and kept.get("uri") == uri:
                    try:
                        target = LinkGenURI.model_validate(kept)
                    except pydantic.ValidationError:
                        target = _external_link(uri, relation.title)
                    if (target.title or None) != relation.title:
                        target = target.model_copy(update={"title": relation.title or ""})
                else:
                    record = None
                    target = _external_link(uri, relation.title)
            kind = _NATURAL_TYPES[relation.type]
            if record is not None:
                kept_type = record.get("associationType")
                if isinstance(kept_type, str) and natural_relation(kept_type) == relation.type:
                    kind = kept_type
                else:
                    record = None
            inbound = bool(record and record.get("inbound"))
            natural = None if relation.key is not None else (target.title or None)
            result.append(
                self._association(
                    kind=kind,
                    origin=target if inbound else here,
                    destination=here if inbound else target,
                    record=record,
                    sequence=_int_or_none(record.get("sequenceNumber")) if record else None,
                    ext={"title": relation.title} if relation.title != natural else None,
                    where=f"competency {competency.key} related[{index}]",
                )
            )
        return result

    def _rubrics(self) -> tuple[list[CFRubric], str | None]:
        """One criterion per scale (the framework's has no CFItemURI), grouped in rubrics.

        Criteria go back into the rubric they were read from, in their old order; scales
        of a framework that never was CASE go into one rubric of their own.
        """
        framework = self.framework
        by_id: dict[str, dict[str, Any]] = {}
        for header in _list(framework.properties.get(PREFIX + "CFRubrics")):
            if isinstance(header, Mapping) and isinstance(header.get("identifier"), str):
                by_id[header["identifier"]] = dict(header)
        own_id = str(uuid.uuid5(self.namespace, "CFRubric"))
        groups: dict[str, list[tuple[float, int, CFRubricCriterion]]] = {}
        counter = itertools.count()
        scale_criterion: str | None = None
        entries: list[tuple[Competency | None, ProficiencyScale]] = []
        if framework.scale.model_dump() != DEFAULT_SCALE.model_dump():
            entries.append((None, framework.scale))
        entries.extend((c, c.scale) for c in framework.walk() if c.scale is not None)
        for competency, scale in entries:
            owner: Competency | Framework = competency or framework
            record = _mapping(owner.properties.get(PREFIX + "CFRubricCriterion"))
            rubric_id = record.get("rubric")
            if not isinstance(rubric_id, str) or rubric_id not in by_id:
                rubric_id = own_id
            criterion = self._criterion(competency, scale, record)
            if competency is None:  # named as the package will name it (a UUID)
                scale_criterion = strict_identifier(criterion.identifier)
            rank = _rank(record.get("order"))
            groups.setdefault(rubric_id, []).append((rank, next(counter), criterion))
        for rubric_id, header in by_id.items():
            for raw in _list(header.get("CFRubricCriteria")):
                kept = _mapping(raw)
                try:
                    criterion = CFRubricCriterion.model_validate(
                        {k: v for k, v in kept.items() if k != "order"}
                    )
                except pydantic.ValidationError:
                    continue
                rank = _rank(kept.get("order"))
                groups.setdefault(rubric_id, []).append((rank, next(counter), criterion))
        rubrics = []
        generated = [] if own_id in by_id else [(own_id, None)]
        for rubric_id, header in [*by_id.items(), *generated]:
            criteria = [c for _, _, c in sorted(groups.get(rubric_id, []), key=lambda t: t[:2])]
            if header is None and not criteria:
                continue
            base = {k: v for k, v in (header or {}).items() if k != "CFRubricCriteria"}
            if header is None:
                base = {
                    "identifier": own_id,
                    "uri": self._uri({}, own_id),
                    "title": shorten(f"{framework.title} - proficiency scales", 200),
                }
            base.setdefault("lastChangeDateTime", self.now)
            try:
                rubric = CFRubric.model_validate({**base, "CFRubricCriteria": criteria})
            except pydantic.ValidationError:
                self.report.warn(
                    "properties.case.CFRubrics", "kept CFRubric is not valid: left out"
                )
                continue
            rubrics.append(rubric)
        return rubrics, scale_criterion

    def _criterion(
        self,
        competency: Competency | None,
        scale: ProficiencyScale,
        record: Mapping[str, Any],
    ) -> CFRubricCriterion:
        name = competency.key if competency else ""
        where = f"competency {name}" if competency else "scale"
        kept = {k: v for k, v in record.items() if k not in ("rubric", "order", "levels")}
        base, _ = clean_fields("CFRubricCriterion", kept, path=where, report=self.report)
        base.pop("CFRubricCriterionLevels", None)
        if "identifier" not in base:
            base["identifier"] = str(uuid.uuid5(self.namespace, f"CFRubricCriterion:{name}"))
        criterion_id = base["identifier"]
        base.setdefault("uri", self._uri({}, criterion_id))
        base.setdefault("lastChangeDateTime", self.now)
        kept_link = base.pop("CFItemURI", None)
        if competency is not None:
            item = self.items[competency.key]
            if isinstance(kept_link, Mapping) and kept_link.get("identifier") == item.identifier:
                base["CFItemURI"] = {**kept_link, "uri": item.uri}
            else:
                base["CFItemURI"] = LinkURI(
                    title=item.human_coding_scheme or shorten(item.full_statement),
                    identifier=item.identifier,
                    uri=item.uri,
                )
        levels = self._levels(name, scale, _mapping(record.get("levels")), where)
        ext = _scale_extension(scale, levels, strict_identifier(criterion_id))
        extensions = _mapping(record.get("extensions"))
        if ext:
            extensions[EXTENSION] = ext
        base["extensions"] = extensions or None
        base["CFRubricCriterionLevels"] = levels
        return CFRubricCriterion.model_validate(base)

    def _levels(
        self, name: str, scale: ProficiencyScale, records: Mapping[str, Any], where: str
    ) -> list[CFRubricCriterionLevel]:
        levels = []
        for position, level in enumerate(scale.levels, start=1):
            base, _ = clean_fields(
                "CFRubricCriterionLevel",
                _mapping(records.get(level.key)),
                path=where,
                report=self.report,
            )
            if "identifier" not in base:
                base["identifier"] = (
                    level.key.lower()
                    if is_uuid(level.key)
                    else str(
                        uuid.uuid5(self.namespace, f"CFRubricCriterionLevel:{name}:{level.key}")
                    )
                )
            base.setdefault("uri", self._uri({}, base["identifier"]))
            base.setdefault("lastChangeDateTime", self.now)
            base.setdefault("position", position)
            base.update(
                {"quality": level.name, "score": level.points, "description": level.description}
            )
            levels.append(CFRubricCriterionLevel.model_validate(base))
        return levels

    def _document(self, scale_criterion: str | None) -> CFDocument:
        framework = self.framework
        skip = ("extensions", "title", "description", "version", "language")
        fields, other_properties = self._case_fields(framework, "CFDocument", "CFDocument", skip)
        fields.pop("caseVersion", None)
        ext: dict[str, Any] = {}
        if framework.key != derived_key(self.doc_id):
            ext["key"] = framework.key
        kept_title = framework.properties.get(PREFIX + "title")
        title = framework.title
        if isinstance(kept_title, str) and natural_title(kept_title, self.doc_id) == title:
            title = kept_title  # the document title the framework title was made from
        if natural_title(title, self.doc_id) != framework.title:
            ext["title"] = framework.title
        if framework.effective_from is not None:
            fields["statusStartDate"] = instant_to_start(framework.effective_from)
            if start_to_instant(fields["statusStartDate"]) != framework.effective_from:
                ext["effective_from"] = framework.effective_from.isoformat()
        elif "statusStartDate" in fields:
            ext["effective_from"] = None
        if framework.effective_until is not None:
            fields["statusEndDate"] = instant_to_end(framework.effective_until)
            if end_to_instant(fields["statusEndDate"]) != framework.effective_until:
                ext["effective_until"] = framework.effective_until.isoformat()
        ext.update(_core_only(framework, _FRAMEWORK_ONLY, other_properties))
        if scale_criterion is not None:
            ext["scale_criterion"] = scale_criterion
        foreign = framework.properties.get(PREFIX + "extensions")
        extensions = dict(foreign) if isinstance(foreign, Mapping) else {}
        if ext:
            extensions[EXTENSION] = ext
        creator = fields.pop("creator", None) or self.options.creator
        if not creator:
            creator = framework.title
            self.report.warn(
                "CFDocument.creator",
                "the framework names no creator (CASE requires one): its title is written; "
                "give one with --case-creator",
            )
        fields.setdefault("lastChangeDateTime", self.now)
        if self.options.version == "1.1" and fields.get("frameworkType") is None:
            fields.pop("frameworkType", None)
        return CFDocument.model_validate(
            {
                **fields,
                "identifier": self.doc_id,
                "uri": self.doc_uri,
                "creator": creator,
                "title": title,
                "description": framework.description,
                "version": framework.version,
                "language": framework.language,
                "extensions": extensions or None,
            }
        )

    def _definitions(self) -> CFDefinitions | None:
        kept = self.framework.properties.get(PREFIX + "CFDefinitions")
        if not isinstance(kept, Mapping):
            return None
        try:
            return CFDefinitions.model_validate(kept)
        except pydantic.ValidationError:
            self.report.warn(
                "properties.case.CFDefinitions", "kept CFDefinitions are not valid: left out"
            )
            return None


_RECORDS = frozenset(
    {
        "parentAssociation",
        "associations",
        "CFRubricCriterion",
        "CFRubrics",
        "CFAssociations",
        "CFDefinitions",
        "packageExtensions",
    }
)
"""``case.*`` properties that are records of the reading (written back elsewhere), not
fields of the CFItem or CFDocument itself."""

_COMPETENCY_ONLY = (
    "description_format",
    "calculation_method",
    "calculation_int",
    "rollup",
)
"""What a competency holds and CASE has no field for (taxonomy and tags have one)."""
_FRAMEWORK_ONLY = (
    "description_format",
    "calculation_method",
    "calculation_int",
    "taxonomy_levels",
    "tags",
)


def _core_only(
    owner: Competency | Framework, names: Sequence[str], other_properties: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields CASE has no place for (when not default), other systems' ids and properties."""
    dumped = owner.model_dump(mode="json", exclude_defaults=True)
    ext = {name: dumped[name] for name in names if name in dumped}
    if other_properties:
        ext["properties"] = dict(other_properties)
    other_ids = {k: v for k, v in owner.external_ids.items() if k not in ("case", "case.uri")}
    if other_ids:
        ext["external_ids"] = other_ids
    return ext


def _scale_extension(
    scale: ProficiencyScale, levels: Sequence[CFRubricCriterionLevel], criterion_id: str
) -> dict[str, Any]:
    """What a criterion's levels cannot say about the scale; ``criterion_id`` and the
    level identifiers compared as the package names them (UUIDs), since readers see those."""
    ext: dict[str, Any] = {}
    keys = [level.key for level in scale.levels]
    if keys != [strict_identifier(level.identifier) for level in levels]:
        ext["level_keys"] = keys
    # Always said, though the reader's guess may agree: CASE has no field for it, and a
    # reader that finds it need not warn that it guessed.
    ext["proficient"] = [level.key for level in scale.levels if level.proficient]
    natural_default = next(level.key for level in scale.levels if level.proficient)
    if scale.default_level != natural_default:
        ext["default_level"] = scale.default_level
    if scale.mastery_points is not None:
        ext["mastery_points"] = scale.mastery_points
    if scale.key != derived_key(criterion_id):
        ext["key"] = scale.key
    if scale.name is not None:
        ext["name"] = scale.name
    return ext


def _same_node(recorded: object, identifier: str) -> bool:
    """Whether an end recorded on reading (the identifier as CASE gave it, an ASN URL
    perhaps) is the node now written as ``identifier`` (a UUID, a UUIDv5 of that URL)."""
    return isinstance(recorded, str) and strict_identifier(recorded) == identifier


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _rank(value: object) -> float:
    return float(value) if isinstance(value, int) else float("inf")


def _with_extension(item: CFItem, values: Mapping[str, Any]) -> CFItem:
    extensions = dict(item.extensions or {})
    ours = dict(our_extension(extensions))
    ours.update(values)
    extensions[EXTENSION] = ours
    return item.model_copy(update={"extensions": extensions})


def _external_link(uri: str, title: str | None) -> LinkGenURI:
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    identifier = tail.lower() if is_uuid(tail) else str(uuid.uuid5(uuid.NAMESPACE_URL, uri))
    return LinkGenURI(title=title or "", identifier=identifier, uri=uri)


__all__ = ["WriteOptions", "framework_to_package"]
