"""Runs: one row per sync run, with its end state and summary."""

from __future__ import annotations

import os

import pytest

from comp_adapters.errors import StoreError
from comp_adapters.store import RunStatus, Store
from tests.store.conftest import START, Clock


def test_a_run_from_start_to_finish(store: Store, clock: Clock) -> None:
    run_id = store.begin_run()
    started = store.get_run(run_id)
    assert started is not None
    assert (started.kind, started.status, started.started_at) == ("sync", RunStatus.RUNNING, START)
    assert started.owner.endswith(f":{os.getpid()}")
    clock.advance(minutes=3)
    summary = {"targets": {"moodle": {"writes": 3}, "canvas": {"error": "HTTP 503"}}}
    store.finish_run(run_id, status=RunStatus.PARTIAL, summary=summary, error="canvas failed")
    done = store.get_run(run_id)
    assert done is not None
    assert (done.status, done.finished_at, done.summary, done.error) == (
        RunStatus.PARTIAL,
        clock.now,
        summary,
        "canvas failed",
    )


def test_recent_runs_newest_first(store: Store) -> None:
    ids = [store.begin_run(kind="sync" if n % 2 else "ingest", owner=f"w{n}") for n in range(5)]
    assert [run.id for run in store.recent_runs()] == ids[::-1]
    assert [run.owner for run in store.recent_runs(kind="sync", limit=1)] == ["w3"]
    assert store.get_run(ids[-1] + 100) is None


def test_finishing_an_unknown_run_or_as_running_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 42"):
        store.finish_run(42, status=RunStatus.SUCCEEDED)
    with pytest.raises(ValueError, match="finishes as"):
        store.finish_run(store.begin_run(), status=RunStatus.RUNNING)
