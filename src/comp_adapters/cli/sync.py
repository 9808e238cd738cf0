"""``comp-adapters sync plan|apply|run|status``: one project file, one command.

``plan`` reads the framework, ingests new evidence, computes proficiency once and prints
one plan with a section per target, writing nothing to any target. ``apply`` applies a
saved plan (a target changed since is refused, with the reason) or plans and applies,
asking first on a terminal. ``run`` is the job form: plan and apply, no prompt, a JSON
summary with ``--json``, exit code 0 when every target is in sync, 1 when one failed.
``status`` shows each source and target. See docs/sync.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from comp_adapters._files import atomic_write, read_text_file
from comp_adapters.core.timeutil import parse_user_instant
from comp_adapters.errors import ConfigurationError, ValidationError
from comp_adapters.project import Project, load_project
from comp_adapters.store import RunStatus, Store, open_store
from comp_adapters.sync.engine import RUN_KIND, SyncEngine, TargetOutcome
from comp_adapters.sync.progress import SyncProgress
from comp_adapters.sync.sync_plan import SyncPlan

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = subparsers.add_parser(
        "sync",
        help="sync a project (comp-adapters.toml): evidence in, proficiency out, every target",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = sync.add_subparsers(dest="sync_command", metavar="VERB", required=True)

    plan = verbs.add_parser("plan", help="ingest, compute once, and show one plan; no writes")
    _common(plan)
    _planning(plan)
    plan.add_argument("--plan-out", type=Path, metavar="FILE", help="also save the plan here")
    plan.set_defaults(handler=cmd_plan)

    apply = verbs.add_parser("apply", help="apply a saved plan, or plan and apply")
    _common(apply)
    _planning(apply)
    apply.add_argument("plan", nargs="?", type=Path, help="a plan saved by sync plan --plan-out")
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _waiting(apply)
    apply.set_defaults(handler=cmd_apply)

    run = verbs.add_parser("run", help="plan and apply, no prompt (for schedulers)")
    _common(run)
    _planning(run)
    run.add_argument("--dry-run", action="store_true", help="stop after the plan")
    _waiting(run)
    run.set_defaults(handler=cmd_run)

    status = verbs.add_parser("status", help="each source and target: last run, cursor, errors")
    _common(status)
    status.set_defaults(handler=cmd_status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        type=Path,
        default=Path("comp-adapters.toml"),
        metavar="FILE",
        help="the project file (default: ./comp-adapters.toml)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on standard error")


def _planning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        action="append",
        metavar="NAME",
        help="only this target (repeat for several; default: every target)",
    )
    parser.add_argument(
        "--as-of",
        type=_instant,
        metavar="INSTANT",
        help="compute as of this instant (ISO 8601 with a zone, or a date); default: now",
    )


def _waiting(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a target another worker holds: wait for it, or report it busy "
        "(default: [store] wait)",
    )


def _instant(text: str) -> datetime:
    try:
        return parse_user_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(slots=True)
class _Session:
    project: Project
    store: Store
    engine: SyncEngine
    run_id: int


@contextmanager
def _session(args: argparse.Namespace) -> Iterator[_Session]:
    """The project, its store, an engine and a run that is finished as failed when the
    block raises."""
    project = load_project(args.project)
    with open_store(project.store_url) as store:
        run_id = store.begin_run(kind=RUN_KIND)
        engine = SyncEngine(project, store, progress=SyncProgress(quiet=args.quiet))
        try:
            yield _Session(project, store, engine, run_id)
        except BaseException as exc:
            store.finish_run(
                run_id,
                status=RunStatus.FAILED,
                summary={"mode": args.sync_command, "sources": dict(engine.sources)},
                error=str(exc) or type(exc).__name__,
            )
            raise


def _summary(
    session: _Session,
    mode: str,
    plan: SyncPlan,
    outcomes: dict[str, TargetOutcome] | None,
) -> dict[str, JsonValue]:
    targets: dict[str, JsonValue] = {}
    for section in plan.targets:
        if outcomes is None:
            entry: dict[str, JsonValue] = {
                "status": "failed" if section.error else "planned",
                "pending": section.writes,
                "error": section.error,
            }
        else:
            outcome = outcomes[section.name]
            entry = outcome.as_json()
            entry["pending"] = 0 if outcome.status == "ok" else section.writes
            if outcome.status == "ok":
                entry["compute_run"] = plan.run_id
        targets[section.name] = entry
    failed = [name for name, entry in targets.items() if _status(entry) in {"failed", "busy"}]
    failed += [
        f"source {name}" for name, entry in session.engine.sources.items() if _status(entry) != "ok"
    ]
    return {
        "mode": mode,
        "run": session.run_id,
        "status": "failed" if failed else "ok",
        "failed": list(failed),
        "as_of": plan.as_of.isoformat().replace("+00:00", "Z"),
        "writes": sum(
            int(str(entry.get("writes", 0)))
            for entry in targets.values()
            if isinstance(entry, dict)
        ),
        "sources": dict(session.engine.sources),
        "compute": plan.compute,
        "targets": targets,
    }


def _status(entry: JsonValue) -> str:
    return str(entry.get("status")) if isinstance(entry, dict) else "?"


def _finish(session: _Session, summary: dict[str, JsonValue]) -> int:
    failed = summary["status"] != "ok"
    partial = failed and any(
        _status(entry) == "ok"
        for entry in (summary["targets"] or {}).values()  # type: ignore[union-attr]
    )
    status = RunStatus.PARTIAL if partial else RunStatus.FAILED if failed else RunStatus.SUCCEEDED
    session.store.finish_run(session.run_id, status=status, summary=summary)
    return EXIT_FAILED if failed else EXIT_OK


def _print_outcome(summary: dict[str, JsonValue], *, as_json: bool) -> None:
    if as_json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    targets = summary["targets"]
    assert isinstance(targets, dict)  # noqa: S101 - built by _summary
    for name, entry in (summary["sources"] or {}).items():  # type: ignore[union-attr]
        if isinstance(entry, dict):
            if entry.get("status") == "ok":
                print(
                    f"source {name}: {entry['read']} new evidence, {entry['withdrawn']} withdrawn"
                )
            else:
                print(f"source {name}: FAILED: {entry.get('error')}")
    for name, entry in targets.items():
        assert isinstance(entry, dict)  # noqa: S101
        status = entry.get("status")
        line = f"target {name}: {status}"
        if entry.get("writes"):
            line += f", {entry['writes']} change(s) written"
        if entry.get("resumed"):
            line += f", {entry['resumed']} already done before"
        if entry.get("pending"):
            line += f", {entry['pending']} pending"
        if entry.get("error"):
            line += f": {entry['error']}"
        print(line)
    if summary["status"] == "ok" and not summary["writes"]:
        print("nothing changed: every target is up to date")
    elif summary["status"] == "ok":
        print(f"in sync: {summary['writes']} change(s) written")
    else:
        print(f"FAILED: {', '.join(str(item) for item in summary['failed'])}")  # type: ignore[union-attr]


# -- commands ---------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    with _session(args) as session:
        plan = session.engine.plan(session.run_id, targets=args.target, as_of=args.as_of)
        if args.plan_out is not None:
            with atomic_write(args.plan_out) as handle:
                handle.write(plan.to_json())
        summary = _summary(session, "plan", plan, None)
        code = _finish(session, summary)
    if args.json:
        sys.stdout.write(plan.to_json())
    else:
        print(plan.to_text())
    return code


def cmd_run(args: argparse.Namespace) -> int:
    with _session(args) as session:
        plan = session.engine.plan(session.run_id, targets=args.target, as_of=args.as_of)
        if args.dry_run:
            summary = _summary(session, "dry-run", plan, None)
            if not args.json:
                print(plan.to_text())
        else:
            outcomes = session.engine.apply(plan, session.run_id, wait=args.wait)
            summary = _summary(session, "run", plan, outcomes)
        code = _finish(session, summary)
    if args.json or not args.dry_run:
        _print_outcome(summary, as_json=args.json)
    return code


def cmd_apply(args: argparse.Namespace) -> int:
    with _session(args) as session:
        if args.plan is not None:
            if args.target or args.as_of:
                raise ConfigurationError("a saved plan is applied as it is: no --target/--as-of")
            plan = _saved_plan(args.plan, session.project)
        else:
            plan = session.engine.plan(session.run_id, targets=args.target, as_of=args.as_of)
        if not args.json:
            print(plan.to_text())
        if plan.writes and not args.yes and not _confirmed(plan):
            summary = _summary(session, "apply", plan, None)
            _finish(session, summary)
            print("not applied")
            return EXIT_FAILED
        outcomes = session.engine.apply(plan, session.run_id, wait=args.wait)
        summary = _summary(session, "apply", plan, outcomes)
        code = _finish(session, summary)
    _print_outcome(summary, as_json=args.json)
    return code


def _saved_plan(path: Path, project: Project) -> SyncPlan:
    try:
        plan = SyncPlan.from_json(read_text_file(path))
    except (ValueError, TypeError) as exc:
        raise ValidationError([_problem(path, f"not a sync plan: {exc}")]) from None
    if Path(plan.project).resolve() != project.path.resolve():
        raise ConfigurationError(
            f"{path}: the plan was made for project {plan.project}, not {project.path}"
        )
    return plan


def _problem(path: Path, message: str) -> Any:
    from comp_adapters.errors import Problem  # noqa: PLC0415

    return Problem(message.splitlines()[0], file=str(path))


def _confirmed(plan: SyncPlan) -> bool:
    if not sys.stdin.isatty():
        raise ConfigurationError(
            "sync apply asks before writing, and standard input is not a terminal: give --yes "
            "(or use sync run)"
        )
    answer = input(f"Apply {plan.writes} change(s)? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def cmd_status(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    with open_store(project.store_url) as store:
        report = status_report(project, store)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for name, entry in report["sources"].items():
        print(
            f"source {name}: last run {entry['last_run'] or 'never'}, cursor "
            f"{entry['cursor'] or 'none'}"
            + (f", last error: {entry['last_error']}" if entry["last_error"] else "")
        )
    for name, entry in report["targets"].items():
        print(
            f"target {name}: last run {entry['last_run'] or 'never'} ({entry['status']}), "
            f"{entry['pending']} pending"
            + (f", last error: {entry['last_error']}" if entry["last_error"] else "")
        )
    return EXIT_OK


def status_report(project: Project, store: Store) -> dict[str, Any]:
    """Per source: last run, cursor position, last error; per target: last run, status,
    pending changes, last error."""
    runs = store.recent_runs(limit=500, kind=RUN_KIND)
    sources: dict[str, Any] = {}
    for endpoint in project.evidence:
        state = store.source_state(endpoint.name)
        cursor = state.cursor if state is not None else None
        position = cursor.get("position") if isinstance(cursor, dict) else None
        last = _last_entry(runs, "sources", endpoint.name)
        sources[endpoint.name] = {
            "last_run": _when(last[0]) if last else None,
            "cursor": position,
            "cursor_updated_at": _when(state.updated_at) if state else None,
            "status": last[1].get("status") if last else None,
            "last_error": last[1].get("error") if last else None,
        }
    targets: dict[str, Any] = {}
    for endpoint in project.targets:
        last = _last_entry(runs, "targets", endpoint.name)
        targets[endpoint.name] = {
            "last_run": _when(last[0]) if last else None,
            "status": last[1].get("status") if last else "never synced",
            "pending": last[1].get("pending", 0) if last else None,
            "last_error": last[1].get("error") if last else None,
        }
    return {
        "project": str(project.path),
        "store": store.url.redacted,
        "sources": sources,
        "targets": targets,
    }


def _last_entry(runs: list[Any], part: str, name: str) -> tuple[datetime, dict[str, Any]] | None:
    for run in runs:
        summary = run.summary
        entries = summary.get(part) if isinstance(summary, dict) else None
        entry = entries.get(name) if isinstance(entries, dict) else None
        if isinstance(entry, dict):
            return (run.finished_at or run.started_at), entry
    return None


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
