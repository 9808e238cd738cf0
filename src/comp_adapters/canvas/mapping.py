"""Pure mapping between the core model and Canvas outcomes, results and rollups.

No HTTP, no clock. The centre is a neutral *outcome tree* (:class:`OutcomeTree`): groups and
outcomes keyed by ``vendor_guid``, each outcome with the groups it is linked into. Every
source and target of the adapter goes through it:

* a :class:`~comp_adapters.core.Framework` becomes the tree Canvas should hold
  (:func:`desired_tree`): a competency with children -> a group, a leaf -> an outcome;
* Canvas's REST lists (:func:`tree_from_rest`), an outcomes CSV and a Common Cartridge
  ``learning_outcomes.xml`` become trees, and a tree becomes a framework
  (:func:`framework_from_tree`).

``vendor_guid`` is the natural key. A framework read from Canvas or from an outcomes CSV
keeps the vendor_guids it was read with (``external_ids["canvas.vendor_guid"]``); only a
competency without one gets a derived guid: ``<framework key>:<competency key>`` with
``%``, ``:`` and whitespace percent-encoded, so it has no whitespace, is unique per framework
and survives a lost mapping. The framework itself is a group whose guid is its encoded key,
unless it was the whole context or file (``properties["canvas.at_root"]``): then its
top-level competencies sit at the context's root, as they were read.

Results come in as Canvas scores them (reference §3.3): a result's percent (rescaled when
its alignment has its own mastery threshold) times the outcome's points possible.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import JsonValue

from comp_adapters.canvas import wire
from comp_adapters.core.calculation import (
    CalculationMethod,
    check_calculation_int,
    effective_calculation_int,
)
from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.framework import Competency, Framework
from comp_adapters.core.scale import ProficiencyScale, ScaleLevel
from comp_adapters.core.timeutil import parse_utc
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError, Problem, ValidationError
from comp_adapters.rules.calculate import calculate, ruby_round

MAX_TITLE = 255
MAX_GUID = 255
ROOT = ""
"""Stands for the context's root group in ``parent``/``parents``."""
ROLLUP_SUFFIX = ":rollup"
DISPLAY_NAME_PROPERTY = "canvas.display_name"
FRIENDLY_PROPERTY = "canvas.friendly_description"
AT_ROOT_PROPERTY = "canvas.at_root"
"""Framework property: the framework is a whole context or file, its top level the root."""
ALSO_IN_PROPERTY = "canvas.also_in"
"""Competency property: guids of the further groups its outcome is linked into."""
GROUP_PROPERTY = "canvas.group"
"""Competency property: a group even without children (an empty outcome group)."""
VENDOR_GUID_ID = "canvas.vendor_guid"
ROLLUP_GUID_ID = "canvas.rollup_outcome_guid"
CANVAS_DEFAULT_RATINGS: tuple[tuple[float, str], ...] = (
    (5.0, "Exceeds Expectations"),
    (3.0, "Meets Expectations"),
    (0.0, "Does Not Meet Expectations"),
)
"""The criterion Canvas gives an outcome created without ratings (mastery 3, possible 5)."""
CANVAS_DEFAULT_MASTERY = 3.0
MAX_FRIENDLY = 255
"""Canvas refuses longer friendly descriptions (``Outcomes::CSVImporter#import_row``)."""

_ENCODE = re.compile(r"[%:\s]")
_HAS_TAG = re.compile(r"<\s*[a-zA-Z/!]")
ID_REFERENCE = re.compile(r"canvas_outcome(?:_group)?:(\d+)")
"""What Canvas's CSV import reads as "the object with this Canvas id", searched anywhere in
a vendor_guid (``lib/outcomes/import.rb``: ``find_prior_outcome``/``find_prior_group`` match
``canvas_outcome:<digits>`` unanchored)."""


# -- vendor_guid ---------------------------------------------------------------------------


def _encode(text: str) -> str:
    return _ENCODE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def _decode(text: str) -> str:
    return re.sub(
        r"(?:%[0-9A-F]{2})+",
        lambda m: bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "replace"),
        text,
    )


def framework_guid(framework_key: str) -> str:
    """The vendor_guid of the group that holds a framework: its encoded key.

    Refused: keys whose competency guids (``<key>:<competency>``) could contain
    ``canvas_outcome:<digits>`` or ``canvas_outcome_group:<digits>``, which Canvas's CSV
    import reads, wherever it stands in a vendor_guid, as the Canvas id of an existing
    object (:data:`ID_REFERENCE`).
    """
    guid = _encode(framework_key)
    lowered = guid.lower()
    if lowered.endswith(("canvas_outcome", "canvas_outcome_group")) or ID_REFERENCE.search(lowered):
        raise MappingError(
            f"framework key {framework_key!r}: Canvas's outcome import reads a vendor_guid "
            "containing 'canvas_outcome:<number>' as the id of an existing outcome, and this "
            "key would make such guids; rename the framework key"
        )
    return guid


def competency_guid(framework_key: str, competency_key: str) -> str:
    """The vendor_guid of a competency's group or outcome: ``<framework>:<competency>``."""
    return f"{framework_guid(framework_key)}:{_encode(competency_key)}"


def rollup_guid(framework_key: str, competency_key: str) -> str:
    """The vendor_guid of the optional outcome carrying a parent's rolled-up proficiency."""
    return competency_guid(framework_key, competency_key) + ROLLUP_SUFFIX


def is_id_reference(guid: str) -> bool:
    """Whether ``guid`` is exactly ``canvas_outcome:<id>`` / ``canvas_outcome_group:<id>``:
    what Canvas lists for an object that has no vendor_guid."""
    return ID_REFERENCE.fullmatch(guid) is not None


