"""Carrying out Moodle plans: each change kind and action has one entry in a table.

:class:`Kind` holds the change kinds the planner writes (their values are what
``Change.kind`` holds in saved plans and journals). :class:`MoodleExecutor` is the batch
executor handed to :func:`comp_adapters.sync.apply_plan_in_batches`: a group of
changes becomes calls sent in one request where the site allows it (``_CALLS``, keyed by
kind and action); rule resets, course outcomes and ratings have their own handlers
(``_GROUPS``). A kind or action it does not know is refused, never skipped.

After a crash that lost Moodle's answer, a write may already be done: a create Moodle
refuses because the idnumber exists adopts the existing record (idnumbers are the sync
keys), a delete of a record already gone counts as done, and a rating whose answer failed
is read back (Moodle 5.0 stores it and then fails to answer in raw mode, recording 44).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from comp_adapters.errors import FatalRemoteError, NotFoundError, PlanError
from comp_adapters.moodle.client import Call, Calls, MoodleClient
from comp_adapters.moodle.mapping import points_config
from comp_adapters.moodle.planner import RESET_PREFIX, create_change_id, framework_change_id
from comp_adapters.moodle.reader import SiteReader
from comp_adapters.moodle.wire import (
    CompetencyCreate,
    CompetencyUpdate,
    FrameworkCreate,
    FrameworkUpdate,
    RateIn,
    WireEvidence,
)
from comp_adapters.sync import BatchOutcome
from comp_adapters.sync.journal import Result
from comp_adapters.sync.plan import Action, Change


class Kind(StrEnum):
    """The kinds of change a Moodle plan holds (``Change.kind``)."""

    FRAMEWORK = "framework"
    COMPETENCY = "competency"
    COMPETENCY_PARENT = "competency parent"
    RULE = "rule"
    RELATED = "related"
    COURSE_LINK = "course link"
    COURSE_OUTCOME = "course outcome"
    RATING = "rating"


def kind_of(change: Change) -> Kind:
    """The change's kind; a kind this adapter does not write is a plan error."""
    try:
        return Kind(change.kind)
    except ValueError:
        raise PlanError(
            f"moodle cannot apply change {change.id!r}: unknown kind {change.kind!r}"
        ) from None


