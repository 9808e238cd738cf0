"""The one apply engine: a plan applied in journaled batches, resumable after a crash.

:func:`apply_plan_in_batches` is the only loop. It keeps the changes in plan order, hands
the executor groups of consecutive changes it may send in one request (a group never holds
a change together with one it depends on, so an executor can rely on the results of earlier
groups, e.g. the remote id of a parent created before), journals each change once the
target confirmed it, and skips what the journal already holds, so applying the same plan
again after a crash continues where it stopped and never repeats a write.

:func:`apply_plan` is the same engine with batches of one, for executors that perform one
change at a time. Both share one preamble (:func:`_prepare`): the journal, the stale check
against the target's current state, and the report.

Targets whose batches stop at the first failure (Moodle's
``tool_mobile_call_external_functions``) report the results of the changes that ran and
the error that stopped the rest (:class:`BatchOutcome`); those results are journaled before
the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from comp_adapters.errors import PlanError, RetriableRemoteError, StalePlanError
from comp_adapters.sync.journal import Journal, MemoryJournal, Result
from comp_adapters.sync.plan import Change, Plan

Executor = Callable[[Change, Mapping[str, Result]], Result | None]
"""Performs one change against the target. Receives the results of the changes already
done (to find, e.g., the remote id of a parent created earlier) and returns this change's
result, or ``None`` when there is nothing to remember."""


@dataclass(slots=True)
class BatchOutcome:
    """What a batch did: one result per change that took effect, in order, and why the
    next change failed (``error``), if one did. ``results`` is a prefix of the batch."""

    results: list[Result | None] = field(default_factory=list)
    error: Exception | None = None


BatchExecutor = Callable[[Sequence[Change], Mapping[str, Result]], BatchOutcome]
"""Performs a group of changes; receives the results of the changes already done."""

GroupKey = Callable[[Change], Hashable | None]
"""Which changes may share a batch: equal keys may, ``None`` means "alone"."""


@dataclass(slots=True)
class ApplyReport:
    """What an apply did: changes applied now, changes found already done, and results."""

    plan_fingerprint: str
    applied: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return len(self.applied)


class ApplyError(PlanError):
    """A change failed; :attr:`report` shows what was done before it, ``__cause__`` why."""

    def __init__(self, change: Change, report: ApplyReport, cause: BaseException) -> None:
        self.change = change
        self.report = report
        super().__init__(
            f"applying {change.action.value} {change.kind} {change.key!r} failed after "
            f"{len(report.applied)} change(s) were applied: {cause}. Run the same command "
            "again: it plans from what the target holds now, so what was applied is not "
            "repeated."
        )

    @property
    def retriable(self) -> bool:
        return isinstance(self.__cause__, RetriableRemoteError)


def _same_group(_change: Change) -> Hashable | None:
    return "all"


def group_changes(
    changes: Sequence[Change], *, max_batch: int, group_key: GroupKey = _same_group
) -> list[list[Change]]:
    """Consecutive changes grouped: same key, no dependency inside a group, at most
    ``max_batch`` each. The order of the changes is kept."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    groups: list[list[Change]] = []
    current: list[Change] = []
    current_ids: set[str] = set()
    current_key: Hashable | None = None
    for change in changes:
        key = group_key(change)
        fits = (
            current
            and key is not None
            and key == current_key
            and len(current) < max_batch
            and not current_ids.intersection(change.depends_on)
        )
        if not fits and current:
            groups.append(current)
            current, current_ids = [], set()
        current.append(change)
        current_ids.add(change.id)
        current_key = key
        if key is None:
            groups.append(current)
            current, current_ids = [], set()
    if current:
        groups.append(current)
    return groups


def _prepare(
    plan: Plan,
    journal: Journal | None,
    current_state: Callable[[], str | None] | None,
) -> tuple[Journal, ApplyReport, list[Change]]:
    """The preamble every apply shares: the journal, the stale check, the report, and the
    writing changes still to do (those the journal holds are reported as resumed).

    The stale check runs only when nothing of the plan was applied yet: once a resumed
    apply has written part of it, the target has changed by our own hand.
    """
    journal = journal if journal is not None else MemoryJournal()
    fingerprint = plan.fingerprint
    done = journal.completed(fingerprint)
    if not done and plan.state_fingerprint is not None and current_state is not None:
        now = current_state()
        if now != plan.state_fingerprint:
            raise StalePlanError(
                f"{plan.adapter} target {plan.target} changed since the plan was made "
                f"(planned against state {plan.state_fingerprint[:12]}, it is now "
                f"{(now or 'unknown')[:12]}); plan again"
            )
    report = ApplyReport(plan_fingerprint=fingerprint, results=dict(done))
    pending: list[Change] = []
    for change in plan.changes:
        if not change.writes:
            continue
        if change.id in done:
            report.resumed.append(change.id)
        else:
            pending.append(change)
    return journal, report, pending


def apply_plan_in_batches(
    plan: Plan,
    execute: BatchExecutor,
    *,
    journal: Journal | None = None,
    max_batch: int = 50,
    group_key: GroupKey = _same_group,
    current_state: Callable[[], str | None] | None = None,
) -> ApplyReport:
    """Apply ``plan`` in groups of changes (see :func:`group_changes`), journaling each.

    Changes the journal already holds for this plan are skipped. If a batch fails, the
    changes it completed are journaled, then :class:`ApplyError` names the change that
    failed; applying the same plan again with the same journal continues from there.
    When the plan carries a ``state_fingerprint`` and nothing of it was applied yet,
    ``current_state`` (if given) must still return it, else :class:`StalePlanError`: the
    target changed since planning.
    """
    journal, report, pending = _prepare(plan, journal, current_state)
    fingerprint = report.plan_fingerprint
    for group in group_changes(pending, max_batch=max_batch, group_key=group_key):
        try:
            outcome = execute(group, report.results)
        except Exception as exc:
            raise ApplyError(group[0], report, exc) from exc
        if len(outcome.results) > len(group):
            raise PlanError(
                f"the executor reported {len(outcome.results)} results for a batch of {len(group)}"
            )
        for change, result in zip(group, outcome.results, strict=False):
            stored: Result = dict(result or {})
            journal.record(fingerprint, change.id, stored)
            report.results[change.id] = stored
            report.applied.append(change.id)
        if len(outcome.results) < len(group):
            failed = group[len(outcome.results)]
            cause = outcome.error or PlanError("the executor stopped without saying why")
            raise ApplyError(failed, report, cause) from cause
    return report


def one_at_a_time(execute: Executor) -> BatchExecutor:
    """A batch executor over a one-change executor (for batches of one)."""

    def run(batch: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        return BatchOutcome(results=[execute(change, results) for change in batch])

    return run


def apply_plan(
    plan: Plan,
    execute: Executor,
    *,
    journal: Journal | None = None,
    current_state: Callable[[], str | None] | None = None,
) -> ApplyReport:
    """Apply ``plan`` change by change: :func:`apply_plan_in_batches` with batches of one.

    A change that fails raises :class:`ApplyError` naming it, after every change before it
    was journaled; ``current_state`` works as in :func:`apply_plan_in_batches`.
    """
    return apply_plan_in_batches(
        plan, one_at_a_time(execute), journal=journal, max_batch=1, current_state=current_state
    )
