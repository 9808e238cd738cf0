"""``comp-adapters canvas push|pull|results|mastery``: thin wrappers around the Canvas adapter.

Settings come from ``[canvas]`` in the config file, then ``COMP_ADAPTERS_CANVAS_<NAME>``
(``URL``, ``TOKEN``, ``ACCOUNT`` or ``COURSE``, ...), then flags. The token has no flag on
purpose: command lines end up in shell histories and process lists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from comp_adapters._files import atomic_write
from comp_adapters.canvas.adapter import CanvasAdapter, CanvasSettings
from comp_adapters.canvas.client import CanvasClient
from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import ConfigurationError
from comp_adapters.http import make_session
from comp_adapters.native import load_proficiencies, write_evidence_lines
from comp_adapters.plugins import format_for_output, get_format
from comp_adapters.settings import build_settings, gather, load_config
from comp_adapters.sync.plan import Plan

LEARNER_FIELDS = ("login_id", "sis_user_id", "email", "id")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    canvas = subparsers.add_parser(
        "canvas",
        help="push/pull frameworks as Canvas outcomes, read results, write mastery",
        description="Canvas LMS outcomes. Connection: [canvas] url/token/account|course in the "
        "config file, or COMP_ADAPTERS_CANVAS_URL, COMP_ADAPTERS_CANVAS_TOKEN, "
        "COMP_ADAPTERS_CANVAS_ACCOUNT / COMP_ADAPTERS_CANVAS_COURSE.",
    )
    commands = canvas.add_subparsers(dest="canvas_command", metavar="COMMAND", required=True)

    push = commands.add_parser("push", help="plan and apply a framework as outcome groups/outcomes")
    _connection(push)
    push.add_argument("framework", type=Path, help="framework file (any known format)")
    push.add_argument("--from", dest="from_format", help="framework format (default: detect)")
    push.add_argument(
        "--strategy",
        choices=("auto", "csv", "rest"),
        default="auto",
        help="CSV import (few requests) or REST calls; auto picks by size",
    )
    push.add_argument(
        "--parent-outcomes",
        action="store_true",
        help="add an outcome in each parent's group for its rolled-up proficiency",
    )
    push.add_argument(
        "--mastery-scales",
        choices=("auto", "on", "off"),
        default="auto",
        help="account-level mastery scales (auto: read the feature flag)",
    )
    push.add_argument(
        "--set-mastery-scale",
        action="store_true",
        help="under account-level mastery scales, set the context's scale and "
        "calculation method to the framework's",
    )
    push.add_argument(
        "--prune",
        action="store_true",
        help="remove groups and outcome links under the framework that it no longer has",
    )
    _plan_flags(push)
    push.set_defaults(handler=cmd_push)

    pull = commands.add_parser(
        "pull", help="read outcome groups and outcomes into a framework file"
    )
    _connection(pull)
    pull.add_argument(
        "--framework",
        dest="key",
        help="framework key (its group's vendor_guid); default: the whole context",
    )
    pull.add_argument("-o", "--output", type=Path, required=True)
    pull.add_argument("--to", dest="to_format", help="output format (default: by suffix)")
    pull.set_defaults(handler=cmd_pull)

    results = commands.add_parser("results", help="read outcome results as evidence (JSON lines)")
    _connection(results)
    results.add_argument("-o", "--output", type=Path, help="evidence file (default: stdout)")
    results.add_argument("--framework", dest="key", help="framework key: names competencies")
    results.add_argument(
        "--compare-rollups",
        action="store_true",
        help="also compare Canvas's rollups with comp_adapters' calculation "
        "(exit 1 when any differs)",
    )
    results.set_defaults(handler=cmd_results)

    mastery = commands.add_parser(
        "mastery", help="write computed proficiency as rubric assessments"
    )
    _connection(mastery)
    mastery.add_argument(
        "proficiencies", type=Path, help="output of 'compute --json' (or JSON lines)"
    )
    mastery.add_argument("--framework", type=Path, required=True, help="the framework file")
    mastery.add_argument("--from", dest="from_format", help="framework format (default: detect)")
    mastery.add_argument("--assignment-name", help="default: 'Competency mastery (<key>)'")
    _plan_flags(mastery)
    mastery.set_defaults(handler=cmd_mastery)


def _connection(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--config", type=Path, help="config file (default: ./comp-adapters.toml)")
    group.add_argument("--url", help="Canvas base URL, e.g. https://canvas.example.edu")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--account", help="account id: outcomes in an account")
    where.add_argument("--course", help="course id: outcomes, results and mastery in a course")
    group.add_argument(
        "--learner-field",
        choices=LEARNER_FIELDS,
        help="Canvas user field used as the learner key (default login_id)",
    )
    group.add_argument(
        "--locale",
        help="the account's default_locale (e.g. de), with which Canvas parses the numbers "
        "of an outcomes import (Canvas's API does not show it)",
    )
    group.add_argument(
        "--allow-http",
        action="store_true",
        default=None,
        help="allow a plain http URL (trusted test servers only)",
    )


def _plan_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    parser.add_argument("--plan-json", type=Path, help="also save the plan as JSON")


def settings_from(args: argparse.Namespace) -> CanvasSettings:
    flags: dict[str, Any] = {
        "url": args.url,
        "account": args.account,
        "course": args.course,
        "learner_field": args.learner_field,
        "allow_http": args.allow_http,
        "locale": args.locale,
    }
    merged = gather("canvas", flags=flags, config=load_config(args.config))
    # A context flag replaces the configured context rather than adding a second one.
    if args.account is not None:
        merged.pop("course", None)
    if args.course is not None:
        merged.pop("account", None)
    return build_settings(CanvasSettings, "canvas", merged)


def adapter_from(args: argparse.Namespace, **options: Any) -> CanvasAdapter:
    settings = settings_from(args)
    client = CanvasClient.connect(
        settings.url,
        settings.token,
        context=settings.context(),
        allow_http=settings.allow_http,
        session=make_session(ca_bundle=settings.ca_bundle),
    )
    return CanvasAdapter(
        client,
        learner_field=settings.learner_field,
        poll_interval=settings.poll_interval,
        locale=settings.locale,
        **options,
    )


def _show_and_apply(adapter: CanvasAdapter, plan: Plan, args: argparse.Namespace) -> int:
    print(plan.to_table())
    if args.plan_json:
        with atomic_write(args.plan_json) as handle:
            handle.write(plan.to_json())
    if args.dry_run or plan.is_empty:
        return 0
    report = adapter.apply(plan)
    print(f"applied {report.writes} change(s); {adapter.client.requests_sent} request(s) in all")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    framework = read_framework(args.framework, args.from_format)
    adapter = adapter_from(
        args,
        strategy=args.strategy,
        parent_outcomes=args.parent_outcomes,
        mastery_scales=args.mastery_scales,
        set_mastery_scale=args.set_mastery_scale,
    )
    return _show_and_apply(adapter, adapter.plan_framework(framework, prune=args.prune), args)


def cmd_pull(args: argparse.Namespace) -> int:
    adapter = adapter_from(args)
    framework = adapter.read_framework(args.key)
    target = (
        get_format(args.to_format)
        if args.to_format
        else format_for_output(args.output, prefer="canvas-csv")
    )
    target.write(framework, args.output)
    print(
        f"{adapter.client.context} -> {args.output} ({target.name}): "
        f"{len(framework.competencies)} competencies"
    )
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    adapter = adapter_from(args, framework_key=args.key)
    evidence: list[Evidence] = []
    skipped: dict[str, int] = {}
    for batch in adapter.read_evidence():
        evidence.extend(batch.evidence)
        for reason, count in batch.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    if args.output is not None:
        with atomic_write(args.output) as handle:
            write_evidence_lines(evidence, handle)
    else:
        write_evidence_lines(evidence, sys.stdout)
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
    print(
        f"{len(evidence)} evidence record(s)" + (f"; skipped: {summary}" if summary else ""),
        file=sys.stderr,
    )
    if not args.compare_rollups:
        return 0
    report = adapter.compare_rollups()
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for check in report.mismatches:
        print(
            f"differs: user {check.user} outcome {check.outcome_id}: comp_adapters "
            f"{check.ours} vs Canvas {check.canvas} ({check.count} results)",
            file=sys.stderr,
        )
    print(
        f"rollups: {len(report.checks)} compared, {len(report.mismatches)} differ", file=sys.stderr
    )
    return 1 if report.mismatches else 0


def cmd_mastery(args: argparse.Namespace) -> int:
    framework = read_framework(args.framework, args.from_format)
    proficiencies = load_proficiencies(args.proficiencies)
    if not proficiencies:
        raise ConfigurationError(f"{args.proficiencies}: no proficiency results")
    adapter = adapter_from(args, framework=framework, assignment_name=args.assignment_name)
    return _show_and_apply(adapter, adapter.plan_proficiency(proficiencies), args)
