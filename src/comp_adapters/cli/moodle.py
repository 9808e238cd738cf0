"""``comp-adapters moodle push|pull|rate``: frameworks and ratings over Moodle web services.

Settings (:class:`~comp_adapters.moodle.settings.MoodleSettings`) come from the
``[moodle]`` table of the config file, then the environment (``COMP_ADAPTERS_MOODLE_URL``,
``COMP_ADAPTERS_MOODLE_TOKEN``, ...), then flags; the adapter is built from them with
:meth:`~comp_adapters.moodle.adapter.MoodleAdapter.from_settings`, nothing else. There is
deliberately no ``--token`` flag: command lines end up in shell histories and process lists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pydantic

from comp_adapters._files import atomic_write, read_json_file
from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.moodle.adapter import MoodleAdapter, refusals
from comp_adapters.moodle.mapping import level_keys_from_moodle
from comp_adapters.moodle.settings import MoodleSettings, load_settings
from comp_adapters.moodle.wire import RateIn
from comp_adapters.native import load_proficiencies, write_evidence
from comp_adapters.plugins import format_for_output, get_format
from comp_adapters.protocols import Cursor
from comp_adapters.settings import load_config
from comp_adapters.sync.plan import Plan


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    moodle = subparsers.add_parser(
        "moodle",
        help="push, pull and rate competency frameworks in Moodle (web services)",
        description="Sync competency frameworks and ratings with a Moodle site. Settings: "
        "[moodle] in the config file, COMP_ADAPTERS_MOODLE_URL / _TOKEN, or flags.",
    )
    commands = moodle.add_subparsers(dest="moodle_command", metavar="COMMAND", required=True)

    push = commands.add_parser(
        "push",
        help="create or update a framework in Moodle (prints the plan, then applies it)",
        description="Plan the changes that make Moodle hold the framework, print them, "
        "and apply them. Idempotent by idnumber: a second push writes nothing.",
    )
    push.add_argument("framework", type=Path, help="framework file (any known format)")
    push.add_argument("--from", dest="from_format", help="input format (default: detect)")
    push.add_argument("--prune", action="store_true", help="delete what the framework lacks")
    push.add_argument(
        "--adopt",
        action="store_true",
        help="take over a framework with this idnumber that was not made from this framework",
    )
    push.add_argument("--scale-id", type=int, help="the Moodle scale to use for the framework")
    push.add_argument(
        "--category-id", type=int, help="create the framework in this course category"
    )
    _plan_flags(push)
    _connection_flags(push)
    push.set_defaults(handler=cmd_push)

    pull = commands.add_parser(
        "pull",
        help="read a framework (and optionally ratings as evidence) from Moodle",
        description="Read the framework with the given idnumber into a file (format by "
        "suffix or --to). With --evidence-out, also read the learners' ratings as evidence.",
    )
    pull.add_argument("idnumber", help="the framework's idnumber in Moodle")
    pull.add_argument("-o", "--output", type=Path, required=True)
    pull.add_argument("--to", dest="to_format", help="output format (default: by suffix)")
    pull.add_argument("--evidence-out", type=Path, help="also write evidence (JSON lines) here")
    pull.add_argument(
        "--learner", action="append", default=[], help="learner key to read (repeatable)"
    )
    pull.add_argument(
        "--cursor", type=Path, help="cursor file: read only newer evidence, then update it"
    )
    pull.add_argument(
        "--framework",
        type=Path,
        help="map ratings to this framework's level keys (needed unless comp-adapters "
        "pushed the framework, whose level keys Moodle then holds)",
    )
    pull.add_argument("--user-field", choices=("email", "username", "idnumber", "id"))
    pull.add_argument("--json", action="store_true", help="print the summary as JSON")
    _connection_flags(pull)
    pull.set_defaults(handler=cmd_pull)

    rate = commands.add_parser(
        "rate",
        help="write computed proficiency into Moodle as ratings (only what changed)",
        description="Rate each learner's competencies with the computed level (1-based "
        "scale item), with the explanation as note. Reads the current rating first.",
    )
    rate.add_argument("proficiencies", type=Path, help="output of 'compute --json'")
    rate.add_argument("--framework", type=Path, required=True, help="the framework file")
    rate.add_argument("--from", dest="from_format", help="framework format (default: detect)")
    rate.add_argument("--user-field", choices=("email", "username", "idnumber", "id"))
    where = rate.add_mutually_exclusive_group()
    where.add_argument("--course-id", type=int, help="rate in this course")
    where.add_argument(
        "--in-plan", action="store_true", help="rate in each learner's active learning plan"
    )
    rate.add_argument(
        "--revoke-rule-ratings",
        action="store_true",
        default=None,
        help="where Moodle keeps a rating its rule gave that this computation no longer "
        "gives, write the scale's lowest level (default: list it as left alone)",
    )
    _plan_flags(rate)
    _connection_flags(rate)
    rate.set_defaults(handler=cmd_rate)


def _plan_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument(
        "--plan-out", type=Path, metavar="FILE", help="also save the plan as JSON here"
    )
    parser.add_argument(  # the old spelling, kept working
        "--plan-json", dest="plan_out", type=Path, help=argparse.SUPPRESS
    )
    parser.add_argument("--show-noops", action="store_true", help="list what is left alone")
    parser.add_argument(
        "--json", action="store_true", help="print the plan and what was applied as JSON"
    )


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: comp-adapters.toml)")
    parser.add_argument("--url", help="Moodle site root (else COMP_ADAPTERS_MOODLE_URL)")
    parser.add_argument(
        "--allow-http", action="store_true", default=None, help="allow a plain http URL"
    )
    parser.add_argument(
        "--no-batch",
        dest="batch",
        action="store_false",
        default=None,
        help="one request per call, even if the site offers batching",
    )


def settings_from(args: argparse.Namespace, **extra: Any) -> MoodleSettings:
    """The Moodle settings of a command: config file < environment < flags."""
    flags = {"url": args.url, "allow_http": args.allow_http, "batch": args.batch, **extra}
    return load_settings(flags=flags, config=load_config(args.config))


def _save_plan(plan: Plan, args: argparse.Namespace) -> None:
    if args.plan_out:
        with atomic_write(args.plan_out) as handle:
            handle.write(plan.to_json())


def _apply(adapter: MoodleAdapter, plan: Plan, args: argparse.Namespace) -> int:
    """Show (and save) the plan, apply it unless ``--dry-run``; 1 when Moodle refused some."""
    _save_plan(plan, args)
    if not args.json:
        print(plan.to_table(show_noops=args.show_noops))
    applied, refused, requests_sent = 0, [], 0
    if not (args.dry_run or plan.is_empty):
        report = adapter.apply(plan)
        applied, refused = report.writes, refusals(report)
        requests_sent = adapter.client.requests_sent
    if args.json:
        summary = {
            "plan": json.loads(plan.to_json()),
            "applied": applied,
            "refused": refused,
            "dry_run": bool(args.dry_run),
        }
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    elif not (args.dry_run or plan.is_empty):
        print(f"applied {applied} change(s) ({requests_sent} requests)")
    for line in refused:
        print(f"refused: {line}", file=sys.stderr)
    return 1 if refused else 0


def cmd_push(args: argparse.Namespace) -> int:
    framework = read_framework(args.framework, args.from_format)
    settings = settings_from(args, scale_id=args.scale_id, category_id=args.category_id)
    adapter = MoodleAdapter.from_settings(settings)
    plan = adapter.plan_framework(framework, prune=args.prune, adopt=args.adopt)
    return _apply(adapter, plan, args)


def cmd_pull(args: argparse.Namespace) -> int:
    """Read the framework (and the learners' evidence) first; write files only once
    everything was read, so a failure leaves no output behind."""
    if args.evidence_out is not None and not args.learner:
        raise ConfigurationError("moodle pull: --evidence-out needs at least one --learner")
    settings = settings_from(
        args,
        user_field=args.user_field,
        framework_key=args.idnumber,
        learners=tuple(args.learner) or None,
    )
    target = (
        get_format(args.to_format)
        if args.to_format
        else format_for_output(args.output, prefer="moodle-csv")
    )
    levels_from = read_framework(args.framework) if args.framework else None
    cursor = _load_cursor(args.cursor) if args.evidence_out is not None else None
    adapter = MoodleAdapter.from_settings(settings)
    framework = adapter.read_framework(args.idnumber)
    evidence: list[Evidence] = []
    skipped: dict[str, int] = {}
    last = cursor
    if args.evidence_out is not None:
        if levels_from is None:
            if not level_keys_from_moodle(framework):
                raise ConfigurationError(
                    f"moodle pull: framework {framework.key!r} in Moodle was not pushed by "
                    "comp-adapters, so its scales name levels by Moodle's item names, not by "
                    "your level keys: give the framework the evidence is for with --framework"
                )
            levels_from = framework
        if levels_from.key != framework.key:
            raise ConfigurationError(
                f"--framework is {levels_from.key!r}, but the pulled framework is {framework.key!r}"
            )
        for batch in adapter.with_framework(levels_from).read_evidence(cursor=cursor):
            evidence.extend(batch.evidence)
            for reason, count in batch.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + count
            last = batch.cursor
    target.write(framework, args.output)
    count = len(framework.competencies)
    summary: dict[str, Any] = {
        "framework": args.idnumber,
        "output": str(args.output),
        "format": target.name,
        "competencies": count,
    }
    if args.evidence_out is not None:
        written = write_evidence(evidence, args.evidence_out)
        if args.cursor is not None and last is not None:
            with atomic_write(args.cursor) as handle:
                handle.write(last.model_dump_json(indent=2) + "\n")
        summary.update(
            evidence=written,
            evidence_out=str(args.evidence_out),
            skipped=dict(sorted(skipped.items())),
        )
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    print(f"{args.idnumber} -> {args.output} ({target.name}): {count} competencies")
    if args.evidence_out is not None:
        extra = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
        print(
            f"{summary['evidence']} evidence -> {args.evidence_out}"
            + (f" (skipped: {extra})" if extra else "")
        )
    return 0


def _load_cursor(path: Path | None) -> Cursor | None:
    if path is None or not path.exists():
        return None
    data = read_json_file(path)
    try:
        return Cursor.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise ValidationError(
            [Problem(f"not a cursor: {first['msg']}", file=str(path), field=where)]
        ) from None


def cmd_rate(args: argparse.Namespace) -> int:
    framework = read_framework(args.framework, args.from_format)
    proficiencies = load_proficiencies(args.proficiencies)
    rate_in: RateIn | None = (
        "course" if args.course_id is not None else "plan" if args.in_plan else None
    )
    settings = settings_from(
        args,
        user_field=args.user_field,
        rate_in=rate_in,
        course_id=args.course_id,
        revoke_rule_ratings=args.revoke_rule_ratings,
    )
    adapter = MoodleAdapter.from_settings(settings)
    plan = adapter.plan_proficiency(proficiencies, framework=framework)
    return _apply(adapter, plan, args)
