"""CFPackage <-> Framework: pure functions, no I/O, no clock (``now`` is passed in).

Reading (:func:`package_to_framework`)
    * the hierarchy comes from ``isChildOf`` (origin = child, destination = parent); items
      that are ``isChildOf`` the document are top level; siblings are ordered by the
      association's ``sequenceNumber`` (else an integer ``listEnumeration``); siblings without
      one follow CASE's fallback: ``listEnumeration``, then ``humanCodingScheme`` in natural
      order (``L1.2`` before ``L1.10``), then package order. An item with several parents
      keeps the first as its parent, the others become ``part_of`` relations; items without
      a parent are put at the top level; a parent outside the package becomes an external
      relation. Each of these is reported as a warning. A cycle of ``isChildOf`` is an error.
    * keys: ``humanCodingScheme`` where it is unique in the package, else the item identifier;
      ``CFItemType`` is the competency's taxonomy term, ``conceptKeywords`` its tags.
    * titles: ``abbreviatedStatement``, else the ``fullStatement`` shortened to at most
      :data:`TITLE_MAX` characters (Moodle's short-name limit); the full statement is the
      description. The framework title is the document title, shortened the same way.
    * other association types become typed relations (to keys inside the package, to URIs
      outside it); rubric criteria that point at items become those competencies' scales
      (levels by position, score as points).
    * every CASE field the core model has no place for is kept in ``properties`` under
      ``case.<field>``; identifiers and URIs in ``external_ids`` (``case``, ``case.uri``).

Writing (:func:`comp_adapters.case.export.framework_to_package`)
    * a framework read from CASE gets its identifiers, URIs and fields back; one without
      CASE identifiers gets UUIDv5 identifiers derived from the framework key and each
      competency key, so exporting twice gives the same ids.
    * a key is written as ``humanCodingScheme`` unless it is an identifier (derived from the
      CASE identifier it was read with, or a UUID, URN or URL); taxonomy as ``CFItemType``,
      tags as ``conceptKeywords``: standard fields, which providers keep.
    * what the core model holds and CASE has no field for (rules, calculation methods,
      framework tags, keys and texts that CASE's natural reading would not reproduce,
      proficiency flags) is written under the ``comp_adapters`` extension (CASE 1.1), so
      reading the package back gives the same framework; a provider that drops extensions
      loses only that.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import pydantic

from comp_adapters.case.lenient import Report
from comp_adapters.case.wire import (
    CFAssociation,
    CFItem,
    CFPackage,
    CFRubricCriterion,
    CFRubricCriterionLevel,
    is_uuid,
)
from comp_adapters.core.framework import (
    Competency,
    Framework,
    Relation,
    RelationType,
)
from comp_adapters.core.scale import ProficiencyScale, ScaleLevel
from comp_adapters.errors import Problem, ValidationError

TITLE_MAX = 100
"""Longest title we produce (Moodle's competency short name is at most 100 characters)."""
KEY_MAX = 100
EXTENSION = "comp_adapters"
"""Name of our entry in CASE 1.1 ``extensions`` objects."""
PREFIX = "case."
"""Prefix of the ``properties`` and ``external_ids`` entries this mapping owns."""
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/comp-adapters/#case")
"""UUIDv5 namespace of the identifiers we derive."""

DEFAULT_SCALE = ProficiencyScale(
    key="case-default",
    name="Competent / not yet competent",
    levels=(
        ScaleLevel(key="not_yet_competent", name="Not yet competent", points=0),
        ScaleLevel(key="competent", name="Competent", points=1, proficient=True),
    ),
    default_level="competent",
)
"""The framework scale of a package that defines none (CASE frameworks often have none)."""

_RELATION_OF_TYPE: Mapping[str, RelationType] = {
    "isChildOf": RelationType.PART_OF,
    "isPeerOf": RelationType.RELATED,
    "isPartOf": RelationType.PART_OF,
    "exactMatchOf": RelationType.EQUIVALENT,
    "precedes": RelationType.PRECEDES,
    "isRelatedTo": RelationType.RELATED,
    "replacedBy": RelationType.REPLACED_BY,
    "exemplar": RelationType.EXEMPLAR,
    "hasSkillLevel": RelationType.RELATED,
    "isTranslationOf": RelationType.EQUIVALENT,
    "ext:requires": RelationType.REQUIRES,
}

_DIGITS = re.compile(r"(\d+)")

_ITEM_OWN = (
    "identifier",
    "uri",
    "fullStatement",
    "abbreviatedStatement",
    "humanCodingScheme",
    "CFItemType",
    "conceptKeywords",
)
"""CFItem fields read into the competency itself (not kept as ``case.*`` properties)."""
_DOCUMENT_OWN = (
    "identifier",
    "uri",
    "title",
    "description",
    "version",
    "language",
    "statusStartDate",
    "statusEndDate",
    "caseVersion",
)


# -- shared rules (the same function decides on reading and checks on writing) ---------------


def shorten(text: str, limit: int = TITLE_MAX) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _valid_key(text: str | None) -> bool:
    return bool(text) and len(text or "") <= KEY_MAX and (text or "").strip() == text


def derived_key(identifier: str) -> str:
    """The key of an item without a usable humanCodingScheme: its identifier, if it fits."""
    if _valid_key(identifier):
        return identifier
    return f"case-{uuid.uuid5(NAMESPACE, identifier)}"


def is_identifier_key(key: str) -> bool:
    """Whether a key is an identifier rather than a human code: a UUID, a URN or an absolute
    URL (Common Core items without a code carry ASN URLs such as
    ``http://asn.jesandco.org/resources/S114340D`` as identifiers). Such a key is never
    written as a ``humanCodingScheme``: CASE readers would take it for the item's code."""
    if is_uuid(key):
        return True
    parts = urlsplit(key)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme.lower() == "urn")