def guid_problem_for_csv(guid: str) -> str | None:
    """Why an outcomes CSV row cannot carry ``guid`` as a new object, or ``None``.

    Canvas's import refuses whitespace (``Outcomes::Import#check_object``) and binds a guid
    containing ``canvas_outcome:<id>`` to that existing object (``find_prior_outcome``).
    """
    if any(ch.isspace() for ch in guid):
        return "has whitespace, which Canvas's outcome import refuses"
    found = ID_REFERENCE.search(guid)
    if found is not None:
        return (
            f"contains {found.group()!r}, which Canvas's outcome import reads as the id of "
            "an existing object"
        )
    return None


class ParsedGuid(NamedTuple):
    framework: str
    competency: str | None
    rollup: bool


def parse_guid(guid: str) -> ParsedGuid | None:
    """Split one of our guids; ``None`` for a guid this library did not make."""
    parts = guid.split(":")
    if not parts[0] or any(not p for p in parts) or len(parts) > 3:
        return None
    if ID_REFERENCE.search(guid):
        return None
    if len(parts) == 3 and parts[2] != "rollup":
        return None
    competency = _decode(parts[1]) if len(parts) > 1 else None
    return ParsedGuid(_decode(parts[0]), competency, len(parts) == 3)


# -- descriptions --------------------------------------------------------------------------


def description_out(text: str | None, text_format: str) -> str | None:
    """Text for Canvas's HTML description: plain and markdown text are HTML-escaped."""
    if text is None:
        return None
    return text if text_format == "html" else html.escape(text, quote=False)


def description_in(text: str | None) -> tuple[str | None, str]:
    """(text, format) from Canvas's HTML: tag-free HTML becomes plain text."""
    if not text:
        return None, "plain"
    if _HAS_TAG.search(text):
        return text, "html"
    return html.unescape(text), "plain"


# -- the neutral tree --------------------------------------------------------------------------


class Rating(NamedTuple):
    """One rating of an outcome's criterion."""

    points: float
    description: str


def ratings_json(ratings: Sequence[Rating]) -> list[JsonValue]:
    """Ratings as they stand in a change's fields (and in Canvas's REST payloads)."""
    return [{"points": r.points, "description": r.description} for r in ratings]


@dataclass(frozen=True, slots=True)
class GroupNode:
    """An outcome group. ``parent`` is a group guid, or :data:`ROOT`."""

    guid: str
    title: str
    description: str | None = None
    parent: str = ROOT
    canvas_id: int | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class OutcomeNode:
    """An outcome with the groups it is linked into (``parents``; :data:`ROOT` = root group).

    ``ratings`` are highest first, as Canvas lists them. ``None`` scale fields mean "not
    given" (a CSV without those columns, or Canvas under account-level mastery scales).
    ``friendly_description`` is ``None`` where the source does not tell (Canvas's REST
    lists), ``""`` where it tells there is none. ``locked`` names the parents whose link
    Canvas will not remove (``can_unlink`` false: the last link of an aligned outcome).
    """

    guid: str
    title: str
    display_name: str | None = None
    description: str | None = None
    friendly_description: str | None = None
    mastery_points: float | None = None
    ratings: tuple[Rating, ...] = ()
    calculation_method: str | None = None
    calculation_int: int | None = None
    parents: tuple[str, ...] = (ROOT,)
    canvas_id: int | None = None
    can_edit: bool = True
    workflow_state: str = "active"
    locked: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True, slots=True)
class OutcomeTree:
    """Groups (parents before children) and outcomes of one context or file.

    ``frame`` is set on the tree made from a framework: the guid of the framework's own
    group, or :data:`ROOT` when the framework is the whole context.
    """

    groups: tuple[GroupNode, ...] = ()
    outcomes: tuple[OutcomeNode, ...] = ()
    root_id: int | None = None
    notes: tuple[str, ...] = field(default=())
    frame: str | None = None

    def group(self, guid: str) -> GroupNode | None:
        return next((g for g in self.groups if g.guid == guid), None)

    def subtree(self, root_guid: str) -> OutcomeTree:
        """The group ``root_guid``, its descendant groups and the outcomes linked under them."""
        keep = {root_guid}
        for group in self.groups:  # parents come before children
            if group.parent in keep:
                keep.add(group.guid)
        return replace(
            self,
            groups=tuple(g for g in self.groups if g.guid in keep),
            outcomes=tuple(o for o in self.outcomes if keep.intersection(o.parents)),
        )


# -- framework -> tree -------------------------------------------------------------------------


def blank_rating_name(points: float) -> str:
    """The level name that stands for a rating without a description (``3 points``)."""
    return f"{points:g} points"


def blank_rating_key(points: float) -> str:
    return f"level-{points:g}"


def ratings_of(scale: ProficiencyScale) -> tuple[Rating, ...]:
    """A scale's levels as Canvas ratings, highest first.

    A level keyed ``level-<points>`` and named ``<points> points`` is how a rating without
    a description is held (:func:`scale_from_ratings`); it is written back without one.
    """
    return tuple(
        Rating(
            level.points,
            ""
            if level.key == blank_rating_key(level.points)
            and level.name == blank_rating_name(level.points)
            else level.name,
        )
        for level in reversed(scale.levels)
    )


def display_name_of(competency: Competency) -> str:
    value = competency.properties.get(DISPLAY_NAME_PROPERTY)
    return value if isinstance(value, str) else competency.key


def frame_guid(framework: Framework) -> str:
    """The guid of the group holding ``framework`` (:data:`ROOT`: the context's root)."""
    if framework.properties.get(AT_ROOT_PROPERTY) is True:
        return ROOT
    return framework.external_ids.get(VENDOR_GUID_ID) or framework_guid(framework.key)


