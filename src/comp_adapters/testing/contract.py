"""Contract checks for adapters that write: idempotent re-plans and crash convergence."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from comp_adapters.sync.plan import Plan
from comp_adapters.testing.faults import CrashingSession, SimulatedCrash

Target = TypeVar("Target")


def assert_replan_is_empty(plan: Callable[[], Plan], apply: Callable[[Plan], Any]) -> Plan:
    """Plan, apply, plan again: the second plan must write nothing. Returns the first plan."""
    first = plan()
    apply(first)
    second = plan()
    if not second.is_empty:
        raise AssertionError("re-plan after a successful apply is not empty:\n" + second.to_table())
    return first


def assert_converges_after_crash(
    *,
    run: Callable[[CrashingSession], Any],
    snapshot: Callable[[], Hashable],
    reset: Callable[[], None],
    crash_points: range | None = None,
    after_send: bool = True,
) -> int:
    """For every k, crash the k-th request of a run, re-run, and compare with a clean run.

    ``run(session)`` performs a whole sync through the given session (plan and apply);
    ``snapshot()`` returns the remote's state in a comparable form (it must expose
    duplicates, e.g. a sorted tuple of records, not a set of keys); ``reset()`` empties the
    remote. A clean run fixes the expected state and the number of requests; then each
    crash point is tried. Returns the number of crash points checked.
    """
    reset()
    clean = CrashingSession()
    run(clean)
    expected = snapshot()
    total = clean.count
    points = crash_points if crash_points is not None else range(1, total + 1)
    for k in points:
        reset()
        try:
            run(CrashingSession(crash_at=k, after_send=after_send))
        except SimulatedCrash:
            pass
        else:
            raise AssertionError(f"the run made fewer than {k} requests: no crash happened")
        run(CrashingSession())
        got = snapshot()
        if got != expected:
            raise AssertionError(
                f"after a crash at request {k} of {total} and a re-run, the remote differs "
                f"from a clean run:\nexpected {expected!r}\ngot      {got!r}"
            )
    return len(points)
