"""Test support every adapter shares: fault injection and the adapter contract kit.

Third-party adapters use these in their own test suites, so that "an adapter" means the
same guarantees everywhere. The kit (:mod:`comp_adapters.testing.kit`: mixin classes such
as :class:`WritesFrameworkContract`, fed by fixtures) needs pytest and is imported only
when one of its names is used; the helpers below need nothing but requests.
"""

from __future__ import annotations

import importlib
from typing import Any

from comp_adapters.testing.contract import (
    assert_converges_after_crash,
    assert_replan_is_empty,
)
from comp_adapters.testing.faults import CrashingJournal, CrashingSession, SimulatedCrash

_KIT_NAMES = (
    "ForeignLinkContract",
    "HttpCrashContract",
    "HygieneContract",
    "ReadsEvidenceContract",
    "ReadsFrameworkContract",
    "WritesFrameworkContract",
    "WritesProficiencyContract",
    "assert_converges_after_journal_crash",
    "assert_noops_say_why",
)

__all__ = [
    "CrashingJournal",
    "CrashingSession",
    "ForeignLinkContract",
    "HttpCrashContract",
    "HygieneContract",
    "ReadsEvidenceContract",
    "ReadsFrameworkContract",
    "SimulatedCrash",
    "WritesFrameworkContract",
    "WritesProficiencyContract",
    "assert_converges_after_crash",
    "assert_converges_after_journal_crash",
    "assert_noops_say_why",
    "assert_replan_is_empty",
]


def __getattr__(name: str) -> Any:
    """The kit's names, imported on first use (the kit needs pytest)."""
    if name in _KIT_NAMES:
        return getattr(importlib.import_module("comp_adapters.testing.kit"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
