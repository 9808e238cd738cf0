"""Crash anywhere, converge: SIGKILL a real CLI process at its k-th write, re-run, compare.

A :class:`Scenario` names served fakes (:mod:`tests.harness.servers`), how to bring them to
their starting state, the command to run (a real ``comp-adapters`` subprocess, in a fresh
working folder per attempt, so a store or journal in it starts empty for every kill point)
and how to read the fakes' end state by natural keys and count duplicates in it.

:func:`sweep` first runs the command cleanly: its end state is the reference and its
number of write requests (over every served fake, in arrival order) the number of kill
points. Then, for every k from 1 to that number and for each stage, from the starting state:

* run the command with a hook on the servers that SIGKILLs the process when its k-th write
  request arrives: at ``"received"`` before the fake sees it (the write never happened), at
  ``"handled"`` after the fake applied it but before the answer leaves (the write happened
  and the client never learnt it: the hard case);
* the connection is closed without an answer, only once the process is dead, so the client
  cannot react to it;
* re-run the command without a hook, to completion (exit 0);
* compare the end state with the clean run's and count duplicates.

The result, a :class:`SweepReport`, lists every kill point tried and what differed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.servers import FakeServer, NoAnswer, Seen, Stage

STAGES: tuple[Stage, ...] = ("received", "handled")
CLI_TIMEOUT = 300.0
REPORTS: list[SweepReport] = []
"""Every sweep of this test session (tests/harness/conftest.py prints them at the end)."""


def cli() -> list[str]:
    """The ``comp-adapters`` console script of the interpreter running the tests."""
    script = Path(sys.executable).with_name("comp-adapters")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the project (python3 dev.py test)")
    return [str(script)]


@dataclass(frozen=True)
class Invocation:
    """One command line, with the environment it adds and the folder it runs in."""

    args: Sequence[str]
    env: Mapping[str, str]
    cwd: Path


@dataclass
class Scenario:
    """What :func:`sweep` kills and re-runs (see the module's docstring)."""

    name: str
    servers: Sequence[FakeServer[Any]]
    prepare: Callable[[], None]
    """Bring every fake to the starting state (called before each attempt)."""
    invocation: Callable[[Path], Invocation]
    """The command, given a fresh, empty working folder of the attempt."""
    state: Callable[[], Any]
    """The fakes' end state by natural keys (ids left out), duplicates visible."""
    duplicates: Callable[[], int]
    """How many records of the end state repeat a natural key."""


@dataclass(frozen=True)
class KillPoint:
    k: int
    stage: Stage
    duplicates: int
    same_state: bool
    resumed_writes: int
    """Write requests of the re-run."""


@dataclass
class SweepReport:
    scenario: str
    clean_writes: int
    clean_requests: int
    points: list[KillPoint] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(point.duplicates for point in self.points)

    @property
    def differing(self) -> list[KillPoint]:
        return [point for point in self.points if not point.same_state]

    def line(self) -> str:
        return (
            f"KILL-SWEEP scenario={self.scenario} kill_points={len(self.points)} "
            f"clean_writes={self.clean_writes} duplicates={self.duplicates} "
            f"differing_end_states={len(self.differing)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "clean_writes": self.clean_writes,
            "clean_requests": self.clean_requests,
            "kill_points": len(self.points),
            "duplicates": self.duplicates,
            "differing_end_states": [(p.k, p.stage) for p in self.differing],
        }


class KillSwitch:
    """A server hook: SIGKILL ``pid`` at the k-th write request over all servers it is on."""

    def __init__(self, k: int, stage: Stage) -> None:
        self.k = k
        self.stage = stage
        self.pid: int | None = None
        self.fired: Seen | None = None
        self._writes = 0
        self._lock = threading.Lock()

    def __call__(self, seen: Seen, stage: Stage) -> None:
        with self._lock:
            if not seen.write or self.fired is not None:
                return
            if stage == "received":
                self._writes += 1
            if self._writes != self.k or stage != self.stage:
                return
            if self.pid is None:
                raise RuntimeError("the kill switch fired before it knew the process")
            self.fired = seen  # before the kill: the test reads it once the process is gone
            os.kill(self.pid, signal.SIGKILL)
            _wait_until_dead(self.pid)
        raise NoAnswer


def _wait_until_dead(pid: int, timeout: float = 30.0) -> None:
    """Until ``pid`` is a zombie or gone (it can no longer read an answer)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.002)
    raise RuntimeError(f"process {pid} survived SIGKILL for {timeout} s")


def run(
    invocation: Invocation, *, switch: KillSwitch | None = None, servers: Sequence[FakeServer[Any]]
) -> subprocess.CompletedProcess[str]:
    """Run the command (with ``switch`` as every server's hook, if given)."""
    env = {**os.environ, **invocation.env, "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("COMP_ADAPTERS_CONFIG", None)
    for server in servers:
        server.hook = switch
    try:
        process = subprocess.Popen(
            list(invocation.args),
            cwd=invocation.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if switch is not None:
            switch.pid = process.pid
        try:
            out, err = process.communicate(timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"{invocation.args} hung; stderr:\n{err}") from None
    finally:
        for server in servers:
            server.hook = None
    return subprocess.CompletedProcess(invocation.args, process.returncode, out, err)


def _writes(servers: Sequence[FakeServer[Any]]) -> int:
    return sum(server.write_requests for server in servers)


def _requests(servers: Sequence[FakeServer[Any]]) -> int:
    return sum(len(server.seen) for server in servers)


def _forget(servers: Sequence[FakeServer[Any]]) -> None:
    for server in servers:
        server.forget_requests()


def _check(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise AssertionError(
            f"{what}: exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )


def clean_run(
    scenario: Scenario, workdir: Path, *, check_idempotent: bool = True
) -> tuple[Any, int, int]:
    """The reference: end state, write requests and requests of an uninterrupted run; a
    second run must then write nothing (unless ``check_idempotent`` is off)."""
    scenario.prepare()
    _forget(scenario.servers)
    workdir.mkdir(parents=True)
    invocation = scenario.invocation(workdir)
    _check(run(invocation, servers=scenario.servers), f"{scenario.name}: clean run")
    state = scenario.state()
    writes, requests_ = _writes(scenario.servers), _requests(scenario.servers)
    if not check_idempotent:
        return state, writes, requests_
    _forget(scenario.servers)
    _check(run(invocation, servers=scenario.servers), f"{scenario.name}: second clean run")
    again = _writes(scenario.servers)
    if again:
        raise AssertionError(f"{scenario.name}: a second clean run wrote {again} request(s)")
    return state, writes, requests_


def kill_and_resume(scenario: Scenario, workdir: Path, k: int, stage: Stage) -> tuple[Any, int]:
    """Kill at the k-th write (at ``stage``), re-run to completion: (end state, re-run writes)."""
    scenario.prepare()
    _forget(scenario.servers)
    workdir.mkdir(parents=True)
    invocation = scenario.invocation(workdir)
    switch = KillSwitch(k, stage)
    killed = run(invocation, switch=switch, servers=scenario.servers)
    if switch.fired is None or killed.returncode != -signal.SIGKILL:
        raise AssertionError(
            f"{scenario.name}: k={k} {stage}: the process was not killed (exit "
            f"{killed.returncode}, {_writes(scenario.servers)} writes)\nstderr:\n{killed.stderr}"
        )
    _forget(scenario.servers)
    _check(
        run(invocation, servers=scenario.servers), f"{scenario.name}: re-run after k={k} {stage}"
    )
    return scenario.state(), _writes(scenario.servers)


def sweep(
    scenario: Scenario,
    workdir: Path,
    *,
    stages: Sequence[Stage] = STAGES,
    record: Path | None = None,
    check_idempotent: bool = True,
) -> SweepReport:
    """Every kill point of the scenario (see the module's docstring); prints the summary line
    and, with ``record``, appends the report as a JSON line there."""
    reference, writes, requests_ = clean_run(
        scenario, workdir / "clean", check_idempotent=check_idempotent
    )
    report = SweepReport(scenario.name, writes, requests_)
    for k in range(1, writes + 1):
        for stage in stages:
            state, resumed = kill_and_resume(scenario, workdir / f"k{k}-{stage}", k, stage)
            report.points.append(
                KillPoint(
                    k=k,
                    stage=stage,
                    duplicates=scenario.duplicates(),
                    same_state=state == reference,
                    resumed_writes=resumed,
                )
            )
    print(report.line())  # noqa: T201 - the counts are what a sweep reports
    REPORTS.append(report)
    if record is not None:
        with record.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(report.to_json()) + "\n")
    return report


def describe(report: SweepReport) -> str:
    """Every kill point that went wrong, for an assertion message."""
    bad = [p for p in report.points if p.duplicates or not p.same_state]
    return "\n".join(
        f"k={p.k} {p.stage}: duplicates={p.duplicates} same_state={p.same_state}" for p in bad
    )