class _Guids:
    """Each competency's vendor_guid: the one it was read with, else derived from its key."""

    def __init__(self, framework: Framework) -> None:
        self.framework = framework
        self.groups: dict[str, str] = {}
        self.outcomes: dict[str, str] = {}

    def of(self, competency: Competency) -> str:
        known = competency.external_ids.get(VENDOR_GUID_ID)
        return known or competency_guid(self.framework.key, competency.key)

    def rollup_of(self, competency: Competency) -> str:
        known = competency.external_ids.get(ROLLUP_GUID_ID)
        return known or rollup_guid(self.framework.key, competency.key)

    def claim(self, guid: str, key: str, *, group: bool) -> str:
        """Record ``guid`` for ``key``; two groups (or two outcomes) may not share one."""
        seen = self.groups if group else self.outcomes
        other = seen.get(guid)
        if other is not None:
            kind = "group" if group else "outcome"
            raise MappingError(
                f"competencies {other!r} and {key!r} both have the {kind} vendor_guid {guid!r}"
            )
        if len(guid) > MAX_GUID:
            raise MappingError(f"vendor_guid longer than {MAX_GUID} characters: {guid}")
        seen[guid] = key
        return guid


def desired_tree(
    framework: Framework,
    *,
    parent_outcomes: bool = False,
    scales: bool = True,
    new_decay: bool = True,
) -> OutcomeTree:
    """The groups and outcomes Canvas should hold for ``framework``.

    Vendor_guids the framework was read with are kept; the others are derived from the
    keys (see the module docstring). ``parent_outcomes`` adds, inside each parent's group,
    an outcome that carries the parent's rolled-up proficiency. ``scales=False`` leaves out
    ratings, mastery points and methods (account-level mastery scales on).
    ``new_decay=False``: Canvas stores ``standard_decaying_average`` as
    ``decaying_average``, so that is what is expected back.
    """
    notes: list[str] = []
    too_long: list[str] = []
    guids = _Guids(framework)
    root = frame_guid(framework)
    groups: list[GroupNode] = []
    if root != ROOT:
        guids.claim(root, framework.key, group=True)
        groups.append(
            GroupNode(
                guid=root,
                title=_title(framework.title, framework.key, too_long),
                description=description_out(framework.description, framework.description_format),
            )
        )
    outcomes: list[OutcomeNode] = []
    downgraded: list[str] = []
    by_key = {c.key: c for c in framework.competencies}

    def outcome_for(competency: Competency, guid: str, parents: tuple[str, ...]) -> OutcomeNode:
        scale = framework.scale_for(competency.key)
        method, value = framework.method_for(competency.key)
        if method is CalculationMethod.STANDARD_DECAYING_AVERAGE and not new_decay:
            method = CalculationMethod.DECAYING_AVERAGE
            downgraded.append(competency.key)
        return OutcomeNode(
            guid=guids.claim(guid, competency.key, group=False),
            title=_title(competency.title, competency.key, too_long),
            display_name=display_name_of(competency),
            description=description_out(competency.description, competency.description_format),
            friendly_description=_text_property(competency, FRIENDLY_PROPERTY) or "",
            mastery_points=scale.effective_mastery_points if scales else None,
            ratings=ratings_of(scale) if scales else (),
            calculation_method=method.value if scales else None,
            calculation_int=effective_calculation_int(method, value) if scales else None,
            parents=parents,
        )

    leaves: list[tuple[Competency, str]] = []
    for competency in framework.walk():
        parent = guids.of(by_key[competency.parent]) if competency.parent is not None else root
        if framework.children_of(competency.key) or competency.properties.get(GROUP_PROPERTY):
            guid = guids.claim(guids.of(competency), competency.key, group=True)
            groups.append(
                GroupNode(
                    guid=guid,
                    title=_title(competency.title, competency.key, too_long),
                    description=description_out(
                        competency.description, competency.description_format
                    ),
                    parent=parent,
                )
            )
            if parent_outcomes:
                outcomes.append(outcome_for(competency, guids.rollup_of(competency), (guid,)))
        else:
            leaves.append((competency, parent))
    group_guids = {g.guid for g in groups} | {ROOT}
    dropped: list[str] = []
    for competency, parent in leaves:
        also = [p for p in _also_in(competency) if p != parent]
        dropped.extend(p for p in also if p not in group_guids)
        extra = tuple(dict.fromkeys(p for p in also if p in group_guids))
        outcomes.append(outcome_for(competency, guids.of(competency), (parent, *extra)))
    if too_long:
        raise MappingError(
            f"Canvas titles hold at most {MAX_TITLE} characters; shorten the title of: "
            + ", ".join(too_long)
        )
    long_friendly = [o.guid for o in outcomes if len(o.friendly_description or "") > MAX_FRIENDLY]
    if long_friendly:
        raise MappingError(
            f"Canvas friendly descriptions hold at most {MAX_FRIENDLY} characters; shorten "
            "the one of: " + ", ".join(long_friendly)
        )
    notes.extend(_loss_notes(framework, parent_outcomes=parent_outcomes))
    if dropped:
        notes.append(
            f"{len(dropped)} further link(s) of outcomes name groups that are not in the "
            f"framework and are left out: {', '.join(sorted(set(dropped))[:5])}"
        )
    if downgraded:
        notes.append(
            f"{len(downgraded)} outcome(s) use standard_decaying_average, but the "
            "outcomes_new_decaying_average_calculation flag is off: Canvas stores and "
            "computes them as decaying_average (legacy weighted average)"
        )
    return OutcomeTree(
        groups=tuple(groups), outcomes=tuple(outcomes), notes=tuple(notes), frame=root
    )


def _also_in(competency: Competency) -> list[str]:
    value = competency.properties.get(ALSO_IN_PROPERTY)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _title(title: str, key: str, too_long: list[str]) -> str:
    if len(title) > MAX_TITLE:
        too_long.append(key)
    return title


def _text_property(competency: Competency, name: str) -> str | None:
    value = competency.properties.get(name)
    return value if isinstance(value, str) else None


