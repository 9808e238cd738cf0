"""Plans as data, and their journaled, resumable application."""

from comp_adapters.sync.apply import ApplyError, ApplyReport, Executor, apply_plan
from comp_adapters.sync.batch import BatchOutcome, apply_plan_in_batches
from comp_adapters.sync.journal import Journal, MemoryJournal
from comp_adapters.sync.plan import Action, Change, Plan

__all__ = [
    "Action",
    "ApplyError",
    "ApplyReport",
    "BatchOutcome",
    "Change",
    "Executor",
    "Journal",
    "MemoryJournal",
    "Plan",
    "apply_plan",
    "apply_plan_in_batches",
]
