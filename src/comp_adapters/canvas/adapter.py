"""The Canvas adapter: push and pull frameworks, read results, write mastery back.

* **Push** (:meth:`CanvasAdapter.plan_framework`, then :meth:`CanvasAdapter.apply`): read
  the context's groups and links, diff against the framework by vendor_guid, and carry the
  changes out either as one outcomes CSV import (few requests whatever the size) or with
  REST calls (groups first, then outcomes created or linked inside them). Canvas's REST
  creation is not idempotent; a re-run after a crash plans again, finds what the crashed
  run created by its vendor_guid, and writes only what is still missing.
* **Pull** (:meth:`CanvasAdapter.read_framework`): groups and outcomes -> core model.
* **Evidence in** (:meth:`CanvasAdapter.read_evidence`): outcome results, with users,
  outcomes and alignments, scaled the way Canvas does.
* **Mastery out** (:meth:`CanvasAdapter.plan_proficiency`): Canvas has no endpoint that
  writes an outcome result, so the computed points go in as rubric assessments on one
  assignment whose rubric criteria are aligned to the outcomes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, SecretStr

from comp_adapters.canvas import mapping, planner, wire
from comp_adapters.canvas.client import (
    MASTERY_SCALES_FLAG,
    NEW_DECAY_FLAG,
    CanvasClient,
    CanvasContext,
)
from comp_adapters.canvas.mapping import ROOT, OutcomeTree, PullDefaults
from comp_adapters.canvas.numbers import locale_format
from comp_adapters.canvas.outcomes_csv import tree_from_csv_text, tree_to_csv
from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.timeutil import format_utc
from comp_adapters.errors import (
    ConfigurationError,
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    PlanError,
    RetriableRemoteError,
)
from comp_adapters.http import redact_url
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.sync.apply import ApplyReport, apply_plan
from comp_adapters.sync.journal import Journal, Result
from comp_adapters.sync.plan import Action, Change, Plan

log = logging.getLogger("comp_adapters.canvas")

Strategy = Literal["auto", "csv", "rest"]
Tristate = Literal["auto", "on", "off"]
LearnerField = Literal["login_id", "sis_user_id", "email", "id"]

ASSIGNMENT = "assignment"
RUBRIC = "rubric"
ASSESSMENT = "rubric_assessment"
CSV_THRESHOLD = 20
"""With strategy ``auto``, this many writes or more go through one CSV import."""


class CanvasSettings(BaseModel):
    """Connection settings: ``[canvas]`` in the config file or ``COMP_ADAPTERS_CANVAS_*``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    token: SecretStr
    account: str | None = None
    course: str | None = None
    allow_http: bool = False
    learner_field: LearnerField = "login_id"
    poll_interval: float = 2.0
    """Seconds before the first poll of an import or report (then growing)."""
    ca_bundle: str | None = None
    """PEM file of private CA certificates to trust (docs/security.md)."""
    locale: str | None = None
    """The account's ``default_locale`` (``de``, ``en-GB``): Canvas parses the numbers of an
    outcomes import with it. Canvas's REST API does not show it (``Api::V1::Account``)."""

    def context(self) -> CanvasContext:
        if (self.account is None) == (self.course is None):
            raise ConfigurationError(
                "canvas: give exactly one context: an account (--account / "
                "COMP_ADAPTERS_CANVAS_ACCOUNT) or a course (--course / COMP_ADAPTERS_CANVAS_COURSE)"
            )
        if self.account is not None:
            return CanvasContext("account", self.account)
        return CanvasContext("course", str(self.course))


class OutcomeImportError(FatalRemoteError):
    """An outcomes CSV import failed, or succeeded with row errors (a partial import)."""

    def __init__(self, message: str, *, row_errors: Sequence[tuple[int, str]] = ()) -> None:
        self.row_errors = tuple(row_errors)
        rows = "; ".join(f"row {row}: {text}" for row, text in self.row_errors[:10])
        super().__init__(
            f"{message}{': ' + rows if rows else ''}",
            adapter="canvas",
            operation="outcome import",
        )


@dataclass(frozen=True, slots=True)
class Flags:
    """The two feature flags that change outcome behaviour (``None``: could not be read).

    ``probed``: the flags endpoint was refused and ``mastery_scales`` was told by Canvas's
    behaviour instead (see :meth:`CanvasAdapter.flags`).
    """

    mastery_scales: bool | None
    new_decay: bool | None
    probed: bool = False


