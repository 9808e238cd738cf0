"""Test support every adapter shares: fault injection and the adapter contract checks.

Third-party adapters can use these in their own test suites, so that "an adapter" means
the same guarantees everywhere: plan -> apply -> plan again is empty; a crash at any
request followed by a re-run converges with no duplicates.
"""

from comp_adapters.testing.contract import (
    assert_converges_after_crash,
    assert_replan_is_empty,
)
from comp_adapters.testing.faults import CrashingSession, SimulatedCrash

__all__ = [
    "CrashingSession",
    "SimulatedCrash",
    "assert_converges_after_crash",
    "assert_replan_is_empty",
]