def natural_keys(items: Sequence[CFItem]) -> list[str]:
    """Keys by CASE data alone: unique humanCodingScheme, else derived from the identifier."""
    derived = [derived_key(item.identifier) for item in items]
    derived_set = set(derived)
    codes = Counter(item.human_coding_scheme for item in items if item.human_coding_scheme)
    keys = []
    for item, fallback in zip(items, derived, strict=True):
        code = item.human_coding_scheme
        usable = (
            code is not None
            and codes[code] == 1
            and _valid_key(code)
            and (code not in derived_set or code == fallback)
        )
        keys.append(code if usable and code is not None else fallback)
    return keys


def natural_texts(full: str, abbreviated: str | None, fallback: str) -> tuple[str, str | None]:
    """(title, description) of an item: title from the abbreviated statement or the full
    statement shortened; the full statement as description unless it is the title."""
    if abbreviated and abbreviated.strip():
        title = shorten(abbreviated)
        return title, full or None
    title = shorten(full) if full.strip() else shorten(fallback)
    description = full if full and full != title else None
    return title or fallback, description


def natural_relation(association_type: str) -> RelationType:
    return _RELATION_OF_TYPE.get(association_type, RelationType.RELATED)


def natural_sequence(edge: CFAssociation | None, item: CFItem) -> int | None:
    """Sibling order: the isChildOf ``sequenceNumber``, else an integer ``listEnumeration``."""
    if edge is not None and edge.sequence_number is not None:
        return edge.sequence_number
    enumeration = item.list_enumeration
    if enumeration and enumeration.isdigit() and len(enumeration) < 10:
        return int(enumeration)
    return None


def natural_order(text: str | None) -> tuple[tuple[int, int, str], ...]:
    """Sort key comparing digit runs as numbers: ``L1.2`` before ``L1.10``, case-insensitive."""
    if text is None:
        return ()
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
        for part in _DIGITS.split(text)
        if part
    )


