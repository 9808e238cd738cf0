"""The Moodle adapter: frameworks in and out, proficiency out as ratings, evidence in.

It reads what it needs from the site, leaves the decisions to pure functions
(:mod:`~comp_adapters.moodle.planner` for frameworks,
:mod:`~comp_adapters.moodle.rating_planner` for ratings, :mod:`~comp_adapters.moodle.mapping`
and :mod:`~comp_adapters.moodle.text`) and carries plans out through the client, batching
calls where the site allows it.

**Scales.** Moodle cannot create scales over web services. A core scale is mapped to the
configured scale (``scale_id``) or to an existing scale whose items are the level names in
order: the scale the framework already uses, the scale named by the core scale's key
(``moodle-scale-<id>``), those of the site's other frameworks, and Moodle's default
competence scale (id 2). When none fits, planning fails and says which items to create.

**Ratings.** ``plan_proficiency`` reads the current rating before writing and only writes
what changed. In the site mode the only read Moodle offers is
``tool_lp_data_for_user_competency_summary``, which CREATES an empty user competency
record where none exists; such a record locks the competency's scale. Only pairs about to
be rated (and parents whose rule Moodle may have completed) are read, but a dry run still
creates them. The plan mode reads through ``core_competency_list_plan_competencies``, which
creates nothing; the course mode creates empty course records, which lock nothing. A
rating whose answer failed is read back before anything else is decided (see
:meth:`MoodleAdapter.apply`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import ProficiencyScale
from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    FatalRemoteError,
    MappingError,
    NotFoundError,
    PermissionDeniedError,
    PlanError,
)
from comp_adapters.http import redact_url
from comp_adapters.moodle.client import Call, Calls, MoodleClient
from comp_adapters.moodle.mapping import (
    CourseLink,
    competency_key,
    evidence_from_moodle,
    framework_from_moodle,
    points_config,
    scale_configuration,
    scale_id_hint,
    scale_matches,
    scale_mismatch,
)
from comp_adapters.moodle.planner import (
    RESET_PREFIX,
    PushTarget,
    RemoteFramework,
    ScaleBinding,
    course_links_of,
    create_change_id,
    framework_change_id,
    plan_push,
    related_endpoints,
)
from comp_adapters.moodle.rating_planner import (
    RateIn,
    RatingOptions,
    RatingPlanner,
    RatingSite,
)
from comp_adapters.moodle.wire import (
    CompetencyCreate,
    CompetencyUpdate,
    ContextRef,
    FrameworkCreate,
    FrameworkUpdate,
    UserField,
    WireCompetency,
    WireEvidence,
    WireFramework,
    WireUser,
)
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.batch import BatchOutcome, apply_plan_in_batches
from comp_adapters.sync.journal import Journal, Result
from comp_adapters.sync.plan import Action, Change, Plan

log = logging.getLogger("comp_adapters.moodle")

DEFAULT_SCALE_ID = 2
"""Moodle's "Default competence scale" on a fresh install (verified by its items)."""
USERS_PER_CALL = 100
EVIDENCE_CURSOR_FIELD = "evidence.timecreated"

_FIND_FUNCTIONS = (
    "core_competency_list_competency_frameworks",
    "core_competency_list_competencies",
)
_PULL_FUNCTIONS = (
    *_FIND_FUNCTIONS,
    "core_competency_get_scale_values",
    "tool_lp_data_for_related_competencies_section",
)
_USER_FUNCTIONS = ("core_user_get_users_by_field",)
_EVIDENCE_FUNCTIONS = ("tool_lp_data_for_user_competency_summary",)
_PUSH_FUNCTIONS = (
    "core_competency_list_competency_frameworks",
    "core_competency_create_competency_framework",
    "core_competency_update_competency_framework",
    "core_competency_get_scale_values",
    "core_competency_list_competencies",
    "core_competency_create_competency",
    "core_competency_update_competency",
    "core_competency_delete_competency",
    "core_competency_set_parent_competency",
)
_RELATED_FUNCTIONS = (
    "core_competency_add_related_competency",
    "core_competency_remove_related_competency",
    "tool_lp_data_for_related_competencies_section",
)
_COURSE_FUNCTIONS = (
    "core_competency_list_course_competencies",
    "core_competency_add_competency_to_course",
    "core_competency_remove_competency_from_course",
    "core_competency_set_course_competency_ruleoutcome",
)
_RATE_FUNCTIONS: Mapping[str, tuple[str, ...]] = {
    "site": ("core_competency_grade_competency", "tool_lp_data_for_user_competency_summary"),
    "course": (
        "core_competency_grade_competency_in_course",
        "tool_lp_data_for_user_competency_summary_in_course",
        "core_competency_list_course_competencies",
    ),
    "plan": (
        "core_competency_grade_competency_in_plan",
        "core_competency_list_user_plans",
        "core_competency_list_plan_competencies",
    ),
}


