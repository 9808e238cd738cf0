"""``comp-adapters canvas push|pull|results|mastery``: thin wrappers around the Canvas adapter.

Everything is built the one way: :func:`comp_adapters.canvas.settings.load_settings`, then
:meth:`CanvasAdapter.from_settings`. ``--framework`` names a framework file; a key is
``--framework-key``. Writing commands take ``--plan-out FILE``; every command ``--json``.

Settings come from ``[canvas]`` in the config file, then ``COMP_ADAPTERS_CANVAS_<NAME>``
(``URL``, ``TOKEN``, ``ACCOUNT`` or ``COURSE``, ...), then flags. The token has no flag on
purpose: command lines end up in shell histories and process lists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from comp_adapters._files import atomic_write
from comp_adapters.canvas.adapter import CanvasAdapter
from comp_adapters.canvas.evidence import RollupReport
from comp_adapters.canvas.settings import CanvasSettings, load_settings
from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import ConfigurationError
from comp_adapters.native import load_proficiencies, write_evidence_lines
from comp_adapters.plugins import format_for_output, get_format
from comp_adapters.settings import load_config
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
    _key_flag(pull, "framework key (its group's vendor_guid); default: the whole context")
    pull.add_argument("-o", "--output", type=Path, required=True, help="framework file written")
    pull.add_argument("--to", dest="to_format", help="output format (default: by suffix)")
    _json_flag(pull)
    pull.set_defaults(handler=cmd_pull)

    results = commands.add_parser("results", help="read outcome results as evidence (JSON lines)")
    _connection(results)
    results.add_argument("-o", "--output", type=Path, help="evidence file (default: stdout)")
    _key_flag(results, "framework key: names competencies")
    results.add_argument(
        "--compare-rollups",
        action="store_true",
        help="also compare Canvas's rollups with comp_adapters' calculation "
        "(exit 1 when any differs)",
    )
    _json_flag(results)
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
    parser.add_argument(
        "--plan-out", type=Path, metavar="FILE", help="also save the plan as JSON (atomically)"
    )
    parser.add_argument("--plan-json", dest="plan_out", type=Path, help=argparse.SUPPRESS)
    _json_flag(parser)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _key_flag(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--framework-key", dest="key", help=help_text)
    # The old spelling, kept working: --framework names a file everywhere else.
    parser.add_argument("--framework", dest="key", help=argparse.SUPPRESS)


def settings_from(args: argparse.Namespace, **options: Any) -> CanvasSettings:
    """The settings: config file < ``COMP_ADAPTERS_CANVAS_*`` < these flags and ``options``."""
    flags: dict[str, Any] = {
        "url": args.url,
        "account": args.account,
        "course": args.course,
        "learner_field": args.learner_field,
        "allow_http": args.allow_http,
        "locale": args.locale,
        **options,
    }
    return load_settings(flags=flags, config=load_config(args.config))


def adapter_from(args: argparse.Namespace, **options: Any) -> CanvasAdapter:
    return CanvasAdapter.from_settings(settings_from(args, **options))


def _show_and_apply(adapter: CanvasAdapter, plan: Plan, args: argparse.Namespace) -> int:
    if args.plan_out:
        with atomic_write(args.plan_out) as handle:
            handle.write(plan.to_json())
    if not args.json:
        print(plan.to_table())
    if args.dry_run or plan.is_empty:
        if args.json:
            print(json.dumps({"plan": json.loads(plan.to_json()), "applied": 0}))
        return 0
    report = adapter.apply(plan)
    requests_sent = adapter.client.requests_sent
    if args.json:
        print(
            json.dumps(
                {
                    "plan": json.loads(plan.to_json()),
                    "applied": report.writes,
                    "requests": requests_sent,
                }
            )
        )
    else:
        print(f"applied {report.writes} change(s); {requests_sent} request(s) in all")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    framework = read_framework(args.framework, args.from_format)
    adapter = adapter_from(
        args,
        strategy=args.strategy,
        parent_outcomes=args.parent_outcomes or None,
        mastery_scales=args.mastery_scales,
        set_mastery_scale=args.set_mastery_scale or None,
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
    if args.json:
        summary = {
            "context": str(adapter.client.context),
            "output": str(args.output),
            "format": target.name,
            "competencies": len(framework.competencies),
        }
        print(json.dumps(summary))
        return 0
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
    # The summary goes where it cannot mix with evidence lines on stdout.
    where = sys.stdout if args.output is not None else sys.stderr
    if not args.compare_rollups:
        _results_summary(evidence, skipped, None, args, where)
        return 0
    report = adapter.compare_rollups()
    _results_summary(evidence, skipped, report, args, where)
    return 1 if report.mismatches else 0


def _results_summary(
    evidence: list[Evidence],
    skipped: dict[str, int],
    report: RollupReport | None,
    args: argparse.Namespace,
    where: TextIO,
) -> None:
    if args.json:
        summary: dict[str, Any] = {
            "evidence": len(evidence),
            "skipped": dict(sorted(skipped.items())),
        }
        if report is not None:
            summary["rollups"] = {
                "compared": len(report.checks),
                "differ": [
                    {
                        "user": c.user,
                        "outcome_id": c.outcome_id,
                        "ours": c.ours,
                        "canvas": c.canvas,
                        "results": c.count,
                    }
                    for c in report.mismatches
                ],
                "notes": report.notes,
            }
        print(json.dumps(summary), file=where)
        return
    text = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
    print(
        f"{len(evidence)} evidence record(s)" + (f"; skipped: {text}" if text else ""),
        file=sys.stderr,
    )
    if report is None:
        return
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


def cmd_mastery(args: argparse.Namespace) -> int:
    framework = read_framework(args.framework, args.from_format)
    proficiencies = load_proficiencies(args.proficiencies)
    if not proficiencies:
        raise ConfigurationError(f"{args.proficiencies}: no proficiency results")
    adapter = adapter_from(args, assignment_name=args.assignment_name)
    plan = adapter.plan_proficiency(proficiencies, framework=framework)
    return _show_and_apply(adapter, plan, args)
