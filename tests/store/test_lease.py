"""Leases: one worker per target — in one process, across real processes, after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from comp_adapters.errors import StoreError, TargetBusyError
from comp_adapters.store import Store
from comp_adapters.store.url import parse_store_url
from tests.store.conftest import START
from tests.store.worker import BUSY_EXIT

WORKER = Path(__file__).with_name("worker.py")


def test_a_held_target_is_busy_for_everyone_else(store: Store) -> None:
    with store.lease("moodle", owner="worker-1") as lease:
        assert lease.held()
        assert lease.target == "moodle"
        holder = store.lease_holder("moodle")
        assert holder is not None
        assert (holder.owner, holder.acquired_at) == ("worker-1", START)
        with pytest.raises(TargetBusyError) as caught, store.lease("moodle", owner="worker-2"):
            pass
        assert str(caught.value) == (
            "target 'moodle' busy: held by worker-1 since 2026-03-01T09:00:00Z"
        )
        assert (caught.value.target, caught.value.holder) == ("moodle", "worker-1")
        with store.lease("canvas"):  # other targets are free
            pass
    assert store.lease_holder("moodle") is None
    with store.lease("moodle", owner="worker-2"):
        pass


def test_the_lease_is_released_when_the_block_fails(store: Store) -> None:
    with pytest.raises(RuntimeError), store.lease("moodle"):
        raise RuntimeError("apply failed")
    with store.lease("moodle") as again:
        assert again.held()


def test_waiting_gives_up_after_the_timeout(store: Store) -> None:
    busy = pytest.raises(TargetBusyError, match=r"held by slow .*\(waited 0.2 s\)")
    with store.lease("moodle", owner="slow"), busy, store.lease("moodle", wait=True, timeout=0.2):
        pass


def test_waiting_gets_the_lease_once_it_is_released(store: Store) -> None:
    got = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.lease("moodle", owner="first"):
            got.set()
            release.wait(60)

    thread = threading.Thread(target=holder)
    thread.start()
    assert got.wait(60)
    threading.Timer(0.2, release.set).start()
    with store.lease("moodle", wait=True, timeout=60, owner="second"):
        holder_now = store.lease_holder("moodle")
        assert holder_now is not None
        assert holder_now.owner == "second"
    thread.join(60)


@contextmanager
def _holding(url: str, target: str, owner: str) -> Iterator[subprocess.Popen[str]]:
    """A real process holding ``target``'s lease until we close its stdin."""
    process = subprocess.Popen(
        [sys.executable, str(WORKER), "lease", url, target, "--owner", owner],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline().strip()
        assert line == "acquired", process.stderr.read() if process.stderr else line
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait(60)


def _contend(url: str, target: str, *, wait: float | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, str(WORKER), "lease", url, target, "--owner", "second"]
    if wait is not None:
        args += ["--wait", str(wait)]
    return subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_processes_one_target(store_url: str) -> None:
    with _holding(store_url, "moodle", "first") as first:
        busy = _contend(store_url, "moodle")
        out, err = busy.communicate("", timeout=60)
        assert busy.returncode == BUSY_EXIT, err
        assert "busy: target 'moodle' busy: held by first since" in out
        waiting = _contend(store_url, "moodle", wait=120)
        assert first.stdin is not None
        first.stdin.close()  # the first lets go: the waiting one gets the lease
        out, err = waiting.communicate("", timeout=120)
        assert waiting.returncode == 0, err
        assert out.split() == ["acquired", "released"]
        assert first.wait(60) == 0


def test_a_killed_holder_frees_the_target_at_once(store_url: str, store: Store) -> None:
    with _holding(store_url, "moodle", "doomed") as doomed:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(60)
        assert doomed.returncode == -signal.SIGKILL
        # The row still names the dead holder, but the lock went with its process.
        holder = store.lease_holder("moodle")
        assert holder is not None
        assert holder.owner == "doomed"
        with store.lease("moodle", wait=True, timeout=60, owner="heir") as lease:
            assert lease.held()


def test_a_postgres_lease_knows_when_its_session_is_gone(postgres_url: str) -> None:
    from comp_adapters.store import open_store  # noqa: PLC0415

    with open_store(postgres_url) as store, store.lease("moodle", owner="me") as lease:
        assert lease.held()
        admin = create_engine(parse_store_url(postgres_url).url)
        with admin.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
                )
            )
        admin.dispose()
        assert not lease.held()
        with store.lease("moodle", owner="next"):
            pass


def test_store_errors_while_taking_a_lease_name_the_target(tmp_path: Path) -> None:
    from comp_adapters.store import open_store  # noqa: PLC0415

    store = open_store(f"sqlite:///{tmp_path}/state.db")
    (tmp_path / "state.db.leases").write_text("a file where the lock folder goes")
    failing = pytest.raises(StoreError, match="taking the lease on target 'moodle' failed")
    with failing, store.lease("moodle"):
        pass
    store.close()


def _apply_under_lease(url: str, log: Path, lease: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), "apply", url, str(log), "40", "0", "never", "--lease", lease],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_workers_started_together_apply_each_change_once(
    store_url: str, tmp_path: Path
) -> None:
    """Lease + journal: the second worker waits, then finds every change done."""
    log = tmp_path / "remote.log"
    workers = [_apply_under_lease(store_url, log, "wait") for _ in range(2)]
    outputs = [worker.communicate(timeout=180) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert sorted(log.read_text().split()) == sorted(f"c{n}" for n in range(40))
    reports = [json.loads(out) for out, _ in outputs]
    shapes = sorted((len(r["applied"]), len(r["resumed"])) for r in reports)
    assert shapes == [(0, 40), (40, 0)]  # one did everything, the other found it done


def test_a_second_worker_that_does_not_wait_exits_busy(store_url: str, tmp_path: Path) -> None:
    log = tmp_path / "remote.log"
    with _holding(store_url, "remote", "first"):
        busy = _apply_under_lease(store_url, log, "nowait")
        out, err = busy.communicate(timeout=120)
    assert busy.returncode == BUSY_EXIT, err
    assert "target 'remote' busy: held by first" in out
    assert not log.exists()
