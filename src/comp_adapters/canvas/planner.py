"""The pure differs of the Canvas adapter: what Canvas should hold vs. what it holds -> Plan.

Every diff has one shape, ``plan_<thing>(desired, snapshot, options) -> Plan``: ``desired``
is what we want, ``snapshot`` a frozen record of what the adapter read from Canvas, and
``options`` a frozen record of the choices. Nothing here reads or writes Canvas, a file or
the clock; the same inputs always give the same plan.

* :func:`plan_framework`: a framework as outcome groups, outcomes and links (REST calls or
  one outcomes CSV import), and under account-level mastery scales the context's scale.
* :func:`plan_proficiency`: computed mastery as rubric assessments (Canvas has no endpoint
  that writes an outcome result): one assignment whose rubric criteria are aligned to the
  outcomes, one assessment per learner.

Changes are keyed by vendor_guid (``group:<guid>``, ``outcome:<guid>``, ``link:<guid>``),
so a plan made after a crash finds what the crashed run created instead of creating it
again. Ids Canvas assigned travel in the change: ``fields`` hold the ids a write needs
(``parent_id``, ``group_id``, ``outcome_id``) and ``before`` holds ``canvas_id``, the id of
the object an update or link applies to.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import JsonValue

from comp_adapters.canvas import mapping, wire
from comp_adapters.canvas.executor import Kind, is_imported
from comp_adapters.canvas.features import Flags
from comp_adapters.canvas.mapping import (
    ROOT,
    GroupNode,
    OutcomeNode,
    OutcomeTree,
    method_from_canvas,
    ratings_json,
)
from comp_adapters.canvas.numbers import locale_format
from comp_adapters.core.calculation import (
    DEFAULT_CALCULATION_INT,
    CalculationMethod,
    effective_calculation_int,
)
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import PlanError
from comp_adapters.sync.plan import Action, Change, Plan

if TYPE_CHECKING:
    from comp_adapters.canvas.settings import Strategy

ADAPTER = "canvas"
SCALE_FIELDS = ("mastery_points", "ratings", "calculation_method", "calculation_int")
Node = TypeVar("Node", GroupNode, OutcomeNode)
_DEFAULT_COLORS = ("0374B5", "0B874B", "FAB901", "D97900", "E0061F", "555555")

__all__ = [
    "AssignmentState",
    "CsvRenderer",
    "FrameworkOptions",
    "FrameworkSnapshot",
    "MasteryWanted",
    "ProficiencyOptions",
    "ProficiencySnapshot",
    "infer_new_decay",
    "plan_framework",
    "plan_proficiency",
    "ratings_json",
    "tree_fingerprint",
]


def _same_text(a: str | None, b: str | None) -> bool:
    return (a or "").strip() == (b or "").strip()


def group_fields(group: GroupNode) -> dict[str, JsonValue]:
    return {"title": group.title, "description": group.description, "parent": group.parent}


def outcome_fields(outcome: OutcomeNode, *, scales: bool) -> dict[str, JsonValue]:
    fields: dict[str, JsonValue] = {
        "title": outcome.title,
        "display_name": outcome.display_name,
        "description": outcome.description,
    }
    if outcome.friendly_description:
        fields["friendly_description"] = outcome.friendly_description
    if scales:
        fields.update(
            mastery_points=outcome.mastery_points,
            ratings=ratings_json(outcome.ratings),
            calculation_method=outcome.calculation_method,
            calculation_int=outcome.calculation_int,
        )
    return fields


def _group_diff(want: GroupNode, have: GroupNode) -> dict[str, tuple[JsonValue, JsonValue]]:
    diff: dict[str, tuple[JsonValue, JsonValue]] = {}
    if not _same_text(want.title, have.title):
        diff["title"] = (want.title, have.title)
    if not _same_text(want.description, have.description):
        diff["description"] = (want.description, have.description)
    if want.parent != have.parent:
        diff["parent"] = (want.parent, have.parent)
    return diff


def stored_int(method: str | None, wanted: int | None, current: int | None) -> int | None:
    """The int Canvas keeps when a method changes to ``method`` with ``wanted``.

    Changing the method without changing the int resets the int to the new method's
    default (``LearningOutcome#adjust_calculation_int``), so an unchanged ``wanted`` that is
    not that default does not survive the write.
    """
    core = method_from_canvas(method)
    if core is None or wanted != current:
        return wanted
    return DEFAULT_CALCULATION_INT[core]


def _outcome_diff(
    want: OutcomeNode, have: OutcomeNode, *, scales: bool
) -> dict[str, tuple[JsonValue, JsonValue]]:
    diff: dict[str, tuple[JsonValue, JsonValue]] = {}
    for name in ("title", "display_name", "description"):
        a, b = getattr(want, name), getattr(have, name)
        if not _same_text(a, b):
            diff[name] = (a, b)
    # Compared only where Canvas told (its REST lists never carry friendly descriptions).
    if have.friendly_description is not None and not _same_text(
        want.friendly_description, have.friendly_description
    ):
        diff["friendly_description"] = (want.friendly_description, have.friendly_description)
    if not scales:
        return diff
    ratings_differ = tuple(want.ratings) != tuple(have.ratings)
    if ratings_differ or want.mastery_points != have.mastery_points:
        # Canvas resets mastery when ratings come alone: always write both together.
        diff["ratings"] = (ratings_json(want.ratings), ratings_json(have.ratings))
        diff["mastery_points"] = (want.mastery_points, have.mastery_points)
    if want.calculation_method != have.calculation_method or (
        want.calculation_int != have.calculation_int
    ):
        diff["calculation_method"] = (want.calculation_method, have.calculation_method)
        diff["calculation_int"] = (want.calculation_int, have.calculation_int)
    return diff


def plan_tree_changes(
    desired: OutcomeTree,
    remote: OutcomeTree,
    *,
    scales: bool,
    prune: bool = False,
) -> tuple[list[Change], list[str]]:
    """The changes that make ``remote`` hold ``desired``, and notes about what was found.

    Remote groups and outcomes are matched by vendor_guid; where Canvas holds duplicates
    (REST creation does not de-duplicate) the first is used and a note says so. The
    framework is ``desired.frame``: its group, or the whole context (:data:`ROOT`).
    """
    differ = _Differ(remote, desired.frame if desired.frame is not None else ROOT)
    for group in desired.groups:
        differ.group(group)
    for outcome in desired.outcomes:
        differ.outcome(outcome, scales=scales)
    if differ.uneditable:
        differ.notes.append(
            f"{len(differ.uneditable)} outcome(s) differ but belong to another account "
            f"(can_edit false), so they are left as they are: " + ", ".join(differ.uneditable[:5])
        )
    if prune:
        changes, notes = _prune(desired, differ.scope, differ.frame)
        differ.changes.extend(changes)
        differ.notes.extend(notes)
    return differ.changes, differ.notes


def infer_new_decay(desired: OutcomeTree, remote: OutcomeTree) -> bool | None:
    """Whether Canvas's new decaying average flag is on, told by what Canvas stores.

    For a token that cannot read the flags. With the flag off Canvas stores
    ``standard_decaying_average`` as ``decaying_average`` and keeps ``weighted_average``;
    with it on, the reverse. ``desired`` is the tree planned with the flag on; an outcome
    of it wanting the standard method that Canvas holds as ``decaying_average`` shows the
    flag off. ``None`` when nothing tells.
    """
    stored = {o.calculation_method for o in remote.outcomes}
    if CalculationMethod.STANDARD_DECAYING_AVERAGE.value in stored:
        return True
    if "weighted_average" in stored:
        return False
    standard = {
        o.guid
        for o in desired.outcomes
        if o.calculation_method == CalculationMethod.STANDARD_DECAYING_AVERAGE.value
    }
    downgraded = any(
        o.guid in standard and o.calculation_method == CalculationMethod.DECAYING_AVERAGE.value
        for o in remote.outcomes
    )
    return False if downgraded else None


def _update(
    change_id: str,
    kind: str,
    guid: str,
    diff: dict[str, tuple[JsonValue, JsonValue]],
    canvas_id: int | None,
    *,
    extra: dict[str, JsonValue] | None = None,
    depends_on: tuple[str, ...] = (),
) -> Change:
    """An update writing the new side of ``diff``; ``before`` holds the old side and the id."""
    return Change(
        id=change_id,
        action=Action.UPDATE,
        kind=kind,
        key=guid,
        fields={**{name: pair[0] for name, pair in diff.items()}, **(extra or {})},
        before={**{name: pair[1] for name, pair in diff.items()}, "canvas_id": canvas_id},
        depends_on=depends_on,
    )


def _by_guid(nodes: Iterable[Node], what: str, notes: list[str]) -> dict[str, Node]:
    """Nodes by vendor_guid; the first of duplicates wins and a note names the guid."""
    found: dict[str, Node] = {}
    for node in nodes:
        if node.guid in found:
            notes.append(f"Canvas holds more than one {what} with vendor_guid {node.guid!r}")
            continue
        found[node.guid] = node
    return found


class _Differ:
    """State of one diff: the remote objects by guid and the changes so far."""

    def __init__(self, remote: OutcomeTree, frame: str) -> None:
        self.remote = remote
        self.frame = frame
        self.notes: list[str] = []
        self.changes: list[Change] = []
        self.created: set[str] = set()
        self.uneditable: list[str] = []
        self.groups: dict[str, GroupNode] = _by_guid(remote.groups, "group", self.notes)
        self.outcomes: dict[str, OutcomeNode] = _by_guid(remote.outcomes, "outcome", self.notes)
        if frame == ROOT:
            self.scope = remote
        elif frame in self.groups:
            self.scope = remote.subtree(frame)
        else:
            self.scope = OutcomeTree()
        self.in_scope = {g.guid for g in self.scope.groups}
        if frame == ROOT:
            self.in_scope.add(ROOT)

    def group_id(self, guid: str) -> int | None:
        if guid == ROOT:
            return self.remote.root_id
        found = self.groups.get(guid)
        return found.canvas_id if found is not None else None

    def needs(self, guid: str) -> tuple[str, ...]:
        return (f"group:{guid}",) if guid in self.created else ()

    def group(self, want: GroupNode) -> None:
        have = self.groups.get(want.guid)
        if have is None:
            fields = {"vendor_guid": want.guid, **group_fields(want)}
            fields["parent_id"] = self.group_id(want.parent)
            self.changes.append(
                Change(
                    id=f"group:{want.guid}",
                    action=Action.CREATE,
                    kind=Kind.GROUP,
                    key=want.guid,
                    fields=fields,
                    depends_on=self.needs(want.parent),
                )
            )
            self.created.add(want.guid)
            return
        diff = _group_diff(want, have)
        if diff:
            moved = "parent" in diff
            self.changes.append(
                _update(
                    f"group:{want.guid}",
                    Kind.GROUP,
                    want.guid,
                    diff,
                    have.canvas_id,
                    extra={"parent_id": self.group_id(want.parent)} if moved else None,
                    depends_on=self.needs(want.parent) if moved else (),
                )
            )

    def outcome(self, want: OutcomeNode, *, scales: bool) -> None:
        parent = want.parents[0]
        have = self.outcomes.get(want.guid)
        if have is None:
            fields = {"vendor_guid": want.guid, **outcome_fields(want, scales=scales)}
            fields["group"] = parent
            fields["group_id"] = self.group_id(parent)
            self.changes.append(
                Change(
                    id=f"outcome:{want.guid}",
                    action=Action.CREATE,
                    kind=Kind.OUTCOME,
                    key=want.guid,
                    fields=fields,
                    depends_on=self.needs(parent),
                )
            )
            self._links(want, want.parents[1:], (), canvas_id=None, created=True)
            return
        diff = _outcome_diff(want, have, scales=scales)
        if diff and not have.can_edit:
            self.uneditable.append(want.guid)
        elif diff:
            self._update_outcome(want, have, diff)
        missing = [p for p in want.parents if p not in have.parents]
        stale = [p for p in have.parents if p in self.in_scope and p not in want.parents]
        self._links(want, missing, stale, canvas_id=have.canvas_id, created=False)

    def _update_outcome(
        self, want: OutcomeNode, have: OutcomeNode, diff: dict[str, tuple[JsonValue, JsonValue]]
    ) -> None:
        change_id = f"outcome:{want.guid}"
        kept = stored_int(want.calculation_method, want.calculation_int, have.calculation_int)
        if "calculation_method" in diff and want.calculation_method != have.calculation_method:
            diff["calculation_int"] = (kept, have.calculation_int)
        self.changes.append(_update(change_id, Kind.OUTCOME, want.guid, diff, have.canvas_id))
        if kept != want.calculation_int and "calculation_method" in diff:
            # The method change reset the int to its default; a second write sets it.
            self.changes.append(
                Change(
                    id=f"outcome_int:{want.guid}",
                    action=Action.UPDATE,
                    kind=Kind.OUTCOME_INT,
                    key=want.guid,
                    fields={"calculation_int": want.calculation_int},
                    before={"calculation_int": kept, "canvas_id": have.canvas_id},
                    depends_on=(change_id,),
                    reason="Canvas resets the int when the method changes alone",
                )
            )

    def _links(
        self,
        want: OutcomeNode,
        missing: Sequence[str],
        stale: Sequence[str],
        *,
        canvas_id: int | None,
        created: bool,
    ) -> None:
        """Links into the groups of ``missing``; the first moves a ``stale`` link if any."""
        for index, parent in enumerate(missing):
            move_from = stale[0] if index == 0 and stale else None
            depends = (*self.needs(parent), *((f"outcome:{want.guid}",) if created else ()))
            self.changes.append(
                Change(
                    id=f"link:{want.guid}" if index == 0 else f"link:{want.guid}@{parent}",
                    action=Action.LINK,
                    kind=Kind.LINK,
                    key=want.guid,
                    fields={
                        "group": parent,
                        "group_id": self.group_id(parent),
                        "outcome_id": canvas_id,
                        "move_from": move_from,
                        "move_from_id": self.group_id(move_from) if move_from else None,
                    },
                    before={
                        "groups": list(self.outcomes[want.guid].parents) if not created else [],
                        "canvas_id": canvas_id,
                    },
                    depends_on=depends,
                )
            )


def _prune(desired: OutcomeTree, scope: OutcomeTree, frame: str) -> tuple[list[Change], list[str]]:
    """Unlink outcomes and delete groups under the framework that it no longer has.

    Planned so Canvas carries every one out (they run as REST calls, also with the CSV
    strategy, since an import that deletes a group holding the last link of an aligned
    outcome fails whole and is rolled back): a link Canvas will not remove (``can_unlink``
    false, the last link of an aligned outcome: ``ContentTag#can_destroy?``) is kept and
    named, and so is every group above it, whose other contents are still removed. A wanted
    outcome linked in the wrong group keeps the link the plan moves (``move_from``).
    """
    wanted_groups = {g.guid for g in desired.groups} | {frame}
    wanted_parents = {o.guid: set(o.parents) for o in desired.outcomes}
    first_parent = {o.guid: o.parents[0] for o in desired.outcomes}
    groups = {g.guid: g for g in scope.groups}
    children: dict[str, list[str]] = {}  # unwanted groups by parent (wanted ones move out)
    for group in scope.groups:
        if group.guid not in wanted_groups:
            children.setdefault(group.parent, []).append(group.guid)
    locked_in: dict[str, list[str]] = {}  # group guid -> outcomes whose link there is locked
    for outcome in scope.outcomes:
        for parent in outcome.locked:
            locked_in.setdefault(parent, []).append(outcome.title or outcome.guid)

    def blocked(guid: str) -> list[str]:
        found = list(locked_in.get(guid, []))
        for child in children.get(guid, []):
            found.extend(blocked(child))
        return found

    changes: list[Change] = []
    kept: list[Change] = []
    deleted: set[str] = set()
    kept_groups: set[str] = set()

    def doom(guid: str) -> None:
        reasons = blocked(guid)
        group = groups[guid]
        if not reasons:
            deleted.add(guid)
            deleted.update(_descendants(guid, children))
            changes.append(
                Change(
                    id=f"delete:{guid}",
                    action=Action.DELETE,
                    kind=Kind.GROUP,
                    key=guid,
                    fields={},
                    before={"title": group.title, "canvas_id": group.canvas_id},
                )
            )
            return
        kept_groups.add(guid)
        kept.append(
            Change(
                id=f"keep:{guid}",
                action=Action.NOOP,
                kind=Kind.GROUP,
                key=guid,
                reason="kept: it holds the last link of aligned outcome(s) "
                + ", ".join(repr(r) for r in reasons[:3]),
            )
        )
        for child in children.get(guid, []):
            doom(child)

    for group in scope.groups:
        if group.guid not in wanted_groups and group.parent in wanted_groups | {ROOT}:
            doom(group.guid)
    in_framework = set(groups) | ({ROOT} if frame == ROOT else set())
    for outcome in scope.outcomes:
        wanted = wanted_parents.get(outcome.guid, set())
        stray = [p for p in outcome.parents if p in in_framework and p not in wanted]
        target = first_parent.get(outcome.guid)
        if target is not None and target not in outcome.parents and stray:
            stray = stray[1:]  # the first stray link is moved by the link change
        for parent in stray:
            if parent in deleted:
                continue  # deleting the group removes its links
            if parent in outcome.locked:
                if parent in kept_groups:
                    continue  # the kept group names it
                kept.append(
                    Change(
                        id=f"keep:{outcome.guid}@{parent}",
                        action=Action.NOOP,
                        kind=Kind.LINK,
                        key=outcome.guid,
                        reason="kept: Canvas refuses to remove the last link of an aligned "
                        "outcome (remove its alignments first)",
                    )
                )
                continue
            changes.append(
                Change(
                    id=f"unlink:{outcome.guid}@{parent}",
                    action=Action.UNLINK,
                    kind=Kind.LINK,
                    key=outcome.guid,
                    fields={"group": parent, "group_id": _group_id(parent, groups, scope)},
                    before={"canvas_id": outcome.canvas_id},
                )
            )
    notes: list[str] = []
    if kept:
        notes.append(
            f"--prune keeps {len(kept)} link(s) or group(s) Canvas will not remove (the last "
            "link of an aligned outcome): " + ", ".join(c.key for c in kept[:5])
        )
    if changes:
        notes.append(
            "--prune runs as REST calls; an outcome whose last link in its own account or "
            "course goes is deleted by Canvas, also from the courses that link it"
        )
    return [*changes, *kept], notes


def _descendants(guid: str, children: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    for child in children.get(guid, []):
        found.add(child)
        found.update(_descendants(child, children))
    return found


def _group_id(guid: str, groups: dict[str, GroupNode], scope: OutcomeTree) -> int | None:
    if guid == ROOT:
        return scope.root_id
    return groups[guid].canvas_id


def rows_for_import(desired: OutcomeTree, changes: Iterable[Change]) -> OutcomeTree:
    """The rows an outcomes CSV needs to carry ``changes``: changed objects and their ancestors.

    Unchanged ancestor groups are included so every ``parent_guids`` refers to an earlier
    row of the file. Removals are not rows (they run as REST calls, see :func:`_prune`):
    a ``deleted`` row renames the outcome after the row's title and blanks its description
    (``Outcomes::Import#import_outcome``), and deleting a group that holds the last link
    of an aligned outcome fails the whole import.
    """
    group_guids: set[str] = set()
    outcome_guids: set[str] = set()
    wanted = {o.guid for o in desired.outcomes}
    for change in changes:
        if change.action in (Action.DELETE, Action.UNLINK, Action.NOOP):
            continue
        if change.kind == Kind.GROUP:
            group_guids.add(change.key)
        elif change.kind in (Kind.OUTCOME, Kind.LINK) and change.key in wanted:
            # An outcome row sets its links to exactly its parent_guids: it moves and links.
            outcome_guids.add(change.key)
    by_guid = {g.guid: g for g in desired.groups}
    outcomes = [o for o in desired.outcomes if o.guid in outcome_guids]
    needed: set[str] = set()
    for start in [*group_guids, *(p for o in outcomes for p in o.parents)]:
        guid = start
        while guid != ROOT and guid in by_guid and guid not in needed:
            needed.add(guid)
            guid = by_guid[guid].parent
    groups = [g for g in desired.groups if g.guid in needed]
    return OutcomeTree(groups=tuple(groups), outcomes=tuple(outcomes))


# -- the context's mastery scale and calculation method ---------------------------------------


def mastery_scale_ratings(framework: Framework) -> tuple[list[dict[str, Any]], str | None]:
    """The framework's scale as a Canvas mastery scale (highest first, one mastery rating).

    Returns the ratings and a note when the scale's mastery points fall between levels
    (Canvas marks exactly one rating as mastery: the lowest at or above them).
    """
    scale = framework.scale
    mastery = scale.effective_mastery_points
    mastery_level = next(level for level in scale.levels if level.points >= mastery)
    note = None
    if mastery_level.points != mastery:
        note = (
            f"mastery_points {mastery:g} is not a level's points: Canvas's mastery scale marks "
            f"{mastery_level.name!r} ({mastery_level.points:g}) as mastery"
        )
    levels = list(reversed(scale.levels))
    ratings = [
        {
            "description": level.name,
            "points": level.points,
            "mastery": level.key == mastery_level.key,
            "color": _DEFAULT_COLORS[min(i, len(_DEFAULT_COLORS) - 1)],
        }
        for i, level in enumerate(levels)
    ]
    return ratings, note


def plan_context_scale(
    framework: Framework,
    *,
    context: str,
    current_ratings: Sequence[dict[str, Any]] | None,
    current_method: tuple[str | None, int | None] | None,
) -> tuple[list[Change], list[str]]:
    """Changes that set the context's mastery scale and calculation method to the framework's.

    Under account-level mastery scales this replaces per-outcome ratings and methods.
    Colours are not compared (Canvas requires one; the framework has none).
    """
    ratings, note = mastery_scale_ratings(framework)
    notes = [note] if note else []
    changes: list[Change] = []
    want = [(r["description"], float(r["points"]), bool(r["mastery"])) for r in ratings]
    have = [
        (str(r.get("description")), float(r.get("points") or 0.0), bool(r.get("mastery")))
        for r in current_ratings or []
    ]
    if want != have:
        changes.append(
            Change(
                id=f"mastery_scale:{context}",
                action=Action.UPDATE if current_ratings else Action.CREATE,
                kind=Kind.MASTERY_SCALE,
                key=context,
                fields={"ratings": list(ratings)},
                before={"ratings": [dict(r) for r in current_ratings or []]},
            )
        )
    method = framework.calculation_method
    value = effective_calculation_int(method, framework.calculation_int)
    if current_method != (method.value, value):
        changes.append(
            Change(
                id=f"calculation_method:{context}",
                action=Action.UPDATE if current_method and current_method[0] else Action.CREATE,
                kind=Kind.CALCULATION,
                key=context,
                fields={"calculation_method": method.value, "calculation_int": value},
                before={
                    "calculation_method": current_method[0] if current_method else None,
                    "calculation_int": current_method[1] if current_method else None,
                },
            )
        )
    return changes, notes


# -- the push plan --------------------------------------------------------------------------


class CsvRenderer(Protocol):
    """Writes an outcomes CSV's text (:func:`comp_adapters.canvas.csv_format.tree_to_csv`)."""

    def __call__(self, tree: OutcomeTree, *, scales: bool, locale: str | None) -> str: ...


@dataclass(frozen=True, slots=True)
class FrameworkSnapshot:
    """What a push is planned against, as the adapter read it from Canvas.

    ``tree`` is the context's groups and outcomes (friendly descriptions read from the
    outcome export where ``friendly_from_export``); ``context_ratings`` and
    ``context_method`` the context's mastery scale and calculation method, read only when
    the plan may set them (:func:`reads_context_scale`).
    """

    target: str
    context: str
    context_kind: Literal["account", "course"]
    tree: OutcomeTree
    flags: Flags
    friendly_from_export: bool = False
    context_ratings: tuple[Mapping[str, Any], ...] | None = None
    context_method: tuple[str | None, int | None] | None = None


@dataclass(frozen=True, slots=True)
class FrameworkOptions:
    """How to push: ``strategy`` (``csv``, ``rest``, or ``auto``: CSV from ``csv_threshold``
    writes), ``prune`` removals, ``parent_outcomes`` (an outcome for each parent's rollup),
    ``set_mastery_scale`` under account-level mastery scales, the account's ``locale``."""

    render_csv: CsvRenderer
    strategy: Strategy = "auto"
    prune: bool = False
    parent_outcomes: bool = False
    set_mastery_scale: bool = False
    csv_threshold: int = 20
    locale: str | None = None


def wants_friendly_descriptions(framework: Framework, options: FrameworkOptions) -> bool:
    """Whether the framework has friendly descriptions (then they are read to compare)."""
    desired = mapping.desired_tree(framework, parent_outcomes=options.parent_outcomes)
    return any(o.friendly_description for o in desired.outcomes)


def reads_context_scale(flags: Flags, options: FrameworkOptions) -> bool:
    """Whether the plan may set the context's mastery scale (so it must be read first)."""
    return bool(flags.mastery_scales) and options.set_mastery_scale


def tree_fingerprint(tree: OutcomeTree) -> str:
    """SHA-256 of a context's groups and outcomes (ids, guids, links, fields)."""
    text = repr((tree.root_id, tree.groups, sorted(tree.outcomes, key=lambda o: o.canvas_id or 0)))
    return hashlib.sha256(text.encode()).hexdigest()


def plan_framework(
    desired: Framework, snapshot: FrameworkSnapshot, options: FrameworkOptions
) -> Plan:
    """The changes that make the context of ``snapshot`` hold ``desired``.

    A REST plan carries the fingerprint of the tree it was made against: Canvas's REST
    creation is not idempotent, so it is refused once the context changed. A CSV plan
    starts with one import change; the changes it carries are confirmed after it.
    """
    remote = snapshot.tree
    flags = snapshot.flags
    mastery_on = bool(flags.mastery_scales)
    notes = _flag_notes(flags)
    new_decay = flags.new_decay
    if new_decay is None and not mastery_on:
        new_decay = infer_new_decay(
            mapping.desired_tree(desired, parent_outcomes=options.parent_outcomes), remote
        )
        notes.extend(_decay_notes(desired, new_decay))
    tree = mapping.desired_tree(
        desired,
        parent_outcomes=options.parent_outcomes,
        scales=not mastery_on,
        new_decay=new_decay is not False,
    )
    notes.extend(tree.notes)
    if snapshot.friendly_from_export:
        notes.append(
            "friendly descriptions read from the account's outcome export (Canvas's "
            "REST lists do not carry them)"
        )
    changes, found = plan_tree_changes(tree, remote, scales=not mastery_on, prune=options.prune)
    notes.extend(found)
    if mastery_on:
        notes.append(_mastery_note(desired, set_scale=options.set_mastery_scale))
        if options.set_mastery_scale:
            scale_changes, scale_notes = plan_context_scale(
                desired,
                context=snapshot.context,
                current_ratings=(
                    [dict(r) for r in snapshot.context_ratings]
                    if snapshot.context_ratings is not None
                    else None
                ),
                current_method=snapshot.context_method,
            )
            changes.extend(scale_changes)
            notes.extend(scale_notes)
    chosen, why = choose_strategy(options.strategy, changes, threshold=options.csv_threshold)
    notes.extend(why)
    tree_changes = [c for c in changes if is_imported(c)]
    if chosen == "csv" and tree_changes:
        changes = _with_import(tree, changes, tree_changes, scales=not mastery_on, options=options)
        notes.append(
            f"strategy csv: one outcomes CSV import carries the {len(tree_changes)} outcome "
            "change(s); each is confirmed by reading the context back afterwards"
        )
        notes.extend(_import_notes(tree, tree_changes, locale=options.locale))
    state = None
    rest_writes = [c for c in changes if c.writes and c.kind != Kind.IMPORT]
    if chosen == "rest" and rest_writes:
        notes.append(f"strategy rest: {len(rest_writes)} REST write(s)")
        unwritten = [c.key for c in rest_writes if "friendly_description" in c.fields]
        if unwritten:
            notes.append(
                f"{len(unwritten)} friendly description(s) are not written: Canvas's REST "
                "API cannot set them (OutcomesApiController#update and "
                "OutcomeGroupsApiController#link permit none); push with --strategy csv"
            )
        # REST creation is not idempotent: refuse to apply this plan to a changed context.
        state = tree_fingerprint(remote)
    notes.append(
        "resumable: a re-run plans again and finds by vendor_guid what a crashed run wrote"
    )
    return Plan(
        adapter=ADAPTER,
        target=snapshot.target,
        changes=tuple(changes),
        notes=tuple(notes),
        state_fingerprint=state,
    )


def _flag_notes(flags: Flags) -> list[str]:
    if flags.mastery_scales is None:
        unread = (
            "could not read the feature flags (an admin token can): assuming account-level "
            "mastery scales are off; if Canvas then refuses outcome ratings with a 403, "
            "plan again with mastery scales on (--mastery-scales on)"
        )
        return [unread]
    if flags.probed:
        state = "on" if flags.mastery_scales else "off"
        probed = (
            "could not read the feature flags (an admin token can); Canvas's answers show "
            f"account-level mastery scales are {state}"
        )
        return [probed]
    return []


def _decay_notes(framework: Framework, new_decay: bool | None) -> list[str]:
    if new_decay is not None:
        told = (
            "could not read the feature flags; what Canvas stores shows the new "
            f"decaying average flag is {'on' if new_decay else 'off'}"
        )
        return [told]
    if any(
        framework.method_for(c.key)[0] is CalculationMethod.STANDARD_DECAYING_AVERAGE
        for c in framework.competencies
    ):
        assumed = (
            "could not read the new decaying average flag: assuming it is on; if "
            "Canvas stores standard_decaying_average as decaying_average, the next "
            "plan sees that and expects it"
        )
        return [assumed]
    return []


def choose_strategy(
    strategy: Strategy, changes: Sequence[Change], *, threshold: int
) -> tuple[Literal["csv", "rest"], list[str]]:
    """The strategy, and notes on why ``auto`` chose it.

    A row Canvas's import cannot carry (:func:`mapping.guid_problem_for_csv`) rules the
    CSV strategy out; a friendly description (which REST cannot write) makes ``auto``
    pick it.
    """
    unsafe = _csv_unsafe(changes)
    if unsafe and strategy == "csv":
        raise PlanError(
            "these changes cannot go through an outcomes CSV import: "
            + "; ".join(unsafe[:5])
            + " - push with --strategy rest"
        )
    if strategy != "auto":
        return strategy, []
    if unsafe:
        why = (
            f"strategy auto chose rest: {len(unsafe)} object(s) cannot go through an "
            f"outcomes CSV import ({unsafe[0]})"
        )
        return "rest", [why]
    if any("friendly_description" in c.fields for c in changes if is_imported(c)):
        return "csv", ["strategy auto chose csv: only an import writes friendly descriptions"]
    writes = sum(1 for c in changes if is_imported(c))
    return ("csv" if writes >= threshold else "rest"), []


def _mastery_note(framework: Framework, *, set_scale: bool) -> str:
    own = [c.key for c in framework.competencies if c.scale is not None or c.calculation_method]
    text = (
        "account-level mastery scales are ON: Canvas refuses per-outcome ratings, mastery points "
        "and calculation methods (403), so outcomes are written without them and the context's "
        "mastery scale and calculation method apply"
    )
    if own:
        text += f"; {len(own)} competencies with their own scale or method cannot keep it"
    if not set_scale:
        text += "; set them to the framework's with --set-mastery-scale (set_mastery_scale=True)"
    return text


def _csv_unsafe(changes: Sequence[Change]) -> list[str]:
    """The imported changes whose row Canvas's import would refuse or bind to another object.

    A guid that is exactly an id reference (``canvas_outcome:12``: an object without a
    vendor_guid) is safe for the object it names, not for a new one.
    """
    found: list[str] = []
    for change in changes:
        if not is_imported(change):
            continue
        exact = mapping.is_id_reference(change.key)
        if exact and change.action is not Action.CREATE:
            continue
        problem = (
            "is a Canvas id reference, which the import reads as an existing object"
            if exact
            else mapping.guid_problem_for_csv(change.key)
        )
        if problem is not None:
            found.append(f"{change.key!r} {problem}")
    return list(dict.fromkeys(found))


def _import_notes(
    desired: OutcomeTree, tree_changes: Sequence[Change], *, locale: str | None
) -> list[str]:
    """What an import does beyond the rows, said in the plan."""
    notes: list[str] = []
    if any(c.action is Action.CREATE and c.kind == Kind.OUTCOME for c in tree_changes):
        notes.append(
            "Canvas matches an imported vendor_guid against deleted outcomes too "
            "(Outcomes::Import#find_prior_outcome): one deleted in this context is revived "
            "(same id, its results kept); one held, even deleted, in an unrelated account or "
            "course makes its row fail - then push those with --strategy rest"
        )
    written = {c.key for c in tree_changes if c.kind == Kind.OUTCOME}
    fractional = [
        o.guid
        for o in desired.outcomes
        if o.guid in written
        and any(
            p is not None and not float(p).is_integer()
            for p in (o.mastery_points, *(r.points for r in o.ratings))
        )
    ]
    if fractional and locale_format(locale) is None:
        notes.append(
            f"{len(fractional)} outcome(s) have points with decimals: written in exponent form "
            "(2.5 as 25e-1), which Canvas parses the same under every account locale; give the "
            "account's default_locale (--locale) to write them in its own format"
        )
    return notes


def _with_import(
    desired: OutcomeTree,
    changes: list[Change],
    tree_changes: list[Change],
    *,
    scales: bool,
    options: FrameworkOptions,
) -> list[Change]:
    """Put one import change first; the outcome changes depend on it (confirmed after)."""
    rows = rows_for_import(desired, tree_changes)
    text = options.render_csv(rows, scales=scales, locale=options.locale)
    digest = hashlib.sha256(text.encode()).hexdigest()
    count = len(rows.groups) + len(rows.outcomes)
    head = Change(
        id=f"import:{digest[:16]}",
        action=Action.CREATE,
        kind=Kind.IMPORT,
        key=f"{count} rows",
        fields={"rows": count, "sha256": digest, "csv": text},
    )
    # Every other write waits for the import: removals and int fixes must not run first.
    after = [
        c.model_copy(update={"depends_on": (*c.depends_on, head.id)}) if c.writes else c
        for c in changes
    ]
    return [head, *after]


# -- the mastery write-back plan ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MasteryWanted:
    """The results to show, and the framework they were computed for."""

    proficiencies: Sequence[Proficiency]
    framework: Framework


@dataclass(frozen=True, slots=True)
class AssignmentState:
    """The mastery assignment as Canvas holds it: its id and, of its rubric, the criterion
    id of each outcome (by guid) a criterion is aligned to."""

    id: int
    criteria: Mapping[str, str]


def assignment_state(assignment: wire.WireAssignment, tree: OutcomeTree) -> AssignmentState:
    """The mastery assignment as the planner sees it: of its rubric, the criterion of each
    outcome of ``tree`` a criterion is aligned to (by the outcome's guid)."""
    by_guid = {o.guid: o for o in tree.outcomes if o.canvas_id is not None}
    ids = {o.canvas_id: o.guid for o in by_guid.values()}
    criteria = {
        ids[c.outcome_id]: c.id
        for c in assignment.rubric or []
        if c.outcome_id is not None and c.outcome_id in ids
    }
    return AssignmentState(id=assignment.id, criteria=criteria)


@dataclass(frozen=True, slots=True)
class ProficiencySnapshot:
    """What a mastery write-back is planned against, as the adapter read it from Canvas.

    ``users``: learner key -> Canvas user id (``None`` when learner keys are user ids);
    ``marks``: user id -> outcome guid -> points of each learner's current assessment
    (read when the assignment's rubric has criteria).
    """

    target: str
    tree: OutcomeTree
    users: Mapping[str, str] | None
    assignment: AssignmentState | None
    marks: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class ProficiencyOptions:
    """The assignment that carries the assessments (found by name, created once)."""

    assignment_name: str


def mastery_assignment_name(name: str | None, framework_key: str) -> str:
    """The assignment name given, or ``Competency mastery (<key>)``."""
    return name or f"Competency mastery ({framework_key})"


def plan_proficiency(
    desired: MasteryWanted, snapshot: ProficiencySnapshot, options: ProficiencyOptions
) -> Plan:
    """Rubric assessments that make Canvas show these results.

    One assignment with a rubric whose criteria are aligned to the outcomes; per learner
    one assessment with the computed points, written only where they differ from what the
    learner's assessment holds (a learner whose assessment already shows them is a NOOP
    change with that reason). Results that cannot be written are counted in the notes.
    """
    name = options.assignment_name
    framework = desired.framework
    notes: list[str] = []
    by_guid = {o.guid: o for o in snapshot.tree.outcomes if o.canvas_id is not None}
    assignment = snapshot.assignment
    changes: list[Change] = []
    depends: tuple[str, ...] = ()
    if assignment is None:
        changes.append(
            Change(
                id=f"assignment:{name}",
                action=Action.CREATE,
                kind=Kind.ASSIGNMENT,
                key=name,
                fields={"name": name},
            )
        )
        depends = (f"assignment:{name}",)
    skipped: Counter[str] = Counter()
    wanted = _wanted_points(desired.proficiencies, framework, by_guid, skipped)
    needed = sorted({g for per in wanted.values() for g in per})
    criteria: Mapping[str, str] = assignment.criteria if assignment is not None else {}
    rubric_new = bool(needed) and not set(needed) <= set(criteria)
    if rubric_new:
        keep = sorted(set(needed) | set(criteria))
        changes.append(
            Change(
                id=f"rubric:{name}",
                action=Action.CREATE,
                kind=Kind.RUBRIC,
                key=name,
                fields={
                    "title": name,
                    "assignment_id": assignment.id if assignment else None,
                    "criteria": [_criterion_fields(by_guid[g]) for g in keep],
                },
                depends_on=depends,
            )
        )
        depends = (*depends, f"rubric:{name}")
        notes.append(
            "a new rubric aligned to the outcomes replaces the assignment's rubric; "
            "every learner is assessed again on it"
        )
    current = snapshot.marks if assignment is not None and not rubric_new else {}
    for learner in sorted(wanted):
        user_id = learner if snapshot.users is None else snapshot.users.get(learner)
        if user_id is None:
            skipped["learner not in course"] += 1
            continue
        have = dict(current.get(user_id, {}))
        marks = {**have, **wanted[learner]}
        if marks == have:
            changes.append(
                Change(
                    id=f"assessment:{learner}",
                    action=Action.NOOP,
                    kind=Kind.ASSESSMENT,
                    key=learner,
                    reason="the learner's assessment already shows these points",
                )
            )
            continue
        changes.append(
            Change(
                id=f"assessment:{learner}",
                action=Action.UPDATE if have else Action.CREATE,
                kind=Kind.ASSESSMENT,
                key=learner,
                fields={
                    "user_id": user_id,
                    "assignment_id": assignment.id if assignment else None,
                    "points": dict(sorted(marks.items())),
                    "criteria": {} if rubric_new else dict(criteria),
                },
                before={"points": dict(sorted(have.items()))},
                depends_on=depends,
            )
        )
    for reason, count in sorted(skipped.items()):
        notes.append(f"{count} result(s) not written: {reason}")
    notes.append(
        f"Canvas records each assessment as an outcome result of {name!r}; its rollup then "
        "follows each outcome's calculation method (with 'latest' it shows these points)"
    )
    return Plan(adapter=ADAPTER, target=snapshot.target, changes=tuple(changes), notes=tuple(notes))


def _wanted_points(
    proficiencies: Sequence[Proficiency],
    framework: Framework,
    by_guid: Mapping[str, OutcomeNode],
    skipped: Counter[str],
) -> dict[str, dict[str, float]]:
    """learner -> outcome guid -> points on the outcome's scale.

    A proficiency's points are on the competency's scale; where the outcome's scale has
    other points possible (the context's mastery scale under account-level mastery
    scales), they are rescaled by fraction, as Canvas itself scales a result (score /
    possible x points possible), so the gradebook shows the same level.
    """
    wanted: dict[str, dict[str, float]] = {}
    for item in proficiencies:
        points = _points_of(item, framework)
        outcome = by_guid.get(_guid_for(item.competency, framework))
        if points is None:
            skipped["not rated"] += 1
            continue
        if outcome is None:
            skipped["outcome not in course"] += 1
            continue
        top = max((r.points for r in outcome.ratings), default=points)
        own_top = (
            framework.scale_for(item.competency).max_points
            if item.competency in framework
            else None
        )
        if own_top and top and own_top != top:
            points = points / own_top * top
        wanted.setdefault(item.learner, {})[outcome.guid] = min(max(points, 0.0), top)
    return wanted


def _guid_for(competency: str, framework: Framework) -> str:
    """The outcome of a competency: its own, or its rollup outcome for a parent."""
    if competency in framework and framework.children_of(competency):
        return mapping.rollup_guid(framework.key, competency)
    return mapping.competency_guid(framework.key, competency)


def _points_of(item: Proficiency, framework: Framework) -> float | None:
    if item.score is not None:
        return item.score
    if item.level is None or item.competency not in framework:
        return None
    level = framework.scale_for(item.competency).by_key.get(item.level)
    return level.points if level is not None else None


def _criterion_fields(outcome: OutcomeNode) -> dict[str, JsonValue]:
    top = max((r.points for r in outcome.ratings), default=0.0)
    return {
        "guid": outcome.guid,
        "outcome_id": outcome.canvas_id,
        "description": outcome.title,
        "points": top,
        "mastery_points": outcome.mastery_points if outcome.mastery_points is not None else top,
        "ratings": ratings_json(outcome.ratings),
    }
