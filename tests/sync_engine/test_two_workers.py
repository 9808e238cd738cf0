"""Two ``sync run`` processes on one PostgreSQL store never apply a change twice (issue 14 §4).

Both run the same project (file targets, Moodle and Canvas served over real HTTP) on one
store in the private PostgreSQL cluster (``postgres_url``), started together. To make them
overlap for sure, the servers hold back the first write request that arrives (so the
worker that sent it holds its target's lease) until the other worker has read everything
its plan needs (its planning reads, counted against a single run's), then a little longer.
Then:

* ``wait = false``: the other worker exits 1 with the target "busy" (and any other target
  whose lease it met while held); nothing is written twice;
* ``wait = true``: the other worker waits for the lease, then finds its plan's changes
  already journaled (or nothing left to do) and writes nothing again.

Either way the fakes receive exactly the write requests of a single run, and end in its
state with 0 duplicates.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.canvas.fake_canvas import FakeCanvas
from tests.harness.kill import Invocation, run
from tests.harness.projects import SyncProject, file_targets
from tests.harness.servers import FakeServer, Seen, Stage, canvas_server, moodle_server
from tests.harness.states import canvas_duplicates, canvas_state, moodle_duplicates, moodle_state
from tests.moodle.fake_moodle import FakeMoodle

HOLD_LIMIT = 240.0
"""Seconds the first write is held back at most (the other worker's planning, on a loaded
machine); reaching it fails the test."""
GRACE = 1.5
"""Seconds after the other worker's planning reads, for it to reach the lease."""


@pytest.fixture
def moodle_site() -> Iterator[FakeServer[FakeMoodle]]:
    with moodle_server() as server:
        yield server


@pytest.fixture
def canvas_site() -> Iterator[FakeServer[FakeCanvas]]:
    with canvas_server() as server:
        yield server


def _state(project: SyncProject, folder: Path) -> tuple[Any, ...]:
    assert project.canvas_site is not None
    return (
        moodle_state(project.moodle_site.fake),
        canvas_state(project.canvas_site.fake),
        file_targets(folder),
    )


def _plan_only(invocation: Invocation) -> Invocation:
    """``sync plan`` instead of ``sync run``: the same project, nothing written."""
    args = list(invocation.args)
    args[args.index("run")] = "plan"
    return Invocation(args, invocation.env, invocation.cwd)


class HoldFirstWrite:
    """A hook: the first write request over all servers waits until every server has seen
    ``reads[server]`` read requests, then :data:`GRACE` seconds more."""

    def __init__(self, reads: dict[int, int], servers: list[FakeServer[Any]]) -> None:
        self.reads = reads
        self.servers = servers
        self.lock = threading.Lock()
        self.held: Seen | None = None
        self.waited = 0.0
        self.timed_out = False

    def _planned(self) -> bool:
        return all(
            sum(1 for seen in server.seen if not seen.write) >= self.reads[id(server)]
            for server in self.servers
        )

    def __call__(self, seen: Seen, stage: Stage) -> None:
        if not seen.write or stage != "received":
            return
        with self.lock:
            if self.held is not None:
                return
            self.held = seen
        start = time.monotonic()
        while not self._planned():
            if time.monotonic() - start > HOLD_LIMIT:
                self.timed_out = True
                break
            time.sleep(0.05)
        time.sleep(GRACE)
        self.waited = time.monotonic() - start