def _loss_notes(framework: Framework, *, parent_outcomes: bool) -> list[str]:
    """What of the framework Canvas cannot hold, said once each."""
    notes: list[str] = []
    ruled = [c.key for c in framework.competencies if c.rollup is not None]
    if ruled:
        carried = (
            "each parent's group holds an outcome (guid ending ':rollup') to carry the "
            "rolled-up proficiency written by 'canvas mastery'"
            if parent_outcomes
            else "use parent outcomes (--parent-outcomes) to show the rolled-up "
            "proficiency in Canvas"
        )
        notes.append(
            f"{len(ruled)} rollup rule(s) ({', '.join(ruled[:5])}"
            f"{', ...' if len(ruled) > 5 else ''}) cannot live in Canvas: outcome groups "
            f"have no mastery; comp_adapters computes them; {carried}"
        )
    if any(c.related for c in framework.competencies):
        notes.append("relations between competencies are not written (Canvas has none)")
    if any(level.description for level in framework.scale.levels):
        notes.append("scale level descriptions are not written (Canvas ratings have a name only)")
    return notes


# -- Canvas REST -> tree -----------------------------------------------------------------------


def group_guid_of(group: wire.WireGroup | wire.WireGroupRef) -> str:
    return group.vendor_guid or f"canvas_outcome_group:{group.id}"


def outcome_guid_of(outcome: wire.WireOutcome) -> str:
    return outcome.vendor_guid or f"canvas_outcome:{outcome.id}"


def ratings_from_wire(ratings: Sequence[wire.WireRating] | None) -> tuple[Rating, ...]:
    """Ratings highest first (Canvas's order); a missing description stays empty."""
    found = [Rating(float(r.points or 0.0), r.description or "") for r in ratings or ()]
    return tuple(sorted(found, key=lambda r: -r.points))


def outcome_node_from_wire(
    outcome: wire.WireOutcome, parents: tuple[str, ...], *, locked: tuple[str, ...] = ()
) -> OutcomeNode:
    """An outcome from its JSON. A ``friendly_description`` of ``null`` tells nothing:
    Canvas's ``Api::V1::Outcome#outcome_json`` looks it up with a string id in a map keyed
    by integer ids, so the REST lists never carry one (only the account export does)."""
    return OutcomeNode(
        guid=outcome_guid_of(outcome),
        title=outcome.title,
        display_name=outcome.display_name,
        description=outcome.description,
        friendly_description=outcome.friendly_description or None,
        mastery_points=outcome.mastery_points,
        ratings=ratings_from_wire(outcome.ratings),
        calculation_method=outcome.calculation_method,
        calculation_int=outcome.calculation_int,
        parents=parents,
        canvas_id=outcome.id,
        can_edit=outcome.can_edit is not False,
        locked=locked,
    )


def tree_from_rest(
    groups: Iterable[wire.WireGroup], links: Iterable[wire.WireOutcomeLink]
) -> OutcomeTree:
    """The tree of one context from its group list and link list (``outcome_style=full``).

    The group without a parent is the context's root (:data:`ROOT`). An outcome linked
    into several groups has all of them in ``parents``, in link order; the links Canvas
    reports ``can_unlink: false`` are also in its ``locked``.
    """
    listed = list(groups)
    roots = [g for g in listed if g.parent_outcome_group is None]
    root_ids = {g.id for g in roots}
    by_id = {g.id: g for g in listed}
    nodes: dict[int, GroupNode] = {}
    for group in listed:
        if group.id in root_ids:
            continue
        parent_ref = group.parent_outcome_group
        parent = ROOT
        if parent_ref is not None and parent_ref.id not in root_ids:
            parent = group_guid_of(by_id.get(parent_ref.id, parent_ref))
        nodes[group.id] = GroupNode(
            guid=group_guid_of(group),
            title=group.title,
            description=group.description,
            parent=parent,
            canvas_id=group.id,
        )
    ordered = _parents_first(list(nodes.values()))
    outcomes: dict[int, OutcomeNode] = {}
    for link in links:
        parent = ROOT if link.outcome_group.id in root_ids else group_guid_of(link.outcome_group)
        locked = (parent,) if link.can_unlink is False else ()
        known = outcomes.get(link.outcome.id)
        if known is None:
            outcomes[link.outcome.id] = outcome_node_from_wire(
                link.outcome, (parent,), locked=locked
            )
        elif parent not in known.parents:
            outcomes[link.outcome.id] = replace(
                known, parents=(*known.parents, parent), locked=(*known.locked, *locked)
            )
    return OutcomeTree(
        groups=tuple(ordered),
        outcomes=tuple(outcomes.values()),
        root_id=roots[0].id if len(roots) == 1 else None,
    )


def _parents_first(groups: list[GroupNode]) -> list[GroupNode]:
    by_guid = {g.guid: g for g in groups}
    done: set[str] = set()
    ordered: list[GroupNode] = []

    def visit(group: GroupNode, trail: frozenset[str]) -> None:
        if group.guid in done or group.guid in trail:
            return
        parent = by_guid.get(group.parent)
        if parent is not None:
            visit(parent, trail | {group.guid})
        done.add(group.guid)
        ordered.append(group)

    for group in groups:
        visit(group, frozenset())
    return ordered


# -- tree -> framework -------------------------------------------------------------------------

_METHOD_ALIASES = {"weighted_average": CalculationMethod.DECAYING_AVERAGE}


def method_from_canvas(name: str | None) -> CalculationMethod | None:
    """A stored Canvas method name as a core method (``weighted_average`` is the legacy one)."""
    if not name:
        return None
    if name in _METHOD_ALIASES:
        return _METHOD_ALIASES[name]
    try:
        return CalculationMethod(name)
    except ValueError:
        raise MappingError(f"unknown Canvas calculation method {name!r}") from None


