"""Carries out the changes of a Canvas plan, one at a time, dispatching on :class:`Kind`.

:func:`comp_adapters.sync.apply.apply_plan` calls :class:`CanvasExecutor` for every change
that writes; each kind has one handler in :attr:`CanvasExecutor.HANDLERS`. A plan that
carries an outcomes CSV import (:attr:`Kind.IMPORT`) runs the import first; the group,
outcome and link changes it carries are then confirmed against the context read back,
not written again. Removals, second writes of an outcome's int and the mastery write-back
are REST calls.

Ids Canvas assigns during an apply (a created group's, outcome's, assignment's, rubric's)
are found in the results of earlier changes, by the kind and key of the change that
created them.

This module imports no HTTP or clock module: the client and the read-back come in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import JsonValue

from comp_adapters.canvas import wire
from comp_adapters.canvas.mapping import ROOT, OutcomeTree, ratings_json
from comp_adapters.errors import NotFoundError, PlanError
from comp_adapters.sync.journal import Result
from comp_adapters.sync.plan import Action, Change, Plan

if TYPE_CHECKING:
    from comp_adapters.canvas.client import CanvasClient
    from comp_adapters.canvas.readback import Readback


class Kind(StrEnum):
    """The kinds of change a Canvas plan holds (the values are what ``Change.kind`` holds,
    in saved plans and journals too)."""

    GROUP = "outcome_group"
    OUTCOME = "outcome"
    OUTCOME_INT = "outcome_calculation_int"
    """A second REST write of an outcome's int, after a method change Canvas reset it in."""
    LINK = "outcome_link"
    IMPORT = "outcome_import"
    MASTERY_SCALE = "mastery_scale"
    CALCULATION = "calculation_method"
    ASSIGNMENT = "assignment"
    RUBRIC = "rubric"
    ASSESSMENT = "rubric_assessment"


IMPORTABLE = frozenset({Kind.GROUP, Kind.OUTCOME, Kind.LINK})


def is_imported(change: Change) -> bool:
    """Whether a change goes into the CSV import (removals and int fixes are REST calls)."""
    return change.kind in IMPORTABLE and change.action in (
        Action.CREATE,
        Action.UPDATE,
        Action.LINK,
    )


def kind_of(change: Change) -> Kind:
    """The change's kind; a kind this adapter does not know is refused."""
    try:
        return Kind(change.kind)
    except ValueError:
        raise PlanError(
            f"canvas cannot apply a change of kind {change.kind!r} ({change.id}): the plan was "
            "not made by the canvas adapter, or by a newer version"
        ) from None


Handler = Callable[["CanvasExecutor", Change, Mapping[str, Result]], Result]


