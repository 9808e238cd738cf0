"""The Canvas adapter: orchestration only. Read Canvas into a snapshot, plan, apply.

* **Push** (:meth:`CanvasAdapter.plan_framework`, then :meth:`CanvasAdapter.apply`): the
  context's tree and feature flags are read into a :class:`planner.FrameworkSnapshot`,
  :func:`planner.plan_framework` diffs it by vendor_guid, and :class:`CanvasExecutor`
  carries the changes out as one outcomes CSV import or as REST calls.
* **Pull** (:meth:`CanvasAdapter.read_framework`): groups and outcomes -> core model.
* **Evidence in** (:meth:`CanvasAdapter.read_evidence`): outcome results
  (:mod:`comp_adapters.canvas.evidence`).
* **Mastery out** (:meth:`CanvasAdapter.plan_proficiency`): rubric assessments on one
  assignment whose criteria are aligned to the outcomes (:func:`planner.plan_proficiency`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Self

from pydantic import JsonValue

from comp_adapters.canvas import evidence, mapping, planner, wire
from comp_adapters.canvas.client import CanvasClient
from comp_adapters.canvas.csv_format import tree_to_csv
from comp_adapters.canvas.executor import CanvasExecutor
from comp_adapters.canvas.features import Flags, read_flags
from comp_adapters.canvas.mapping import OutcomeTree, PullDefaults
from comp_adapters.canvas.readback import Readback
from comp_adapters.canvas.settings import CanvasSettings, Strategy, connect
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, NotFoundError
from comp_adapters.http import redact_url
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.sync.apply import ApplyReport, apply_plan
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan

if TYPE_CHECKING:
    import requests

    from comp_adapters.settings import AdapterSettings


class CanvasAdapter:
    """Canvas outcomes in one account or course, as :class:`CanvasSettings` say.

    Build it with :meth:`from_settings`; the settings hold the options too (strategy,
    parent outcomes, mastery scales, learner field, locale, polling).
    """

    name: ClassVar[str] = "canvas"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.READS_FRAMEWORK,
            Capability.WRITES_FRAMEWORK,
            Capability.READS_EVIDENCE,
            Capability.WRITES_PROFICIENCY,
        }
    )
    settings_model: ClassVar[type[CanvasSettings]] = CanvasSettings

    def __init__(self, client: CanvasClient, settings: CanvasSettings) -> None:
        self.client = client
        self.settings = settings
        self.readback = Readback(
            client,
            poll_interval=settings.poll_interval,
            max_polls=settings.max_polls,
            locale=settings.locale,
        )

    @classmethod
    def from_settings(
        cls, settings: AdapterSettings, *, session: requests.Session | None = None
    ) -> Self:
        """The adapter for ``settings``; ``session`` replaces the HTTP session (tests)."""
        if not isinstance(settings, CanvasSettings):
            raise ConfigurationError(f"canvas needs CanvasSettings, not {type(settings).__name__}")
        return cls(connect(settings, session=session), settings)

    def __repr__(self) -> str:
        return f"CanvasAdapter({self.client!r})"

    @property
    def target(self) -> str:
        return f"canvas {redact_url(self.client.transport.base_url)} {self.client.context}"

    # -- reading the context -----------------------------------------------------------------

    def flags(self, *, probe_outcome: int | None = None) -> Flags:
        """The feature flags that change outcome behaviour (:func:`features.read_flags`)."""
        return read_flags(
            self.client, mastery_scales=self.settings.mastery_scales, probe_outcome=probe_outcome
        )

    def read_tree(self) -> OutcomeTree:
        """Every group and link of the context (REST, all pages)."""
        return self.readback.tree()

    def _tree_fingerprint(self) -> str:
        return planner.tree_fingerprint(self.read_tree())

    # -- push ----------------------------------------------------------------------------------

    def plan_framework(
        self, framework: Framework, *, prune: bool = False, strategy: Strategy | None = None
    ) -> Plan:
        """The changes that make the context hold ``framework``; reads only."""
        options = planner.FrameworkOptions(
            render_csv=tree_to_csv,
            strategy=strategy or self.settings.strategy,
            prune=prune,
            parent_outcomes=self.settings.parent_outcomes,
            set_mastery_scale=self.settings.set_mastery_scale,
            csv_threshold=self.settings.csv_threshold,
            locale=self.settings.locale,
        )
        tree = self.read_tree()
        flags = self.flags(
            probe_outcome=next((o.canvas_id for o in tree.outcomes if o.canvas_id), None)
        )
        friendly = planner.wants_friendly_descriptions(framework, options)
        if friendly:
            tree = self.readback.with_friendly_descriptions(tree)
        ratings: tuple[Mapping[str, object], ...] | None = None
        method = None
        if planner.reads_context_scale(flags, options):
            current = self.client.get_outcome_proficiency()
            ratings = tuple(r.model_dump() for r in current.ratings) if current else None
            method = self.client.get_calculation_method()
        snapshot = planner.FrameworkSnapshot(
            target=self.target,
            context=str(self.client.context),
            context_kind=self.client.context.kind,
            tree=tree,
            flags=flags,
            friendly_from_export=friendly and self.client.context.kind == "account",
            context_ratings=ratings,
            context_method=method,
        )
        return planner.plan_framework(framework, snapshot, options)

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan made by this adapter (framework or proficiency), change by change.

        A REST plan carries the fingerprint of the context it was made against; if the
        context changed since (and nothing of the plan is journaled yet), applying raises
        :class:`~comp_adapters.errors.StalePlanError`: plan again.
        """
        return apply_plan(
            plan,
            CanvasExecutor(self.client, self.readback, plan),
            journal=journal,
            current_state=self._tree_fingerprint if plan.state_fingerprint else None,
        )

    # -- pull ----------------------------------------------------------------------------------

    def read_framework(self, key: str | None = None) -> Framework:
        """The framework ``key`` (its group's vendor_guid is the encoded key) as Canvas holds it.

        ``None`` reads the whole context as one framework. In an account, friendly
        descriptions come from the outcome export (Canvas's REST lists do not carry them),
        so a framework pulled and pushed back keeps them.
        """
        tree = self.readback.with_friendly_descriptions(self.read_tree())
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

    def evidence_query(self) -> dict[str, JsonValue]:
        """What :meth:`read_evidence` selects: every outcome result of the course."""
        return {
            "adapter": self.name,
            "target": self.target,
            "source": "outcome_results",
            "cursor_field": evidence.CURSOR_FIELD,
            "learner_field": self.settings.learner_field,
            "framework_key": self.settings.framework_key,
            "excluded_assignment": self._assignment_name(),
        }

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Every outcome result of the course as evidence, one batch per page
        (:func:`evidence.evidence_batches`)."""
        return evidence.evidence_batches(
            self.client,
            adapter=self.name,
            learner_field=self.settings.learner_field,
            framework_key=self.settings.framework_key,
            own_assignment_id=self._own_assignment_id(),
            cursor=cursor,
        )

    def compare_rollups(self) -> evidence.RollupReport:
        """Canvas's rollups next to ours for the same results (:func:`evidence.compare_rollups`)."""
        return evidence.compare_rollups(self.client, self.flags())

    def _assignment_name(self) -> str | None:
        key = self.settings.framework_key
        if self.settings.assignment_name is None and key is None:
            return None
        return planner.mastery_assignment_name(self.settings.assignment_name, key or "")

    def _own_assignment_id(self) -> int | None:
        name = self._assignment_name()
        found = self._find_assignment(name) if name is not None else None
        return found.id if found is not None else None

    # -- mastery out ---------------------------------------------------------------------------

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        """Rubric assessments that make Canvas show these results for ``framework``; reads only."""
        if self.client.context.kind != "course":
            raise ConfigurationError("canvas mastery needs a course context (course:ID)")
        name = planner.mastery_assignment_name(self.settings.assignment_name, framework.key)
        tree = self.read_tree()
        users = (
            {v: k for k, v in evidence.learner_keys(self.client, field).items()}
            if (field := self.settings.learner_field) != "id"
            else None
        )
        found = self._find_assignment(name)
        assignment = None
        marks: dict[str, dict[str, float]] = {}
        if found is not None:
            assignment = planner.assignment_state(found, tree)
            if assignment.criteria:
                marks = self._current_marks(found.id, assignment.criteria)
        snapshot = planner.ProficiencySnapshot(
            target=self.target, tree=tree, users=users, assignment=assignment, marks=marks
        )
        return planner.plan_proficiency(
            planner.MasteryWanted(proficiencies=proficiencies, framework=framework),
            snapshot,
            planner.ProficiencyOptions(assignment_name=name),
        )

    def _find_assignment(self, name: str) -> wire.WireAssignment | None:
        if self.client.context.kind != "course":
            return None
        return next((a for a in self.client.find_assignments(name) if a.name == name), None)

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
