"""Applying a plan, one journaled change at a time, resumable after a crash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from comp_adapters.errors import PlanError, RetriableRemoteError, StalePlanError
from comp_adapters.sync.journal import Journal, MemoryJournal, Result
from comp_adapters.sync.plan import Change, Plan

Executor = Callable[[Change, Mapping[str, Result]], Result | None]
"""Performs one change against the target. Receives the results of the changes already
done (to find, e.g., the remote id of a parent created earlier) and returns this change's
result, or ``None`` when there is nothing to remember."""


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


def apply_plan(
    plan: Plan,
    execute: Executor,
    *,
    journal: Journal | None = None,
    current_state: Callable[[], str | None] | None = None,
) -> ApplyReport:
    """Apply ``plan`` change by change, recording each in ``journal`` once it succeeded.

    Changes the journal already holds for this plan are skipped, so applying the same plan
    again after a crash continues where it stopped and never repeats a write. When the plan
    carries a ``state_fingerprint`` and nothing of it was applied yet, ``current_state``
    (if given) must still return it, else :class:`StalePlanError`: the target changed since
    planning.
    """
    journal = journal if journal is not None else MemoryJournal()
    fingerprint = plan.fingerprint
    done = journal.completed(fingerprint)
    if not done and plan.state_fingerprint is not None and current_state is not None:
        now = current_state()
        if now != plan.state_fingerprint:
            raise StalePlanError(
                f"{plan.adapter} target {plan.target} changed since the plan was made; plan again"
            )
    report = ApplyReport(plan_fingerprint=fingerprint, results=dict(done))
    for change in plan.changes:
        if not change.writes:
            continue
        if change.id in done:
            report.resumed.append(change.id)
            continue
        try:
            result = execute(change, report.results)
        except Exception as exc:
            raise ApplyError(change, report, exc) from exc
        stored: Result = dict(result or {})
        journal.record(fingerprint, change.id, stored)
        report.results[change.id] = stored
        report.applied.append(change.id)
    return report