def sibling_key(sequence: int | None, item: CFItem, index: int) -> tuple[Any, ...]:
    """Where CASE puts an item among its siblings (reference: OpenSALT's ordering).

    ``sequence`` (the isChildOf ``sequenceNumber``, or an integer ``listEnumeration``) first;
    items without one after those, by ``listEnumeration``, then ``humanCodingScheme`` in
    natural order, then ``index`` (their place in the package).
    """
    enumeration, code = item.list_enumeration, item.human_coding_scheme
    return (
        sequence is None,
        sequence or 0,
        enumeration is None,
        natural_order(enumeration),
        code is None,
        natural_order(code),
        index,
    )


def natural_title(text: str, fallback: str) -> str:
    """A document's title as a framework title: on one line, at most :data:`TITLE_MAX`."""
    return shorten(text) or shorten(fallback)


def natural_proficient(count: int) -> list[bool]:
    """Which levels (lowest first) count as proficient when CASE says nothing: the top half."""
    top = max(count // 2, 1)
    return [index >= count - top for index in range(count)]


def end_to_instant(day: str) -> datetime:
    """statusEndDate (inclusive day) -> effective_until (exclusive instant)."""
    return datetime.combine(datetime.fromisoformat(day).date(), time(), UTC) + timedelta(days=1)


def start_to_instant(day: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time(), UTC)


def instant_to_end(value: datetime) -> str:
    return (value.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()


def instant_to_start(value: datetime) -> str:
    return value.astimezone(UTC).date().isoformat()


def our_extension(extensions: Any) -> dict[str, Any]:
    if isinstance(extensions, Mapping):
        found = extensions.get(EXTENSION)
        if isinstance(found, Mapping):
            return dict(found)
    return {}


def _foreign_extensions(extensions: Any) -> dict[str, Any] | None:
    if not isinstance(extensions, Mapping):
        return None
    rest = {k: v for k, v in extensions.items() if k != EXTENSION}
    return rest or None


def _dump(model: pydantic.BaseModel, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    data = model.model_dump(mode="json", exclude_none=True)
    for name in exclude:
        data.pop(name, None)
    return data


# -- reading ---------------------------------------------------------------------------------


@dataclass
class _Edge:
    index: int
    association: CFAssociation


@dataclass
class _ItemState:
    index: int
    item: CFItem
    key: str
    parent: str | None = None
    parent_edge: _Edge | None = None
    relations: list[tuple[Relation, dict[str, Any]]] = field(default_factory=list)


def package_to_framework(
    package: CFPackage, *, source: str | None = None
) -> tuple[Framework, list[Problem]]:
    """The framework a package describes, and the warnings about what had to be adapted.

    Raises :class:`ValidationError` (located by package path) when the package cannot be a
    framework: a cycle of ``isChildOf``, or data the core model refuses.
    """
    reader = _Reader(package)
    framework = reader.run()
    problems = reader.report.problems()
    if source:
        problems = [p.with_file(source) for p in problems]
    if reader.report.errors:
        raise ValidationError(problems)
    assert framework is not None  # noqa: S101 - errors were raised above
    return framework, problems


class _Reader:
    def __init__(self, package: CFPackage) -> None:
        self.package = package
        self.report = Report()
        self.document = package.document
        self.doc_id = package.document.identifier
        self.states: dict[str, _ItemState] = {}
        self.raw_associations: list[dict[str, Any]] = []
        self.scales: dict[str, tuple[ProficiencyScale, dict[str, Any]]] = {}
        self.rubric_headers: list[dict[str, Any]] = []

    # The steps, in order.
    def run(self) -> Framework | None:
        self._items()
        self._associations()
        if self.report.errors:
            return None
        scale, scale_record = self._rubrics()
        competencies = [self._competency(state) for state in self._sibling_order()]
        if self.report.errors:
            return None
        return self._framework(competencies, scale, scale_record)

    def _items(self) -> None:
        items: list[tuple[int, CFItem]] = []
        for index, item in enumerate(self.package.items):
            if item.identifier in self.states or item.identifier == self.doc_id:
                self.report.warn(
                    f"CFItems[{index}].identifier",
                    f"duplicate identifier {item.identifier} (this copy ignored)",
                )
                continue
            items.append((index, item))
            self.states[item.identifier] = _ItemState(index=index, item=item, key="")
        keys = natural_keys([item for _, item in items])
        codes = Counter(item.human_coding_scheme for _, item in items if item.human_coding_scheme)
        for code, count in codes.items():
            if count > 1:
                self.report.warn(
                    "CFItems",
                    f"humanCodingScheme {code!r} is used by {count} items: their keys are "
                    "derived from their identifiers",
                )
        taken: set[str] = set()
        for (index, item), natural in zip(items, keys, strict=True):
            key = natural
            wanted = our_extension(item.extensions).get("key")
            if isinstance(wanted, str) and _valid_key(wanted) and wanted not in taken:
                key = wanted
            if key in taken:
                key = derived_key(item.identifier)
            if key in taken:
                key = f"case-{uuid.uuid5(NAMESPACE, f'{item.identifier}#{index}')}"
            taken.add(key)
            self.states[item.identifier].key = key

    def _associations(self) -> None:
        parents: dict[str, list[_Edge]] = {}
        for index, association in enumerate(self.package.associations):
            kind = association.association_type
            origin = association.origin_node_uri.identifier
            destination = association.destination_node_uri.identifier
            inside_origin = origin in self.states
            inside_destination = destination in self.states
            if (
                kind == "isChildOf"
                and inside_origin
                and (inside_destination or destination == self.doc_id)
            ):
                parents.setdefault(origin, []).append(_Edge(index, association))
                continue
            if inside_origin and destination != origin:
                self._relation(self.states[origin], index, association, inbound=False)
            elif inside_destination and origin != destination:
                self._relation(self.states[destination], index, association, inbound=True)
            else:
                self.raw_associations.append(_dump(association))
                if origin == destination:
                    self.report.warn(
                        f"CFAssociations[{index}]",
                        f"{kind} association from a node to itself (kept as CASE data only)",
                    )
        self._check_cycles(parents)
        if self.report.errors:
            return
        for identifier, state in self.states.items():
            edges = parents.get(identifier, [])
            if not edges:
                self.report.warn(
                    f"CFItems[{state.index}]",
                    "item without isChildOf association: placed at the top level",
                    kind="orphan",
                )
                continue
            first, *others = edges
            destination = first.association.destination_node_uri.identifier
            state.parent = None if destination == self.doc_id else destination
            state.parent_edge = first
            for edge in others:
                self.report.warn(
                    f"CFAssociations[{edge.index}]",
                    f"item {self._name(identifier)} has several parents: the first is its "
                    "parent, this one a part_of relation",
                    kind="several parents",
                )
                self._relation(state, edge.index, edge.association, inbound=False)

    def _sibling_order(self) -> list[_ItemState]:
        """The items in CASE's sibling order (:func:`sibling_key`); reported where CASE's
        fallback for siblings without ``sequenceNumber`` changes the package's order."""

        def key(state: _ItemState) -> tuple[Any, ...]:
            edge = state.parent_edge.association if state.parent_edge else None
            return sibling_key(natural_sequence(edge, state.item), state.item, state.index)

        keys = {id(state): key(state) for state in self.states.values()}
        ordered = sorted(self.states.values(), key=lambda state: keys[id(state)])
        unsequenced: dict[str | None, list[_ItemState]] = {}
        for state in ordered:
            if keys[id(state)][0]:
                unsequenced.setdefault(state.parent, []).append(state)
        for siblings in unsequenced.values():
            indexes = [state.index for state in siblings]
            if indexes != sorted(indexes):
                self.report.warn(
                    f"CFItems[{min(indexes)}]",
                    "siblings without sequenceNumber: ordered by listEnumeration, then "
                    "humanCodingScheme in natural order, not by their place in the package",
                    kind="fallback order",
                )
        return ordered

    def _name(self, identifier: str) -> str:
        state = self.states.get(identifier)
        return repr(state.key) if state else identifier

    def _check_cycles(self, parents: Mapping[str, list[_Edge]]) -> None:
        graph = {
            child: [
                e.association.destination_node_uri.identifier
                for e in edges
                if e.association.destination_node_uri.identifier in self.states
            ]
            for child, edges in parents.items()
        }
        state: dict[str, int] = {}
        for start in graph:
            if state.get(start):
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            path: list[str] = []
            while stack:
                node, position = stack.pop()
                if position == 0:
                    state[node] = 1
                    path.append(node)
                targets = graph.get(node, [])
                if position < len(targets):
                    stack.append((node, position + 1))
                    target = targets[position]
                    if state.get(target) == 1:
                        cycle = path[path.index(target) :]
                        self._report_cycle(cycle, parents)
                        return
                    if not state.get(target):
                        stack.append((target, 0))
                else:
                    state[node] = 2
                    path.pop()

    def _report_cycle(self, cycle: list[str], parents: Mapping[str, list[_Edge]]) -> None:
        shown = " -> ".join(self._name(node) for node in [*cycle, cycle[0]])
        edge = next(
            e
            for e in parents[cycle[0]]
            if e.association.destination_node_uri.identifier == cycle[(1 % len(cycle))]
        )
        self.report.error(
            f"CFAssociations[{edge.index}]",
            f"isChildOf associations form a cycle: {shown}",
        )

    def _relation(
        self, state: _ItemState, index: int, association: CFAssociation, *, inbound: bool
    ) -> None:
        other = association.origin_node_uri if inbound else association.destination_node_uri
        record = _dump(
            association, exclude=("originNodeURI", "destinationNodeURI", "CFDocumentURI")
        )
        kind = association.association_type
        relation_type = natural_relation(kind)
        ext = our_extension(association.extensions)
        record.pop("extensions", None)
        foreign = _foreign_extensions(association.extensions)
        if foreign:
            record["extensions"] = foreign
        target_state = self.states.get(other.identifier)
        if target_state is not None:
            title = None
            record["target"] = other.identifier
        else:
            title = other.title or None
            record["target"] = _dump(other)
        if "title" in ext and (ext["title"] is None or isinstance(ext["title"], str)):
            title = ext["title"]
        if target_state is not None:
            relation = Relation(type=relation_type, key=target_state.key, title=title)
        else:
            relation = Relation(type=relation_type, uri=other.uri or other.identifier, title=title)
            if kind == "isChildOf" and not inbound:
                self.report.warn(
                    f"CFAssociations[{index}]",
                    f"parent {other.identifier} is outside the package: kept as a relation, "
                    "the item is placed at the top level",
                    kind="external parent",
                )
        if inbound:
            record["inbound"] = True
        state.relations.append((relation, record))

    def _rubrics(self) -> tuple[ProficiencyScale, dict[str, Any] | None]:
        """Scales of the competencies (from criteria) and of the framework."""
        wanted = our_extension(self.document.extensions).get("scale_criterion")
        framework_scale: tuple[ProficiencyScale, dict[str, Any]] | None = None
        for r_index, rubric in enumerate(self.package.rubrics):
            header = _dump(rubric, exclude=("CFRubricCriteria",))
            unmapped: list[dict[str, Any]] = []
            for c_index, criterion in enumerate(rubric.criteria):
                where = f"CFRubrics[{r_index}].CFRubricCriteria[{c_index}]"
                link = criterion.cf_item_uri
                target = link.identifier if link else None
                is_framework = (target is None and framework_scale is None) and (
                    wanted is None or wanted == criterion.identifier
                )
                usable = is_framework or (target in self.states and target not in self.scales)
                scale = self._scale(criterion, where) if usable else None
                if scale is None:
                    if target is not None and target not in self.states:
                        why = "points at an item outside the package"
                    elif target in self.scales:
                        why = "is the second criterion for the same item"
                    elif usable:
                        why = "has no usable levels"
                    else:
                        why = "points at no item and the framework scale is already set"
                    self.report.warn(where, f"rubric criterion {why}: kept as CASE data only")
                    unmapped.append({"order": c_index, **_dump(criterion)})
                    continue
                record = {"rubric": rubric.identifier, "order": c_index, **scale[1]}
                if target is None:
                    framework_scale = (scale[0], record)
                else:
                    self.scales[target] = (scale[0], record)
            if unmapped:
                header["CFRubricCriteria"] = unmapped
            self.rubric_headers.append(header)
        if framework_scale is None:
            return DEFAULT_SCALE, None
        return framework_scale

    def _scale(
        self, criterion: CFRubricCriterion, where: str
    ) -> tuple[ProficiencyScale, dict[str, Any]] | None:
        levels = list(criterion.levels)
        if not levels:
            return None
        ext = our_extension(criterion.extensions)
        positions = [level.position for level in levels]
        if all(p is not None for p in positions) and len(set(positions)) == len(positions):
            levels.sort(key=lambda level: level.position or 0)
        scores = [level.score for level in levels]
        if all(s is not None for s in scores) and len(set(scores)) == len(scores):
            if scores != sorted(scores, key=lambda s: s or 0.0):
                levels.sort(key=lambda level: level.score or 0.0)
            points = [float(level.score or 0.0) for level in levels]
        else:
            self.report.warn(
                where,
                "rubric levels without distinct scores: points follow their position "
                "(1, 2, ...), lowest first",
            )
            points = [float(i) for i in range(1, len(levels) + 1)]
        if min(points) < 0:
            self.report.warn(where, "negative rubric scores: points follow their position")
            points = [float(i) for i in range(1, len(levels) + 1)]
        keys = ext.get("level_keys")
        if not (
            isinstance(keys, list)
            and len(keys) == len(levels)
            and all(isinstance(k, str) and _valid_key(k) for k in keys)
            and len(set(keys)) == len(keys)
        ):
            keys = [level.identifier for level in levels]
            if len(set(keys)) != len(keys) or not all(_valid_key(k) for k in keys):
                keys = [f"level-{i}" for i in range(1, len(levels) + 1)]
        proficient_keys = ext.get("proficient")
        if isinstance(proficient_keys, list):
            flags = [key in proficient_keys for key in keys]
        else:
            flags = natural_proficient(len(levels))
            self.report.warn(
                where,
                "CASE rubrics say nothing about proficiency: the top half of the levels "
                "count as proficient",
                kind="proficient levels guessed",
            )
        built = [
            ScaleLevel(
                key=key,
                name=level.quality or shorten(level.description or "") or f"Level {i}",
                points=point,
                proficient=flag,
                description=level.description,
            )
            for i, (key, level, point, flag) in enumerate(
                zip(keys, levels, points, flags, strict=True), start=1
            )
        ]
        default = ext.get("default_level")
        if not isinstance(default, str) or default not in keys:
            default = next(level.key for level in built if level.proficient)
        try:
            scale = ProficiencyScale(
                key=_scale_key(criterion, ext),
                name=ext.get("name") if isinstance(ext.get("name"), str) else None,
                levels=tuple(built),
                default_level=default,
                mastery_points=ext.get("mastery_points"),
            )
        except pydantic.ValidationError as exc:
            message = "; ".join(e["msg"] for e in exc.errors(include_url=False))
            self.report.warn(where, f"rubric criterion is not a usable scale: {message}")
            return None
        record = _dump(criterion, exclude=("CFRubricCriterionLevels",))
        record.pop("extensions", None)
        foreign = _foreign_extensions(criterion.extensions)
        if foreign:
            record["extensions"] = foreign
        record["levels"] = {
            key: _level_record(level) for key, level in zip(keys, levels, strict=True)
        }
        return scale, record

    def _competency(self, state: _ItemState) -> Competency:
        item = state.item
        ext = our_extension(item.extensions)
        where = f"CFItems[{state.index}]"
        if not item.full_statement.strip() and not item.abbreviated_statement:
            self.report.warn(
                f"{where}.fullStatement", "empty fullStatement: the title is the code or id"
            )
        title, description = natural_texts(
            item.full_statement,
            item.abbreviated_statement,
            item.human_coding_scheme or item.identifier,
        )
        data: dict[str, Any] = _dump(item, exclude=_ITEM_OWN)
        data.pop("extensions", None)
        properties: dict[str, Any] = {PREFIX + name: value for name, value in data.items()}
        foreign = _foreign_extensions(item.extensions)
        if foreign:
            properties[PREFIX + "extensions"] = foreign
        if item.human_coding_scheme is not None and item.human_coding_scheme != state.key:
            properties[PREFIX + "humanCodingScheme"] = item.human_coding_scheme
        if item.abbreviated_statement is not None:
            natural_title, _ = natural_texts(
                item.full_statement, None, item.human_coding_scheme or item.identifier
            )
            if item.abbreviated_statement != title or natural_title == title:
                properties[PREFIX + "abbreviatedStatement"] = item.abbreviated_statement
        edge = state.parent_edge.association if state.parent_edge else None
        sequence = natural_sequence(edge, item)
        if edge is not None:
            properties[PREFIX + "parentAssociation"] = {
                **_dump(edge, exclude=("originNodeURI", "destinationNodeURI", "associationType")),
                "destination": edge.destination_node_uri.identifier,
            }
        relations = [relation for relation, _ in state.relations]
        if state.relations:
            properties[PREFIX + "associations"] = [record for _, record in state.relations]
        scale: ProficiencyScale | None = None
        if item.identifier in self.scales:
            scale, record = self.scales[item.identifier]
            properties[PREFIX + "CFRubricCriterion"] = record
        values: dict[str, Any] = {
            "key": state.key,
            "title": title,
            "description": description,
            "parent": self.states[state.parent].key if state.parent else None,
            "sequence": sequence,
            "taxonomy": item.cf_item_type,
            "scale": scale,
            "related": relations,
            "tags": item.concept_keywords or (),
            "external_ids": {"case": item.identifier, "case.uri": item.uri},
            "properties": properties,
        }
        _apply_extension(values, ext, _COMPETENCY_EXTENSION_FIELDS)
        try:
            return Competency.model_validate(values)
        except pydantic.ValidationError as exc:
            for problem in _problems_of(exc):
                self.report.error(where, f"{problem.field}: {problem.message}")
            return Competency.model_construct(key=state.key, title=title)

    def _framework(
        self,
        competencies: list[Competency],
        scale: ProficiencyScale,
        scale_record: dict[str, Any] | None,
    ) -> Framework | None:
        document = self.document
        ext = our_extension(document.extensions)
        data = _dump(document, exclude=_DOCUMENT_OWN)
        data.pop("extensions", None)
        properties: dict[str, Any] = {PREFIX + name: value for name, value in data.items()}
        foreign = _foreign_extensions(document.extensions)
        if foreign:
            properties[PREFIX + "extensions"] = foreign
        if self.package.extensions:
            properties[PREFIX + "packageExtensions"] = dict(self.package.extensions)
        if self.package.definitions is not None:
            definitions = _dump(self.package.definitions)
            if any(definitions.values()):
                properties[PREFIX + "CFDefinitions"] = definitions
        if self.rubric_headers:
            properties[PREFIX + "CFRubrics"] = self.rubric_headers
        if scale_record is not None:
            properties[PREFIX + "CFRubricCriterion"] = scale_record
        if self.raw_associations:
            properties[PREFIX + "CFAssociations"] = self.raw_associations
        start = start_to_instant(document.status_start_date) if document.status_start_date else None
        until = end_to_instant(document.status_end_date) if document.status_end_date else None
        if start and until and until <= start:
            self.report.warn(
                "CFDocument.statusEndDate",
                "statusEndDate before statusStartDate: kept as CASE data only",
            )
            properties[PREFIX + "statusEndDate"] = document.status_end_date
            until = None
        title = natural_title(document.title, document.identifier)
        if title != document.title:
            self.report.warn(
                "CFDocument.title",
                f"document title empty, padded, on several lines or over {TITLE_MAX} "
                f"characters: the framework title is {title!r} (the document title is kept)",
            )
            properties[PREFIX + "title"] = document.title
        values: dict[str, Any] = {
            "key": derived_key(document.identifier),
            "title": title,
            "description": document.description,
            "version": document.version,
            "language": document.language,
            "effective_from": start,
            "effective_until": until,
            "scale": scale,
            "competencies": competencies,
            "external_ids": {"case": document.identifier, "case.uri": document.uri},
            "properties": properties,
        }
        _apply_extension(values, ext, _FRAMEWORK_EXTENSION_FIELDS)
        try:
            return Framework.model_validate(values).canonical()
        except (pydantic.ValidationError, ValidationError) as exc:
            for problem in _problems_of(exc):
                self.report.error(problem.field or "CFDocument", problem.message)
            return None


def _scale_key(criterion: CFRubricCriterion, ext: Mapping[str, Any]) -> str | None:
    """Our extension's scale key (``None`` included), else derived from the criterion id."""
    if "key" in ext and (ext["key"] is None or _valid_key(ext["key"])):
        return ext["key"]  # type: ignore[no-any-return]
    return derived_key(criterion.identifier)


def _level_record(level: CFRubricCriterionLevel) -> dict[str, Any]:
    record = _dump(level, exclude=("quality", "score", "description", "extensions"))
    foreign = [
        {k: v for k, v in entry.items() if k != EXTENSION}
        for entry in level.extensions or ()
        if any(k != EXTENSION for k in entry)
    ]
    if foreign:
        record["extensions"] = foreign
    return record


def _problems_of(exc: Exception) -> list[Problem]:
    if isinstance(exc, ValidationError):
        return [p for p in exc.problems if p.severity == "error"]
    assert isinstance(exc, pydantic.ValidationError)  # noqa: S101 - only two kinds caught
    return [
        Problem(e["msg"], field=".".join(str(p) for p in e["loc"]))
        for e in exc.errors(include_url=False)
    ]


_COMPETENCY_EXTENSION_FIELDS = (
    "key",
    "title",
    "description",
    "description_format",
    "sequence",
    "taxonomy",
    "calculation_method",
    "calculation_int",
    "rollup",
    "tags",
    "properties",
    "external_ids",
)
_FRAMEWORK_EXTENSION_FIELDS = (
    "key",
    "title",
    "description_format",
    "effective_from",
    "effective_until",
    "calculation_method",
    "calculation_int",
    "taxonomy_levels",
    "tags",
    "properties",
    "external_ids",
)


def _apply_extension(values: dict[str, Any], ext: Mapping[str, Any], names: Sequence[str]) -> None:
    """Our extension wins over what CASE fields gave (``properties``/``external_ids`` merge)."""
    for name in names:
        if name not in ext:
            continue
        if name in ("properties", "external_ids") and isinstance(ext[name], Mapping):
            values[name] = {**values[name], **ext[name]}
        else:
            values[name] = ext[name]


__all__ = [
    "DEFAULT_SCALE",
    "EXTENSION",
    "NAMESPACE",
    "TITLE_MAX",
    "derived_key",
    "natural_keys",
    "natural_order",
    "natural_sequence",
    "natural_texts",
    "package_to_framework",
    "shorten",
    "sibling_key",
]