def scale_from_ratings(
    ratings: Sequence[Rating], mastery_points: float | None, *, where: str = "outcome"
) -> ProficiencyScale:
    """A core scale from Canvas ratings and mastery points.

    Levels at or above ``mastery_points`` (Canvas default: the top rating) are proficient;
    the lowest of them is the default level. Level keys are the rating descriptions; a
    rating without one becomes level ``level-<points>`` named ``<points> points``, which
    :func:`ratings_of` writes back without a description.
    """
    ascending = sorted(ratings, key=lambda r: r.points)
    if not ascending:
        raise MappingError(f"{where}: no ratings")
    for low, high in itertools.pairwise(ascending):
        if low.points == high.points:
            raise MappingError(f"{where}: two ratings have {low.points:g} points")
    if ascending[0].points < 0:
        raise MappingError(f"{where}: rating points below 0 are not supported")
    top = ascending[-1].points
    mastery = top if mastery_points is None else mastery_points
    if mastery > top:
        raise MappingError(
            f"{where}: mastery_points {mastery:g} is above the top rating ({top:g} points)"
        )
    keys: list[str] = []
    for rating in ascending:
        name = rating.description.strip()[:100].strip()
        keys.append(name if name and name not in keys else blank_rating_key(rating.points))
    levels = tuple(
        ScaleLevel(
            key=key,
            name=rating.description.strip() or blank_rating_name(rating.points),
            points=rating.points,
            proficient=rating.points >= mastery,
        )
        for key, rating in zip(keys, ascending, strict=True)
    )
    default = next(level for level in levels if level.proficient)
    exact = default.points == mastery or mastery < ascending[0].points
    return ProficiencyScale(
        levels=levels, default_level=default.key, mastery_points=None if exact else mastery
    )


@dataclass(frozen=True, slots=True)
class PullDefaults:
    """What to assume where a source leaves scale or method out.

    Canvas gives a rating-less outcome its default criterion; a blank CSV method means
    Canvas's default; REST reports a null method, which Canvas scores as ``highest``.
    """

    ratings: tuple[Rating, ...] = tuple(Rating(p, d) for p, d in CANVAS_DEFAULT_RATINGS)
    mastery_points: float | None = CANVAS_DEFAULT_MASTERY
    calculation_method: CalculationMethod = CalculationMethod.HIGHEST
    calculation_int: int | None = None


def framework_from_tree(
    tree: OutcomeTree,
    *,
    framework_key: str | None = None,
    fallback_key: str = "canvas-outcomes",
    title: str | None = None,
    defaults: PullDefaults | None = None,
    source: str | None = None,
) -> Framework:
    """A core framework from an outcome tree.

    The framework is the group whose guid is ``framework_guid(framework_key)`` when there is
    one, else the tree's single top-level group (when no outcome sits at the top), else the
    whole tree (``properties["canvas.at_root"]``), keyed ``fallback_key`` unless its guids
    name one framework. Keys come from our guids (``<framework>:<competency>``), else from
    the guid itself; every object keeps its guid in ``external_ids["canvas.vendor_guid"]``,
    and an outcome linked into several groups of the framework keeps the first as its
    parent and the others in ``properties["canvas.also_in"]``.
    """
    defaults = defaults or PullDefaults()
    frame, key = _find_frame(tree, framework_key)
    if frame is not None:
        tree = tree.subtree(frame.guid)
    key = key or framework_key or fallback_key
    top = frame.guid if frame is not None else ROOT
    groups = [g for g in tree.groups if frame is None or g.guid != frame.guid]
    keys = _Keys(key)
    rollups, plain = _split_rollups(tree.outcomes, key)
    base_scale_sig, base_method = _votes([*plain, *rollups.values()], defaults)
    base_scale = scale_from_ratings(
        base_scale_sig[0], base_scale_sig[1], where=f"framework {key!r}"
    )

    competencies: list[dict[str, Any]] = []
    group_keys: dict[str, str] = {}
    for group in groups:
        ckey = keys.for_guid(group.guid)
        group_keys[group.guid] = ckey
        parent_key = group_keys.get(group.parent) if group.parent != top else None
        item = _item(ckey, group.title, parent_key, group.description)
        item["external_ids"] = _external_ids(group.guid, group.canvas_id, "group")
        rollup = rollups.get(group.guid)
        if rollup is not None:
            item["external_ids"][ROLLUP_GUID_ID] = rollup.guid
            if rollup.canvas_id is not None:
                item["external_ids"]["canvas.rollup_outcome_id"] = str(rollup.canvas_id)
            item.update(_scale_fields(rollup, defaults, base_scale_sig, base_method))
        competencies.append(item)
    for outcome in plain:
        item = _outcome_item(outcome, keys.for_guid(outcome.guid), group_keys, top=top)
        item.update(_scale_fields(outcome, defaults, base_scale_sig, base_method))
        competencies.append(item)
    parents = {item["parent"] for item in competencies}
    for item in competencies[: len(groups)]:
        if item["key"] not in parents:  # an empty group stays a group, not a leaf
            item.setdefault("properties", {})[GROUP_PROPERTY] = True

    frame_text, frame_format = description_in(frame.description if frame else None)
    data: dict[str, Any] = {
        "key": key,
        "title": (frame.title if frame else None) or title or key,
        "scale": base_scale.model_dump(mode="json", exclude_defaults=True),
        "calculation_method": base_method[0].value,
        "competencies": competencies,
    }
    if base_method[1] is not None:
        data["calculation_int"] = base_method[1]
    if frame_text is not None:
        data.update(description=frame_text, description_format=frame_format)
    if frame is not None:
        data["external_ids"] = _external_ids(frame.guid, frame.canvas_id, "group")
    else:
        data["properties"] = {AT_ROOT_PROPERTY: True}
    return framework_from_data(data, source=source)


