"""Deprecated: the batched apply now lives in :mod:`comp_adapters.sync.apply`, the one
apply engine. Import from :mod:`comp_adapters.sync` instead; this module only re-exports
the old names until the last caller (``moodle/adapter.py``) has moved, then it goes."""

from comp_adapters.sync.apply import (
    BatchExecutor,
    BatchOutcome,
    GroupKey,
    apply_plan_in_batches,
    group_changes,
)

__all__ = ["BatchExecutor", "BatchOutcome", "GroupKey", "apply_plan_in_batches", "group_changes"]