def _start(invocation: Invocation) -> subprocess.Popen[str]:
    env = {**os.environ, **invocation.env, "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("COMP_ADAPTERS_CONFIG", None)
    return subprocess.Popen(
        list(invocation.args),
        cwd=invocation.cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _summary(out: str, err: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(out)
    except ValueError:
        raise AssertionError(f"no JSON summary:\n{out}\n{err}") from None
    return data


@pytest.mark.parametrize("wait", [False, True], ids=["busy", "wait"])
def test_two_workers_on_one_postgres_store_never_apply_a_change_twice(
    moodle_site: FakeServer[FakeMoodle],
    canvas_site: FakeServer[FakeCanvas],
    postgres_url: str,
    tmp_path: Path,
    wait: bool,
) -> None:
    servers: list[FakeServer[Any]] = [moodle_site, canvas_site]
    # What one worker's planning reads (sync plan, in a folder and store of its own).
    single = SyncProject(moodle_site, canvas_site, moodle_batch=False)
    single.prepare()
    for server in servers:
        server.forget_requests()
    planned = run(_plan_only(single.invocation(tmp_path / "plan-only")), servers=servers)
    assert planned.returncode == 0, planned.stderr
    planning_reads = {id(s): len(s.seen) for s in servers}
    assert not any(s.write_requests for s in servers)
    # A single worker (a folder and store of its own): the reference.
    single.prepare()
    for server in servers:
        server.forget_requests()
    reference = run(single.invocation(tmp_path / "single", "--json"), servers=servers)
    assert reference.returncode == 0, reference.stderr
    single_writes = {id(s): s.write_requests for s in servers}
    expected = _state(single, tmp_path / "single")
    assert all(single_writes.values())
    moodle_changes = _summary(reference.stdout, reference.stderr)["targets"]["moodle"]["writes"]
    assert moodle_changes > 0

    # Two workers, one PostgreSQL store, one project folder.
    shared = SyncProject(
        moodle_site,
        canvas_site,
        moodle_batch=False,
        store_url=postgres_url,
        moodle_timeout=HOLD_LIMIT + 60,
    )
    shared.prepare()
    for server in servers:
        server.forget_requests()
    folder = tmp_path / "shared"
    flag = "--wait" if wait else "--no-wait"
    invocation = shared.invocation(folder, "--json", flag)
    # Both workers' planning reads: the second worker's come while the first is held.
    hold = HoldFirstWrite({k: 2 * v for k, v in planning_reads.items()}, servers)
    for server in servers:
        server.hook = hold
    try:
        workers = [_start(invocation), _start(invocation)]
        results = [worker.communicate(timeout=600) for worker in workers]
    finally:
        for server in servers:
            server.hook = None
    assert hold.held is not None
    assert not hold.timed_out, "the second worker never finished planning"
    codes = [worker.returncode for worker in workers]
    summaries = [_summary(out, err) for out, err in results]

    assert {id(s): s.write_requests for s in servers} == single_writes, summaries
    assert moodle_duplicates(moodle_site.fake) == 0
    assert canvas_duplicates(canvas_site.fake) == 0
    assert _state(shared, folder) == expected

    # Per target, the two workers together wrote what one worker writes: no change twice.
    single_targets = _summary(reference.stdout, reference.stderr)["targets"]
    for name, entry in single_targets.items():
        entries = [summary["targets"][name] for summary in summaries]
        assert sum(e["writes"] for e in entries) == entry["writes"], (name, entries)
        assert any(e["status"] == "ok" for e in entries), (name, entries)
    moodle = [summary["targets"]["moodle"] for summary in summaries]
    if wait:
        # A file target the other worker wrote between this worker's plan and its apply is
        # planned again under the lease (nothing left to write), not refused as stale.
        assert codes == [0, 0], summaries
        for summary in summaries:
            assert all(e["status"] == "ok" for e in summary["targets"].values()), summary
        for name in ("moodle", "canvas"):
            assert [s["targets"][name]["status"] for s in summaries] == ["ok", "ok"]
        # One wrote Moodle's changes; the other had planned them too (before the first
        # wrote any), waited, and found every one journaled: none written again.
        done = sorted((entry["writes"], entry["resumed"]) for entry in moodle)
        assert done == [(0, moodle_changes), (moodle_changes, 0)], moodle
    else:
        # The worker held back at its first Moodle write keeps Moodle's lease, so the other
        # finds Moodle busy (and maybe a file target too, whichever lease it met first).
        assert 1 in codes, results
        busy = [entry for entry in moodle if entry["status"] == "busy"]
        assert len(busy) == 1, moodle
        entries = [e for summary in summaries for e in summary["targets"].values()]
        assert all("busy" in e["error"] for e in entries if e["status"] == "busy"), entries
        assert all(e["status"] in ("ok", "busy") for e in entries), entries
        assert sorted(entry["writes"] for entry in moodle) == [0, moodle_changes]
