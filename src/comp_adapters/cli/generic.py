"""Generic verbs over the adapter protocols, for every adapter the registry knows.

``comp-adapters adapters`` lists the adapters (built in and installed plug-ins, broken ones
with the reason); ``push``, ``pull``, ``evidence`` and ``publish`` take the adapter's name
as their first word and the adapter's own flags after it (generated from its settings
model, :mod:`comp_adapters.cli.settings_flags`); ``apply`` carries out a saved plan.
Capabilities are checked before any I/O: ``push`` on an adapter that does not write
frameworks stops with a clear error, before a file is read or a connection opened.

Every writing verb prints its plan (``--json``: as JSON), saves it with ``--plan-out``,
and applies it unless ``--dry-run``; ``comp-adapters apply PLAN`` applies a saved plan
after checking it was made for the same target and that the target has not changed since
(the adapter's apply refuses a stale plan with the reason).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic

from comp_adapters._files import atomic_write, read_json_file, read_text_file
from comp_adapters.cli.core_commands import read_framework
from comp_adapters.cli.settings_flags import add_setting_flags, flag_values, parse_assignments
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.native import load_proficiencies, write_evidence
from comp_adapters.plugins import AdapterEntry, adapter_entries, format_for_output, get_format
from comp_adapters.protocols import Capability, Cursor
from comp_adapters.settings import adapter_settings, load_config
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.plan import Plan

CURSOR_FORMAT = "comp-adapters/cursor@1"

CAPABILITY_WORDS: dict[Capability, str] = {
    Capability.READS_FRAMEWORK: "read frameworks",
    Capability.WRITES_FRAMEWORK: "write frameworks",
    Capability.READS_EVIDENCE: "read evidence",
    Capability.WRITES_PROFICIENCY: "write proficiency",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    entries = adapter_entries()
    listing = subparsers.add_parser(
        "adapters",
        help="list the adapters: built in and installed plug-ins, what each can do",
        description="Every adapter the registry knows, with where it comes from, its "
        "capabilities and its settings; a plug-in that cannot be loaded is listed as "
        "broken with the reason.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=cmd_adapters)

    _verb(
        subparsers,
        entries,
        "push",
        Capability.WRITES_FRAMEWORK,
        help="make an adapter's target hold a framework (plan, then apply)",
        description="Plan the changes that make the target hold FRAMEWORK_FILE, print "
        "them and apply them. A second push writes nothing.",
        arguments=_push_arguments,
        handler=cmd_push,
    )
    _verb(
        subparsers,
        entries,
        "pull",
        Capability.READS_FRAMEWORK,
        help="read a framework from an adapter's target into a file",
        description="Read the framework named by --framework-key into a file (format by "
        "suffix or --to).",
        arguments=_pull_arguments,
        handler=cmd_pull,
    )
    _verb(
        subparsers,
        entries,
        "evidence",
        Capability.READS_EVIDENCE,
        help="read evidence from an adapter's source into a JSON-lines file",
        description="Read evidence (after the cursor in --cursor, when the file exists) "
        "into a JSON-lines file; the cursor file is updated only after the evidence is "
        "written.",
        arguments=_evidence_arguments,
        handler=cmd_evidence,
    )
    _verb(
        subparsers,
        entries,
        "publish",
        Capability.WRITES_PROFICIENCY,
        help="write computed proficiency to an adapter's target (only what changed)",
        description="Plan the writes that make the target show RESULTS_FILE (the output "
        "of 'compute --json') for the framework in --framework, print them and apply them.",
        arguments=_publish_arguments,
        handler=cmd_publish,
    )

    apply = subparsers.add_parser(
        "apply",
        help="apply a saved plan (--plan-out) after checking it is not stale",
        description="Load a plan saved with --plan-out, build its adapter (named in the "
        "plan) from the config file, environment and --set, check the plan is for the "
        "same target and that the target has not changed since it was made, and apply it.",
    )
    apply.add_argument("plan", type=Path, metavar="PLAN_FILE", help="a plan saved by --plan-out")
    apply.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the plan's adapter (repeatable; not secrets)",
    )
    _common(apply)
    _writing(apply)
    apply.set_defaults(handler=cmd_apply)


# -- parser building ----------------------------------------------------------------------


def _verb(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    entries: list[AdapterEntry],
    verb: str,
    capability: Capability,
    *,
    help: str,  # noqa: A002 - argparse's own name
    description: str,
    arguments: Callable[[argparse.ArgumentParser], None],
    handler: Callable[[argparse.Namespace], int],
) -> None:
    parser = subparsers.add_parser(verb, help=help, description=description)
    systems = parser.add_subparsers(dest="system", metavar="SYSTEM", required=True)
    for entry in entries:
        if entry.broken:
            summary = "broken: see 'comp-adapters adapters'"
        elif capability in entry.capabilities:
            summary = f"{entry.origin.value} adapter"
        else:
            summary = f"cannot {CAPABILITY_WORDS[capability]}"
        system = systems.add_parser(entry.name, help=summary, description=description)
        arguments(system)
        _common(system)
        if capability in (Capability.WRITES_FRAMEWORK, Capability.WRITES_PROFICIENCY):
            _writing(system)
        adapter_class: Any = entry.adapter_class
        if adapter_class is not None:
            # also where it lacks the capability: the command then parses and says so
            add_setting_flags(system, adapter_class.settings_model, entry.name)
        else:  # broken: take whatever follows, so the handler can say why it is broken
            system.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        system.set_defaults(handler=handler, entry=entry, verb=verb, capability=capability)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: comp-adapters.toml)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _writing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument("--plan-out", type=Path, metavar="FILE", help="also save the plan here")
    parser.add_argument("--show-noops", action="store_true", help="list what is left alone")


def _push_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "framework_file",
        type=Path,
        metavar="FRAMEWORK_FILE",
        help="the framework to push (a file in any known format)",
    )
    parser.add_argument("--from", dest="from_format", help="input format (default: detect)")
    parser.add_argument("--prune", action="store_true", help="delete what the framework lacks")


def _pull_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--framework-key", required=True, help="the key of the framework to read")
    parser.add_argument("-o", "--output", type=Path, required=True, help="framework file to write")
    parser.add_argument("--to", dest="to_format", help="output format (default: by suffix)")


def _evidence_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="evidence file to write (JSON lines)"
    )
    parser.add_argument(
        "--cursor", type=Path, help="cursor file: read only what is newer, then update it"
    )
    parser.add_argument(
        "--withdrawn-out", type=Path, help="also write the ids of withdrawn evidence here"
    )


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results_file",
        type=Path,
        metavar="RESULTS_FILE",
        help="computed proficiency: the output of 'compute --json', or JSON lines",
    )
    parser.add_argument(
        "--framework", type=Path, required=True, help="the framework file the results are for"
    )
    parser.add_argument("--from", dest="from_format", help="framework format (default: detect)")


# -- building the adapter -----------------------------------------------------------------


def _checked(args: argparse.Namespace) -> AdapterEntry:
    """The adapter entry of a verb, refused before any I/O when broken or unable."""
    entry: AdapterEntry = args.entry
    if entry.broken:
        raise ConfigurationError(entry.error or f"adapter {entry.name!r} is broken")
    capability: Capability = args.capability
    if capability not in entry.capabilities:
        raise ConfigurationError(
            f"adapter {entry.name} cannot {args.verb}: it does not {CAPABILITY_WORDS[capability]}"
        )
    return entry


def _build(entry: AdapterEntry, config_path: Path | None, flags: dict[str, Any]) -> Any:
    adapter_class: Any = entry.adapter_class
    settings = adapter_settings(
        adapter_class.settings_model, entry.name, flags=flags, config=load_config(config_path)
    )
    return adapter_class.from_settings(settings)


# -- output -------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _save_plan(plan: Plan, path: Path | None) -> None:
    if path is not None:
        with atomic_write(path) as handle:
            handle.write(plan.to_json())


def _report_data(report: ApplyReport) -> dict[str, Any]:
    return {
        "plan_fingerprint": report.plan_fingerprint,
        "applied": report.applied,
        "resumed": report.resumed,
        "writes": report.writes,
    }


def _plan_then_apply(adapter: Any, plan: Plan, args: argparse.Namespace) -> int:
    """Save and show the plan (before anything is written), then apply it unless
    ``--dry-run`` or empty; ``--json`` prints the plan and the report together at the end."""
    _save_plan(plan, args.plan_out)
    if not args.json:
        print(plan.to_table(show_noops=args.show_noops))
        if args.plan_out is not None:
            print(f"plan saved to {args.plan_out}")
    report = None
    if not (args.dry_run or plan.is_empty):
        report = adapter.apply(plan)
    if args.json:
        data: dict[str, Any] = {"plan": json.loads(plan.to_json()), "dry_run": args.dry_run}
        data["report"] = _report_data(report) if report is not None else None
        _print_json(data)
    elif report is not None:
        resumed = f", {len(report.resumed)} already done" if report.resumed else ""
        print(f"applied {report.writes} change(s){resumed}")
    elif args.dry_run and not plan.is_empty:
        print("dry run: nothing written")
    return 0


# -- commands -----------------------------------------------------------------------------


def _entry_data(entry: AdapterEntry) -> dict[str, Any]:
    settings: list[dict[str, Any]] = []
    adapter_class: Any = entry.adapter_class
    if adapter_class is not None:
        model: Any = adapter_class.settings_model
        for name, info in model.model_fields.items():
            settings.append(
                {
                    "name": name,
                    "required": info.is_required(),
                    "secret": "Secret" in str(info.annotation),
                    "description": info.description,
                }
            )
    return {
        "name": entry.name,
        "origin": entry.origin.value,
        "reference": entry.reference,
        "capabilities": sorted(c.value for c in entry.capabilities),
        "settings": settings,
        "broken": entry.broken,
        "error": entry.error,
    }


def cmd_adapters(args: argparse.Namespace) -> int:
    entries = adapter_entries()
    if args.json:
        _print_json([_entry_data(entry) for entry in entries])
        return 0
    width = max((len(entry.name) for entry in entries), default=4)
    for entry in entries:
        data = _entry_data(entry)
        if entry.broken:
            print(f"{entry.name:<{width}}  {entry.origin.value:<8}  BROKEN: {entry.error}")
            continue
        capabilities = ", ".join(data["capabilities"]) or "none"
        names = ", ".join(
            s["name"] + ("*" if s["required"] else "") + (" (secret)" if s["secret"] else "")
            for s in data["settings"]
        )
        print(f"{entry.name:<{width}}  {entry.origin.value:<8}  {capabilities}")
        print(f"{'':<{width}}  settings: {names or 'none'}")
    print("(* required; secrets come from the environment, never from flags)")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    entry = _checked(args)
    framework = read_framework(args.framework_file, args.from_format)
    adapter = _build(entry, args.config, flag_values(args))
    plan = adapter.plan_framework(framework, prune=args.prune)
    return _plan_then_apply(adapter, plan, args)


def cmd_publish(args: argparse.Namespace) -> int:
    entry = _checked(args)
    framework = read_framework(args.framework, args.from_format)
    results = load_proficiencies(args.results_file)
    adapter = _build(entry, args.config, flag_values(args))
    plan = adapter.plan_proficiency(results, framework=framework)
    return _plan_then_apply(adapter, plan, args)


def cmd_pull(args: argparse.Namespace) -> int:
    entry = _checked(args)
    target = get_format(args.to_format) if args.to_format else format_for_output(args.output)
    adapter = _build(entry, args.config, flag_values(args))
    framework = adapter.read_framework(args.framework_key)
    problems = target.write_reporting(framework, args.output)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    count = len(framework.competencies)
    if args.json:
        _print_json(
            {
                "framework_key": framework.key,
                "output": str(args.output),
                "format": target.name,
                "competencies": count,
                "warnings": [str(p) for p in problems],
            }
        )
    else:
        print(f"{framework.key} -> {args.output} ({target.name}): {count} competencies")
    return 0


def _query_fingerprint(query: dict[str, Any]) -> str:
    text = json.dumps(query, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_cursor(path: Path | None, *, adapter: str, query: dict[str, Any]) -> Cursor | None:
    """The cursor saved in ``path`` (None when there is no file yet); refused when it was
    saved by another adapter or for another query, rather than skipping or repeating."""
    if path is None or not path.exists():
        return None
    data = read_json_file(path)
    saved_query = None
    if isinstance(data, dict) and data.get("format") == CURSOR_FORMAT:
        saved_query = data.get("query")
        data = data.get("cursor")
    try:
        cursor = Cursor.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise ValidationError(
            [Problem(f"not a cursor: {first['msg']}", file=str(path), field=where)]
        ) from None
    if cursor.adapter != adapter:
        raise ConfigurationError(
            f"{path}: the cursor was saved by adapter {cursor.adapter!r}, not {adapter!r}"
        )
    if saved_query is not None and saved_query != _query_fingerprint(query):
        raise ConfigurationError(
            f"{path}: the cursor was saved for another evidence query (the source or its "
            "filters changed); reading from it would skip or repeat evidence. Remove the "
            "file to read everything again"
        )
    return cursor


def save_cursor(path: Path, cursor: Cursor, *, query: dict[str, Any]) -> None:
    document = {
        "format": CURSOR_FORMAT,
        "query": _query_fingerprint(query),
        "cursor": cursor.model_dump(mode="json"),
    }
    with atomic_write(path) as handle:
        handle.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def cmd_evidence(args: argparse.Namespace) -> int:
    """Read everything first; write the evidence, then the withdrawn ids, then the cursor,
    so a failure never leaves a cursor ahead of the evidence it covers."""
    entry = _checked(args)
    adapter = _build(entry, args.config, flag_values(args))
    query = adapter.evidence_query()
    cursor = load_cursor(args.cursor, adapter=entry.name, query=query)
    evidence: list[Any] = []
    withdrawn: list[str] = []
    skipped: dict[str, int] = {}
    last = cursor
    for batch in adapter.read_evidence(cursor=cursor):
        evidence.extend(batch.evidence)
        withdrawn.extend(batch.withdrawn)
        for reason, count in batch.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
        last = batch.cursor
    written = write_evidence(evidence, args.output)
    if args.withdrawn_out is not None:
        with atomic_write(args.withdrawn_out) as handle:
            handle.writelines(f"{item}\n" for item in withdrawn)
    if args.cursor is not None and last is not None:
        save_cursor(args.cursor, last, query=query)
    if args.json:
        _print_json(
            {
                "output": str(args.output),
                "evidence": written,
                "withdrawn": withdrawn,
                "skipped": skipped,
                "cursor": last.model_dump(mode="json") if last is not None else None,
            }
        )
        return 0
    extra = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
    print(f"{written} evidence -> {args.output}" + (f" (skipped: {extra})" if extra else ""))
    if withdrawn:
        where = f" -> {args.withdrawn_out}" if args.withdrawn_out else ""
        print(f"{len(withdrawn)} withdrawn{where}: {', '.join(withdrawn[:10])}")
    return 0


def load_plan(path: Path) -> Plan:
    """A plan saved by ``--plan-out``; an edited or malformed file is refused, located."""
    text = read_text_file(path)
    try:
        return Plan.from_json(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [Problem(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno)]
        ) from None
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise ValidationError(
            [Problem(f"not a plan: {first['msg']}", file=str(path), field=where)]
        ) from None
    except ValueError as exc:
        raise ValidationError([Problem(str(exc), file=str(path))]) from None


def cmd_apply(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    entry = next((e for e in adapter_entries() if e.name == plan.adapter), None)
    if entry is None:
        raise ConfigurationError(
            f"{args.plan}: the plan is for adapter {plan.adapter!r}, which is not installed"
        )
    args.entry, args.verb = entry, "apply"
    writes = {Capability.WRITES_FRAMEWORK, Capability.WRITES_PROFICIENCY}
    args.capability = next(iter(writes & entry.capabilities), Capability.WRITES_FRAMEWORK)
    _checked(args)
    adapter_class: Any = entry.adapter_class
    flags = parse_assignments(args.assignments, adapter_class.settings_model, entry.name)
    adapter = _build(entry, args.config, flags)
    if adapter.target != plan.target:
        raise ConfigurationError(
            f"{args.plan}: the plan was made for {plan.target!r}, but these settings reach "
            f"{adapter.target!r}; give the settings the plan was made with"
        )
    return _plan_then_apply(adapter, plan, args)
