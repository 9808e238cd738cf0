"""A process killed with SIGKILL anywhere resumes from the store's journal in the next one.

Real subprocesses (tests/store/worker.py) apply a plan whose "remote" is a log file, and
kill themselves at each point of the apply in turn; a second process applies the same plan
with the same store. A change recorded in the journal is never written again; the one
change whose write happened but whose record did not is written once more (the journal
never claims more than was done) — the engine's natural-key look-ups make that one safe.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from comp_adapters.store import open_store
from tests.store.worker import plan_of

WORKER = Path(__file__).with_name("worker.py")
CHANGES = 5


def _apply(url: str, log: Path, kill_at: int, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKER), "apply", url, str(log), str(CHANGES), str(kill_at), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _written(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


IDS = [f"c{n}" for n in range(CHANGES)]


def _kill_then_resume(url: str, log: Path, kill_at: int, mode: str) -> dict[str, list[str]]:
    """Apply in a process that kills itself at ``kill_at``, then again; the second report."""
    killed = _apply(url, log, kill_at, mode)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _apply(url, log, 0, "never")
    assert resumed.returncode == 0, resumed.stderr
    report: dict[str, list[str]] = json.loads(resumed.stdout)
    return report


@pytest.mark.parametrize("kill_at", range(1, CHANGES + 1))
def test_killed_right_after_a_record_resumes_without_repeating(
    store_url: str, tmp_path: Path, kill_at: int
) -> None:
    log = tmp_path / "remote.log"
    report = _kill_then_resume(store_url, log, kill_at, "after-record")
    assert report == {"resumed": IDS[:kill_at], "applied": IDS[kill_at:]}
    assert _written(log) == IDS  # every change written exactly once


@pytest.mark.parametrize("kill_at", range(1, CHANGES + 1))
def test_killed_between_a_write_and_its_record_repeats_that_one_change_only(
    store_url: str, tmp_path: Path, kill_at: int
) -> None:
    log = tmp_path / "remote.log"
    report = _kill_then_resume(store_url, log, kill_at, "after-write")
    assert report == {"resumed": IDS[: kill_at - 1], "applied": IDS[kill_at - 1 :]}
    assert _written(log) == [*IDS[:kill_at], *IDS[kill_at - 1 :]]
    with open_store(store_url) as store:
        assert set(store.journal().completed(plan_of(CHANGES).fingerprint)) == set(IDS)


@pytest.mark.parametrize("seed", range(3))
def test_every_record_that_returned_survives_a_kill_at_any_moment(
    store_url: str, seed: int
) -> None:
    """Killed from outside while recording as fast as it can: every record it reported
    (printed after ``record`` returned) is in the journal, and nothing after a gap."""
    wanted = random.Random(seed).randrange(1, 40)
    spinner = subprocess.Popen(
        [sys.executable, str(WORKER), "spin", store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert spinner.stdout is not None
    reported = [spinner.stdout.readline().strip() for _ in range(wanted)]
    spinner.send_signal(signal.SIGKILL)
    spinner.communicate(timeout=60)
    assert spinner.returncode == -signal.SIGKILL
    assert reported == [f"c{n}" for n in range(wanted)], spinner.stderr
    with open_store(store_url) as store:
        recorded = store.journal().completed("spin")
    assert set(reported) <= set(recorded)
    assert set(recorded) == {f"c{n}" for n in range(len(recorded))}  # a prefix, no gap
