"""A worker process for the store's crash and concurrency tests (run as a script).

    worker.py apply URL LOG CHANGES KILL_AT MODE [--lease wait|nowait]
                                                  # apply a plan (under the target's lease);
                                                  # SIGKILL itself at change KILL_AT (MODE
                                                  # after-record: right after its journal
                                                  # record returned; after-write: after the
                                                  # remote write, before the record)
    worker.py spin URL                            # record changes forever, one line per record
    worker.py lease URL TARGET [--wait SECONDS]   # hold the lease until stdin closes

The "remote" of ``apply`` is the file LOG: each change appends a line with its id, flushed
and fsynced before the executor returns, so the test sees exactly what was written.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Mapping

from comp_adapters.errors import TargetBusyError
from comp_adapters.store import open_store
from comp_adapters.sync import Action, Change, Plan, apply_plan
from comp_adapters.sync.journal import Result

BUSY_EXIT = 75


def plan_of(count: int) -> Plan:
    changes = tuple(
        Change(id=f"c{n}", action=Action.CREATE, kind="thing", key=f"k{n}", fields={"n": n})
        for n in range(count)
    )
    return Plan(adapter="fake", target="remote", changes=changes)


def say(line: str) -> None:
    """One line to the test reading our output, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def cmd_apply(args: argparse.Namespace) -> int:
    store = open_store(args.url)
    journal = store.journal()
    writes = 0

    def execute(change: Change, _done: Mapping[str, Result]) -> Result:
        nonlocal writes
        with open(args.log, "a", encoding="utf-8") as remote:  # noqa: PTH123
            remote.write(change.id + "\n")
            remote.flush()
            os.fsync(remote.fileno())
        writes += 1
        if args.mode == "after-write" and writes == args.kill_at:
            die()
        return {"remote_id": f"r-{change.key}"}

    class KillingJournal:
        def completed(self, plan_fingerprint: str) -> dict[str, Result]:
            return journal.completed(plan_fingerprint)

        def record(self, plan_fingerprint: str, change_id: str, result: Result) -> None:
            journal.record(plan_fingerprint, change_id, result)
            if args.mode == "after-record" and writes == args.kill_at:
                die()

    plan = plan_of(args.changes)
    if args.lease is None:
        report = apply_plan(plan, execute, journal=KillingJournal())
    else:
        try:
            with store.lease(plan.target, wait=args.lease == "wait", timeout=120):
                report = apply_plan(plan, execute, journal=KillingJournal())
        except TargetBusyError as exc:
            say(f"busy: {exc}")
            return BUSY_EXIT
    say(json.dumps({"applied": report.applied, "resumed": report.resumed}))
    return 0


def cmd_spin(args: argparse.Namespace) -> int:
    journal = open_store(args.url).journal()
    n = 0
    while True:
        journal.record("spin", f"c{n}", {"n": n})
        say(f"c{n}")
        n += 1


def cmd_lease(args: argparse.Namespace) -> int:
    store = open_store(args.url)
    try:
        with store.lease(
            args.target, wait=args.wait is not None, timeout=args.wait, owner=args.owner
        ):
            say("acquired")
            sys.stdin.read()  # hold until the test closes our stdin (or kills us)
    except TargetBusyError as exc:
        say(f"busy: {exc}")
        return BUSY_EXIT
    say("released")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply")
    apply.add_argument("url")
    apply.add_argument("log")
    apply.add_argument("changes", type=int)
    apply.add_argument("kill_at", type=int)
    apply.add_argument("mode", choices=["after-record", "after-write", "never"])
    apply.add_argument("--lease", choices=["wait", "nowait"])
    spin = commands.add_parser("spin")
    spin.add_argument("url")
    lease = commands.add_parser("lease")
    lease.add_argument("url")
    lease.add_argument("target")
    lease.add_argument("--wait", type=float)
    lease.add_argument("--owner")
    args = parser.parse_args()
    return {"apply": cmd_apply, "spin": cmd_spin, "lease": cmd_lease}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