# -- values from a plan ------------------------------------------------------------------


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PlanError(f"expected a number in the plan, found {value!r}")
    return int(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _result_id(results: Mapping[str, Result], change_id: str) -> int:
    result = results.get(change_id)
    if result is None or "id" not in result:
        raise PlanError(f"{change_id} has no Moodle id yet; it must be applied first")
    return _int(result["id"])


def _resolve(results: Mapping[str, Result], key: Any, known: Any) -> int:
    """The Moodle id of a competency: known when planned, else from its create's result."""
    if known is not None:
        return _int(known)
    return _result_id(results, create_change_id(str(key)))


def _framework_id(change: Change, results: Mapping[str, Result]) -> int:
    known = change.fields.get("frameworkid")
    if known is not None:
        return _int(known)
    return _result_id(results, framework_change_id(str(change.fields["framework"])))


# -- one call per change -----------------------------------------------------------------

CallBuilder = Callable[[Change, Mapping[str, Result]], Call[Any]]


def _create_framework(change: Change, _results: Mapping[str, Result]) -> Call[Any]:
    return Calls.create_competency_framework(FrameworkCreate.model_validate(change.fields))


def _update_framework(change: Change, _results: Mapping[str, Result]) -> Call[Any]:
    return Calls.update_competency_framework(FrameworkUpdate.model_validate(change.fields))


def _create_competency(change: Change, results: Mapping[str, Result]) -> Call[Any]:
    f = change.fields
    parent = f.get("parent")
    return Calls.create_competency(
        CompetencyCreate(
            idnumber=str(f["idnumber"]),
            shortname=str(f["shortname"]),
            description=_opt_str(f.get("description")),
            descriptionformat=_opt_int(f.get("descriptionformat")),
            competencyframeworkid=_framework_id(change, results),
            parentid=_resolve(results, parent, f.get("parentid")) if parent else 0,
            scaleid=_opt_int(f.get("scaleid")),
            scaleconfiguration=_opt_str(f.get("scaleconfiguration")),
        )
    )


def _update_competency(change: Change, _results: Mapping[str, Result]) -> Call[Any]:
    return Calls.update_competency(CompetencyUpdate.model_validate(change.fields))


def _delete_competency(change: Change, _results: Mapping[str, Result]) -> Call[Any]:
    return Calls.delete_competency(_int(change.fields["id"]))


def _set_parent(change: Change, results: Mapping[str, Result]) -> Call[Any]:
    f = change.fields
    parent = f.get("parent")
    parentid = _resolve(results, parent, f.get("parentid")) if parent else 0
    return Calls.set_parent_competency(_int(f["id"]), parentid)


def _write_rule(change: Change, results: Mapping[str, Result]) -> Call[Any]:
    f = change.fields
    config = None
    children = f.get("children")
    if isinstance(children, list):
        config = points_config(
            _int(f["base"]),
            [
                (
                    _resolve(results, c["key"], c.get("id")),
                    _int(c["points"]),
                    bool(c["required"]),
                )
                for c in children
                if isinstance(c, dict)
            ],
        )
    return Calls.update_competency(
        CompetencyUpdate(
            id=_resolve(results, f["competency"], f.get("id")),
            ruletype=_opt_str(f.get("ruletype")),
            ruleoutcome=_int(f["ruleoutcome"]),
            ruleconfig=config,
            descriptionformat=_opt_int(f.get("descriptionformat")),
        )
    )


def _pair_ids(change: Change, results: Mapping[str, Result]) -> tuple[int, int]:
    f = change.fields
    return _resolve(results, f["a"], f.get("a_id")), _resolve(results, f["b"], f.get("b_id"))


def _relate(change: Change, results: Mapping[str, Result]) -> Call[Any]:
    return Calls.add_related_competency(*_pair_ids(change, results))


def _unrelate(change: Change, results: Mapping[str, Result]) -> Call[Any]:
    return Calls.remove_related_competency(*_pair_ids(change, results))


def _link_course(change: Change, results: Mapping[str, Result]) -> Call[Any]:
    f = change.fields
    cid = _resolve(results, f["competency"], f.get("competencyid"))
    return Calls.add_competency_to_course(_int(f["courseid"]), cid)


def _unlink_course(change: Change, _results: Mapping[str, Result]) -> Call[Any]:
    f = change.fields
    return Calls.remove_competency_from_course(_int(f["courseid"]), _int(f["competencyid"]))


def grade_call(change: Change, _results: Mapping[str, Result] | None = None) -> Call[WireEvidence]:
    """The rating call of a rating change: in a course, in a plan, or the user competency."""
    f = change.fields
    note = _opt_str(f.get("note"))
    if "courseid" in f:
        return Calls.grade_competency_in_course(
            _int(f["courseid"]), _int(f["userid"]), _int(f["competencyid"]), _int(f["grade"]), note
        )
    if "planid" in f:
        return Calls.grade_competency_in_plan(
            _int(f["planid"]), _int(f["competencyid"]), _int(f["grade"]), note
        )
    return Calls.grade_competency(
        _int(f["userid"]), _int(f["competencyid"]), _int(f["grade"]), note
    )


_CALLS: Mapping[tuple[Kind, Action], CallBuilder] = {
    (Kind.FRAMEWORK, Action.CREATE): _create_framework,
    (Kind.FRAMEWORK, Action.UPDATE): _update_framework,
    (Kind.COMPETENCY, Action.CREATE): _create_competency,
    (Kind.COMPETENCY, Action.UPDATE): _update_competency,
    (Kind.COMPETENCY, Action.DELETE): _delete_competency,
    (Kind.COMPETENCY_PARENT, Action.UPDATE): _set_parent,
    (Kind.RULE, Action.CREATE): _write_rule,
    (Kind.RULE, Action.UPDATE): _write_rule,
    (Kind.RELATED, Action.LINK): _relate,
    (Kind.RELATED, Action.UNLINK): _unrelate,
    (Kind.COURSE_LINK, Action.LINK): _link_course,
    (Kind.COURSE_LINK, Action.UNLINK): _unlink_course,
    (Kind.RATING, Action.CREATE): grade_call,
    (Kind.RATING, Action.UPDATE): grade_call,
}
"""The call of each (kind, action) a plan may hold; rule resets and course outcomes are
carried out by their own handlers (:data:`_GROUPS`)."""


def call_for(change: Change, results: Mapping[str, Result]) -> Call[Any]:
    """The remote call that carries ``change`` out; an unknown kind or action is refused."""
    builder = _CALLS.get((kind_of(change), change.action))
    if builder is None:
        raise PlanError(
            f"moodle cannot apply change {change.id!r}: no {change.action.value} of a {change.kind}"
        )
    return builder(change, results)


SUPPORTED: frozenset[tuple[Kind, Action]] = frozenset(
    {*_CALLS, (Kind.RULE, Action.DELETE), (Kind.COURSE_OUTCOME, Action.UPDATE)}
)
"""Every (kind, action) this executor carries out."""
_KINDS = frozenset(kind.value for kind in Kind)


def check_changes(changes: Sequence[Change]) -> None:
    """Refuse, before anything is written, changes of a kind or action not carried out
    here (naming each)."""
    bad = [
        f"{c.id!r} ({c.action.value} {c.kind})"
        for c in changes
        if c.writes and (c.kind not in _KINDS or (Kind(c.kind), c.action) not in SUPPORTED)
    ]
    if bad:
        raise PlanError(
            "moodle cannot apply these changes (unknown kind or action; was the plan made by "
            "another adapter or version?): " + ", ".join(bad)
        )


def _result_of(change: Change, value: Any) -> Result:
    kind = Kind(change.kind)
    if change.action is Action.CREATE and kind in (Kind.FRAMEWORK, Kind.COMPETENCY):
        return {"id": int(value.id)}
    if change.action is Action.DELETE:
        if value is False:
            return {
                "deleted": False,
                "refused": "Moodle answered false: it or something below it is in use "
                "(ratings, plans, templates or courses)",
            }
        return {"deleted": True}
    if kind is Kind.COURSE_LINK and change.action is Action.LINK:
        return {"linked": bool(value)}
    return {}


def group_key(change: Change) -> Hashable | None:
    """Which changes may share one request: a rule reset goes alone; course outcomes and
    ratings with their own kind; every other call together."""
    kind = kind_of(change)
    if kind is Kind.RULE and change.action is Action.DELETE:
        return None
    if kind in (Kind.COURSE_OUTCOME, Kind.RATING):
        return kind.value
    return "call"


# -- the executor ------------------------------------------------------------------------


class MoodleExecutor:
    """Carries out groups of changes of a Moodle plan (a batch executor).

    ``verify_ratings_first`` (an apply with a journal, the way to resume after a crash)
    reads each group of ratings back before sending it, so a rating Moodle stored before a
    crash is not sent twice (a second evidence entry).
    """

    def __init__(
        self,
        client: MoodleClient,
        *,
        rate_in: RateIn = "site",
        course_id: int | None = None,
        verify_ratings_first: bool = False,
    ) -> None:
        self.client = client
        self.reader = SiteReader(client)
        self.rate_in: RateIn = rate_in
        self.course_id = course_id
        self.verify_ratings_first = verify_ratings_first

    @property
    def max_batch(self) -> int:
        """Changes per group: the client's batch size when the site batches, else 1."""
        return self.client.batch_size if self.client.batching else 1

    def __call__(self, changes: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        first = changes[0]
        kind = kind_of(first)
        handler = _GROUPS.get((kind, first.action)) or _GROUPS.get(kind) or MoodleExecutor._calls
        return handler(self, changes, results)

    # -- plain calls ----------------------------------------------------------------------

    def _calls(self, changes: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        calls = [call_for(change, results) for change in changes]
        batch = self.client.run_many(calls)
        outcome = BatchOutcome(error=batch.error)
        for change, value in zip(changes, batch.values, strict=False):
            outcome.results.append(_result_of(change, value))
        if batch.error is None:
            return outcome
        rest = changes[len(batch.values) :]
        found = self._already_done(rest, batch.error, results)
        if not found:
            return outcome
        outcome.results.extend(found)
        outcome.error = None
        if len(found) < len(rest):
            done = {c.id: r for c, r in zip(changes, outcome.results, strict=False) if r}
            more = self._calls(rest[len(found) :], {**results, **done})
            outcome.results.extend(more.results)
            outcome.error = more.error
        return outcome

    def _already_done(
        self, changes: Sequence[Change], error: Exception, results: Mapping[str, Result]
    ) -> list[Result]:
        """Results for the leading ``changes`` the site already holds, after ``changes[0]``
        failed with ``error`` (empty when it did not fail for that reason).

        A create fails on an idnumber in use (``invalidpersistenterror``; the message is
        translated, so the site is asked) and a delete on a missing record: after a crash
        that lost Moodle's answer, that is the write itself, done before. Records are
        adopted by idnumber, the sync key.
        """
        first = changes[0]
        kind = kind_of(first)
        if kind is Kind.COMPETENCY and first.action is Action.DELETE:
            return [{"deleted": True, "already": True}] if isinstance(error, NotFoundError) else []
        if not (
            first.action is Action.CREATE
            and kind in (Kind.FRAMEWORK, Kind.COMPETENCY)
            and isinstance(error, FatalRemoteError)
            and error.code == "invalidpersistenterror"
        ):
            return []
        if kind is Kind.FRAMEWORK:
            remote = self.reader.find_framework(first.key)
            return [{"id": remote.id, "adopted": True}] if remote is not None else []
        existing = {
            c.idnumber: c.id for c in self.reader.competencies(_framework_id(first, results))
        }
        found: list[Result] = []
        for change in changes:
            idnumber = str(change.fields.get("idnumber"))
            creates = change.kind == Kind.COMPETENCY and change.action is Action.CREATE
            if not creates or idnumber not in existing:
                break
            found.append({"id": existing[idnumber], "adopted": True})
        return found

    # -- rule resets ----------------------------------------------------------------------

    def _reset_rule(
        self, changes: Sequence[Change], _results: Mapping[str, Result]
    ) -> BatchOutcome:
        """Clear a rule REST cannot clear: create a child (which resets the parent's rule
        in Moodle), then delete it. A crash in between leaves the child; the next plan
        deletes it (its idnumber starts with the reset prefix)."""
        f = changes[0].fields
        parent = _int(f["id"])
        framework_id = _int(f["frameworkid"])
        idnumber = f"{RESET_PREFIX}{parent}"
        try:
            temp = self.client.run(
                Calls.create_competency(
                    CompetencyCreate(
                        idnumber=idnumber,
                        shortname="comp-adapters: temporary (rule reset)",
                        competencyframeworkid=framework_id,
                        parentid=parent,
                    )
                )
            )
            temp_id = temp.id
        except FatalRemoteError as exc:
            if exc.code != "invalidpersistenterror":  # not "idnumber in use" (translated)
                raise
            found = self.client.run(
                Calls.list_competencies(
                    {"competencyframeworkid": framework_id, "idnumber": idnumber}
                )
            )
            if not found:
                raise
            temp_id = found[0].id
        self.client.run(Calls.delete_competency(temp_id))
        return BatchOutcome(results=[{}])

    # -- course outcomes ------------------------------------------------------------------

    def _course_outcomes(
        self, changes: Sequence[Change], results: Mapping[str, Result]
    ) -> BatchOutcome:
        """Set the outcome of course links; links created by this plan are found first."""
        unknown = sorted(
            {_int(c.fields["courseid"]) for c in changes if c.fields.get("linkid") is None}
        )
        link_ids: dict[tuple[int, int], int] = {}
        for course, records in self.reader.course_links(unknown).items():
            for record in records:
                link_ids[(course, record.competencyid)] = record.id
        calls: list[Call[Any]] = []
        for change in changes:
            f = change.fields
            link = f.get("linkid")
            if link is None:
                course = _int(f["courseid"])
                cid = _resolve(results, f["competency"], f.get("competencyid"))
                if (course, cid) not in link_ids:
                    raise PlanError(f"the course link {change.key!r} does not exist in Moodle")
                link = link_ids[(course, cid)]
            calls.append(
                Calls.set_course_competency_ruleoutcome(_int(link), _int(f["ruleoutcome"]))
            )
        batch = self.client.run_many(calls)
        return BatchOutcome(results=[{} for _ in batch.values], error=batch.error)

    # -- ratings --------------------------------------------------------------------------

    def _ratings(self, changes: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        """Rate; read back a rating whose answer failed: it counts as applied when Moodle
        holds its grade."""
        outcome = BatchOutcome()
        done = self._already_rated(changes) if self.verify_ratings_first else set()
        index = 0
        while index < len(changes):
            if changes[index].id in done:
                outcome.results.append({"confirmed": True})
                index += 1
                continue
            end = index
            while end < len(changes) and changes[end].id not in done:
                end += 1
            batch = self.client.run_many([call_for(c, results) for c in changes[index:end]])
            outcome.results.extend({"evidence": int(v.id)} for v in batch.values)
            index += len(batch.values)
            if batch.error is None:
                continue
            if changes[index].id in self._already_rated(changes[index : index + 1]):
                outcome.results.append({"confirmed": True, "answer": batch.error.code or "lost"})
                index += 1
                continue
            outcome.error = batch.error
            return outcome
        return outcome

    def _already_rated(self, changes: Sequence[Change]) -> set[str]:
        """The rating changes Moodle already holds the grade of (read back)."""
        pairs = [(_int(c.fields["userid"]), _int(c.fields["competencyid"])) for c in changes]
        grades = self.reader.grades(pairs, rate_in=self.rate_in, course_id=self.course_id)
        return {
            change.id
            for change, pair in zip(changes, pairs, strict=True)
            if grades.current.get(pair) == _int(change.fields["grade"])
        }


GroupHandler = Callable[[MoodleExecutor, Sequence[Change], Mapping[str, Result]], BatchOutcome]

_GROUPS: Mapping[Kind | tuple[Kind, Action], GroupHandler] = {
    (Kind.RULE, Action.DELETE): MoodleExecutor._reset_rule,
    Kind.COURSE_OUTCOME: MoodleExecutor._course_outcomes,
    Kind.RATING: MoodleExecutor._ratings,
}
"""Groups carried out by their own handler (by kind and action, or by kind); every other
group is a batch of calls (:data:`_CALLS`)."""


__all__ = [
    "SUPPORTED",
    "Kind",
    "MoodleExecutor",
    "call_for",
    "check_changes",
    "grade_call",
    "group_key",
    "kind_of",
]
