"""The sync engine: one project, evidence in, proficiency computed once, every target synced.

A sync (docs/sync.md) goes:

1. read the framework from its source (a file or a system);
2. ingest new evidence from every source into the store, each batch with its cursor in one
   transaction (the source's query fingerprint checked);
3. compute proficiency once from the store's evidence, as of one instant, and keep the
   results that changed in the proficiency history. After the first run only the
   (learner, competency) pairs whose evidence changed since the last compute, or whose
   evidence started or expired between the two ``as_of``, are recomputed, with every pair
   of their competency tree (the ancestors' rollups need their siblings);
4. plan every target (its framework plan and/or proficiency plan, from its adapter): one
   :class:`~comp_adapters.sync.sync_plan.SyncPlan`;
5. apply, target by target, each under its lease and through the store's persistent
   journal, so a killed run resumes and two workers never apply a change twice. Targets are
   independent: one failing does not stop the others.

A target that received every result recorded before this compute is sent only the results
that changed; any other (new, failed or skipped since) is sent every current result.
Adapters are reached only through the protocols and the registry.

Governance (docs/governance.md): once the store holds versions of the framework's key, the
source file is no longer pushed as it is. Live targets receive the released version in force
(approved as the project's ``[governance]`` table requires) and proficiency is computed
under it; targets marked ``staging = true`` receive the newest draft. Every section of the
plan says which version it brings its target to. Every applied change and every ingest
batch is appended to the store's hash-chained audit log.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import (
    CompAdaptersError,
    ConfigurationError,
    StalePlanError,
    TargetBusyError,
)
from comp_adapters.governance.audit import (
    AuditRecord,
    applied_change_record,
    ingest_batch_record,
)
from comp_adapters.native import dumps_framework
from comp_adapters.project.loading import Endpoint, Project
from comp_adapters.protocols import Cursor
from comp_adapters.rules.columnar import EvidenceTable
from comp_adapters.rules.engine import evaluate_table
from comp_adapters.store import RunStatus, Store
from comp_adapters.store.versions import framework_for_target
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.dataset_compute import DatasetCompute
from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.sync.progress import SyncProgress
from comp_adapters.sync.sync_plan import SyncPlan, TargetPlan

RUN_KIND = "sync"
_LOOK_BACK = 500
"""Runs searched for the last compute and each target's last delivery."""

Pair = tuple[str, str]
ENV_ACTOR = "COMP_ADAPTERS_ACTOR"


def sync_actor() -> str:
    """Who the audit log names for a sync: ``$COMP_ADAPTERS_ACTOR``, else the OS user."""
    given = os.environ.get(ENV_ACTOR, "").strip()
    if given:
        return given
    try:
        return getpass.getuser().strip() or "sync"
    except (OSError, KeyError):  # no login name in the environment or the user database
        return "sync"