@dataclass(frozen=True, slots=True)
class UserLookup:
    """Learner keys found as Moodle users, and keys Moodle's lookup refuses (with why)."""

    found: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def required_functions(command: str, *, rate_in: RateIn = "site") -> tuple[str, ...]:
    """The web-service functions a CLI command needs in the token's service, in order:
    ``push``, ``pull``, ``pull-evidence`` or ``rate`` (then by ``rate_in``). Optional ones
    (course links, cross-references, batching) are named in the documentation."""
    table: Mapping[str, tuple[str, ...]] = {
        "push": ("core_webservice_get_site_info", *_PUSH_FUNCTIONS),
        "pull": ("core_webservice_get_site_info", *_PULL_FUNCTIONS),
        "pull-evidence": (
            "core_webservice_get_site_info",
            *_PULL_FUNCTIONS,
            *_USER_FUNCTIONS,
            *_EVIDENCE_FUNCTIONS,
        ),
        "rate": (
            "core_webservice_get_site_info",
            *_FIND_FUNCTIONS,
            *_USER_FUNCTIONS,
            *_RATE_FUNCTIONS[rate_in],
        ),
    }
    return tuple(dict.fromkeys(table[command]))


class MoodleAdapter:
    """Moodle's competencies as a framework source and target, a rating target and an
    evidence source.

    ``framework`` (the core framework) is needed for ratings and evidence: it gives the
    scale levels behind Moodle's grades. ``learners`` are the learner keys whose evidence
    :meth:`read_evidence` reads. ``user_field`` says how learner keys name Moodle users.
    ``rate_in``: ``site`` rates the user competency (``grade_competency``), ``course``
    rates in ``course_id``, ``plan`` rates in the learner's active plan holding it.
    ``course_links`` (competency key -> links) override the ``moodle.courses`` properties.
    ``revoke_rule_ratings``: where Moodle keeps a rating its rule gave that this
    computation no longer gives, write the scale's lowest level instead of a no-op.
    """

    name: ClassVar[str] = "moodle"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.READS_FRAMEWORK,
            Capability.WRITES_FRAMEWORK,
            Capability.READS_EVIDENCE,
            Capability.WRITES_PROFICIENCY,
        }
    )

    def __init__(
        self,
        client: MoodleClient,
        *,
        scale_id: int | None = None,
        category_id: int | None = None,
        course_links: Mapping[str, Sequence[CourseLink]] | None = None,
        framework: Framework | None = None,
        learners: Sequence[str] = (),
        user_field: UserField = "email",
        rate_in: RateIn = "site",
        course_id: int | None = None,
        revoke_rule_ratings: bool = False,
    ) -> None:
        if rate_in == "course" and course_id is None:
            raise ConfigurationError("moodle: rating in a course needs course_id")
        self.client = client
        self.scale_id = scale_id
        self.context = (
            ContextRef(contextlevel="coursecat", instanceid=category_id)
            if category_id is not None
            else ContextRef()
        )
        self.course_links = dict(course_links) if course_links else None
        self.framework = framework.canonical() if framework is not None else None
        self.learners = tuple(learners)
        self.user_field: UserField = user_field
        self.rate_in: RateIn = rate_in
        self.course_id = course_id
        self.revoke_rule_ratings = revoke_rule_ratings

    def __repr__(self) -> str:
        return f"MoodleAdapter({self.client!r})"

    @property
    def _site(self) -> str:
        return redact_url(self.client.base_url).rstrip("/")

    # -- shared reads ---------------------------------------------------------------------

    def _require(self, names: Iterable[str]) -> None:
        """Fail early, naming every function the token's service lacks.

        Only a service without ``core_webservice_get_site_info`` is tolerated (the calls
        then tell); an unreachable site or a bad token fails here, once.
        """
        try:
            missing = self.client.missing_functions(list(names))
        except PermissionDeniedError:
            return
        if missing:
            raise ConfigurationError(
                "moodle: the token's web service lacks these functions this needs: "
                + ", ".join(missing)
                + ". Add them to the service (Site administration > Server > Web services > "
                "External services > Functions)"
            )

    def _frameworks(self, query: str = "") -> list[WireFramework]:
        return self.client.run(Calls.list_competency_frameworks(query=query, context=ContextRef()))

    def _find_framework(
        self, key: str, frameworks: Sequence[WireFramework] | None = None
    ) -> WireFramework | None:
        found = frameworks if frameworks is not None else self._frameworks(key)
        return next((f for f in found if f.idnumber.strip() == key), None)

    def _existing_framework(self, key: str, *, operation: str, hint: str = "") -> WireFramework:
        remote = self._find_framework(key)
        if remote is None:
            raise NotFoundError(
                f"no competency framework with idnumber {key!r}{hint}",
                adapter=self.name,
                operation=operation,
                url=self._site,
            )
        return remote

    def _competencies(self, framework_id: int) -> list[WireCompetency]:
        return self.client.run(Calls.list_competencies({"competencyframeworkid": framework_id}))

    def _run_reads(self, calls: Sequence[Call[Any]]) -> list[Any]:
        return self.client.run_many(calls).raise_for_error()

    def _related(self, ids: Sequence[int]) -> dict[int, frozenset[int]]:
        sections = self._run_reads([Calls.related_competencies(i) for i in ids])
        return {
            cid: frozenset(c.id for c in section.relatedcompetencies)
            for cid, section in zip(ids, sections, strict=True)
        }

    def _scale_items(self, ids: Sequence[int]) -> dict[int, list[str]]:
        """Items of the given scales; scales that do not exist are left out."""
        found: dict[int, list[str]] = {}
        remaining = list(dict.fromkeys(ids))
        while remaining:
            batch = self.client.run_many([Calls.get_scale_values(i) for i in remaining])
            for scale_id, values in zip(remaining, batch.values, strict=False):
                found[scale_id] = [v.name for v in sorted(values, key=lambda v: v.id)]
            if batch.error is None:
                break
            # A scale id that does not exist fails in ways that vary by Moodle version
            # (a missing record, or a PHP error on it); only systematic failures stop us.
            if not isinstance(batch.error, FatalRemoteError) or isinstance(
                batch.error, AuthenticationError | PermissionDeniedError
            ):
                raise batch.error
            remaining = remaining[len(batch.values) + 1 :]
        return found

    # -- pull -----------------------------------------------------------------------------

    def read_framework(self, key: str) -> Framework:
        """The framework with idnumber ``key`` (competencies, rules, scales, cross-refs)."""
        self._require(_PULL_FUNCTIONS)
        remote = self._existing_framework(key, operation="read_framework")
        competencies = self._competencies(remote.id)
        scale_ids = [remote.scaleid, *(c.scaleid for c in competencies if c.scaleid is not None)]
        items = self._scale_items(scale_ids)
        related = self._related([c.id for c in competencies]) if competencies else {}
        return framework_from_moodle(
            remote, competencies, scale_items=items, related=related, source=f"{self._site} {key}"
        )

    # -- push: plan -----------------------------------------------------------------------

    def plan_framework(
        self, framework: Framework, *, prune: bool = False, adopt: bool = False
    ) -> Plan:
        """The changes that make the site hold ``framework``; reads only, writes nothing.

        A framework with the same idnumber that was not made from ours is refused
        (:class:`~comp_adapters.moodle.planner.ForeignFrameworkError`, listing the
        differences) unless ``adopt``; a text Moodle would not keep as it is fails with
        :class:`~comp_adapters.errors.MappingError` naming every one.
        """
        fw = framework.canonical()
        links = course_links_of(fw, self.course_links)
        pairs = related_endpoints(fw)
        self._require(
            [
                *_PUSH_FUNCTIONS,
                *(_RELATED_FUNCTIONS if pairs or prune else ()),
                *(_COURSE_FUNCTIONS if links else ()),
            ]
        )
        frameworks = self._frameworks()
        remote_fw = self._find_framework(fw.key, frameworks)
        competencies = self._competencies(remote_fw.id) if remote_fw is not None else []
        framework_scale, competency_scales = self._bind_scales(
            fw, frameworks, remote_fw, competencies
        )
        related: dict[int, frozenset[int]] = {}
        if remote_fw is not None:
            wanted = {
                c.id for c in competencies if prune or competency_key(c.idnumber, c.id) in pairs
            }
            related = self._related([c.id for c in competencies if c.id in wanted])
        courses = sorted({link.course_id for items in links.values() for link in items})
        course_links = dict(
            zip(
                courses,
                (
                    tuple(e.coursecompetency for e in entries)
                    for entries in self._run_reads(
                        [Calls.list_course_competencies(c) for c in courses]
                    )
                ),
                strict=True,
            )
        )
        remote = RemoteFramework(
            framework=remote_fw,
            competencies=tuple(competencies),
            related=related,
            course_links=course_links,
        )
        target = PushTarget(
            framework_scale=framework_scale,
            competency_scales=competency_scales,
            context=self.context,
            course_links=links,
            prune=prune,
            adopt=adopt,
        )
        plan = plan_push(fw, remote, target, where=f"{self._site} framework {fw.key}")
        if remote_fw is not None and self.context.model_dump() != ContextRef().model_dump():
            plan = plan.model_copy(
                update={"notes": (*plan.notes, "the framework exists; its context never changes")}
            )
        return plan

    def _bind_scales(
        self,
        framework: Framework,
        frameworks: Sequence[WireFramework],
        remote_fw: WireFramework | None,
        competencies: Sequence[WireCompetency],
    ) -> tuple[ScaleBinding, dict[str, ScaleBinding]]:
        remote_by_key = {competency_key(c.idnumber, c.id): c for c in competencies}
        wanted: list[tuple[str, ProficiencyScale, int | None]] = [
            ("the framework scale", framework.scale, remote_fw.scaleid if remote_fw else None)
        ]
        for competency in framework.competencies:
            if competency.scale is not None:
                wire = remote_by_key.get(competency.key)
                wanted.append(
                    (
                        f"the scale of {competency.key!r}",
                        competency.scale,
                        wire.scaleid if wire is not None else None,
                    )
                )
        candidates: list[int] = []
        if self.scale_id is not None:
            candidates.append(self.scale_id)
        candidates.extend(current for _, _, current in wanted if current is not None)
        candidates.extend(h for _, s, _ in wanted if (h := scale_id_hint(s)) is not None)
        candidates.extend(f.scaleid for f in frameworks)
        candidates.extend(c.scaleid for c in competencies if c.scaleid is not None)
        candidates.append(DEFAULT_SCALE_ID)
        items = self._scale_items(candidates)
        bindings: list[ScaleBinding] = []
        for position, (what, scale, current) in enumerate(wanted):
            if position == 0 and self.scale_id is not None:
                configured = items.get(self.scale_id)
                if configured is None:
                    raise MappingError(f"moodle: scale {self.scale_id} (scale_id) cannot be read")
                if not scale_matches(scale, configured):
                    raise MappingError(
                        f"moodle: scale {self.scale_id} does not fit {what}: "
                        + scale_mismatch(scale, configured)
                    )
                chosen: int | None = self.scale_id
            else:
                order = [current, scale_id_hint(scale), *candidates]
                chosen = next(
                    (
                        i
                        for i in order
                        if i is not None and i in items and scale_matches(scale, items[i])
                    ),
                    None,
                )
            if chosen is None:
                names = ",".join(level.name for level in scale.levels)
                raise MappingError(
                    f"moodle: no scale on the site fits {what} (items {names!r}). Moodle cannot "
                    "create scales over web services: create a scale with exactly these items "
                    "(Site administration > Grades > Scales) and give its id as scale_id "
                    "(--scale-id)"
                )
            bindings.append(
                ScaleBinding(chosen, scale_configuration(scale, chosen, with_keys=True))
            )
        competency_scales = {
            c.key: binding
            for c, binding in zip(
                [c for c in framework.competencies if c.scale is not None],
                bindings[1:],
                strict=True,
            )
        }
        return bindings[0], competency_scales

    # -- push and rate: apply -------------------------------------------------------------

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan of this adapter, batching calls where the site allows it.

        A delete Moodle refuses (it answers ``false`` when the item is in use) does not
        stop the apply; it is recorded in the change's result (see :func:`refusals`).

        Applying the same plan again with the same journal after a crash continues where
        it stopped, even when the crash lost the answer to a write Moodle had done: a
        create Moodle refuses because the idnumber exists adopts the existing record
        (idnumbers are the sync keys), and a delete of a record already gone counts as
        done.

        A rating whose answer failed may have been stored (Moodle 5.0 stores it and then
        fails to answer in raw mode, recording 44; or the answer was lost): it is read
        back, and counts as applied when Moodle holds its grade. With a ``journal`` (the
        way to resume after a crash), each group of ratings is read back before it is
        sent, so a rating Moodle stored before a crash is not sent twice (a second
        evidence entry); without one, plan again after a crash (the plan reads them).
        """
        if plan.adapter != self.name:
            raise PlanError(f"this is a plan for {plan.adapter!r}, not for moodle")
        max_batch = self.client.batch_size if self.client.batching else 1
        resumable = journal is not None

        def execute(changes: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
            if changes[0].kind == "rating":
                return self._ratings(changes, verify_first=resumable)
            return self._execute(changes, results)

        return apply_plan_in_batches(
            plan, execute, journal=journal, max_batch=max_batch, group_key=_group_key
        )

    def _ratings(self, changes: Sequence[Change], *, verify_first: bool) -> BatchOutcome:
        """Rate; read back a rating whose answer failed (see :meth:`apply`)."""
        outcome = BatchOutcome()
        done = self._already_rated(changes) if verify_first else set()
        index = 0
        while index < len(changes):
            if changes[index].id in done:
                outcome.results.append({"confirmed": True})
                index += 1
                continue
            end = index
            while end < len(changes) and changes[end].id not in done:
                end += 1
            batch = self.client.run_many([self._grade_call(c.fields) for c in changes[index:end]])
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
        current, _ = self._current_grades(pairs)
        return {
            change.id
            for change, pair in zip(changes, pairs, strict=True)
            if current.get(pair) == _int(change.fields["grade"])
        }

    def _execute(self, changes: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        first = changes[0]
        if first.id.startswith("reset:"):
            self._reset_rule(first)
            return BatchOutcome(results=[{}])
        if first.kind == "course outcome":
            return self._course_outcomes(changes, results)
        calls = [self._call_for(change, results) for change in changes]
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
            more = self._execute(rest[len(found) :], {**results, **done})
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
        prefix = first.id.split(":", 1)[0]
        if prefix in ("cleanup", "delete"):
            return [{"deleted": True, "already": True}] if isinstance(error, NotFoundError) else []
        if not (
            first.action is Action.CREATE
            and prefix in ("framework", "competency")
            and isinstance(error, FatalRemoteError)
            and error.code == "invalidpersistenterror"
        ):
            return []
        if prefix == "framework":
            remote = self._find_framework(first.key)
            return [{"id": remote.id, "adopted": True}] if remote is not None else []
        frameworkid = first.fields.get("frameworkid")
        if frameworkid is None:
            frameworkid = _result_id(results, framework_change_id(str(first.fields["framework"])))
        existing = {c.idnumber: c.id for c in self._competencies(_int(frameworkid))}
        found: list[Result] = []
        for change in changes:
            idnumber = str(change.fields.get("idnumber"))
            if not change.id.startswith("competency:") or idnumber not in existing:
                break
            found.append({"id": existing[idnumber], "adopted": True})
        return found

    def _call_for(self, change: Change, results: Mapping[str, Result]) -> Call[Any]:
        f = change.fields
        prefix = change.id.split(":", 1)[0]
        if prefix == "framework":
            if change.action is Action.CREATE:
                return Calls.create_competency_framework(FrameworkCreate.model_validate(f))
            return Calls.update_competency_framework(FrameworkUpdate.model_validate(f))
        if prefix in ("cleanup", "delete"):
            return Calls.delete_competency(_int(f["id"]))
        if prefix == "competency":
            frameworkid = f.get("frameworkid")
            if frameworkid is None:
                frameworkid = _result_id(results, framework_change_id(str(f["framework"])))
            parent = f.get("parent")
            return Calls.create_competency(
                CompetencyCreate(
                    idnumber=str(f["idnumber"]),
                    shortname=str(f["shortname"]),
                    description=_opt_str(f.get("description")),
                    descriptionformat=_opt_int(f.get("descriptionformat")),
                    competencyframeworkid=_int(frameworkid),
                    parentid=_resolve(results, parent, f.get("parentid")) if parent else 0,
                    scaleid=_opt_int(f.get("scaleid")),
                    scaleconfiguration=_opt_str(f.get("scaleconfiguration")),
                )
            )
        if prefix == "update":
            return Calls.update_competency(CompetencyUpdate.model_validate(f))
        if prefix == "parent":
            parent = f.get("parent")
            parentid = _resolve(results, parent, f.get("parentid")) if parent else 0
            return Calls.set_parent_competency(_int(f["id"]), parentid)
        if prefix == "rule":
            cid = _resolve(results, f["competency"], f.get("id"))
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
                    id=cid,
                    ruletype=_opt_str(f.get("ruletype")),
                    ruleoutcome=_int(f["ruleoutcome"]),
                    ruleconfig=config,
                    descriptionformat=_opt_int(f.get("descriptionformat")),
                )
            )
        if prefix in ("related", "unrelated"):
            a = _resolve(results, f["a"], f.get("a_id"))
            b = _resolve(results, f["b"], f.get("b_id"))
            if prefix == "related":
                return Calls.add_related_competency(a, b)
            return Calls.remove_related_competency(a, b)
        if prefix == "course":
            cid = _resolve(results, f["competency"], f.get("competencyid"))
            return Calls.add_competency_to_course(_int(f["courseid"]), cid)
        if prefix == "uncourse":
            return Calls.remove_competency_from_course(_int(f["courseid"]), _int(f["competencyid"]))
        if prefix == "rating":
            return self._grade_call(f)
        raise PlanError(f"moodle cannot apply change {change.id!r}")

    def _reset_rule(self, change: Change) -> None:
        """Clear a rule REST cannot clear: create a child (which resets the parent's rule
        in Moodle), then delete it. A crash in between leaves the child; the next plan
        deletes it (its idnumber starts with the reset prefix)."""
        f = change.fields
        parent = _int(f["id"])
        idnumber = f"{RESET_PREFIX}{parent}"
        try:
            temp = self.client.run(
                Calls.create_competency(
                    CompetencyCreate(
                        idnumber=idnumber,
                        shortname="comp-adapters: temporary (rule reset)",
                        competencyframeworkid=_int(f["frameworkid"]),
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
                    {"competencyframeworkid": _int(f["frameworkid"]), "idnumber": idnumber}
                )
            )
            if not found:
                raise
            temp_id = found[0].id
        self.client.run(Calls.delete_competency(temp_id))

    def _course_outcomes(
        self, changes: Sequence[Change], results: Mapping[str, Result]
    ) -> BatchOutcome:
        unknown = sorted(
            {_int(c.fields["courseid"]) for c in changes if c.fields.get("linkid") is None}
        )
        link_ids: dict[tuple[int, int], int] = {}
        for course, entries in zip(
            unknown,
            self._run_reads([Calls.list_course_competencies(c) for c in unknown]),
            strict=True,
        ):
            for entry in entries:
                link_ids[(course, entry.coursecompetency.competencyid)] = entry.coursecompetency.id
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

    # -- ratings out ----------------------------------------------------------------------

    def _require_framework(self) -> Framework:
        if self.framework is None:
            raise ConfigurationError(
                "moodle: ratings and evidence need the core framework (framework=...): its "
                "scale levels give meaning to Moodle's grades"
            )
        return self.framework

    def _remote_competencies(self, framework: Framework) -> dict[str, WireCompetency]:
        remote = self._existing_framework(
            framework.key, operation="find framework", hint="; push it first"
        )
        return {competency_key(c.idnumber, c.id): c for c in self._competencies(remote.id)}

    def user_ids(self, learners: Iterable[str]) -> dict[str, int]:
        """Moodle user ids of learner keys (by ``user_field``); see :meth:`lookup_users`."""
        return self.lookup_users(learners).found

    def lookup_users(self, learners: Iterable[str]) -> UserLookup:
        """Moodle users of learner keys, by ``user_field``, one call per 100 learners.

        ``core_user_get_users_by_field`` cleans each value with its field's type and
        fails the WHOLE call when one would change (``user/externallib.php``): usernames
        are sent in lower case (Moodle's are), e-mail addresses as given and in lower
        case (the lookup is exact), and a call Moodle refuses is split until the keys it
        refuses are found; those come back in ``refused`` with the reason, learners
        without a user are simply left out.
        """
        keys = sorted(set(learners))
        if self.user_field == "id":
            return UserLookup(
                found={k: int(k) for k in keys if k.isdigit()},
                refused={k: "not a Moodle user id (a number)" for k in keys if not k.isdigit()},
            )
        fold = self.user_field in ("email", "username")
        sent: dict[str, list[str]] = {}  # value sent -> the learner keys it stands for
        own: dict[str, list[str]] = {}  # learner key -> the values sent for it
        for key in keys:
            own[key] = [key.lower()] if self.user_field == "username" else [key]
            if self.user_field == "email" and key.lower() != key:
                own[key].append(key.lower())
            for value in own[key]:
                sent.setdefault(value, []).append(key)
        values = sorted(sent)
        chunks = [values[i : i + USERS_PER_CALL] for i in range(0, len(values), USERS_PER_CALL)]
        refused_values: set[str] = set()
        by_value: dict[str, int] = {}
        while chunks:
            batch = self.client.run_many(
                [Calls.get_users_by_field(self.user_field, c) for c in chunks]
            )
            for users in batch.values:
                for user in users:
                    got = _user_value(user, self.user_field)
                    if got is not None:
                        by_value[got.casefold() if fold else got] = user.id
            if batch.error is None:
                break
            if not (
                isinstance(batch.error, FatalRemoteError) and batch.error.code == "invalidparameter"
            ):
                raise batch.error
            failed, rest = chunks[len(batch.values)], chunks[len(batch.values) + 1 :]
            if len(failed) == 1:
                refused_values.add(failed[0])
                chunks = rest
            else:
                half = len(failed) // 2
                chunks = [failed[:half], failed[half:], *rest]
        found: dict[str, int] = {}
        refused: dict[str, str] = {}
        for value in values:
            uid = by_value.get(value.casefold() if fold else value)
            for key in sent[value]:
                if uid is not None:
                    found.setdefault(key, uid)
        for key in keys:
            if key not in found and all(v in refused_values for v in own[key]):
                refused[key] = (
                    f"Moodle refuses {key!r} as a {self.user_field} (its cleaning would change "
                    "it), so no user can have it"
                )
        return UserLookup(found=found, refused=refused)

    def plan_proficiency(self, proficiencies: Sequence[Proficiency]) -> Plan:
        """Rating writes for the results whose level differs from Moodle's current rating,
        and no-ops for what is left alone (with the reason), see
        :mod:`~comp_adapters.moodle.rating_planner`."""
        framework = self._require_framework()
        self._require(
            [
                *_FIND_FUNCTIONS,
                *_RATE_FUNCTIONS[self.rate_in],
                *(_USER_FUNCTIONS if self.user_field != "id" else ()),
            ]
        )
        remote = self._remote_competencies(framework)
        lookup = self.lookup_users(p.learner for p in proficiencies)
        site = RatingSite(
            users=lookup.found,
            refused=lookup.refused,
            competencies={key: wire.id for key, wire in remote.items()},
            linked=self._course_competency_ids(),
        )
        planner = RatingPlanner(
            framework,
            proficiencies,
            site,
            RatingOptions(
                rate_in=self.rate_in,
                course_id=self.course_id,
                user_field=self.user_field,
                revoke_rule_ratings=self.revoke_rule_ratings,
            ),
        )
        pairs = planner.pairs_to_read()
        current, plans = self._current_grades(pairs)
        notes: list[str] = []
        if self.rate_in == "site" and pairs:
            notes.append(
                "current ratings were read with tool_lp_data_for_user_competency_summary, which "
                "creates an empty user competency record where none existed (it locks the "
                "competency's scale)"
            )
        where_to = {
            "site": "site ratings",
            "course": f"course {self.course_id}",
            "plan": "learning plans",
        }[self.rate_in]
        return planner.plan(
            current,
            plans,
            target=f"{self._site} {where_to} of framework {framework.key}",
            notes=notes,
        )

    def _course_competency_ids(self) -> frozenset[int] | None:
        """In the course mode, the competencies linked to the course (Moodle rates and
        reads only those: any other fails the whole request); ``None`` otherwise."""
        if self.rate_in != "course" or self.course_id is None:
            return None
        entries = self.client.run(Calls.list_course_competencies(self.course_id))
        return frozenset(e.coursecompetency.competencyid for e in entries)

    def _current_grades(
        self, pairs: Sequence[tuple[int, int]]
    ) -> tuple[dict[tuple[int, int], int | None], dict[tuple[int, int], int]]:
        """Current grade per (user, competency); in plan mode also the plan holding it."""
        grades: dict[tuple[int, int], int | None] = {}
        where: dict[tuple[int, int], int] = {}
        unique = list(dict.fromkeys(pairs))
        if not unique:
            return grades, where
        if self.rate_in == "site":
            summaries = self._run_reads([Calls.user_competency_summary(u, c) for u, c in unique])
            for pair, summary in zip(unique, summaries, strict=True):
                uc = summary.usercompetency
                grades[pair] = uc.grade if uc is not None else None
        elif self.rate_in == "course" and self.course_id is not None:
            course = self.course_id
            summaries_c = self._run_reads(
                [Calls.user_competency_summary_in_course(u, c, course) for u, c in unique]
            )
            for pair, summary_c in zip(unique, summaries_c, strict=True):
                body = summary_c.usercompetencysummary
                ucc = body.usercompetencycourse if body is not None else None
                grades[pair] = ucc.grade if ucc is not None else None
        else:
            users = sorted({u for u, _ in unique})
            plans = self._run_reads([Calls.list_user_plans(u) for u in users])
            active = sorted(p.id for items in plans for p in items if p.status == 1)
            owner = {p.id: p.userid for items in plans for p in items}
            contents = self._run_reads([Calls.list_plan_competencies(p) for p in active])
            for plan_id, entries in zip(active, contents, strict=True):
                for entry in entries:
                    pair = (owner[plan_id], entry.competency.id)
                    if pair in where:
                        continue
                    where[pair] = plan_id
                    uc = entry.usercompetency
                    grades[pair] = uc.grade if uc is not None else None
        return grades, where

    def _grade_call(self, f: Mapping[str, Any]) -> Call[WireEvidence]:
        note = _opt_str(f.get("note"))
        if "courseid" in f:
            return Calls.grade_competency_in_course(
                _int(f["courseid"]),
                _int(f["userid"]),
                _int(f["competencyid"]),
                _int(f["grade"]),
                note,
            )
        if "planid" in f:
            return Calls.grade_competency_in_plan(
                _int(f["planid"]), _int(f["competencyid"]), _int(f["grade"]), note
            )
        return Calls.grade_competency(
            _int(f["userid"]), _int(f["competencyid"]), _int(f["grade"]), note
        )

    # -- evidence in ----------------------------------------------------------------------

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Ratings and other graded evidence of ``learners``, as ``lms_rating`` evidence.

        One batch per learner; the cursor (creation time of the newest evidence, with the
        ids at that second) advances only with the last batch, so it never passes
        evidence not yet read. Reads create empty user competency records where none
        exist (the only read Moodle offers; see the module docstring).
        """
        framework = self._require_framework()
        if not self.learners:
            raise ConfigurationError("moodle: reading evidence needs the learners to read")
        self._require(
            [
                *_FIND_FUNCTIONS,
                *_EVIDENCE_FUNCTIONS,
                *(_USER_FUNCTIONS if self.user_field != "id" else ()),
            ]
        )
        if cursor is not None and cursor.adapter != self.name:
            raise ConfigurationError(f"moodle: a {cursor.adapter!r} cursor cannot be used here")
        remote = self._remote_competencies(framework)
        wanted = [(key, wire) for key, wire in remote.items() if key in framework]
        users = self.user_ids(self.learners)
        position = int(cursor.position) if cursor and cursor.position else None
        seen = set(cursor.seen_ids) if cursor else set()
        newest, newest_ids = position, set(seen)
        learners = [learner for learner in self.learners if learner in users]
        skipped_unknown = len(set(self.learners)) - len(set(learners))
        for index, learner in enumerate(learners):
            summaries = self._run_reads(
                [Calls.user_competency_summary(users[learner], wire.id) for _, wire in wanted]
            )
            evidence = []
            skipped: dict[str, int] = {}
            for (key, _), summary in zip(wanted, summaries, strict=True):
                scale = framework.scale_for(key)
                for record in summary.evidence:
                    if position is not None and (
                        record.timecreated < position
                        or (
                            record.timecreated == position
                            and _evidence_id(self._site, record) in seen
                        )
                    ):
                        continue
                    item = evidence_from_moodle(
                        record, learner=learner, competency=key, scale=scale, site=self._site
                    )
                    if item is None:
                        skipped["no grade (log only)"] = skipped.get("no grade (log only)", 0) + 1
                        continue
                    evidence.append(item)
                    if newest is None or record.timecreated > newest:
                        newest, newest_ids = record.timecreated, {item.id}
                    elif record.timecreated == newest:
                        newest_ids.add(item.id)
            last = index == len(learners) - 1
            if last and skipped_unknown:
                skipped["learner without a Moodle user"] = skipped_unknown
            next_cursor = (
                Cursor(
                    adapter=self.name,
                    field=EVIDENCE_CURSOR_FIELD,
                    position=str(newest) if newest is not None else None,
                    seen_ids=tuple(sorted(newest_ids)),
                )
                if last
                else cursor or Cursor(adapter=self.name, field=EVIDENCE_CURSOR_FIELD)
            )
            yield EvidenceBatch(
                evidence=tuple(sorted(evidence, key=lambda e: (e.observed_at, e.id))),
                cursor=next_cursor,
                skipped=skipped,
            )


def refusals(report: ApplyReport) -> list[str]:
    """What Moodle refused during an apply (deletes answered ``false``), in words."""
    return [
        f"{change_id}: {result['refused']}"
        for change_id, result in report.results.items()
        if isinstance(result, Mapping) and result.get("refused")
    ]


def _group_key(change: Change) -> str | None:
    if change.id.startswith("reset:"):
        return None
    if change.kind in ("course outcome", "rating"):
        return change.kind
    return "call"


def _result_of(change: Change, value: Any) -> Result:
    if change.action is Action.CREATE and change.kind in ("framework", "competency"):
        return {"id": int(value.id)}
    if change.action is Action.DELETE:
        if value is False:
            return {
                "deleted": False,
                "refused": "Moodle answered false: it or something below it is in use "
                "(ratings, plans, templates or courses)",
            }
        return {"deleted": True}
    if change.kind == "course link":
        return {"linked": bool(value)}
    return {}


def _evidence_id(site: str, record: WireEvidence) -> str:
    return f"moodle:{site}:evidence:{record.id}"


def _user_value(user: WireUser, field: UserField) -> str | None:
    if field == "email":
        return user.email
    if field == "username":
        return user.username
    if field == "idnumber":
        return user.idnumber
    return str(user.id)


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