class CanvasExecutor:
    """Performs one change of a Canvas plan (an :data:`comp_adapters.sync.apply.Executor`)."""

    HANDLERS: ClassVar[dict[Kind, Handler]]

    def __init__(self, client: CanvasClient, readback: Readback, plan: Plan) -> None:
        self.client = client
        self.readback = readback
        self.via_import = any(c.kind == Kind.IMPORT for c in plan.changes)
        self.creator = {
            (c.kind, c.key): c.id
            for c in plan.changes
            if c.action is Action.CREATE and c.kind != Kind.IMPORT
        }
        self.of_kind: dict[str, Kind] = {}
        for change in plan.changes:
            with contextlib.suppress(ValueError):
                self.of_kind[change.id] = Kind(change.kind)
        self._root: int | None = None
        self._read_back: OutcomeTree | None = None

    def __call__(self, change: Change, results: Mapping[str, Result]) -> Result | None:
        kind = kind_of(change)
        if kind is not Kind.IMPORT and self.via_import and is_imported(change):
            return self._confirm(change)
        return self.HANDLERS[kind](self, change, results)

    # -- ids found in earlier results ---------------------------------------------------------

    def _created_id(self, kind: Kind, key: str, results: Mapping[str, Result]) -> Any:
        change_id = self.creator.get((kind, key))
        return results.get(change_id, {}).get("id") if change_id is not None else None

    def _result_of_kind(self, kind: Kind, results: Mapping[str, Result]) -> Result | None:
        for change_id, result in results.items():
            if self.of_kind.get(change_id) is kind:
                return result
        return None

    def _group_id(self, guid: str, known: Any, results: Mapping[str, Result]) -> int:
        if isinstance(known, int):
            return known
        if guid == ROOT:
            if self._root is None:
                self._root = self.client.root_outcome_group().id
            return self._root
        found = self._created_id(Kind.GROUP, guid, results)
        if isinstance(found, int):
            return found
        raise PlanError(f"no Canvas id for group {guid!r}: plan again")

    def _assignment_id(self, change: Change, results: Mapping[str, Result]) -> int:
        known = change.fields.get("assignment_id")
        if isinstance(known, int):
            return known
        found = self._result_of_kind(Kind.ASSIGNMENT, results)
        if found is not None and isinstance(found.get("id"), int):
            return int(str(found["id"]))
        raise PlanError("no assignment id for the rubric: plan again")

    # -- the CSV import ------------------------------------------------------------------------

    def _import(self, change: Change, _results: Mapping[str, Result]) -> Result:
        text = change.fields.get("csv")
        if not isinstance(text, str):
            raise PlanError("the import change carries no CSV")
        return {"import_id": self.readback.run_import(text)}

    def _confirm(self, change: Change) -> Result:
        """Check one change against the context read back after the import."""
        if self._read_back is None:
            self._read_back = self.readback.exported_tree()
        tree = self._read_back
        if change.kind == Kind.GROUP:
            group = tree.group(change.key)
            if change.action is Action.DELETE:
                if group is not None:
                    raise PlanError(f"Canvas still holds group {change.key!r} after the import")
                return {}
            if group is None:
                raise PlanError(f"the import did not create group {change.key!r}")
            _expect(
                change,
                {"title": group.title, "description": group.description, "parent": group.parent},
            )
            return {"id": group.canvas_id}
        outcome = next((o for o in tree.outcomes if o.guid == change.key), None)
        if change.action is Action.UNLINK:
            unlinked = change.fields.get("group")
            if outcome is not None and unlinked in outcome.parents:
                raise PlanError(f"outcome {change.key!r} is still linked in {unlinked!r}")
            return {}
        if outcome is None:
            raise PlanError(f"the import did not create outcome {change.key!r}")
        target = change.fields.get("group")
        if isinstance(target, str) and target != ROOT and target not in outcome.parents:
            raise PlanError(f"outcome {change.key!r} is not linked in group {target!r}")
        if change.kind == Kind.OUTCOME:
            seen: dict[str, JsonValue] = {
                "title": outcome.title,
                "display_name": outcome.display_name,
                "description": outcome.description,
                "mastery_points": outcome.mastery_points,
                "ratings": ratings_json(outcome.ratings),
                "calculation_method": outcome.calculation_method,
                "calculation_int": outcome.calculation_int,
            }
            if outcome.friendly_description is not None:
                seen["friendly_description"] = outcome.friendly_description
            _expect(change, seen)
        return {"id": outcome.canvas_id}

    # -- REST ----------------------------------------------------------------------------------

    def _group(self, change: Change, results: Mapping[str, Result]) -> Result:
        fields = change.fields
        if change.action is Action.DELETE:
            with contextlib.suppress(NotFoundError):  # already gone: what the change wanted
                self.client.delete_outcome_group(_int(change.before.get("canvas_id")))
            return {}
        if change.action is Action.CREATE:
            parent = self._group_id(str(fields.get("parent")), fields.get("parent_id"), results)
            created = self.client.create_subgroup(
                parent,
                wire.GroupWrite(
                    title=_text(fields.get("title")),
                    description=_text(fields.get("description")),
                    vendor_guid=change.key,
                ),
            )
            return {"id": created.id}
        payload: dict[str, Any] = {}
        if "title" in fields:
            payload["title"] = _text(fields["title"])
        if "description" in fields:
            payload["description"] = _text(fields["description"]) or ""
        if "parent" in fields:
            payload["parent_outcome_group_id"] = self._group_id(
                str(fields["parent"]), fields.get("parent_id"), results
            )
        group_id = _int(change.before.get("canvas_id"))
        self.client.update_outcome_group(group_id, wire.GroupWrite(**payload))
        return {"id": group_id}

    def _outcome(self, change: Change, results: Mapping[str, Result]) -> Result:
        fields = change.fields
        if change.action is Action.CREATE:
            group = self._group_id(str(fields.get("group")), fields.get("group_id"), results)
            link = self.client.create_outcome(group, _outcome_write(fields, vendor_guid=change.key))
            return {"id": link.outcome.id}
        outcome_id = _int(change.before.get("canvas_id"))
        self.client.update_outcome(outcome_id, _outcome_write(fields, clear_text=True))
        return {"id": outcome_id}

    def _link(self, change: Change, results: Mapping[str, Result]) -> Result:
        fields = change.fields
        group = self._group_id(str(fields.get("group")), fields.get("group_id"), results)
        known = change.before.get("canvas_id")
        created = self._created_id(Kind.OUTCOME, change.key, results)
        outcome_id = _int(known if known is not None else created)
        if change.action is Action.UNLINK:
            with contextlib.suppress(NotFoundError):
                self.client.unlink_outcome(group, outcome_id)
            return {}
        move_from = fields.get("move_from_id")
        self.client.link_outcome(
            group, outcome_id, move_from=move_from if isinstance(move_from, int) else None
        )
        return {"id": outcome_id}

    def _mastery_scale(self, change: Change, _results: Mapping[str, Result]) -> Result:
        ratings = change.fields.get("ratings")
        if not isinstance(ratings, list):
            raise PlanError("mastery scale change without ratings")
        self.client.set_outcome_proficiency(
            wire.ProficiencyWrite(
                ratings=[wire.ProficiencyRatingWrite.model_validate(r) for r in ratings]
            )
        )
        return {}

    def _calculation(self, change: Change, _results: Mapping[str, Result]) -> Result:
        method = change.fields.get("calculation_method")
        value = change.fields.get("calculation_int")
        self.client.set_calculation_method(str(method), value if isinstance(value, int) else None)
        return {}

    # -- mastery write-back -----------------------------------------------------------------

    def _assignment(self, change: Change, _results: Mapping[str, Result]) -> Result:
        created = self.client.create_assignment(
            wire.AssignmentWrite(
                name=change.key,
                description=(
                    "Competency mastery computed by comp_adapters. Its rubric is aligned to "
                    "the outcomes; each learner's assessment carries the computed points."
                ),
                submission_types=["none"],
                points_possible=0,
                grading_type="points",
                published=True,
                omit_from_final_grade=True,
            )
        )
        return {"id": created.id}

    def _rubric(self, change: Change, results: Mapping[str, Result]) -> Result:
        assignment = self._assignment_id(change, results)
        items = change.fields.get("criteria")
        criteria: dict[str, wire.CriterionWrite] = {}
        guid_of: dict[int, str] = {}
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            outcome_id = _int(item.get("outcome_id"))
            guid_of[outcome_id] = str(item.get("guid"))
            ratings = item.get("ratings")
            criteria[str(index)] = wire.CriterionWrite(
                description=str(item.get("description")),
                points=float(str(item.get("points"))),
                learning_outcome_id=outcome_id,
                mastery_points=float(str(item.get("mastery_points"))),
                ratings={
                    str(i): wire.CriterionRatingWrite.model_validate(r)
                    for i, r in enumerate(ratings if isinstance(ratings, list) else [])
                },
            )
        created = self.client.create_rubric(
            wire.RubricWrite(title=str(change.fields.get("title")), criteria=criteria),
            wire.RubricAssociationWrite(
                association_type="Assignment",
                association_id=assignment,
                purpose="grading",
                use_for_grading=False,
                hide_outcome_results=False,
            ),
        )
        mapping_ids: dict[str, JsonValue] = {
            guid_of[c.outcome_id]: c.id
            for c in created.rubric.data
            if c.outcome_id is not None and c.outcome_id in guid_of
        }
        return {
            "rubric_id": created.rubric.id,
            "criteria": mapping_ids,
            "assignment_id": assignment,
        }

    def _assessment(self, change: Change, results: Mapping[str, Result]) -> Result:
        fields = change.fields
        assignment = self._assignment_id(change, results)
        criteria = fields.get("criteria")
        known: Mapping[str, Any] = criteria if isinstance(criteria, dict) else {}
        if not known:
            rubric = self._result_of_kind(Kind.RUBRIC, results)
            found = rubric.get("criteria") if rubric is not None else None
            if isinstance(found, dict):
                known = found
        points = fields.get("points")
        marks: dict[str, float] = {}
        for guid, value in (points if isinstance(points, dict) else {}).items():
            criterion = known.get(guid)
            if criterion is None:
                raise PlanError(f"no rubric criterion for outcome {guid!r}: plan again")
            marks[str(criterion)] = float(str(value))
        self.client.grade_with_rubric(assignment, str(fields.get("user_id")), marks)
        return {}


