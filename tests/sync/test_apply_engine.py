"""The one apply engine: grouping rules, journaling of partial batches, resuming, and
apply_plan as batches of one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from comp_adapters.errors import PlanError, StalePlanError
from comp_adapters.sync.apply import (
    ApplyError,
    BatchOutcome,
    apply_plan,
    apply_plan_in_batches,
    group_changes,
)
from comp_adapters.sync.journal import MemoryJournal, Result
from comp_adapters.sync.plan import Action, Change, Plan


def change(
    cid: str, *, depends: tuple[str, ...] = (), kind: str = "thing", noop: bool = False
) -> Change:
    return Change(
        id=cid,
        action=Action.NOOP if noop else Action.CREATE,
        kind=kind,
        key=cid,
        depends_on=depends,
    )


def ids(groups: list[list[Change]]) -> list[list[str]]:
    return [[c.id for c in g] for g in groups]


def test_groups_break_on_dependency_size_and_key() -> None:
    changes = [
        change("a"),
        change("b"),
        change("c", depends=("a",)),
        change("d"),
        change("e", kind="solo"),
        change("f"),
        change("g"),
        change("h"),
    ]
    groups = group_changes(
        changes, max_batch=3, group_key=lambda c: None if c.kind == "solo" else "x"
    )
    assert ids(groups) == [["a", "b"], ["c", "d"], ["e"], ["f", "g", "h"]]
    assert ids(group_changes(changes, max_batch=1)) == [[c.id] for c in changes]
    with pytest.raises(ValueError, match="max_batch"):
        group_changes(changes, max_batch=0)


class Recorder:
    """An executor that records batches and can fail at a given change."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_at = fail_at
        self.seen_results: list[dict[str, Result]] = []

    def __call__(self, batch: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        self.batches.append([c.id for c in batch])
        self.seen_results.append(dict(results))
        outcome = BatchOutcome()
        for item in batch:
            if item.id == self.fail_at:
                outcome.error = RuntimeError(f"refused {item.id}")
                return outcome
            outcome.results.append({"done": item.id})
        return outcome


def test_partial_batch_is_journaled_and_resumed() -> None:
    plan = Plan(
        adapter="t",
        target="x",
        changes=(
            change("a"),
            change("b"),
            change("c"),
            change("n", noop=True),
            change("d", depends=("c",)),
        ),
    )
    journal = MemoryJournal()
    failing = Recorder(fail_at="b")
    with pytest.raises(ApplyError) as caught:
        apply_plan_in_batches(plan, failing, journal=journal, max_batch=5)
    assert caught.value.change.id == "b"
    assert caught.value.report.applied == ["a"]
    assert isinstance(caught.value.__cause__, RuntimeError)
    resumed = Recorder()
    report = apply_plan_in_batches(plan, resumed, journal=journal, max_batch=5)
    assert resumed.batches == [["b", "c"], ["d"]]
    assert report.resumed == ["a"]
    assert report.applied == ["b", "c", "d"]
    # later batches see the results of earlier ones (ids of created parents...)
    assert resumed.seen_results[1]["c"] == {"done": "c"}


def test_executor_exceptions_and_bad_outcomes() -> None:
    plan = Plan(adapter="t", target="x", changes=(change("a"), change("b")))

    def boom(batch: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        raise RuntimeError("down")

    with pytest.raises(ApplyError, match="down"):
        apply_plan_in_batches(plan, boom)

    def too_many(batch: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        return BatchOutcome(results=[{}, {}, {}])

    with pytest.raises(PlanError, match="3 results"):
        apply_plan_in_batches(plan, too_many)

    def silent(batch: Sequence[Change], results: Mapping[str, Result]) -> BatchOutcome:
        return BatchOutcome(results=[{}])

    with pytest.raises(ApplyError, match="without saying why"):
        apply_plan_in_batches(plan, silent)


def test_stale_plan_is_refused() -> None:
    plan = Plan(adapter="t", target="x", changes=(change("a"),), state_fingerprint="v1")
    with pytest.raises(StalePlanError):
        apply_plan_in_batches(plan, Recorder(), current_state=lambda: "v2")
    report = apply_plan_in_batches(plan, Recorder(), current_state=lambda: "v1")
    assert report.writes == 1


def test_apply_plan_is_the_batched_engine_with_batches_of_one() -> None:
    """One loop: apply_plan hands the batched engine one change at a time, so its journal,
    resume and failure behaviour are the engine's."""
    plan = Plan(adapter="t", target="t", changes=tuple(change(c) for c in "abc"))
    seen: list[str] = []

    def execute(one: Change, results: Mapping[str, Result]) -> Result:
        if one.id == "b" and "b" not in seen:
            seen.append("b")
            raise RuntimeError("b failed")
        seen.append(one.id)
        return {"n": len(results)}

    journal = MemoryJournal()
    with pytest.raises(ApplyError, match="create thing 'b' failed after 1 change") as caught:
        apply_plan(plan, execute, journal=journal)
    assert caught.value.report.applied == ["a"]
    report = apply_plan(plan, execute, journal=journal)
    assert report.resumed == ["a"]
    assert report.applied == ["b", "c"]
    assert report.results["c"] == {"n": 2}
    assert seen == ["a", "b", "b", "c"]


def test_stale_refusal_says_what_changed() -> None:
    plan = Plan(adapter="t", target="tgt", changes=(change("a"),), state_fingerprint="v1" * 8)
    with pytest.raises(StalePlanError, match=r"planned against state v1v1v1v1v1v1, it is now v2"):
        apply_plan(plan, lambda _c, _r: None, current_state=lambda: "v2")
