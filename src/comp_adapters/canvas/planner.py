"""The pure differ of the Canvas adapter: desired outcome tree vs. what Canvas holds -> changes.

A sibling of :mod:`comp_adapters.canvas.mapping`, split out to keep that module about
translation. Changes are keyed by vendor_guid (``group:<guid>``, ``outcome:<guid>``,
``link:<guid>``), so a plan made after a crash finds what the crashed run created instead
of creating it again. Ids Canvas assigned travel in the change: ``fields`` hold the ids a
write needs (``parent_id``, ``group_id``, ``outcome_id``) and ``before`` holds
``canvas_id``, the id of the object an update or link applies to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import JsonValue

from comp_adapters.canvas.mapping import (
    ROOT,
    GroupNode,
    OutcomeNode,
    OutcomeTree,
    Rating,
)
from comp_adapters.core.calculation import CalculationMethod, effective_calculation_int
from comp_adapters.core.framework import Framework
from comp_adapters.sync.plan import Action, Change

GROUP = "outcome_group"
OUTCOME = "outcome"
LINK = "outcome_link"
IMPORT = "outcome_import"
MASTERY_SCALE = "mastery_scale"
CALCULATION = "calculation_method"

SCALE_FIELDS = ("mastery_points", "ratings", "calculation_method", "calculation_int")
Node = TypeVar("Node", GroupNode, OutcomeNode)
_DEFAULT_COLORS = ("0374B5", "0B874B", "FAB901", "D97900", "E0061F", "555555")


def _same_text(a: str | None, b: str | None) -> bool:
    return (a or "").strip() == (b or "").strip()


def ratings_json(ratings: Sequence[Rating]) -> list[JsonValue]:
    return [{"points": r.points, "description": r.description} for r in ratings]


def group_fields(group: GroupNode) -> dict[str, JsonValue]:
    return {"title": group.title, "description": group.description, "parent": group.parent}


def outcome_fields(outcome: OutcomeNode, *, scales: bool) -> dict[str, JsonValue]:
    fields: dict[str, JsonValue] = {
        "title": outcome.title,
        "display_name": outcome.display_name,
        "description": outcome.description,
    }
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


def _outcome_diff(
    want: OutcomeNode, have: OutcomeNode, *, scales: bool
) -> dict[str, tuple[JsonValue, JsonValue]]:
    diff: dict[str, tuple[JsonValue, JsonValue]] = {}
    for name in ("title", "display_name", "description"):
        a, b = getattr(want, name), getattr(have, name)
        if not _same_text(a, b):
            diff[name] = (a, b)
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
    framework_root: str,
    scales: bool,
    prune: bool = False,
) -> tuple[list[Change], list[str]]:
    """The changes that make ``remote`` hold ``desired``, and notes about what was found.

    Remote groups and outcomes are matched by vendor_guid; where Canvas holds duplicates
    (REST creation does not de-duplicate) the first is used and a note says so.
    """
    differ = _Differ(remote, framework_root)
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
        differ.changes.extend(_prune(desired, differ.scope))
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

    def __init__(self, remote: OutcomeTree, framework_root: str) -> None:
        self.remote = remote
        self.notes: list[str] = []
        self.changes: list[Change] = []
        self.created: set[str] = set()
        self.uneditable: list[str] = []
        self.groups: dict[str, GroupNode] = _by_guid(remote.groups, "group", self.notes)
        self.outcomes: dict[str, OutcomeNode] = _by_guid(remote.outcomes, "outcome", self.notes)
        self.scope = (
            remote.subtree(framework_root) if framework_root in self.groups else OutcomeTree()
        )
        self.in_scope = {g.guid for g in self.scope.groups}

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
                    kind=GROUP,
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
                    GROUP,
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
                    kind=OUTCOME,
                    key=want.guid,
                    fields=fields,
                    depends_on=self.needs(parent),
                )
            )
            return
        diff = _outcome_diff(want, have, scales=scales)
        if diff and not have.can_edit:
            self.uneditable.append(want.guid)
        elif diff:
            self.changes.append(
                _update(f"outcome:{want.guid}", OUTCOME, want.guid, diff, have.canvas_id)
            )
        if parent in have.parents:
            return
        stale = [p for p in have.parents if p in self.in_scope and p != parent]
        move_from = stale[0] if stale else None
        self.changes.append(
            Change(
                id=f"link:{want.guid}",
                action=Action.LINK,
                kind=LINK,
                key=want.guid,
                fields={
                    "group": parent,
                    "group_id": self.group_id(parent),
                    "outcome_id": have.canvas_id,
                    "move_from": move_from,
                    "move_from_id": self.group_id(move_from) if move_from else None,
                },
                before={"groups": list(have.parents), "canvas_id": have.canvas_id},
                depends_on=self.needs(parent),
            )
        )


def _prune(desired: OutcomeTree, scope: OutcomeTree) -> list[Change]:
    """Unlink outcomes and delete groups under the framework's group that are not wanted.

    A wanted outcome linked in the wrong group keeps the link the plan moves (``move_from``);
    its other stray links in the framework's groups are removed.
    """
    wanted_groups = {g.guid for g in desired.groups}
    wanted_outcomes = {o.guid: o.parents[0] for o in desired.outcomes}
    scope_groups = {g.guid: g for g in scope.groups}
    doomed = [g for g in scope.groups if g.guid not in wanted_groups]
    doomed_ids = {g.guid for g in doomed}
    changes: list[Change] = []
    for outcome in scope.outcomes:
        target = wanted_outcomes.get(outcome.guid)
        stray = [p for p in outcome.parents if p in scope_groups and p != target]
        if target is not None and target not in outcome.parents and stray:
            stray = stray[1:]  # the first stray link is moved by the link change
        changes.extend(
            Change(
                id=f"unlink:{outcome.guid}@{parent}",
                action=Action.UNLINK,
                kind=LINK,
                key=outcome.guid,
                fields={"group": parent, "group_id": scope_groups[parent].canvas_id},
                before={"canvas_id": outcome.canvas_id},
            )
            for parent in stray
            if parent not in doomed_ids  # deleting the group removes its links
        )
    for group in doomed:
        if group.parent in doomed_ids:
            continue  # deleting the ancestor deletes it
        changes.append(
            Change(
                id=f"delete:{group.guid}",
                action=Action.DELETE,
                kind=GROUP,
                key=group.guid,
                fields={},
                before={"title": group.title, "canvas_id": group.canvas_id},
            )
        )
    return changes


def rows_for_import(
    desired: OutcomeTree, changes: Iterable[Change]
) -> tuple[OutcomeTree, list[tuple[str, str]]]:
    """The rows an outcomes CSV needs to carry ``changes``: changed objects and their ancestors.

    Also returns ``(object_type, guid)`` of what is to be deleted. Unchanged ancestor
    groups are included so every ``parent_guids`` refers to an earlier row of the file.
    """
    group_guids: set[str] = set()
    outcome_guids: set[str] = set()
    deleted: list[tuple[str, str]] = []
    wanted = {o.guid for o in desired.outcomes}
    for change in changes:
        if change.kind == GROUP and change.action is Action.DELETE:
            deleted.append(("group", change.key))
        elif change.kind == GROUP:
            group_guids.add(change.key)
        elif change.kind in (OUTCOME, LINK) and change.key in wanted:
            # An outcome row sets its links to exactly its parent_guids: it moves and unlinks.
            outcome_guids.add(change.key)
        elif change.kind == LINK and ("outcome", change.key) not in deleted:
            deleted.append(("outcome", change.key))
    by_guid = {g.guid: g for g in desired.groups}
    outcomes = [o for o in desired.outcomes if o.guid in outcome_guids]
    needed: set[str] = set()
    for start in [*group_guids, *(o.parents[0] for o in outcomes)]:
        guid = start
        while guid != ROOT and guid in by_guid and guid not in needed:
            needed.add(guid)
            guid = by_guid[guid].parent
    groups = [g for g in desired.groups if g.guid in needed]
    return OutcomeTree(groups=tuple(groups), outcomes=tuple(outcomes)), deleted


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
                kind=MASTERY_SCALE,
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
                kind=CALCULATION,
                key=context,
                fields={"calculation_method": method.value, "calculation_int": value},
                before={
                    "calculation_method": current_method[0] if current_method else None,
                    "calculation_int": current_method[1] if current_method else None,
                },
            )
        )
    return changes, notes