CanvasExecutor.HANDLERS = {
    Kind.IMPORT: CanvasExecutor._import,
    Kind.GROUP: CanvasExecutor._group,
    Kind.OUTCOME: CanvasExecutor._outcome,
    Kind.OUTCOME_INT: CanvasExecutor._outcome,
    Kind.LINK: CanvasExecutor._link,
    Kind.MASTERY_SCALE: CanvasExecutor._mastery_scale,
    Kind.CALCULATION: CanvasExecutor._calculation,
    Kind.ASSIGNMENT: CanvasExecutor._assignment,
    Kind.RUBRIC: CanvasExecutor._rubric,
    Kind.ASSESSMENT: CanvasExecutor._assessment,
}
"""One handler per kind (every kind has one: a test checks)."""


def _expect(change: Change, seen: Mapping[str, JsonValue]) -> None:
    """Raise unless every field the change wrote reads back as written."""
    for name, value in change.fields.items():
        if name in seen and _normal(value) != _normal(seen[name]):
            raise PlanError(
                f"after the import Canvas holds {name}={seen[name]!r} for {change.key!r}, "
                f"not {value!r}"
            )


def _normal(value: JsonValue) -> JsonValue:
    if value is None or isinstance(value, str):
        return (value or "").strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PlanError(f"expected a Canvas id, got {value!r}: plan again")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _outcome_write(
    fields: Mapping[str, JsonValue], *, vendor_guid: str | None = None, clear_text: bool = False
) -> wire.OutcomeWrite:
    payload: dict[str, Any] = {}
    for name in ("title", "display_name", "description"):
        if name in fields:
            value = _text(fields[name])
            payload[name] = "" if value is None and clear_text and name != "title" else value
    if "ratings" in fields:
        ratings = fields["ratings"]
        payload["ratings"] = [
            wire.RatingWrite.model_validate(r)
            for r in (ratings if isinstance(ratings, list) else [])
        ]
    for name in ("mastery_points", "calculation_method", "calculation_int"):
        if name in fields:
            payload[name] = fields[name]
    if vendor_guid is not None:
        payload["vendor_guid"] = vendor_guid
    return wire.OutcomeWrite(**payload)
