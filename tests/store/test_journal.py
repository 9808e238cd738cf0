"""The persistent journal: what apply_plan needs to resume, durable in the store."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from comp_adapters.errors import RetriableRemoteError
from comp_adapters.store import Store
from comp_adapters.sync import ApplyError, Change, Journal, apply_plan
from comp_adapters.sync.journal import Result
from tests.store.worker import plan_of


def test_it_is_a_journal(store: Store) -> None:
    assert isinstance(store.journal(), Journal)


def test_records_are_kept_per_plan_with_their_results(store: Store) -> None:
    journal = store.journal(run_id=store.begin_run())
    journal.record("plan-a", "c1", {"remote_id": "17", "nested": {"ok": [1, 2.5, None]}})
    journal.record("plan-a", "c2", {})
    journal.record("plan-b", "c1", {"remote_id": "99"})
    assert journal.completed("plan-a") == {
        "c1": {"remote_id": "17", "nested": {"ok": [1, 2.5, None]}},
        "c2": {},
    }
    assert store.journal().completed("plan-b") == {"c1": {"remote_id": "99"}}
    assert store.journal().completed("plan-c") == {}


def test_recording_again_keeps_the_latest_result(store: Store) -> None:
    journal = store.journal()
    journal.record("plan", "c1", {"remote_id": "1"})
    journal.record("plan", "c1", {"remote_id": "2"})
    assert journal.completed("plan") == {"c1": {"remote_id": "2"}}


def test_forget_drops_one_plan(store: Store) -> None:
    journal = store.journal()
    journal.record("old", "c1", {})
    journal.record("old", "c2", {})
    journal.record("new", "c1", {})
    assert journal.forget("old") == 2
    assert journal.completed("old") == {}
    assert journal.completed("new") == {"c1": {}}


def test_apply_resumes_from_the_store_journal_after_a_failure(store: Store) -> None:
    plan = plan_of(5)
    written: list[str] = []

    def flaky(change: Change, done: Mapping[str, Result]) -> Result:
        if change.id == "c3" and "c3" not in failed_once:
            failed_once.add("c3")
            raise RetriableRemoteError("timeout", adapter="fake", operation="create")
        written.append(change.id)
        return {"remote_id": change.key, "seen": sorted(done)}

    failed_once: set[str] = set()
    with pytest.raises(ApplyError) as caught:
        apply_plan(plan, flaky, journal=store.journal())
    assert caught.value.retriable
    report = apply_plan(plan, flaky, journal=store.journal())
    assert report.resumed == ["c0", "c1", "c2"]
    assert report.applied == ["c3", "c4"]
    assert written == ["c0", "c1", "c2", "c3", "c4"]
    assert report.results["c4"] == {"remote_id": "k4", "seen": ["c0", "c1", "c2", "c3"]}
