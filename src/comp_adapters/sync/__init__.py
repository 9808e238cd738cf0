"""Plans as data, and their journaled, resumable application."""

from comp_adapters.sync.apply import ApplyError, ApplyReport, Executor, apply_plan
from comp_adapters.sync.journal import Journal, MemoryJournal
from comp_adapters.sync.plan import Action, Change, Plan

__all__ = [
    "Action",
    "ApplyError",
    "ApplyReport",
    "Change",
    "Executor",
    "Journal",
    "MemoryJournal",
    "Plan",
    "apply_plan",
]