def framework_from_file_tree(
    tree: OutcomeTree,
    *,
    source: str,
    name: str,
    defaults: PullDefaults,
    framework_key: str | None = None,
) -> Framework:
    """:func:`framework_from_tree` for a file named ``name`` (its stem): what the core cannot
    hold is a located problem."""
    fallback_key = "-".join(name.split())[:100].strip("-") or "canvas-outcomes"
    try:
        return framework_from_tree(
            tree,
            framework_key=framework_key,
            fallback_key=fallback_key,
            title=name,
            defaults=defaults,
            source=source,
        )
    except MappingError as exc:
        raise ValidationError([Problem(str(exc), source)]) from None


def _outcome_item(
    outcome: OutcomeNode, key: str, group_keys: Mapping[str, str], *, top: str
) -> dict[str, Any]:
    """A leaf competency from an outcome linked into groups of the framework (``top``, the
    framework's own group or the root, is its top level): the first of them below the top
    is its parent, the others go to ``properties["canvas.also_in"]``."""
    inside = [p for p in outcome.parents if p in group_keys or p == top]
    inside.sort(key=lambda p: p == top)  # stable: groups below the top first
    parent = inside[0] if inside else None
    item = _item(key, outcome.title, group_keys.get(parent or ""), outcome.description)
    item["external_ids"] = _external_ids(outcome.guid, outcome.canvas_id, "outcome")
    properties: dict[str, Any] = {}
    if len(inside) > 1:
        properties[ALSO_IN_PROPERTY] = inside[1:]
    if outcome.display_name is not None and outcome.display_name != key:
        properties[DISPLAY_NAME_PROPERTY] = outcome.display_name
    if outcome.friendly_description:
        properties[FRIENDLY_PROPERTY] = outcome.friendly_description
    if properties:
        item["properties"] = properties
    return item


def _item(key: str, title: str, parent: str | None, description: str | None) -> dict[str, Any]:
    text, text_format = description_in(description)
    item: dict[str, Any] = {"key": key, "title": title or key, "parent": parent}
    if text is not None:
        item.update(description=text, description_format=text_format)
    return item


def _split_rollups(
    outcomes: Iterable[OutcomeNode], framework_key: str
) -> tuple[dict[str, OutcomeNode], list[OutcomeNode]]:
    """Parent outcomes (``:rollup`` guids, by the guid of the group they sit in) apart from
    the others."""
    rollups: dict[str, OutcomeNode] = {}
    plain: list[OutcomeNode] = []
    for outcome in outcomes:
        parsed = parse_guid(outcome.guid)
        if parsed and parsed.rollup and parsed.framework == framework_key:
            rollups[outcome.parents[0]] = outcome
        else:
            plain.append(outcome)
    return rollups, plain


ScaleSignature = tuple[tuple[Rating, ...], float | None]


def _votes(
    outcomes: Sequence[OutcomeNode], defaults: PullDefaults
) -> tuple[ScaleSignature, tuple[CalculationMethod, int | None]]:
    """The most common scale and method: the framework's; the others stay per competency."""
    scale_votes: Counter[ScaleSignature] = Counter()
    method_votes: Counter[tuple[CalculationMethod, int | None]] = Counter()
    for outcome in outcomes:
        scale_votes[_scale_signature(outcome, defaults)] += 1
        method_votes[_method_of(outcome, defaults)] += 1
    scale = (
        scale_votes.most_common(1)[0][0]
        if scale_votes
        else (defaults.ratings, defaults.mastery_points)
    )
    method = (
        method_votes.most_common(1)[0][0]
        if method_votes
        else (defaults.calculation_method, defaults.calculation_int)
    )
    return scale, method


def _find_frame(
    tree: OutcomeTree, framework_key: str | None
) -> tuple[GroupNode | None, str | None]:
    if framework_key is not None:
        found = tree.group(framework_guid(framework_key))
        return found, framework_key
    top_groups = [g for g in tree.groups if g.parent == ROOT]
    top_outcomes = [o for o in tree.outcomes if ROOT in o.parents]
    if len(top_groups) == 1 and not top_outcomes:
        parsed = parse_guid(top_groups[0].guid)
        if parsed is not None and parsed.competency is None:
            return top_groups[0], parsed.framework
    ours = [parse_guid(guid) for guid in _all_guids(tree)]
    frameworks = {p.framework for p in ours if p is not None and p.competency is not None}
    return None, (frameworks.pop() if len(frameworks) == 1 else None)


def _all_guids(tree: OutcomeTree) -> Iterable[str]:
    yield from (g.guid for g in tree.groups)
    yield from (o.guid for o in tree.outcomes)


class _Keys:
    """Competency keys from guids: ours decode to the competency key; others are kept."""

    def __init__(self, framework_key: str) -> None:
        self.framework_key = framework_key
        self.used: set[str] = set()

    def for_guid(self, guid: str) -> str:
        parsed = parse_guid(guid)
        if parsed and parsed.framework == self.framework_key and parsed.competency:
            key = parsed.competency
        else:
            key = guid
        key = key.strip()
        if len(key) > 100 or not key:
            digest = hashlib.sha256(guid.encode()).hexdigest()[:10]
            key = f"{key[:89].strip()}~{digest}"
        base, n = key, 2
        while key in self.used:
            key = f"{base[:95]}#{n}"
            n += 1
        self.used.add(key)
        return key


def _external_ids(guid: str, canvas_id: int | None, kind: str) -> dict[str, str]:
    ids = {VENDOR_GUID_ID: guid}
    if canvas_id is not None:
        ids[f"canvas.{kind}_id"] = str(canvas_id)
    return ids


def _scale_signature(
    outcome: OutcomeNode, defaults: PullDefaults
) -> tuple[tuple[Rating, ...], float | None]:
    if not outcome.ratings:
        return defaults.ratings, defaults.mastery_points
    return outcome.ratings, outcome.mastery_points