def _fingerprint(value: object) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Governed:
    """What the targets receive: the framework and its version label (``None`` when the
    store holds no version of the framework, so the source is used as it is)."""

    framework: Framework
    version: str | None
    error: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def query_fingerprint(query: dict[str, JsonValue]) -> str:
    import json  # noqa: PLC0415

    text = json.dumps(query, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def framework_digest(framework: Framework) -> str:
    return hashlib.sha256(dumps_framework(framework).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ComputeState:
    """What a finished run's compute covered, read back from its summary."""

    run_id: int
    ingest_id: int
    as_of: datetime
    framework_digest: str
    min_evidence: int


@dataclass(slots=True)
class TargetOutcome:
    status: str
    """``ok``, ``failed``, ``busy``, ``planned`` or ``skipped``."""
    writes: int = 0
    resumed: int = 0
    error: str | None = None

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "status": self.status,
            "writes": self.writes,
            "resumed": self.resumed,
            "error": self.error,
        }


class SyncEngine:
    """Runs the steps of a sync for one project on one store."""

    def __init__(
        self,
        project: Project,
        store: Store,
        *,
        progress: SyncProgress | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.project = project
        self.store = store
        self.progress = progress or SyncProgress(quiet=True)
        self.clock = clock
        self.sources: dict[str, dict[str, JsonValue]] = {}
        self._adapters: dict[str, Any] = {}
        self._dataset: DatasetCompute | None = None
        self._dataset_made = False
        self._inputs: dict[str, _PlanInputs] = {}
        """What each target was planned from in this engine (to plan it again, see
        :meth:`_apply_fresh`)."""

    # -- the steps ----------------------------------------------------------------------

    def plan(
        self,
        run_id: int,
        *,
        targets: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> SyncPlan:
        """Read, ingest, compute once and plan every (selected) target; writes nothing
        to any target."""
        selected = self._select(targets)
        source = self.read_framework()
        self.ingest(run_id)
        at = as_of or self.project.compute.as_of or self.clock()
        live = self.governed(source, staging=False, at=at)
        framework = live.framework
        compute, changed, before = self.compute(framework, at, run_id)
        sections = []
        for endpoint in selected:
            receives = self.governed(source, staging=True, at=at) if endpoint.staging else live
            sections.append(self._plan_target(endpoint, receives, framework, changed, before))
        return SyncPlan(
            project=str(self.project.path),
            run_id=run_id,
            as_of=at,
            framework_key=framework.key,
            compute=compute,
            targets=tuple(sections),
        )

    def apply(
        self, plan: SyncPlan, run_id: int, *, wait: bool | None = None
    ) -> dict[str, TargetOutcome]:
        """Apply each target's section under its lease, through the persistent journal."""
        outcomes: dict[str, TargetOutcome] = {}
        store_settings = self.project.store
        waiting = store_settings.wait if wait is None else wait
        for section in plan.targets:
            if section.error is not None:
                outcomes[section.name] = TargetOutcome("failed", error=section.error)
                continue
            outcomes[section.name] = self._apply_target(
                section, run_id, wait=waiting, timeout=store_settings.wait_timeout
            )
        return outcomes

    # -- framework and evidence ---------------------------------------------------------

    def read_framework(self) -> Framework:
        adapter = self.project.framework.build()
        self.progress.step("framework", f"reading from {adapter.target}")
        framework: Framework = adapter.read_framework(self.project.framework_key)
        return framework

    def governed(self, source: Framework, *, staging: bool, at: datetime) -> Governed:
        """The version of ``source``'s framework a (staging) target receives."""
        if not self.store.framework_versions(source.key):
            return Governed(source, None)
        try:
            framework, label = framework_for_target(
                self.store,
                source.key,
                staging=staging,
                policy=self.project.file.governance.policy(),
                at=None if staging else at,
            )
        except CompAdaptersError as exc:
            return Governed(source, None, error=str(exc))
        return Governed(framework, label)

    def ingest(self, run_id: int) -> None:
        """New evidence of every source into the store; a failing source is recorded and
        the others go on."""
        if (dataset := self.dataset()) is not None:
            dataset.catch_up()  # checked (extra, partitions, store) before anything is read
        for endpoint in self.project.evidence:
            try:
                self.sources[endpoint.name] = self._ingest_source(endpoint, run_id)
            except CompAdaptersError as exc:
                self.sources[endpoint.name] = {"status": "failed", "error": str(exc)}
                self.progress.step(f"ingest {endpoint.name}", f"failed: {exc}")

    def _ingest_source(self, endpoint: Endpoint, run_id: int) -> dict[str, JsonValue]:
        adapter = endpoint.build()
        fingerprint = query_fingerprint(adapter.evidence_query())
        state = self.store.source_state(endpoint.name)
        cursor = None
        if state is not None and state.cursor is not None:
            if state.query_fingerprint != fingerprint:
                raise ConfigurationError(
                    f"evidence source {endpoint.name!r}: its query changed since it was last "
                    "read (another file, filter or mapping); its stored cursor belongs to the "
                    "old query. Give the source a new name to read it from the start"
                )
            cursor = Cursor.model_validate(state.cursor)
        read = withdrawn = 0
        skipped: dict[str, int] = {}
        for batch in adapter.read_evidence(cursor=cursor):
            with self.store.ingest(
                endpoint.name, query_fingerprint=fingerprint, run_id=run_id
            ) as ingest:
                ingest.add_evidence(batch.evidence)
                if batch.withdrawn:
                    ingest.withdraw(batch.withdrawn)
                ingest.set_cursor(batch.cursor)
            self.store.append_audit(
                ingest_batch_record(
                    source=endpoint.name,
                    cursor_before=None if cursor is None else cursor.position,
                    cursor_after=batch.cursor.position,
                    counts={"evidence": len(batch.evidence), "withdrawn": len(batch.withdrawn)},
                    actor=sync_actor(),
                    at=self.clock(),
                )
            )
            read += len(batch.evidence)
            withdrawn += len(batch.withdrawn)
            for reason, count in batch.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + count
            cursor = batch.cursor
            if (dataset := self.dataset()) is not None:
                dataset.catch_up()  # the committed batch lands in the Parquet layout too
        self.progress.step(f"ingest {endpoint.name}", f"{read} evidence, {withdrawn} withdrawn")
        return {
            "status": "ok",
            "read": read,
            "withdrawn": withdrawn,
            "skipped": dict(skipped),
            "cursor": None if cursor is None else cursor.position,
            "error": None,
        }

    # -- compute ------------------------------------------------------------------------

    def last_compute(self) -> ComputeState | None:
        for run in self.store.recent_runs(limit=_LOOK_BACK, kind=RUN_KIND):
            summary = run.summary
            if run.status is RunStatus.RUNNING or not isinstance(summary, dict):
                continue
            compute = summary.get("compute")
            if isinstance(compute, dict) and compute.get("recorded"):
                return ComputeState(
                    run_id=run.id,
                    ingest_id=int(str(compute["ingest_id"])),
                    as_of=datetime.fromisoformat(str(compute["as_of"])),
                    framework_digest=str(compute["framework_digest"]),
                    min_evidence=int(str(compute["min_evidence"])),
                )
        return None

    def compute(
        self, framework: Framework, as_of: datetime, run_id: int
    ) -> tuple[dict[str, JsonValue], list[Proficiency], int]:
        """Proficiency once, as of ``as_of``: every pair the first time, then only what
        may have changed. Returns the compute summary, the changed results, and the last
        run that recorded results before this one (see :meth:`_results_for`)."""
        min_evidence = self.project.compute.min_evidence
        digest = framework_digest(framework)
        before = self.store.last_proficiency_run(framework.key)
        ingest_id = self.store.last_ingest_id()
        previous = self.last_compute()
        incremental = (
            previous is not None
            and previous.framework_digest == digest
            and previous.min_evidence == min_evidence
            and previous.as_of <= as_of
        )
        if incremental:
            assert previous is not None  # noqa: S101 - narrowed above
            touched = self.store.touched_since(previous.ingest_id)
            if previous.as_of < as_of:
                touched |= self.store.pairs_with_instants_between(previous.as_of, as_of)
            pairs = expand_to_trees(framework, touched)
        else:
            pairs = set()
        results: list[Proficiency] = []
        table: EvidenceTable | None = None
        if (dataset := self.dataset()) is not None:
            results = dataset.evaluate(
                framework,
                as_of=as_of,
                min_evidence=min_evidence,
                pairs=pairs if incremental else None,
                run_id=run_id,
            )
        elif incremental:
            table = self.store.evidence_table(pairs=pairs) if pairs else None
        else:
            table = self.store.evidence_table()
        if table is not None and len(table):
            evaluated = evaluate_table(framework, table, as_of=as_of, min_evidence=min_evidence)
            results = evaluated.to_proficiencies()
        computed = len(results)

        def clear(learner: str, competency: str) -> Proficiency | None:
            if competency not in framework:
                return None  # a competency the framework no longer has: left as it was
            return cleared_result(framework, learner, competency, as_of)

        # A pair that had a result and now has none gets a cleared one: among the pairs
        # read when incremental, among all when not (none on the first compute).
        update = self.store.record_proficiency(
            results,
            framework_key=framework.key,
            framework_version=framework.version,
            run_id=run_id,
            clear=None if previous is None else clear,
            scope=pairs if incremental else None,
        )
        mode = "incremental" if incremental else "full"
        self.progress.step(
            "compute",
            f"{mode}: {computed + update.cleared} result(s) computed, "
            f"{len(update.changed)} changed",
        )
        summary: dict[str, JsonValue] = {
            "recorded": True,
            "mode": mode,
            "engine": self.project.compute.engine,
            "ingest_id": ingest_id,
            "as_of": as_of.isoformat(),
            "framework_digest": digest,
            "min_evidence": min_evidence,
            "pairs_read": len(pairs) if incremental else None,
            "computed": computed,
            "cleared": update.cleared,
            "changed": len(update.changed),
        }
        return summary, update.changed, before

    def dataset(self) -> DatasetCompute | None:
        """The Parquet dataset of ``[compute] engine = "dask"`` (``None``: engine local)."""
        if not self._dataset_made:
            self._dataset = DatasetCompute.for_project(self.project, self.store)
            self._dataset_made = True
        return self._dataset

    # -- targets ------------------------------------------------------------------------

    def _select(self, names: Sequence[str] | None) -> list[Endpoint]:
        if not names:
            return list(self.project.targets)
        return [self.project.target(name) for name in names]

    def adapter(self, endpoint: Endpoint) -> Any:
        """The target's adapter, built once per engine (a plan is applied by its planner)."""
        if endpoint.name not in self._adapters:
            self._adapters[endpoint.name] = endpoint.build()
        return self._adapters[endpoint.name]

    def _plan_target(
        self,
        endpoint: Endpoint,
        receives: Governed,
        framework: Framework,
        changed: list[Proficiency],
        before: int,
    ) -> TargetPlan:
        """``receives`` is the version the target's framework plan brings it to; results
        are always those computed under ``framework``, the version live targets get."""
        framework_plan: Plan | None = None
        proficiency_plan: Plan | None = None
        deferred = False
        try:
            if receives.error is not None:
                raise ConfigurationError(receives.error)
            adapter = self.adapter(endpoint)
            results: Sequence[Proficiency] = ()
            if "proficiency" in endpoint.receives:
                results = self._results_for(endpoint.name, framework, changed, before)
            self._inputs[endpoint.name] = _PlanInputs(receives.framework, framework, results)
            if "framework" in endpoint.receives:
                framework_plan = adapter.plan_framework(receives.framework)
            if "proficiency" in endpoint.receives:
                try:
                    proficiency_plan = adapter.plan_proficiency(results, framework=framework)
                except CompAdaptersError:
                    if framework_plan is None or not framework_plan.writes:
                        raise
                    # The target cannot plan results for a framework it does not hold yet
                    # (a new Moodle site): planned again once its framework plan is applied.
                    deferred = True
        except CompAdaptersError as exc:
            self.progress.step(f"plan {endpoint.name}", f"failed: {exc}")
            return TargetPlan(
                name=endpoint.name,
                system=endpoint.system,
                receives=endpoint.receives,
                version=receives.version,
                error=str(exc),
            )
        section = TargetPlan(
            name=endpoint.name,
            system=endpoint.system,
            receives=endpoint.receives,
            version=receives.version,
            framework=framework_plan,
            proficiency=proficiency_plan,
            proficiency_after_framework=deferred,
        )
        self.progress.step(f"plan {endpoint.name}", f"{section.writes} change(s)")
        return section

    def _results_for(
        self, target: str, framework: Framework, changed: list[Proficiency], before: int
    ) -> Sequence[Proficiency]:
        """The changed results when the target received everything recorded before this
        compute; else every current result."""
        delivered = self.last_delivery(target)
        if delivered is not None and delivered >= before:
            return changed
        return [record.result for record in self.store.latest_proficiency(framework.key)]

    def last_delivery(self, target: str) -> int | None:
        """The run whose results ``target`` last received in full (its apply succeeded)."""
        for run in self.store.recent_runs(limit=_LOOK_BACK, kind=RUN_KIND):
            summary = run.summary
            if not isinstance(summary, dict):
                continue
            targets = summary.get("targets")
            entry = targets.get(target) if isinstance(targets, dict) else None
            if isinstance(entry, dict) and entry.get("status") == "ok":
                computed = entry.get("compute_run")
                return int(str(computed)) if computed is not None else None
        return None

    def _apply_target(
        self, section: TargetPlan, run_id: int, *, wait: bool, timeout: float | None
    ) -> TargetOutcome:
        endpoint = self.project.target(section.name)
        if not any(plan.writes for plan in section.plans):
            self.progress.step(f"apply {section.name}", "nothing to do")
            return TargetOutcome("ok")
        outcome = TargetOutcome("ok")
        try:
            with self.store.lease(f"target:{section.name}", wait=wait, timeout=timeout):
                adapter = self.adapter(endpoint)
                journal = self.store.journal(run_id=run_id)
                plans: list[Plan | Callable[[Any, TargetPlan], Plan]] = list(section.plans)
                if section.proficiency_after_framework:
                    plans.append(self._deferred_proficiency_plan)
                for item in plans:
                    plan = item(adapter, section) if callable(item) else item
                    if plan.is_empty:
                        continue
                    plan, report = self._apply_fresh(adapter, section, plan, journal)
                    self._audit_applied(section, plan, report.applied)
                    outcome.writes += len(report.applied)
                    outcome.resumed += len(report.resumed)
        except TargetBusyError as exc:
            outcome = TargetOutcome("busy", writes=outcome.writes, error=str(exc))
        except CompAdaptersError as exc:
            outcome = TargetOutcome("failed", writes=outcome.writes, error=str(exc))
        detail = (
            f"{outcome.writes} change(s) applied"
            + (f", {outcome.resumed} already done" if outcome.resumed else "")
            + (f"; {outcome.status}: {outcome.error}" if outcome.error else "")
        )
        self.progress.step(f"apply {section.name}", detail)
        return outcome

    def _apply_fresh(
        self, adapter: Any, section: TargetPlan, plan: Plan, journal: Any
    ) -> tuple[Plan, ApplyReport]:
        """Apply ``plan``; when the target changed since it was planned (another worker
        wrote it between this worker's plan and its lease), plan it again, now that the
        lease is held, from the same inputs, and apply that. A plan read from a file (no
        inputs in this engine) is refused as stale, as ``apply`` does."""
        try:
            return plan, adapter.apply(plan, journal=journal)
        except StalePlanError as exc:
            inputs = self._inputs.get(section.name)
            if inputs is None:
                raise
            if plan is section.framework:
                fresh: Plan = adapter.plan_framework(inputs.receives)
            else:
                fresh = adapter.plan_proficiency(inputs.results, framework=inputs.framework)
            self.progress.step(
                f"plan {section.name}", f"again: {exc}; {len(fresh.writes)} change(s) now"
            )
            return fresh, adapter.apply(fresh, journal=journal)

    def _deferred_proficiency_plan(self, adapter: Any, section: TargetPlan) -> Plan:
        """A target's results planned after its framework plan was applied: every current
        result of the framework (those it shows already are no-ops)."""
        framework = self.governed(self.read_framework(), staging=False, at=self.clock()).framework
        results = [record.result for record in self.store.latest_proficiency(framework.key)]
        plan: Plan = adapter.plan_proficiency(results, framework=framework)
        self.progress.step(f"plan {section.name}", f"{len(plan.writes)} result change(s)")
        return plan

    def _audit_applied(self, section: TargetPlan, plan: Plan, applied: Sequence[str]) -> None:
        """One audit entry per change applied now (resumed changes were logged before)."""
        if not applied:
            return
        by_id: dict[str, Change] = {change.id: change for change in plan.changes}
        now, who = self.clock(), sync_actor()
        self.store.append_audit_many(
            _applied_record(by_id[change_id], section, plan.fingerprint, who, now)
            for change_id in applied
            if change_id in by_id
        )


@dataclass(frozen=True, slots=True)
class _PlanInputs:
    """What a target's section was planned from: the framework it receives, the one the
    results were computed under, and the results it was sent."""

    receives: Framework
    framework: Framework
    results: Sequence[Proficiency]


def _applied_record(
    change: Change, section: TargetPlan, plan: str, actor: str, at: datetime
) -> AuditRecord:
    """The audit record of one applied change: fingerprints of the fields it found (an
    update's ``before``) and of what it wrote (none for a delete)."""
    return applied_change_record(
        target=section.name,
        key=change.key,
        action=change.action.value,
        before=_fingerprint(change.before or None),
        after=None if change.action is Action.DELETE else _fingerprint(change.fields),
        actor=actor,
        at=at,
        plan=plan,
        change_id=change.id,
        version=section.version,
    )


def cleared_result(
    framework: Framework, learner: str, competency: str, as_of: datetime
) -> Proficiency:
    """The result of a pair that had one and now has no evidence that counts (all of it
    withdrawn, moved away or expired): no level, said so, rather than the old result left
    standing."""
    method, _ = framework.method_for(competency)
    return Proficiency(
        learner=learner,
        competency=competency,
        score=None,
        level=None,
        proficient=False,
        method=method.value,
        as_of=as_of,
        explanation="no evidence counts any more: what there was has been withdrawn, "
        "has moved to another competency or has expired",
    )


def expand_to_trees(framework: Framework, pairs: Iterable[Pair]) -> set[Pair]:
    """Every pair of the same learner in the competency tree of each pair's competency:
    exactly the evidence that decides the pair and its ancestors."""
    root_of: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for competency in framework.competencies:
        chain = framework.ancestors(competency.key)
        root = chain[-1].key if chain else competency.key
        root_of[competency.key] = root
        members.setdefault(root, []).append(competency.key)
    wanted: set[Pair] = set()
    trees_of: dict[str, set[str]] = {}
    for learner, key in pairs:
        found = root_of.get(key)
        if found is None:
            continue  # evidence of a competency the framework does not have
        trees_of.setdefault(learner, set()).add(found)
    for learner, roots in trees_of.items():
        for root in roots:
            wanted.update((learner, key) for key in members[root])
    return wanted