@dataclass(slots=True)
class RollupReport:
    """Our numbers next to Canvas's rollups for the same results."""

    checks: list[mapping.RollupCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[mapping.RollupCheck]:
        return [c for c in self.checks if not c.matches]


class CanvasAdapter:
    """Canvas outcomes in one account or course. Options are keyword-only.

    ``strategy``: ``csv``, ``rest`` or ``auto`` (CSV import from :data:`CSV_THRESHOLD`
    writes). ``parent_outcomes``: an outcome inside each parent's group carries its
    rolled-up proficiency. ``mastery_scales``: ``auto`` reads the feature flag.
    ``set_mastery_scale``: under account-level mastery scales, also set the context's scale
    and calculation method to the framework's. ``learner_field``: which user field is the
    learner key. ``sleep`` and ``poll_interval`` pace the polling of imports and reports.
    ``locale``: the account's ``default_locale``, with which Canvas parses the numbers of an
    outcomes import (without it, numbers with decimals are written in exponent form, which
    every locale parses the same).
    """

    name = "canvas"
    capabilities = frozenset(
        {
            Capability.READS_FRAMEWORK,
            Capability.WRITES_FRAMEWORK,
            Capability.READS_EVIDENCE,
            Capability.WRITES_PROFICIENCY,
        }
    )

    def __init__(
        self,
        client: CanvasClient,
        *,
        framework: Framework | None = None,
        framework_key: str | None = None,
        strategy: Strategy = "auto",
        parent_outcomes: bool = False,
        mastery_scales: Tristate = "auto",
        set_mastery_scale: bool = False,
        learner_field: LearnerField = "login_id",
        assignment_name: str | None = None,
        poll_interval: float = 1.0,
        max_polls: int = 120,
        sleep: Callable[[float], None] = time.sleep,
        csv_threshold: int = CSV_THRESHOLD,
        locale: str | None = None,
    ) -> None:
        self.client = client
        self.locale = locale
        self.framework = framework
        self.framework_key = framework_key or (framework.key if framework else None)
        self.strategy = strategy
        self.parent_outcomes = parent_outcomes
        self.mastery_scales = mastery_scales
        self.set_mastery_scale = set_mastery_scale
        self.learner_field = learner_field
        self.assignment_name = assignment_name
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.sleep = sleep
        self.csv_threshold = csv_threshold

    def __repr__(self) -> str:
        return f"CanvasAdapter({self.client!r})"

    @property
    def target(self) -> str:
        return f"{redact_url(self.client.transport.base_url)} {self.client.context}"

    # -- reading the context -----------------------------------------------------------------

    def flags(self, *, probe_outcome: int | None = None) -> Flags:
        """The feature flags, from ``features/enabled`` unless fixed by ``mastery_scales``.

        Reading the flags needs an admin token. Without one, account-level mastery scales
        are told by how Canvas behaves: a context without a mastery scale of its own
        answers 404 only when the flag is off, and ``GET /outcomes/:id`` (of
        ``probe_outcome``, any outcome of the context) leaves ``mastery_points`` out only
        when it is on. ``None`` where neither tells.
        """
        fixed = None if self.mastery_scales == "auto" else self.mastery_scales == "on"
        try:
            enabled = set(self.client.enabled_features())
        except (PermissionDeniedError, NotFoundError):
            if fixed is not None:
                return Flags(mastery_scales=fixed, new_decay=None)
            probed = self._probe_mastery_scales(probe_outcome)
            return Flags(mastery_scales=probed, new_decay=None, probed=probed is not None)
        mastery = MASTERY_SCALES_FLAG in enabled if fixed is None else fixed
        return Flags(mastery_scales=mastery, new_decay=NEW_DECAY_FLAG in enabled)

    def _probe_mastery_scales(self, outcome_id: int | None) -> bool | None:
        try:
            if self.client.get_outcome_proficiency() is None:
                return False
            if outcome_id is not None:
                return self.client.get_outcome(outcome_id).mastery_points is None
        except (PermissionDeniedError, NotFoundError):
            pass
        return None

    def read_tree(self) -> OutcomeTree:
        """Every group and link of the context (REST, all pages)."""
        groups = list(self.client.list_outcome_groups())
        links = list(self.client.list_outcome_links())
        return mapping.tree_from_rest(groups, links)

    def read_back_tree(self) -> OutcomeTree:
        """The context as Canvas now holds it: an outcome export report in an account
        (a few requests whatever the size), the REST lists in a course."""
        if self.client.context.kind != "account":
            return self.read_tree()
        report = self.client.start_outcome_export()
        for _ in range(self.max_polls):
            if report.status == "complete":
                break
            if report.status in ("error", "deleted", "aborted"):
                raise FatalRemoteError(
                    f"the outcome export report ended {report.status}",
                    adapter="canvas",
                    operation="export outcomes",
                )
            self.sleep(self.poll_interval)
            report = self.client.get_outcome_export(report.id)
        else:
            raise RetriableRemoteError(
                "the outcome export report is still running; try again later",
                adapter="canvas",
                operation="export outcomes",
            )
        url = report.attachment.url if report.attachment else report.file_url
        if not url:
            raise FatalRemoteError(
                "the outcome export report has no file", adapter="canvas", operation="export"
            )
        return tree_from_csv_text(
            self.client.download_text(url),
            source="outcome export",
            lenient=True,
            locale=self.locale,
        )

    def with_friendly_descriptions(self, tree: OutcomeTree) -> OutcomeTree:
        """``tree`` with the friendly descriptions Canvas holds, where Canvas can tell.

        Canvas's REST lists never carry them (see :func:`mapping.outcome_node_from_wire`);
        an account's outcome export does (three requests). In a course they stay unknown.
        """
        if self.client.context.kind != "account" or not tree.outcomes:
            return tree
        exported = {o.guid: o.friendly_description for o in self.read_back_tree().outcomes}
        return replace(
            tree,
            outcomes=tuple(
                replace(o, friendly_description=exported.get(o.guid, o.friendly_description))
                for o in tree.outcomes
            ),
        )

    # -- push ----------------------------------------------------------------------------------

    def plan_framework(
        self, framework: Framework, *, prune: bool = False, strategy: Strategy | None = None
    ) -> Plan:
        """The changes that make the context hold ``framework``; reads only."""
        remote = self.read_tree()
        flags = self.flags(
            probe_outcome=next((o.canvas_id for o in remote.outcomes if o.canvas_id), None)
        )
        notes: list[str] = []
        mastery_on = bool(flags.mastery_scales)
        if flags.mastery_scales is None:
            notes.append(
                "could not read the feature flags (an admin token can): assuming account-level "
                "mastery scales are off; if Canvas then refuses outcome ratings with a 403, "
                "plan again with mastery scales on (--mastery-scales on)"
            )
        elif flags.probed:
            notes.append(
                "could not read the feature flags (an admin token can); Canvas's answers show "
                f"account-level mastery scales are {'on' if mastery_on else 'off'}"
            )
        new_decay = flags.new_decay
        if new_decay is None and not mastery_on:
            new_decay = planner.infer_new_decay(
                mapping.desired_tree(framework, parent_outcomes=self.parent_outcomes), remote
            )
            if new_decay is not None:
                notes.append(
                    "could not read the feature flags; what Canvas stores shows the new "
                    f"decaying average flag is {'on' if new_decay else 'off'}"
                )
            elif any(
                framework.method_for(c.key)[0] is CalculationMethod.STANDARD_DECAYING_AVERAGE
                for c in framework.competencies
            ):
                notes.append(
                    "could not read the new decaying average flag: assuming it is on; if "
                    "Canvas stores standard_decaying_average as decaying_average, the next "
                    "plan sees that and expects it"
                )
        desired = mapping.desired_tree(
            framework,
            parent_outcomes=self.parent_outcomes,
            scales=not mastery_on,
            new_decay=new_decay is not False,
        )
        notes.extend(desired.notes)
        if any(o.friendly_description for o in desired.outcomes):
            remote = self.with_friendly_descriptions(remote)
            if self.client.context.kind == "account":
                notes.append(
                    "friendly descriptions read from the account's outcome export (Canvas's "
                    "REST lists do not carry them)"
                )
        changes, found = planner.plan_tree_changes(
            desired, remote, scales=not mastery_on, prune=prune
        )
        notes.extend(found)
        if mastery_on:
            notes.append(_mastery_note(framework, set_scale=self.set_mastery_scale))
            if self.set_mastery_scale:
                current = self.client.get_outcome_proficiency()
                method = self.client.get_calculation_method()
                scale_changes, scale_notes = planner.plan_context_scale(
                    framework,
                    context=str(self.client.context),
                    current_ratings=(
                        [r.model_dump() for r in current.ratings] if current else None
                    ),
                    current_method=method,
                )
                changes.extend(scale_changes)
                notes.extend(scale_notes)
        chosen, why = self._choose(strategy or self.strategy, changes)
        notes.extend(why)
        tree_changes = [c for c in changes if _imported(c)]
        if chosen == "csv" and tree_changes:
            changes = _with_import(
                desired, changes, tree_changes, scales=not mastery_on, locale=self.locale
            )
            notes.append(
                f"strategy csv: one outcomes CSV import carries the {len(tree_changes)} outcome "
                "change(s); each is confirmed by reading the context back afterwards"
            )
            notes.extend(_import_notes(desired, tree_changes, locale=self.locale))
        state = None
        rest_writes = [c for c in changes if c.writes and c.kind != planner.IMPORT]
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
            adapter=self.name,
            target=self.target,
            changes=tuple(changes),
            notes=tuple(notes),
            state_fingerprint=state,
        )

    def _choose(
        self, strategy: Strategy, changes: Sequence[Change]
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
        if any("friendly_description" in c.fields for c in changes if _imported(c)):
            return "csv", ["strategy auto chose csv: only an import writes friendly descriptions"]
        writes = sum(1 for c in changes if _imported(c))
        return ("csv" if writes >= self.csv_threshold else "rest"), []

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan made by this adapter (framework or proficiency), change by change.

        A REST plan carries the fingerprint of the context it was made against; if the
        context changed since (and nothing of the plan is journaled yet), applying raises
        :class:`~comp_adapters.errors.StalePlanError`: plan again.
        """
        current = (lambda: tree_fingerprint(self.read_tree())) if plan.state_fingerprint else None
        return apply_plan(plan, _Executor(self, plan), journal=journal, current_state=current)

    # -- pull ----------------------------------------------------------------------------------

    def read_framework(self, key: str | None = None) -> Framework:
        """The framework ``key`` (its group's vendor_guid is the encoded key) as Canvas holds it.

        ``None`` reads the whole context as one framework. Under account-level mastery
        scales the outcomes carry the context's scale. In an account, friendly descriptions
        come from the outcome export (Canvas's REST lists do not carry them), so a framework
        pulled and pushed back keeps them.
        """
        tree = self.with_friendly_descriptions(self.read_tree())
        if key is not None and tree.group(mapping.framework_guid(key)) is None:
            raise NotFoundError(
                f"no outcome group with vendor_guid {mapping.framework_guid(key)!r} in "
                f"{self.client.context}: push the framework first, or pull without a key",
                adapter="canvas",
                operation="pull",
            )
        return mapping.framework_from_tree(
            tree, framework_key=key, title=str(self.client.context), defaults=PullDefaults()
        )

    # -- evidence in ---------------------------------------------------------------------------

    def learner_keys(self) -> dict[str, str]:
        """Canvas user id -> learner key, by :attr:`learner_field` (students of the course)."""
        keys: dict[str, str] = {}
        for user in self.client.list_course_users():
            value = user.id if self.learner_field == "id" else getattr(user, self.learner_field)
            if value:
                keys[user.id] = str(value)
        return keys

    def _own_assignment_id(self) -> int | None:
        name = self._assignment_name()
        if name is None:
            return None
        found = self._find_assignment(name)
        return found.id if found is not None else None

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Every outcome result of the course as evidence, one batch per page.

        Canvas has no "changed since" filter on results, so each read pages through all of
        them; evidence ids are stable (``canvas:outcome_result:<id>``), so a store that
        upserts by id keeps the newest version. Results of the adapter's own mastery
        assignment are left out (they are our output, not evidence). The cursor records
        the latest result time seen and never moves back.
        """
        keys = self.learner_keys() if self.learner_field != "id" else None
        own = self._own_assignment_id()
        reader = _ResultReader(
            keys=keys,
            own_asset=f"assignment_{own}" if own is not None else None,
            learner_field=self.learner_field,
            key_of=_CompetencyKeys(self.framework_key),
        )
        position = cursor.position if cursor is not None else None
        for page in self.client.outcome_result_pages():
            reader.outcomes.update({str(o.id): o for o in page.linked.outcomes})
            reader.alignments.update({a.id: a for a in page.linked.alignments})
            evidence: list[Evidence] = []
            skipped: Counter[str] = Counter()
            for result in page.outcome_results:
                item, reasons = reader.read(result)
                skipped.update(reasons)
                if item is None:
                    continue
                evidence.append(item)
                stamp = format_utc(item.observed_at)
                if position is None or stamp > position:
                    position = stamp
            yield EvidenceBatch(
                evidence=tuple(evidence),
                cursor=Cursor(
                    adapter=self.name, field="submitted_or_assessed_at", position=position
                ),
                skipped=dict(skipped),
            )

    def compare_rollups(self) -> RollupReport:
        """Canvas's ``outcome_rollups`` next to :func:`comp_adapters.rules.calculate` run on
        the same results: every (user, outcome) Canvas reports, with both numbers.

        The new decaying average flag decides the maths of a stored
        ``standard_decaying_average`` (:func:`mapping.rollup_method`)."""
        results: list[wire.WireOutcomeResult] = []
        outcomes: dict[str, wire.WireOutcome] = {}
        alignments: dict[str, wire.WireAlignment] = {}
        for page in self.client.outcome_result_pages():
            results.extend(page.outcome_results)
            outcomes.update({str(o.id): o for o in page.linked.outcomes})
            alignments.update({a.id: a for a in page.linked.alignments})
        context_method = None
        context_scale = None
        flags = self.flags()
        if flags.mastery_scales:
            proficiency = self.client.get_outcome_proficiency()
            method = self.client.get_calculation_method()
            if method[0]:
                context_method = (method[0], method[1])
            if proficiency and proficiency.ratings:
                top = max(r.points or 0.0 for r in proficiency.ratings)
                mastery = next((r.points for r in proficiency.ratings if r.mastery), None)
                context_scale = (top, mastery)
        notes: list[str] = []
        if flags.new_decay is None and any(
            name == CalculationMethod.STANDARD_DECAYING_AVERAGE.value
            for name in [
                *(o.calculation_method for o in outcomes.values()),
                context_method[0] if context_method else None,
            ]
        ):
            notes.append(
                "could not read the new decaying average flag: standard_decaying_average is "
                "computed as the true decaying average; with the flag off Canvas runs the "
                "legacy weighted average for it"
            )
        expected = mapping.expected_rollups(
            results,
            outcomes,
            alignments=alignments,
            context_method=context_method,
            context_scale=context_scale,
            new_decay=flags.new_decay,
        )
        rollups = [r for page in self.client.outcome_rollup_pages() for r in page.rollups]
        return RollupReport(mapping.compare_rollups(expected, rollups), notes=notes)

    # -- mastery out ---------------------------------------------------------------------------

    def _assignment_name(self) -> str | None:
        if self.assignment_name:
            return self.assignment_name
        if self.framework_key is None:
            return None
        return f"Competency mastery ({self.framework_key})"

    def _find_assignment(self, name: str) -> wire.WireAssignment | None:
        if self.client.context.kind != "course":
            return None
        return next((a for a in self.client.find_assignments(name) if a.name == name), None)

    def plan_proficiency(self, proficiencies: Sequence[Proficiency]) -> Plan:
        """Rubric assessments that make Canvas show these results; reads only.

        One assignment (found by name, created once) with a rubric whose criteria are
        aligned to the outcomes; per learner one assessment with the computed points,
        planned only where they differ from what the learner's assessment holds.
        """
        if self.client.context.kind != "course":
            raise ConfigurationError("canvas mastery needs a course context (course:ID)")
        name = self._assignment_name()
        if name is None or self.framework_key is None:
            raise ConfigurationError("canvas mastery needs the framework (its key names outcomes)")
        notes: list[str] = []
        tree = self.read_tree()
        by_guid = {o.guid: o for o in tree.outcomes if o.canvas_id is not None}
        users = (
            {v: k for k, v in self.learner_keys().items()} if self.learner_field != "id" else None
        )
        assignment = self._find_assignment(name)
        changes: list[Change] = []
        depends: tuple[str, ...] = ()
        if assignment is None:
            changes.append(
                Change(
                    id=f"assignment:{name}",
                    action=Action.CREATE,
                    kind=ASSIGNMENT,
                    key=name,
                    fields={"name": name},
                )
            )
            depends = (f"assignment:{name}",)

        skipped: Counter[str] = Counter()
        wanted = self._wanted_points(proficiencies, by_guid, skipped)
        needed = sorted({g for per in wanted.values() for g in per})
        criteria: dict[str, str] = {}
        if assignment is not None and assignment.rubric:
            ids = {o.canvas_id: o.guid for o in by_guid.values()}
            criteria = {
                ids[c.outcome_id]: c.id
                for c in assignment.rubric
                if c.outcome_id is not None and c.outcome_id in ids
            }
        rubric_new = bool(needed) and not set(needed) <= set(criteria)
        if rubric_new:
            keep = sorted(set(needed) | set(criteria))
            changes.append(
                Change(
                    id=f"rubric:{name}",
                    action=Action.CREATE,
                    kind=RUBRIC,
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
        current = (
            self._current_marks(assignment.id, criteria)
            if assignment is not None and not rubric_new
            else {}
        )
        for learner in sorted(wanted):
            user_id = learner if users is None else users.get(learner)
            if user_id is None:
                skipped["learner not in course"] += 1
                continue
            have = current.get(user_id, {})
            marks = {**have, **wanted[learner]}
            if marks == have:
                continue
            changes.append(
                Change(
                    id=f"assessment:{learner}",
                    action=Action.UPDATE if have else Action.CREATE,
                    kind=ASSESSMENT,
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
        return Plan(
            adapter=self.name, target=self.target, changes=tuple(changes), notes=tuple(notes)
        )

    def _wanted_points(
        self,
        proficiencies: Sequence[Proficiency],
        by_guid: Mapping[str, mapping.OutcomeNode],
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
            points = self._points_of(item)
            guid = self._guid_for(item.competency)
            outcome = by_guid.get(guid)
            if points is None:
                skipped["not rated"] += 1
                continue
            if outcome is None:
                skipped["outcome not in course"] += 1
                continue
            top = max((r.points for r in outcome.ratings), default=points)
            own_top = self._scale_top(item.competency)
            if own_top and top and own_top != top:
                points = points / own_top * top
            wanted.setdefault(item.learner, {})[guid] = min(max(points, 0.0), top)
        return wanted

    def _scale_top(self, competency: str) -> float | None:
        framework = self.framework
        if framework is None or competency not in framework:
            return None
        return framework.scale_for(competency).max_points

    def _current_marks(
        self, assignment_id: int, criteria: Mapping[str, str]
    ) -> dict[str, dict[str, float]]:
        """user id -> outcome guid -> points of each learner's current assessment."""
        by_criterion = {cid: guid for guid, cid in criteria.items()}
        current: dict[str, dict[str, float]] = {}
        for submission in self.client.list_submissions(assignment_id):
            assessed = submission.rubric_assessment or {}
            current[submission.user_id] = {
                by_criterion[cid]: mark.points
                for cid, mark in assessed.items()
                if cid in by_criterion and mark.points is not None
            }
        return current

    def _guid_for(self, competency: str) -> str:
        if self.framework_key is None:
            raise ConfigurationError("canvas mastery needs the framework key")
        framework = self.framework
        if framework is not None and competency in framework and framework.children_of(competency):
            return mapping.rollup_guid(self.framework_key, competency)
        return mapping.competency_guid(self.framework_key, competency)

    def _points_of(self, item: Proficiency) -> float | None:
        if item.score is not None:
            return item.score
        if item.level is None or self.framework is None or item.competency not in self.framework:
            return None
        level = self.framework.scale_for(item.competency).by_key.get(item.level)
        return level.points if level is not None else None


def tree_fingerprint(tree: OutcomeTree) -> str:
    """SHA-256 of a context's groups and outcomes (ids, guids, links, fields)."""
    text = repr((tree.root_id, tree.groups, sorted(tree.outcomes, key=lambda o: o.canvas_id or 0)))
    return hashlib.sha256(text.encode()).hexdigest()


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


def _criterion_fields(outcome: mapping.OutcomeNode) -> dict[str, JsonValue]:
    top = max((r.points for r in outcome.ratings), default=0.0)
    return {
        "guid": outcome.guid,
        "outcome_id": outcome.canvas_id,
        "description": outcome.title,
        "points": top,
        "mastery_points": outcome.mastery_points if outcome.mastery_points is not None else top,
        "ratings": planner.ratings_json(outcome.ratings),
    }


def _imported(change: Change) -> bool:
    """Whether a change goes into the CSV import (removals and int fixes are REST calls)."""
    return change.kind in (planner.GROUP, planner.OUTCOME, planner.LINK) and change.action in (
        Action.CREATE,
        Action.UPDATE,
        Action.LINK,
    )


def _csv_unsafe(changes: Sequence[Change]) -> list[str]:
    """The imported changes whose row Canvas's import would refuse or bind to another object.

    A guid that is exactly an id reference (``canvas_outcome:12``: an object without a
    vendor_guid) is safe for the object it names, not for a new one.
    """
    found: list[str] = []
    for change in changes:
        if not _imported(change):
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
    if any(c.action is Action.CREATE and c.kind == planner.OUTCOME for c in tree_changes):
        notes.append(
            "Canvas matches an imported vendor_guid against deleted outcomes too "
            "(Outcomes::Import#find_prior_outcome): one deleted in this context is revived "
            "(same id, its results kept); one held, even deleted, in an unrelated account or "
            "course makes its row fail - then push those with --strategy rest"
        )
    written = {c.key for c in tree_changes if c.kind == planner.OUTCOME}
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
    locale: str | None,
) -> list[Change]:
    """Put one import change first; the outcome changes depend on it (confirmed after)."""
    rows = planner.rows_for_import(desired, tree_changes)
    text = tree_to_csv(rows, scales=scales, locale=locale)
    digest = hashlib.sha256(text.encode()).hexdigest()
    count = len(rows.groups) + len(rows.outcomes)
    head = Change(
        id=f"import:{digest[:16]}",
        action=Action.CREATE,
        kind=planner.IMPORT,
        key=f"{count} rows",
        fields={"rows": count, "sha256": digest, "csv": text},
    )
    # Every other write waits for the import: removals and int fixes must not run first.
    after = [
        c.model_copy(update={"depends_on": (*c.depends_on, head.id)}) if c.writes else c
        for c in changes
    ]
    return [head, *after]


class _CompetencyKeys:
    """Outcome -> competency key, the way :func:`mapping.framework_from_tree` names them."""

    def __init__(self, framework_key: str | None) -> None:
        self.framework_key = framework_key

    def __call__(self, outcome: wire.WireOutcome) -> str:
        guid = mapping.outcome_guid_of(outcome)
        parsed = mapping.parse_guid(guid)
        if (
            parsed
            and parsed.competency
            and (self.framework_key is None or parsed.framework == self.framework_key)
        ):
            return parsed.competency
        return guid[:100]


@dataclass
class _ResultReader:
    """Turns outcome results into evidence, saying why a result is left out."""

    keys: Mapping[str, str] | None
    own_asset: str | None
    learner_field: str
    key_of: Callable[[wire.WireOutcome], str]
    outcomes: dict[str, wire.WireOutcome] = field(default_factory=dict)
    alignments: dict[str, wire.WireAlignment] = field(default_factory=dict)

    def read(self, result: wire.WireOutcomeResult) -> tuple[Evidence | None, list[str]]:
        links = result.links
        if self.own_asset is not None and self.own_asset in (links.alignment, links.assignment):
            return None, ["own mastery write-back"]
        if result.hidden:
            return None, ["hidden from the mastery gradebook"]
        if result.score is None:
            return None, ["no score"]
        outcome = self.outcomes.get(links.learning_outcome)
        if outcome is None:
            return None, ["outcome not listed"]
        when = mapping.result_time(result)
        if when is None:
            return None, ["unreadable time"]
        learner = links.user if self.keys is None else self.keys.get(links.user)
        if learner is None:
            return None, [f"user without {self.learner_field}"]
        item, raised = mapping.evidence_from_result(
            result,
            learner=learner,
            competency=self.key_of(outcome),
            outcome=outcome,
            alignment=self.alignments.get(links.alignment or ""),
            observed_at=when,
        )
        return item, (["score below 0, counted as 0"] if raised else [])


class _Executor:
    """Performs one change of a Canvas plan (see :func:`comp_adapters.sync.apply_plan`)."""

    def __init__(self, adapter: CanvasAdapter, plan: Plan) -> None:
        self.adapter = adapter
        self.client = adapter.client
        self.via_import = any(c.kind == planner.IMPORT for c in plan.changes)
        self._root: int | None = None
        self._readback: OutcomeTree | None = None

    def __call__(self, change: Change, results: Mapping[str, Result]) -> Result | None:
        kind = change.kind
        if kind == planner.IMPORT:
            return self._import(change)
        if self.via_import and _imported(change):
            return self._confirm(change)
        handler = {
            planner.GROUP: self._group,
            planner.OUTCOME: self._outcome,
            planner.OUTCOME_INT: self._outcome,
            planner.LINK: self._link,
            planner.MASTERY_SCALE: self._mastery_scale,
            planner.CALCULATION: self._calculation,
            ASSIGNMENT: self._assignment,
            RUBRIC: self._rubric,
            ASSESSMENT: self._assessment,
        }.get(kind)
        if handler is None:
            raise PlanError(f"canvas cannot apply a change of kind {kind!r}")
        return handler(change, results)

    # -- helpers ---------------------------------------------------------------------------

    def _group_id(self, guid: str, known: Any, results: Mapping[str, Result]) -> int:
        if isinstance(known, int):
            return known
        if guid == ROOT:
            if self._root is None:
                self._root = self.client.root_outcome_group().id
            return self._root
        found = results.get(f"group:{guid}", {}).get("id")
        if isinstance(found, int):
            return found
        raise PlanError(f"no Canvas id for group {guid!r}: plan again")

    # -- CSV import ------------------------------------------------------------------------

    def _import(self, change: Change) -> Result:
        text = change.fields.get("csv")
        if not isinstance(text, str):
            raise PlanError("the import change carries no CSV")
        job = self.client.start_outcome_import(text)
        polls = 0
        interval = self.adapter.poll_interval
        while job.workflow_state not in ("succeeded", "failed"):
            if polls >= self.adapter.max_polls:
                raise RetriableRemoteError(
                    f"outcome import {job.id} still {job.workflow_state} after {polls} polls; "
                    "plan again later (the import goes on in Canvas)",
                    adapter="canvas",
                    operation="outcome import",
                )
            self.adapter.sleep(interval)
            interval = min(interval * 1.5, 10.0)
            job = self.client.get_outcome_import(job.id)
            polls += 1
        if job.workflow_state == "failed":
            raise OutcomeImportError(
                f"outcome import {job.id} failed", row_errors=job.processing_errors
            )
        if job.processing_errors:
            hint = ""
            if any("another unrelated course or account" in m for _r, m in job.processing_errors):
                hint = (
                    " - Canvas matches vendor_guids across the instance, deleted outcomes "
                    "included: such an outcome lives (or was deleted) elsewhere; push these "
                    "with --strategy rest, which creates them here"
                )
            raise OutcomeImportError(
                f"outcome import {job.id} succeeded only in part "
                f"({len(job.processing_errors)} row error(s)){hint}",
                row_errors=job.processing_errors,
            )
        return {"import_id": job.id}

    def _confirm(self, change: Change) -> Result:
        """Check one change against the context read back after the import."""
        if self._readback is None:
            self._readback = self.adapter.read_back_tree()
        tree = self._readback
        if change.kind == planner.GROUP:
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
        if change.kind == planner.OUTCOME:
            seen: dict[str, JsonValue] = {
                "title": outcome.title,
                "display_name": outcome.display_name,
                "description": outcome.description,
                "mastery_points": outcome.mastery_points,
                "ratings": planner.ratings_json(outcome.ratings),
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
        created = results.get(f"outcome:{change.key}", {}).get("id")
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

    def _assignment_id(self, change: Change, results: Mapping[str, Result]) -> int:
        known = change.fields.get("assignment_id")
        if isinstance(known, int):
            return known
        for change_id, result in results.items():
            if change_id.startswith("assignment:") and isinstance(result.get("id"), int):
                return int(str(result["id"]))
        raise PlanError("no assignment id for the rubric: plan again")

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
            for change_id, result in results.items():
                found = result.get("criteria")
                if change_id.startswith("rubric:") and isinstance(found, dict):
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