def _method_of(
    outcome: OutcomeNode, defaults: PullDefaults
) -> tuple[CalculationMethod, int | None]:
    method = method_from_canvas(outcome.calculation_method)
    if method is None:
        return defaults.calculation_method, defaults.calculation_int
    value = outcome.calculation_int
    if value is not None and check_calculation_int(method, value):
        raise MappingError(f"outcome {outcome.guid!r}: {check_calculation_int(method, value)}")
    return method, effective_calculation_int(method, value)


def _scale_fields(
    outcome: OutcomeNode,
    defaults: PullDefaults,
    base_scale: tuple[tuple[Rating, ...], float | None],
    base_method: tuple[CalculationMethod, int | None],
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    signature = _scale_signature(outcome, defaults)
    if signature != base_scale:
        scale = scale_from_ratings(signature[0], signature[1], where=f"outcome {outcome.guid!r}")
        fields["scale"] = scale.model_dump(mode="json", exclude_defaults=True)
    method = _method_of(outcome, defaults)
    if method != base_method:
        fields["calculation_method"] = method[0].value
        if method[1] is not None:
            fields["calculation_int"] = method[1]
    return fields


# -- results -> evidence -------------------------------------------------------------------------


def outcome_points(outcome: wire.WireOutcome) -> tuple[float | None, float | None]:
    """(points_possible, mastery_points) of an outcome, from its ratings when not given."""
    possible = outcome.points_possible
    if possible is None and outcome.ratings:
        possible = max(float(r.points or 0.0) for r in outcome.ratings)
    return possible, outcome.mastery_points


def result_percent(
    *,
    score: float | None,
    possible: float | None,
    percent: float | None,
    alignment_mastery: float | None,
    points_possible: float | None,
    mastery_points: float | None,
) -> float | None:
    """A result's percent the way Canvas stores it (``LearningOutcomeResult#calculate_percent``).

    Canvas's own ``percent`` wins when present. Otherwise score/possible, rescaled so an
    alignment's own mastery threshold (a quiz bank's ``mastery_score``) lands on the
    outcome's mastery fraction, rounded to 4 places; with no ``possible``, the score over
    the outcome's points possible (or mastery points).
    """
    if percent is not None:
        return percent
    if score is None:
        return None
    if possible:
        raw = score / possible
        if alignment_mastery and points_possible and mastery_points is not None:
            outcome_mastery = mastery_points / points_possible
            if alignment_mastery != outcome_mastery:
                raw = _rescale(raw, alignment_mastery, outcome_mastery)
        return ruby_round(raw, 4)
    if points_possible:
        return ruby_round(score / points_possible, 4)
    if mastery_points:
        return ruby_round(score / mastery_points, 4)
    return None


def _rescale(raw: float, alignment_mastery: float, outcome_mastery: float) -> float:
    if raw <= alignment_mastery:
        return raw * (outcome_mastery / alignment_mastery)
    span = 1.0 - alignment_mastery
    if span <= 0:
        return raw
    return outcome_mastery + (raw - alignment_mastery) * (1.0 - outcome_mastery) / span


def scaled_score(
    result: wire.WireOutcomeResult,
    outcome: wire.WireOutcome,
    *,
    alignment_mastery: float | None = None,
    scale: tuple[float | None, float | None] | None = None,
) -> float | None:
    """The score a result contributes to a rollup, on the outcome's (or ``scale``'s) points.

    ``scale`` = (points_possible, mastery_points) of the effective scale: the context's
    mastery scale when account-level mastery scales are on.
    """
    possible, mastery = scale if scale is not None else outcome_points(outcome)
    own_possible, own_mastery = outcome_points(outcome)
    percent = result_percent(
        score=result.score,
        possible=result.possible,
        percent=result.percent,
        alignment_mastery=alignment_mastery,
        points_possible=own_possible,
        mastery_points=own_mastery,
    )
    if percent is None:
        return result.score
    if possible:
        return percent * possible
    if mastery:
        return percent * mastery
    return result.score


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""When a result without a time happened, for Canvas: ``nil.to_i`` is 0, the oldest of all
(``RollupScoreAggregatorHelper#result_time``)."""


def result_time(result: wire.WireOutcomeResult) -> datetime | None:
    """When a result counts, at the precision Canvas orders by; ``None`` if unreadable.

    Canvas sorts a user's results by ``(submitted_at || assessed_at).to_i``, whole seconds
    (``RollupScoreAggregatorHelper#sorted_results``), so the fraction is dropped and
    results within one second tie (their order is then the result id, see
    :func:`result_sequence`). A result without a time is the oldest: :data:`EPOCH`.
    """
    if not result.submitted_or_assessed_at:
        return EPOCH
    try:
        when = parse_utc(result.submitted_or_assessed_at)
    except ValueError:
        return None
    return datetime.fromtimestamp(math.floor(when.timestamp()), tz=UTC)


def result_sequence(result: wire.WireOutcomeResult) -> int | None:
    """Canvas's own order among results of the same second: the result id.

    Canvas reads results ordered by id (``Outcomes::ResultAnalytics#order_results_for_rollup``)
    and sorts them by time, so of two results in one second the higher id counts as
    later. New Quizzes results (Outcomes Service) have no id and come after the others.
    """
    return result.id


def result_ids(result: wire.WireOutcomeResult) -> tuple[str, str]:
    """(evidence id, source id) of a result, stable across reads.

    Canvas's results have ids; New Quizzes results served from the Outcomes Service come
    with ``"id": null`` and are identified by what they are about instead: the learner, the
    outcome, the alignment and the assignment (a new attempt updates the same result).
    """
    if result.id is not None:
        return f"canvas:outcome_result:{result.id}", str(result.id)
    links = result.links
    parts = (links.user, links.learning_outcome, links.alignment or "", links.assignment or "")
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]
    return f"canvas:outcome_result:os-{digest}", f"os-{digest}"


def evidence_from_result(
    result: wire.WireOutcomeResult,
    *,
    learner: str,
    competency: str,
    outcome: wire.WireOutcome,
    alignment: wire.WireAlignment | None,
    observed_at: datetime,
) -> tuple[Evidence, bool]:
    """Core evidence for one result, and whether a score below 0 had to be raised to 0.

    The fraction is the result's percent: the engine multiplies it by the competency's
    top points, which is how Canvas scales a result to the outcome (percent x points
    possible). Extra credit stays: a percent of 1.5 on a 4-point outcome counts 6.0, as
    in Canvas (``RollupScoreAggregatorHelper#result_score`` does not cap it).
    """
    possible, mastery = outcome_points(outcome)
    percent = result_percent(
        score=result.score,
        possible=result.possible,
        percent=result.percent,
        alignment_mastery=alignment.mastery_score if alignment else None,
        points_possible=possible,
        mastery_points=mastery,
    )
    raised = percent is not None and percent < 0.0
    fraction = None if percent is None else max(percent, 0.0)
    note = alignment.name if alignment is not None and alignment.name else None
    evidence_id, source_id = result_ids(result)
    evidence = Evidence(
        id=evidence_id,
        learner=learner,
        competency=competency,
        kind=EvidenceKind.ASSESSMENT,
        score=fraction,
        success=result.mastery if fraction is None else None,
        observed_at=observed_at,
        recorded_at=observed_at,
        sequence=result_sequence(result),
        source_system="canvas",
        source_id=source_id,
        note=note,
    )
    return evidence, raised


# -- rollups -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RollupCheck:
    """Our rollup of a user's results on an outcome next to Canvas's."""

    user: str
    outcome_id: str
    ours: float | None
    canvas: float | None
    count: int

    @property
    def matches(self) -> bool:
        return self.ours == self.canvas


def rollup_method(name: str | None, *, new_decay: bool | None) -> CalculationMethod:
    """The maths Canvas's rollups run for a stored method name.

    ``RollupScore#adjust_calculation_method``: ``decaying_average`` and ``weighted_average``
    are always the legacy weighted average; ``standard_decaying_average`` is the true
    decaying average only with the new-decay flag on, else the legacy one too. ``None``
    (the flag could not be read) keeps the stored name. A null method is ``highest``.
    """
    method = method_from_canvas(name) or CalculationMethod.HIGHEST
    if method is CalculationMethod.STANDARD_DECAYING_AVERAGE and new_decay is False:
        return CalculationMethod.DECAYING_AVERAGE
    return method


def expected_rollups(
    results: Iterable[wire.WireOutcomeResult],
    outcomes: Mapping[str, wire.WireOutcome],
    *,
    alignments: Mapping[str, wire.WireAlignment] | None = None,
    context_method: tuple[str, int | None] | None = None,
    context_scale: tuple[float | None, float | None] | None = None,
    new_decay: bool | None = None,
) -> dict[tuple[str, str], tuple[float | None, int]]:
    """(user, outcome id) -> (score, count) computed with :func:`comp_adapters.rules.calculate`.

    Follows Canvas's ``RollupScore``: hidden results and results without a score are left
    out, scores are scaled (:func:`scaled_score`), ordered by time in whole seconds oldest
    first (a result without a time first of all), ties by result id, results without an id
    (New Quizzes) after those with one in the order listed, and rolled up with the maths
    Canvas runs for the outcome's method (or the context's, under account-level mastery
    scales; :func:`rollup_method`).
    """
    alignments = alignments or {}
    grouped: dict[tuple[str, str], list[tuple[datetime, int, int, float]]] = {}
    for position, result in enumerate(results):
        if result.hidden or result.score is None:
            continue
        outcome = outcomes.get(result.links.learning_outcome)
        when = result_time(result)
        if outcome is None or when is None:
            continue
        alignment = alignments.get(result.links.alignment or "")
        value = scaled_score(
            result,
            outcome,
            alignment_mastery=alignment.mastery_score if alignment else None,
            scale=context_scale,
        )
        if value is None:
            continue
        key = (result.links.user, result.links.learning_outcome)
        order = (0, result.id) if result.id is not None else (1, position)
        grouped.setdefault(key, []).append((when, *order, value))
    computed: dict[tuple[str, str], tuple[float | None, int]] = {}
    for (user, outcome_id), rows in grouped.items():
        rows.sort()
        outcome = outcomes[outcome_id]
        method_name: str | None
        if context_method is not None:
            method_name, method_int = context_method
        else:
            method_name, method_int = outcome.calculation_method, outcome.calculation_int
        method = rollup_method(method_name, new_decay=new_decay)
        if check_calculation_int(method, method_int):
            method_int = None
        mastery = context_scale[1] if context_scale else outcome_points(outcome)[1]
        score = calculate(
            method,
            [row[-1] for row in rows],
            calculation_int=method_int,
            mastery_points=mastery if mastery is not None else outcome_points(outcome)[0],
        )
        computed[(user, outcome_id)] = (score, len(rows))
    return computed


def compare_rollups(
    expected: Mapping[tuple[str, str], tuple[float | None, int]],
    rollups: Iterable[wire.WireRollup],
) -> list[RollupCheck]:
    """Pair our numbers with Canvas's, one check per (user, outcome) Canvas reported."""
    checks: dict[tuple[str, str], RollupCheck] = {}
    for rollup in rollups:
        user = rollup.links.user
        if user is None:
            continue
        for score in rollup.scores:
            key = (user, score.links.outcome)
            ours, count = expected.get(key, (None, 0))
            checks[key] = RollupCheck(user, score.links.outcome, ours, score.score, count)
    return [checks[key] for key in sorted(checks)]
