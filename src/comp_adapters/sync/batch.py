"""Applying a plan several changes at a time, for targets that take batched requests.

:func:`apply_plan_in_batches` keeps the guarantees of
:func:`~comp_adapters.sync.apply.apply_plan` (changes in plan order, each journaled once
the target confirmed it, a resumed apply skips what is done) while handing the executor
groups of consecutive changes it may send in one request. A group never holds a change
together with one it depends on, so an executor can rely on the results of earlier groups
(e.g. the remote id of a parent created in the previous group).

Targets whose batches stop at the first failure (Moodle's
``tool_mobile_call_external_functions``) report the results of the changes that ran and
the error that stopped the rest; those results are journaled before the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from comp_adapters.errors import PlanError, StalePlanError
from comp_adapters.sync.apply import ApplyError, ApplyReport
from comp_adapters.sync.journal import Journal, MemoryJournal, Result
from comp_adapters.sync.plan import Change, Plan


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
    changes it completed are journaled, then :class:`~comp_adapters.sync.apply.ApplyError`
    names the change that failed; applying the same plan again with the same journal
    continues from there. ``current_state`` works as in ``apply_plan``.
    """
    journal = journal if journal is not None else MemoryJournal()
    fingerprint = plan.fingerprint
    done = journal.completed(fingerprint)
    stale = (
        not done
        and plan.state_fingerprint is not None
        and current_state is not None
        and current_state() != plan.state_fingerprint
    )
    if stale:
        raise StalePlanError(
            f"{plan.adapter} target {plan.target} changed since the plan was made; plan again"
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
