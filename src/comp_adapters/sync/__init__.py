"""Plans as data, and their journaled, resumable application by the one apply engine."""

from comp_adapters.sync.apply import (
    ApplyError,
    ApplyReport,
    BatchExecutor,
    BatchOutcome,
    Executor,
    GroupKey,
    apply_plan,
    apply_plan_in_batches,
    group_changes,
)
from comp_adapters.sync.journal import Journal, MemoryJournal
from comp_adapters.sync.plan import Action, Change, Plan

__all__ = [
    "Action",
    "ApplyError",
    "ApplyReport",
    "BatchExecutor",
    "BatchOutcome",
    "Change",
    "Executor",
    "GroupKey",
    "Journal",
    "MemoryJournal",
    "Plan",
    "apply_plan",
    "apply_plan_in_batches",
    "group_changes",
]
