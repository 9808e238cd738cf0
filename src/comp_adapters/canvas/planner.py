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
    method_from_canvas,
)
from comp_adapters.core.calculation import (
    DEFAULT_CALCULATION_INT,
    CalculationMethod,
    effective_calculation_int,
)
from comp_adapters.core.framework import Framework
from comp_adapters.sync.plan import Action, Change

GROUP = "outcome_group"
OUTCOME = "outcome"
OUTCOME_INT = "outcome_calculation_int"
"""A second REST write of an outcome's int, after a method change Canvas reset it in."""
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
        self.changes.append(_update(change_id, OUTCOME, want.guid, diff, have.canvas_id))
        if kept != want.calculation_int and "calculation_method" in diff:
            # The method change reset the int to its default; a second write sets it.
            self.changes.append(
                Change(
                    id=f"outcome_int:{want.guid}",
                    action=Action.UPDATE,
                    kind=OUTCOME_INT,
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
                    kind=LINK,
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
                    kind=GROUP,
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
                kind=GROUP,
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
                        kind=LINK,
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
                    kind=LINK,
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
        if change.kind == GROUP:
            group_guids.add(change.key)
        elif change.kind in (OUTCOME, LINK) and change.key in wanted:
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
